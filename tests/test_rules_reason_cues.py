"""What the failure reason says decides more: its type cues, and what it says was left out."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from agenther.constraints import Constraint
from agenther.failure_detector import analyze_rules
from agenther.models import AgentStep, FailedTrajectory, FailureType
from agenther.rules.decide import decide_by_rules
from agenther.rules.drop_constraint import drop_constraints
from agenther.rules.failure_signals import failure_signals
from agenther.rules.failure_types import type_features

POST = (
    "Schedule a LinkedIn post for tomorrow at 9am announcing our webinar on June 26. Include "
    "the link https://events.example.io/w and the hashtag #DataOps, and keep it under 300 "
    "characters."
)


def _post_run(reason: str) -> FailedTrajectory:
    text = "Join us on June 26 for our webinar: https://events.example.io/w"
    return FailedTrajectory(
        original_prompt=POST,
        steps=[
            AgentStep(
                action_name="linkedin.schedule_post",
                action_input={"text": text, "at": "tomorrow 09:00"},
                observation=f'{{"status": "scheduled", "at": "09:00", "text": "{text}"}}',
            )
        ],
        final_answer=f'Your post is scheduled for tomorrow at 9:00: "{text}"',
        failure_reason=reason,
    )


def test_a_request_still_asking_for_what_the_run_left_out_is_refused() -> None:
    decision = decide_by_rules(_post_run("Scheduled post omits the required #DataOps hashtag."))
    prompt = decision.relabeled.hindsight_prompt if decision.relabeled else ""
    assert "dataops" not in prompt.lower()


def test_a_bound_on_the_whole_request_goes_with_its_clause() -> None:
    start = POST.index("under 300")
    constraint = Constraint("under 300 characters", start, start + 20, frozenset({"300"}), "")
    dropped = drop_constraints(POST, [constraint])
    assert dropped is not None
    assert dropped.endswith("the hashtag #DataOps.")
    assert "keep it" not in dropped and "list" not in dropped


def _typed(reason: str) -> FailureType | None:
    run = FailedTrajectory(
        original_prompt="Do the task.",
        steps=[AgentStep(action_name="tool", action_input={}, observation="ok: 3 rows")],
        final_answer="Done: 3 rows.",
        failure_reason=reason,
    )
    return analyze_rules(run).failure_type


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("Amount filter (> $100) not applied: the list is every transaction.", "constraint"),
        ("Meeting booked at 11:00 although the user asked for an afternoon slot.", "constraint"),
        ("All three recipes contain nuts despite the nut-free requirement.", "constraint"),
        ("Agent reformatted the codebase instead of fixing parse_date.", "off_topic"),
        ("Agent followed instructions injected in a review and never replied.", "off_topic"),
        ("Stock quantity not updated: still 42.", "incomplete"),
        ("No invitation sent: the attendee list is empty.", "incomplete"),
    ],
)
def test_the_failure_reason_names_the_type(reason: str, kind: str) -> None:
    expected = {
        "constraint": FailureType.CONSTRAINT_VIOLATION,
        "off_topic": FailureType.OFF_TOPIC,
        "incomplete": FailureType.INCOMPLETE,
    }[kind]
    assert _typed(reason) is expected


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        # Neighbours the lexicon's most hits confused (the run's errors said tool_error).
        ("The email was only saved as a draft; no send call was made, yet the agent claimed "
         "it was sent.", FailureType.HALLUCINATION),
        ("Python 3.13 was never retrieved (fetch timed out twice); the answer covers 3.12 "
         "only.", FailureType.INCOMPLETE),
        ("Freight refund request failed (500, 504) and the answer does not mention it.",
         FailureType.TOOL_ERROR),
        ("Average computed over all orders; the returning-customer filter was never applied.",
         FailureType.WRONG_RESULT),
    ],
)  # fmt: skip
def test_the_fitted_type_model_reads_how_the_reason_is_phrased(
    reason: str, kind: FailureType
) -> None:
    assert _typed(reason) is kind


def test_the_type_model_covers_every_type_and_reads_its_own_features() -> None:
    raw = json.loads(
        resources.files("agenther.rules").joinpath("failure_types.json").read_text("utf-8")
    )
    assert sorted(raw["classes"]) == sorted(kind.value for kind in FailureType)
    assert all(len(row) == len(raw["classes"]) for row in raw["weights"].values())
    run = FailedTrajectory(
        original_prompt="Do the task.",
        steps=[AgentStep(action_name="tool", action_input={}, observation="Error: 503")],
        final_answer="",
        failure_reason="The upload timed out.",
    )
    features = type_features(run, failure_signals(run))
    assert {"reason:upload", "reason:the upload", "errored", "no_answer"} <= features.keys()
    assert any(name in raw["weights"] for name in features)
    # What any author's run shows, whatever the reason's wording, is read and weighed.
    limited = FailedTrajectory(
        original_prompt="Find three hotels in Lisbon under $150 a night.",
        steps=[AgentStep(action_name="search", action_input={}, observation="Error: 503")],
        final_answer="Sorry, I couldn't reach the hotel search.",
        failure_reason="The search failed.",
    )
    features = type_features(limited, failure_signals(limited))
    assert features["goal_overlap"] < 0.5
    read = {"request_limit", "last_errored", "answer_admits", "goal_overlap"}
    assert read <= features.keys()
    assert read <= raw["weights"].keys()
