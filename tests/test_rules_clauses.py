"""Rule mode's drop_action: the request without the one later action the run failed."""

from __future__ import annotations

import pytest

from agenther.rules.clauses import split_actions, without_failed_action

CAR = (
    "Reserve a compact car at Denver International Airport from June 12 to June 15 and add a "
    "child seat."
)
RESERVED = "Your compact car is reserved: Enterprise, pick-up June 12 at 10:00. Total $198.40."


def test_the_failed_later_action_is_dropped() -> None:
    kept = without_failed_action(CAR, "Child seat was never added (extras list empty).", RESERVED)
    assert kept == "Reserve a compact car at Denver International Airport from June 12 to June 15."


def test_a_lead_in_stays_with_the_first_action() -> None:
    request = "In Q2_sales.xlsx, add a Total column, then make a bar chart on a new sheet."
    assert split_actions(request.rstrip(".")) == [
        "In Q2_sales.xlsx, add a Total column",
        "make a bar chart on a new sheet",
    ]


@pytest.mark.parametrize(
    ("request_text", "reason", "answer"),
    [
        # The answer speaks of the dropped action: it claims it, or says it failed.
        (CAR, "Child seat was never added.", RESERVED + " A child seat is included."),
        (CAR, "Child seat was never added.", RESERVED + " I could not add the extras."),
        # The reason names the first action: what follows may depend on it.
        ("Find the Q3 report and email the team.", "The Q3 report was not found.", "Done."),
        # A kept action refers back to the dropped one.
        ("Find the slides, export a PDF and send it to Dana.", "No PDF export.", "Sent."),
        # The reason speaks of two actions, or of none.
        ("Book the hotel and book the tour.", "Neither booking went through.", "Booked."),
        (CAR, "", RESERVED),
        # What is left only gets somewhere.
        ("Go through the PAY board backlog and archive stale tickets.", "Nothing archived.", "ok"),
        # One action: nothing to drop.
        ("Find a compact car in Denver under $30 a day.", "Nothing under $30.", "Found one."),
    ],
)
def test_no_request_when_dropping_is_not_clean(request_text: str, reason: str, answer: str) -> None:
    assert without_failed_action(request_text, reason, answer) is None
