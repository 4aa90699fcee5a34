"""A person's name for a city the run observed under another name, and nothing more."""

from __future__ import annotations

import pytest

from agenther import AgentHERPipeline, PipelineConfig, places
from agenther.grounding import verify_grounding
from agenther.models import AgentStep, FailedTrajectory
from agenther.places import fold, observed_under_another_name


@pytest.mark.parametrize(
    ("name", "observed"),
    [
        ("Munich", "Departure: München Hbf 08:12, platform 14"),
        ("Cologne", "ICE 1023 arrives Köln Hbf 10:41"),
        ("The Hague", "Den Haag Centraal, 3 trains per hour"),
        ("Florence", "Firenze Campo di Marte"),
        ("Lisbon", "TP218 BOS 21:35 -> Lisboa 09:10"),
        ("Tokyo", "東京駅 8:00発"),
        ("münchen", "MUNCHEN HBF"),  # case and accents folded on both sides
    ],
)
def test_a_city_observed_under_another_of_its_names(name: str, observed: str) -> None:
    assert observed_under_another_name(name, observed)


@pytest.mark.parametrize(
    ("name", "observed"),
    [
        ("Munich", "Departure: Berlin Hbf 08:12"),  # another city
        ("Munich", "Munchenstein Bahnhof"),  # a name inside a longer word
        ("Paris", "a Parisian café on Main Street"),  # a word that merely starts alike
        ("Acme Corp", "München Hbf"),  # not a city at all
    ],
)
def test_no_city_the_run_never_touched(name: str, observed: str) -> None:
    assert not observed_under_another_name(name, observed)


def test_fold() -> None:
    assert fold("München") == fold("MUNCHEN") == "munchen"


def _train_run(station: str) -> FailedTrajectory:
    return FailedTrajectory(
        original_prompt="Find a train from Berlin to Munich before 9:00 for under 30 euros.",
        steps=[
            AgentStep(
                action_name="search_trains",
                action_input={"from": "Berlin", "to": "Munich"},
                observation=f"ICE 503 Berlin Hbf 04:29 -> {station} 08:41, 89.90 EUR",
            )
        ],
        final_answer=f"The ICE 503 leaves Berlin Hbf at 04:29 and reaches {station} at 08:41.",
        failure_reason="No train under 30 euros.",
    )


def test_grounding_takes_the_english_name_of_the_observed_station() -> None:
    prompt = "Which early-morning ICE goes from Berlin to Munich, and when does it arrive?"
    assert verify_grounding(prompt, _train_run("München Hbf")).ok
    result = verify_grounding(prompt, _train_run("Nürnberg Hbf"))
    assert not result.ok and any("Munich" in p for p in result.problems)


def test_warm_up_loads_the_city_table_before_any_run() -> None:
    # A service calls warm_up at start-up, so its first event does not wait for the table.
    places._table.cache_clear()
    AgentHERPipeline(PipelineConfig(rule_based=True)).warm_up()
    assert places._table.cache_info().currsize == 1
