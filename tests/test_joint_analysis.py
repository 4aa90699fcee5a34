"""Stages 1 and 2 in one LLM call, over HTTP against the loopback fake server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from agenther.config import PipelineConfig
from agenther.errors import LLMTransientError
from agenther.joint_analysis import JointAnalysisReply, JointAnalyzer
from agenther.llm_client import LLMClient
from agenther.models import FailureType
from agenther.pipeline import AgentHERPipeline
from agenther.run_text import INJECTION_NOTICE
from tests.support.fake_openai import FakeOpenAI, FakeRequest, Fault
from tests.support.llm_replies import install_default_replies
from tests.support.trajectories import reference_trajectories

SUPPLIERS, SCRIPT, ERRORED = reference_trajectories()

REPLY: dict[str, Any] = {
    "actual_achievements": ["MicroMetals sells copper wire at $5.30/kg, MOQ 10kg.", " "],
    "key_observations": ["CopperDirect MOQ is 500kg"],
    "limitations": "No supplier under $5/kg with a low MOQ was found.",
    "entities": ["MicroMetals", "CopperDirect", "NovaCopper"],
    "numbers": ["$5.30", "10kg", "$3.10"],
    "failure_type": "constraint_violation",
    "severity": 0.3,
    "weight": 0.8,
    "recoverable": True,
    "explanation": "every price is above the limit",
}


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


async def test_one_call_returns_both_stages(fake_llm: FakeOpenAI, client: LLMClient) -> None:
    fake_llm.on_schema(JointAnalysisReply.__name__, lambda request: REPLY)
    analysis, outcome = await JointAnalyzer(client, token_budget=400).aanalyze(SUPPLIERS)
    await client.aclose()

    assert analysis.is_failure and analysis.failure_type is FailureType.CONSTRAINT_VIOLATION
    assert (analysis.severity, analysis.weight, analysis.recoverable) == (0.3, 0.8, True)
    assert analysis.explanation == "every price is above the limit"
    assert outcome.actual_achievements == ["MicroMetals sells copper wire at $5.30/kg, MOQ 10kg."]
    assert outcome.key_observations == ["CopperDirect MOQ is 500kg"]
    assert outcome.limitations == "No supplier under $5/kg with a low MOQ was found."
    [request] = fake_llm.requests
    assert request.schema_name == "JointAnalysisReply"
    assert request.temperature == 0.0
    assert INJECTION_NOTICE in request.system_prompt
    # Stage 1 needs the goal; the prompt tells the model to keep it out of the outcome.
    assert SUPPLIERS.original_prompt in request.user_prompt
    assert "Do not describe the run in terms of the goal" in request.system_prompt
    assert '<run-data label="observation">' in request.user_prompt
    assert len(request.user_prompt) <= 400 * 4 + 200


async def test_numbers_and_entities_the_run_never_saw_are_dropped(
    fake_llm: FakeOpenAI, client: LLMClient
) -> None:
    fake_llm.script([REPLY])
    _, outcome = await JointAnalyzer(client).aanalyze(SUPPLIERS)
    await client.aclose()
    assert outcome.entities == ["MicroMetals", "CopperDirect"]  # NovaCopper was never observed
    assert outcome.numbers == ["$5.30", "10kg"]  # $3.10 was never observed


async def test_out_of_range_values_are_clamped(fake_llm: FakeOpenAI, client: LLMClient) -> None:
    fake_llm.script(
        [
            {
                **REPLY,
                "failure_type": "hallucination",
                "severity": 1.7,
                "weight": -0.2,
                "recoverable": False,
                "limitations": " ",
            }
        ]
    )
    analysis, outcome = await JointAnalyzer(client).aanalyze(ERRORED)
    await client.aclose()
    assert (analysis.severity, analysis.weight) == (1.0, 0.0)
    assert analysis.failure_type is FailureType.HALLUCINATION and not analysis.recoverable
    # An empty limitations field falls back to the run's own failure reason, as in Stage 2.
    assert outcome.limitations == ERRORED.failure_reason.strip()


async def test_transient_errors_propagate(fake_llm: FakeOpenAI, client: LLMClient) -> None:
    fake_llm.script([Fault.status(503)] * 4)
    with pytest.raises(LLMTransientError):
        await JointAnalyzer(client).aanalyze(SUPPLIERS)
    await client.aclose()
    assert len(fake_llm.requests) == 2  # the call and the client's one retry


# --- the pipeline: calls per run, read from the fake's request log ------------------------------


def _pipeline(fake: FakeOpenAI, **overrides: Any) -> AgentHERPipeline:
    settings: dict[str, Any] = {
        "base_url": fake.base_url,
        "api_key": "test-key",
        "use_llm_detector": True,
        "use_llm_extractor": True,
        "use_llm_relabeler": True,
        "max_retries": 0,
        **overrides,
    }
    return AgentHERPipeline(PipelineConfig(**settings))


def _calls(fake: FakeOpenAI) -> list[str | None]:
    return [request.schema_name for request in fake.requests]


async def test_first_attempt_acceptance_costs_one_joint_call_then_relabel_and_judge(
    fake_llm: FakeOpenAI,
) -> None:
    install_default_replies(fake_llm)
    pipeline = _pipeline(fake_llm)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()

    assert result.success, result.error
    assert _calls(fake_llm) == ["JointAnalysisReply", "HindsightPromptReply", "SecondJudgeVerdict"]
    assert result.decision is not None and result.decision.attempts == 2
    assert result.outcome is not None and "MicroMetals" in result.outcome.entities


async def test_joint_analysis_off_keeps_the_two_stage_calls(fake_llm: FakeOpenAI) -> None:
    install_default_replies(fake_llm)
    pipeline = _pipeline(fake_llm, joint_analysis=False)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()

    assert result.success, result.error
    assert _calls(fake_llm) == [
        "FailureJudgement",
        "OutcomeReport",
        "HindsightPromptReply",
        "SecondJudgeVerdict",
    ]


async def test_joint_analysis_needs_both_stages_on_the_llm(fake_llm: FakeOpenAI) -> None:
    install_default_replies(fake_llm)
    pipeline = _pipeline(fake_llm, use_llm_detector=False)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()
    assert result.success, result.error
    assert _calls(fake_llm) == ["OutcomeReport", "HindsightPromptReply", "SecondJudgeVerdict"]


async def test_a_run_dropped_at_stage_1_costs_exactly_one_call(fake_llm: FakeOpenAI) -> None:
    install_default_replies(fake_llm)  # the rules find ERRORED unrecoverable
    pipeline = _pipeline(fake_llm)
    result = await pipeline.arelabel(ERRORED)
    await pipeline.aclose()

    assert result.rejected and result.stage_reached == "failure_detection"
    assert result.outcome is None
    assert _calls(fake_llm) == ["JointAnalysisReply"]


async def test_ungrounded_attempts_never_reach_the_judge(fake_llm: FakeOpenAI) -> None:
    install_default_replies(fake_llm)

    def ungrounded(request: FakeRequest) -> dict[str, Any]:
        del request
        # $2.10/kg and NovaCopper appear nowhere in the run.
        return {
            "hindsight_prompt": "Find NovaCopper's copper wire price of $2.10/kg.",
            "is_valid_replay": True,
            "rationale": "",
            "confidence": 0.9,
        }

    fake_llm.on_schema("HindsightPromptReply", ungrounded)
    pipeline = _pipeline(fake_llm, relabel_max_attempts=3)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()

    assert result.rejected and result.stage_reached == "prompt_relabeling"
    assert Counter(_calls(fake_llm)) == {"JointAnalysisReply": 1, "HindsightPromptReply": 3}
    assert result.decision is not None and result.decision.attempts == 3


async def test_a_transient_error_of_the_joint_call_is_a_stage_1_error(
    fake_llm: FakeOpenAI,
) -> None:
    install_default_replies(fake_llm)
    fake_llm.script([Fault.status(503)])
    pipeline = _pipeline(fake_llm)
    result = await pipeline.aprocess(SUPPLIERS)
    await pipeline.aclose()

    assert not result.success and result.stage_reached == "failure_detection"
    assert isinstance(result.exception, LLMTransientError)
    assert _calls(fake_llm) == ["JointAnalysisReply"]


def test_joint_analysis_is_part_of_the_fingerprint_only_where_it_applies() -> None:
    both = {"use_llm_detector": True, "use_llm_extractor": True}
    on, off = PipelineConfig(**both), PipelineConfig(**both, joint_analysis=False)
    assert on.uses_joint_analysis and not off.uses_joint_analysis
    assert on.fingerprint() != off.fingerprint()
    # Without the LLM detector the setting changes nothing, and neither does the fingerprint.
    assert PipelineConfig().fingerprint() == PipelineConfig(joint_analysis=False).fingerprint()
    assert not PipelineConfig(rule_based=True, **both).uses_joint_analysis
