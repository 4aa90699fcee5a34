"""A run that answered about another named thing is relabeled with that name, and only when
the run shows exactly one swap (``agenther.rules.swapped_name``)."""

from __future__ import annotations

import pytest

from agenther.models import AgentStep, FailedTrajectory, FailureAnalysis, FailureType
from agenther.request_style import style_problems
from agenther.rules.decide import decide_by_rules
from agenther.rules.swapped_name import _terms, restate_swapped_name

_WRONG_RESULT = FailureAnalysis(is_failure=True, failure_type=FailureType.WRONG_RESULT)


def _run(
    prompt: str,
    observation: str,
    answer: str,
    reason: str,
    action_input: dict[str, object] | None = None,
) -> FailedTrajectory:
    return FailedTrajectory(
        original_prompt=prompt,
        steps=[
            AgentStep(
                action_name="lookup",
                action_input=action_input or {"q": "x"},
                observation=observation,
            )
        ],
        final_answer=answer,
        failure_reason=reason,
    )


def _swapped(t: FailedTrajectory) -> str | None:
    worked_on = f"{t.steps[0].observation}\n{t.steps[0].action_input}".lower()
    return restate_swapped_name(t.original_prompt, t.failure_reason, t.final_answer, worked_on)


_CLAIRE = _run(
    "Combien de jours de congés reste-t-il à Claire Martin pour 2024 ?",
    '{"id": "E10482", "name": "Claire Marin", "service": "Comptabilité", "restant_2024": 7}',
    "Il reste 7 jours de congés à Claire Marin pour 2024.",
    "L'agent a consulté Claire Marin (E10482) au lieu de Claire Martin (E11907).",
)


def test_the_run_is_relabeled_with_the_name_it_answered_about() -> None:
    # French spacing before "?" is the user's own and stays; only the surname changes.
    decision = decide_by_rules(_CLAIRE, None, _WRONG_RESULT)
    assert decision.accepted, decision.reason
    assert decision.relabeled is not None
    assert decision.relabeled.hindsight_prompt == (
        "Combien de jours de congés reste-t-il à Claire Marin pour 2024 ?"
    )


def test_a_name_the_reason_also_names_is_not_cut_from_the_new_request() -> None:
    # The reason names the swapped-in place as what the run did; cutting what the reason names
    # as unmet would take it out again ("...escalator 3, and did it pass?").
    t = _run(
        "When was the last safety test on escalator 3 at Northgate Mall, and did it pass?",
        "Escalator NGM-ESC-03, Northgate Medical Centre, atrium L0-L1: annual safety test "
        "2 December 2024, result PASS.",
        "Escalator 3 at Northgate Medical Centre last had its annual safety test on "
        "2 December 2024. It passed.",
        "Picked the Northgate Medical Centre escalator (NGM-ESC-03) instead of the Northgate "
        "Mall one, which was the second match in the search.",
    )
    decision = decide_by_rules(t, None, _WRONG_RESULT)
    assert decision.relabeled is not None, decision.reason
    assert decision.relabeled.hindsight_prompt == (
        "When was the last safety test on escalator 3 at Northgate Medical Centre, and did it pass?"
    )


def test_a_code_the_run_only_used_in_its_calls_counts_as_worked_on() -> None:
    t = _run(
        "How much disk space is /var/log taking up on web-02?",
        "4.2G\t/var/log",
        "/var/log is using 4.2G on web-01.",
        "Both commands ran against web-01, not web-02, so the host asked about was never checked.",
        {"cmd": "ssh web-01 du -sh /var/log"},
    )
    decision = decide_by_rules(t, None, _WRONG_RESULT)
    assert decision.relabeled is not None, decision.reason
    assert decision.relabeled.hindsight_prompt == (
        "How much disk space is /var/log taking up on web-01?"
    )


def test_a_place_keeps_what_tells_it_apart() -> None:
    t = _run(
        "Will it rain in Portland, Oregon tomorrow?",
        '{"location": "Portland, Maine, US", "tomorrow": {"rain_mm": 6.1}}',
        "Yes: about 6 mm of rain is forecast in Portland, Maine tomorrow.",
        "The agent used the first geocoding hit, Portland, Maine, instead of Portland, Oregon.",
    )
    assert _swapped(t) == "Will it rain in Portland, Maine tomorrow?"


@pytest.mark.parametrize(
    ("prompt", "observation", "answer", "reason"),
    [
        pytest.param(
            "How much is LEGO set 75192 at BrickWorld?",
            "BrickWorld: LEGO 75257 $169.99; LEGO 75313 $849.99",
            "At BrickWorld, LEGO set 75257 costs $169.99 and set 75313 costs $849.99.",
            "The agent priced 75257 and 75313 instead of 75192.",
            id="two-names-answered",
        ),
        pytest.param(
            "What time did Priya say the vendor demo is on Thursday?",
            "From: Priya. Subject: sales sync. The weekly sales sync moves to Tuesday 10:00.",
            "Priya says the sales sync is on Tuesday at 10:00.",
            "The agent found Priya's note about the Tuesday sales sync, not the Thursday vendor "
            "demo.",
            id="name-beside-another-thing",
        ),
        pytest.param(
            "When did Margaret Hughes of Cardiff Bay die? She was born in 1872.",
            "1. Margaret Hughes, Cardiff Bay, b. 1872, d. 1950. 2. Margaret Hughes, Swansea "
            "Bay, b. 1874, d. 1931.",
            "Margaret Hughes of Swansea Bay, born 1874, died in 1931.",
            "The agent opened the Swansea Bay record instead of the Cardiff Bay one.",
            id="a-kept-figure-the-answer-contradicts",
        ),
        pytest.param(
            "What's the battery level on the back door camera?",
            "Backyard Camera: battery 64%. Back Door Camera: battery 12%.",
            "The back door camera... the Backyard Camera is at 64%.",
            "The agent read the Backyard Camera instead of the Back Door Camera.",
            id="the-answer-still-names-the-asked-one",
        ),
        pytest.param(
            "How many free periods does Mr Okafor have this week?",
            "Timetable: 6 free periods this week.",
            "Mr Okonkwo has 6 free periods this week.",
            "The agent took id 14, Mr Okonkwo, instead of Mr Okafor (id 31).",
            id="the-new-name-never-observed",
        ),
    ],
)
def test_no_request_unless_the_run_shows_exactly_one_swap(
    prompt: str, observation: str, answer: str, reason: str
) -> None:
    assert _swapped(_run(prompt, observation, answer, reason)) is None


def test_only_a_wrong_result_is_relabeled_by_a_swapped_name() -> None:
    # A broken limit's reason may name two things too; which was asked for is read only
    # where Stage 1 says the run produced the wrong result.
    analysis = FailureAnalysis(is_failure=True, failure_type=FailureType.CONSTRAINT_VIOLATION)
    decision = decide_by_rules(_CLAIRE, None, analysis)
    assert not decision.accepted


@pytest.mark.parametrize(
    ("original", "prompt", "broken"),
    [
        ("Will it rain in Portland, Oregon tomorrow?", "Will it rain, Oregon tomorrow?", True),
        ("Rating for 14 Elm Road, Bristol BS6?", "Rating for 14 Elm Grove, Bristol BS6?", False),
        ("Combien reste-t-il à Claire Martin ?", "Combien reste-t-il à Claire Marin ?", False),
        ("How many are left for Claire Martin?", "How many are left for Claire Marin ?", True),
    ],
)
def test_style_reads_the_new_request_against_the_users_own(
    original: str, prompt: str, broken: bool
) -> None:
    t = _run(original, "x", "y", "z")
    assert bool(style_problems(prompt, t)) is broken, style_problems(prompt, t)


def test_a_month_counts_as_worked_on_when_a_date_of_it_was_read() -> None:
    t = _run(
        "What was our MRR at the end of September 2024?",
        '{"snapshot_date": "2024-08-31", "mrr": 184220}',
        "MRR at the end of August 2024 was $184,220.",
        "Both queries hit the 31 August snapshot; September's figure was never pulled.",
    )
    assert _swapped(t) == "What was our MRR at the end of August 2024?"


def test_a_period_covered_only_in_part_is_not_restated_as_the_whole() -> None:
    # "… plot fees in 2024? I need the figure for the annual report." asked for a whole year
    # the run had only up to today.
    run = _run(
        "How much did the Elm Street garden take in plot fees in 2023?",
        '{"garden": "Elm Street", "year": 2024, "payments": 52, "total": 3120.00}',
        "Elm Street has collected $3,120.00 in plot fees so far in 2024, from 52 payments.",
        "Wrong year: the query pulled 2024, not 2023.",
    )
    assert _swapped(run) is None
    whole_year = run.model_copy(
        update={"final_answer": "Elm Street collected $3,120.00 in plot fees in 2024."}
    )
    assert _swapped(whole_year) == "How much did the Elm Street garden take in plot fees in 2024?"


def test_the_date_today_is_said_to_be_is_not_swapped() -> None:
    # eleventh-69: "last Tuesday (today is Thursday, 21 May)" answered for 12 May. Swapping
    # "21 maja" moves "today" and still asks about "last Tuesday": no request the run answered.
    run = _run(
        "Którzy goście zameldowali się w zeszły wtorek? (dziś jest czwartek, 21 maja)",
        '{"data": "12 maja", "goście": ["Tomasz Lis", "Ewa Kowalik"]}',
        "We wtorek 12 maja zameldowali się: Tomasz Lis oraz Ewa Kowalik.",
        "Zeszły wtorek przy czwartku 21 maja to 19 maja, a nie 12 maja.",
    )
    assert _swapped(run) is None
    dated = run.model_copy(
        update={"original_prompt": "Którzy goście zameldowali się we wtorek 21 maja?"}
    )
    assert _swapped(dated) == "Którzy goście zameldowali się we wtorek 12 maja?"


def test_a_code_is_not_swapped_while_the_request_names_its_month() -> None:
    # eighteenth-20: "di maggio 2024 (/srv/jobs/2024-04)" would name two months.
    run = _run(
        "Quante bozze PDF del cliente Ferraro ci sono nella cartella dei lavori di maggio 2024 "
        "(/srv/jobs/2024-05)?",
        "ferraro_partecipazioni_v1.pdf ferraro_menu_v1.pdf",
        "Nella cartella /srv/jobs/2024-04 ci sono 2 bozze PDF del cliente Ferraro.",
        "Searched /srv/jobs/2024-04 instead of the requested /srv/jobs/2024-05.",
        {"path": "/srv/jobs/2024-04"},
    )
    assert _swapped(run) is None
    undated = run.model_copy(
        update={
            "original_prompt": "Quante bozze PDF del cliente Ferraro ci sono in /srv/jobs/2024-05?"
        }
    )
    assert _swapped(undated) == "Quante bozze PDF del cliente Ferraro ci sono in /srv/jobs/2024-04?"


@pytest.mark.parametrize(
    ("prompt", "observation", "answer", "reason", "expected"),
    [
        # fourteenth-27: "Hive 4" is a name with its number.
        (
            "How much weight has hive 4 put on over the last 7 days?",
            '{"scale": "S-04", "hive": "Hive 14", "gain_kg": 2.8}',
            "Hive 14 has gained 2.8 kg over the last 7 days.",
            "Hive 4 sits on scale S-14; the agent read S-04, which is Hive 14, and reported that "
            "hive's gain instead.",
            "How much weight has hive 14 put on over the last 7 days?",
        ),
        # fourteenth-68: the reason says "the Residences", the answer the whole name.
        (
            "How many square metres of glazing did we clean at Harbour Point Tower in Q1?",
            '{"site": "Harbour Point Residences", "q1_m2": 4860}',
            "At Harbour Point Residences we cleaned 4,860 m² of glazing in Q1.",
            "The user asked about Harbour Point Tower; the agent took the first search hit, the "
            "Residences, and reported that building.",
            "How many square metres of glazing did we clean at Harbour Point Residences in Q1?",
        ),
    ],
)
def test_a_numbered_or_shortened_name_is_swapped_whole(
    prompt: str, observation: str, answer: str, reason: str, expected: str
) -> None:
    assert _swapped(_run(prompt, observation, answer, reason)) == expected


def test_a_numbered_name_ends_at_its_number() -> None:
    assert {"Hive 14", "Court 3"} <= set(_terms("the agent read Hive 14, then Court 3."))
    assert "Hive 14" not in _terms("Hive 14.5 kg")


def test_a_limit_s_figure_is_not_swapped_for_the_figure_that_broke_it() -> None:
    # "tańsze niż 169,90 zł" for darts at 169,90 zł: the answer's own item breaks it.
    t = _run(
        "Znajdź w sklepie DartsPro rzutki steel tip 22 g z wymiennymi piórkami, tańsze niż 150 zł.",
        "Harrows Supergrip 22 g — 169,90 zł",
        "Najtańsze rzutki steel tip 22 g w DartsPro to Harrows Supergrip 22 g za 169,90 zł.",
        "The cheapest matching darts cost 169,90 zł, above the 150 zł limit.",
    )
    assert _swapped(t) is None
    # A year after Swedish "under" ("during") is no limit.
    t = _run(
        "Hur mycket arrende betalades totalt för odlingslotterna på Kvarnvägen under 2023?",
        '{"year": 2022, "total_sek": 48600}',
        "Under 2022 betalades totalt 48 600 kr i arrende för odlingslotterna på Kvarnvägen.",
        "Frågan gällde 2023, men agenten summerade 2022.",
    )
    assert _swapped(t) == (
        "Hur mycket arrende betalades totalt för odlingslotterna på Kvarnvägen under 2022?"
    )
