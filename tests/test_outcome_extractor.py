from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agenther.errors import LLMTransientError
from agenther.llm_client import LLMClient
from agenther.models import AgentStep, FailedTrajectory
from agenther.outcome_extractor import (
    ACHIEVEMENT_CHARS,
    OutcomeExtractor,
    cut_on_word,
    extract_rules,
)
from agenther.run_text import INJECTION_NOTICE
from tests.support.fake_openai import FakeOpenAI, FakeRequest, Fault
from tests.support.trajectories import reference_trajectories


def _by_id() -> dict[str, FailedTrajectory]:
    return {t.trajectory_id: t for t in reference_trajectories()}


# --- rule mode -------------------------------------------------------------------------------


def test_reference_supplier_run() -> None:
    outcome = extract_rules(_by_id()["traj_001"])
    # Three search results carry content; "Summary generated." is only an acknowledgement.
    assert len(outcome.actual_achievements) == 3
    assert all(len(a) <= ACHIEVEMENT_CHARS for a in outcome.actual_achievements)
    assert outcome.actual_achievements[0].startswith("Found 5 results: 1) MetalWorks Inc")
    assert outcome.actual_achievements[0].endswith("…")
    assert {"MicroMetals", "CopperDirect", "MetalWorks Inc", "LocalWire Co"} <= set(
        outcome.entities
    )
    assert {"$5.30", "10kg", "$4.90", "500kg"} <= set(outcome.numbers)
    # List numbering of the search results is not a quantity.
    assert not {"1", "2", "3", "6", "7"} & set(outcome.numbers)
    assert outcome.limitations.startswith("No supplier found")
    assert outcome.key_observations[0].startswith("web_search: Found 5 results")


def test_reference_script_run_reports_what_happened_not_what_was_asked() -> None:
    outcome = extract_rules(_by_id()["traj_002"])
    assert outcome.actual_achievements == ["Filtered 42 rows. Output saved to filtered_output.xlsx"]
    assert outcome.entities == ["filtered_output.xlsx"]
    assert outcome.numbers == ["42"]


def test_reference_errored_run_achieved_nothing() -> None:
    outcome = extract_rules(_by_id()["traj_003"])
    assert outcome.actual_achievements == [] and outcome.numbers == []
    assert "Tool errors" in outcome.limitations


def test_the_goal_is_ignored() -> None:
    t = _by_id()["traj_001"]
    other = t.model_copy(update={"original_prompt": "Tell me about Jupiter's 95 moons."})
    assert extract_rules(other) == extract_rules(t)


def test_thoughts_and_final_answer_claims_are_not_achievements() -> None:
    t = FailedTrajectory(
        original_prompt="Check stock of widgets.",
        steps=[
            AgentStep(
                thought="Maybe Omega Ltd has 888 units",
                action_name="inventory",
                observation="Acme Widgets: 120 units in stock at $3.50.",
            ),
            AgentStep(action_name="inventory", observation="Error: 500 Internal Server Error"),
        ],
        final_answer="Omega Ltd has 999 units.",
    )
    outcome = extract_rules(t)
    assert outcome.actual_achievements == ["Acme Widgets: 120 units in stock at $3.50."]
    assert outcome.numbers == ["120", "$3.50"]
    assert outcome.entities == ["Acme Widgets"]
    assert outcome.limitations == "The original request was not fully met."


def test_limitations_fall_back_to_the_final_answers_admissions() -> None:
    t = FailedTrajectory(
        original_prompt="Find flights.",
        steps=[AgentStep(action_name="search", observation="LH 123 departs 09:40 from FRA.")],
        final_answer="LH 123 departs at 09:40. I could not find a return flight.",
    )
    assert extract_rules(t).limitations == "I could not find a return flight"


def test_cut_on_word() -> None:
    text = "word " * 100
    cut = cut_on_word(text)
    assert len(cut) <= ACHIEVEMENT_CHARS and cut.endswith("word…")
    assert cut_on_word("short\n text") == "short text"
    assert len(cut_on_word("x" * 500)) == ACHIEVEMENT_CHARS


def test_sync_rule_api() -> None:
    t = _by_id()["traj_001"]
    assert OutcomeExtractor().extract(t) == extract_rules(t)
    assert OutcomeExtractor().extract_rule_based(t) == extract_rules(t)


async def test_llm_mode_without_a_client_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="llm_client"):
        await OutcomeExtractor().aextract(_by_id()["traj_001"], use_llm=True)


def test_sync_llm_mode_without_a_client_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="llm_client"):
        OutcomeExtractor().extract(_by_id()["traj_001"], use_llm=True)


# --- LLM mode, over HTTP against the fake server ------------------------------------------------


@pytest.fixture
def client(fake_llm: FakeOpenAI) -> Iterator[LLMClient]:
    yield LLMClient(
        model="gpt-4o-mini",
        base_url=fake_llm.base_url,
        api_key="test-key",
        max_retries=1,
        backoff_base=0.01,
        backoff_cap=0.02,
    )


async def test_llm_mode_keeps_only_evidenced_numbers_and_entities(
    fake_llm: FakeOpenAI, client: LLMClient
) -> None:
    def report(request: FakeRequest) -> dict[str, Any]:
        return {
            "actual_achievements": ["MicroMetals sells copper wire at $5.30/kg, MOQ 10kg.", " "],
            "key_observations": ["CopperDirect MOQ is 500kg"],
            "limitations": "No supplier under $5/kg with a low MOQ was found.",
            "entities": ["MicroMetals", "CopperDirect", "NovaCopper"],
            "numbers": ["$5.30", "10kg", "$3.10", "5.30"],
        }

    fake_llm.on_schema("OutcomeReport", report)
    t = _by_id()["traj_001"]
    outcome = await OutcomeExtractor(client, token_budget=300).aextract(t, use_llm=True)
    await client.aclose()

    assert outcome.actual_achievements == ["MicroMetals sells copper wire at $5.30/kg, MOQ 10kg."]
    assert outcome.entities == ["MicroMetals", "CopperDirect"]  # NovaCopper was never observed
    assert outcome.numbers == ["$5.30", "10kg", "5.30"]  # $3.10 was never observed
    [request] = fake_llm.requests
    assert request.temperature == 0.0
    assert INJECTION_NOTICE in request.system_prompt
    assert t.original_prompt not in request.user_prompt  # the goal is not shown
    assert '<run-data label="observation">' in request.user_prompt
    assert len(request.user_prompt) <= 300 * 4 + 200


async def test_llm_transient_errors_propagate(fake_llm: FakeOpenAI, client: LLMClient) -> None:
    fake_llm.script([Fault.status(429)] * 4)
    with pytest.raises(LLMTransientError):
        await OutcomeExtractor(client).aextract(_by_id()["traj_002"], use_llm=True)
    await client.aclose()


def test_llm_sync_api(fake_llm: FakeOpenAI, client: LLMClient) -> None:
    fake_llm.script(
        [
            {
                "actual_achievements": ["A script filtered 42 rows into filtered_output.xlsx."],
                "limitations": "",
                "numbers": ["42"],
            }
        ]
    )
    t = _by_id()["traj_002"]
    outcome = OutcomeExtractor(client).extract(t, use_llm=True)
    assert outcome.numbers == ["42"]
    assert outcome.limitations == t.failure_reason  # an empty reply falls back to the reason


@given(
    st.text(alphabet=st.sampled_from("ab.    \n\t"), max_size=1500),
    st.integers(min_value=5, max_value=250),
)
# The flattened start is exactly as long as the limit, and more follows.
@example(text="a b c" + " " * 15 + "d e f", limit=5)
def test_cut_on_word_reads_only_the_start_it_needs(text: str, limit: int) -> None:
    """A long text is flattened only as far as the cut needs; the cut is the same as
    flattening the whole text first."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        expected = flat
    else:
        room = flat[: limit - 1]
        cut = room.rfind(" ")
        expected = (room[:cut] if cut >= limit // 2 else room).rstrip(" ,;:-") + "…"
    assert cut_on_word(text, limit) == expected
