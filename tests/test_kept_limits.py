"""Whether a final answer's own figures keep a limit of the request, and what that does to the
limits a failure reason names (``agenther.kept_limits``, ``agenther.constraints``)."""

from __future__ import annotations

import pytest

from agenther.constraints import unmet_constraints
from agenther.kept_limits import answer_keeps
from agenther.models import AgentStep, FailedTrajectory

WHEELS = (
    "• RinkPro Indoor 62 mm, 82A (set of 8) — $3.60 per set, minimum order 200 sets, 1,450 sets "
    "in stock\n• GlideMax 62 mm, 85A (set of 8) — $3.25 per set, minimum order 250 sets, 900 "
    "sets in stock"
)


@pytest.mark.parametrize(
    ("limit", "answer", "english", "kept"),
    [
        # "1.500" groups thousands outside English, and "1.399,00" has a decimal comma.
        ("under 1.500 kr", "Begynder Komplet koster 1.399,00 kr. inkl. moms", False, True),
        ("under 1.500 kr", "Begynder Komplet koster 1.599,00 kr. inkl. moms", False, False),
        ("under $4 per set", WHEELS, True, True),
        ("at least 200 sets", WHEELS, True, True),
        ("at least 300 sets", WHEELS, True, False),
        # "13,450, 12 months" is one figure and then another, not "13,450,12".
        ("under £12,000", "home fee £11,200; home fee £13,450, 12 months", True, False),
        # A strict bound is broken by its own figure; an inclusive one is not.
        ("under $4", "it costs $4.00", True, False),
        ("at most $4", "it costs $4.00", True, True),
        ("unter 30 €", "Das Zimmer kostet 29,50 € pro Nacht.", False, True),
        # No figure of the limit's unit in the answer: not known to be kept.
        ("under $4", "It is the cheapest one.", True, False),
        # No direction: nothing to judge.
        ("8 m/s", "8 m/s", True, False),
    ],
)
def test_an_answer_keeps_a_limit_when_every_figure_of_its_unit_is_within_it(
    limit: str, answer: str, english: bool, kept: bool
) -> None:
    assert answer_keeps(limit, answer, english=english) is kept


def test_a_negated_bound_is_not_judged() -> None:
    # "ningún alumno pase más de 40 minutos" bounds from above: read as "more than 40" a
    # 47-minute trip would keep it.
    before = "Planifica la ruta del autobús 7 de forma que ningún alumno pase "
    answer = "el trayecto más largo es de 47 minutos"
    assert answer_keeps("más de 40 minutos", answer, english=False) is True
    assert answer_keeps("más de 40 minutos", answer, english=False, before=before) is False


def _run(prompt: str, answer: str, reason: str) -> FailedTrajectory:
    return FailedTrajectory(
        original_prompt=prompt,
        steps=[AgentStep(action_name="search", action_input={"q": "x"}, observation=answer)],
        final_answer=answer,
        failure_reason=reason,
    )


def test_a_reason_that_repeats_only_kept_limits_names_no_unmet_one() -> None:
    # The reason repeats the price the run met and names the deadline it missed, which has
    # no figure: dropping the price would keep the deadline the run broke.
    t = _run(
        "Find en begynderpakke til biavl (bistade med dragt) til under 1.500 kr. på "
        "Biavlerbutikken, som kan leveres inden fredag.",
        "Begynder Komplet fra Biavlerbutikken koster 1.399,00 kr. inkl. moms og leveres om 3-5 "
        "hverdage.",
        "Den eneste pakke med dragt under 1.500 kr. leveres først om 3-5 hverdage og kan derfor "
        "ikke nå frem inden fredag.",
    )
    assert unmet_constraints(t) == []


def test_one_broken_limit_keeps_every_named_one() -> None:
    # The price was broken; the rating was met. Both go, as before: a met limit dropped
    # loosens the request, which the answer still answers.
    t = _run(
        "Trovami su shopit.it un frullatore con almeno 4,5 stelle che costi meno di 60 €.",
        "Ti consiglio il Philips HR3760/00: 4,7 stelle, a 64,99 €.",
        "Il Philips costa 64,99 €, oltre il limite di 60 €; nessun risultato da almeno 4,5 "
        "stelle rispettava il prezzo.",
    )
    assert [c.text for c in unmet_constraints(t)] == ["almeno 4,5 stelle", "meno di 60 €"]
