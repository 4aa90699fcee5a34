"""Stages 1 and 2 in one LLM call (optionally with relabel attempt 1), over HTTP against the
loopback fake server."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agenther.config import PipelineConfig
from agenther.errors import LLMResponseError, LLMTransientError
from agenther.joint_analysis import (
    FUSED_SYSTEM_PROMPT,
    FusedAnalysisReply,
    JointAnalysisReply,
    JointAnalyzer,
)
from agenther.llm_client import LLMClient
from agenther.models import FailureType
from agenther.pipeline import AgentHERPipeline, PipelineResult
from agenther.prompt_relabeler import HINDSIGHT_RULES, RELABEL_SYSTEM_PROMPT, HindsightPromptReply
from agenther.run_text import INJECTION_NOTICE
from tests.support.fake_openai import FakeOpenAI, FakeRequest, Fault, count_prompt_tokens
from tests.support.llm_replies import (
    GENERIC_PROMPT,
    accepting_judge,
    fused_analysis_reply,
    hindsight_reply,
    install_default_replies,
    joint_analysis_reply,
    rejecting_judge,
)
from tests.support.trajectories import answered_reference_trajectories

SUPPLIERS, SCRIPT, ERRORED = answered_reference_trajectories()

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
    # The call, the client's one retry, then the same messages without response_format (two
    # 5xx in a row could be a refused format): that one fails too, so it is the server.
    assert len(fake_llm.requests) == 3
    assert "response_format" not in fake_llm.requests[2].body


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
    rule_stage_1 = {"use_llm_detector": False}
    assert (
        PipelineConfig(**rule_stage_1).fingerprint()
        == PipelineConfig(**rule_stage_1, joint_analysis=False).fingerprint()
    )
    assert not PipelineConfig(rule_based=True, **both).uses_joint_analysis


# --- fused first attempt: the joint call also writes relabel attempt 1 --------------------------

CANDIDATE: dict[str, Any] = {
    "hindsight_prompt": "List the copper wire prices and minimum orders MicroMetals quotes.",
    "is_valid_replay": True,
    "rationale": "the MicroMetals observation",
    "confidence": 0.8,
}


def _temperatures(fake: FakeOpenAI) -> list[float | None]:
    return [request.temperature for request in fake.requests]


def _fused(**candidate: Any) -> Callable[[FakeRequest], dict[str, Any]]:
    """The fake's realistic fused reply with attempt 1's fields replaced."""

    def reply(request: FakeRequest) -> dict[str, Any]:
        return {**fused_analysis_reply(request), **candidate}

    return reply


def _judge_rejecting_first() -> Callable[[FakeRequest], dict[str, Any]]:
    """A judge that turns down the first request it sees and accepts every later one."""
    verdicts = iter([rejecting_judge])

    def judge(request: FakeRequest) -> dict[str, Any]:
        return next(verdicts, accepting_judge)(request)

    return judge


def test_the_fused_reply_carries_the_relabelers_fields_after_the_facts() -> None:
    fields = list(FusedAnalysisReply.model_json_schema()["properties"])
    assert fields == [*JointAnalysisReply.model_fields, *HindsightPromptReply.model_fields]
    assert HINDSIGHT_RULES in FUSED_SYSTEM_PROMPT and HINDSIGHT_RULES in RELABEL_SYSTEM_PROMPT
    assert FUSED_SYSTEM_PROMPT.endswith(INJECTION_NOTICE)


async def test_one_fused_call_returns_both_stages_and_attempt_1(
    fake_llm: FakeOpenAI, client: LLMClient
) -> None:
    fake_llm.script([{**REPLY, **CANDIDATE}, REPLY])
    analyzer = JointAnalyzer(client, token_budget=400)
    analysis, outcome, first = await analyzer.aanalyze_with_first_attempt(
        SUPPLIERS, temperature=0.3
    )
    await analyzer.aanalyze(SUPPLIERS)
    await client.aclose()

    assert analysis.failure_type is FailureType.CONSTRAINT_VIOLATION and analysis.weight == 0.8
    assert outcome.numbers == ["$5.30", "10kg"]  # the evidence filter applies as without fusion
    assert first == HindsightPromptReply(**CANDIDATE)
    fused, joint = fake_llm.requests
    assert (fused.schema_name, fused.temperature) == ("FusedAnalysisReply", 0.3)
    assert "Part 3, the hindsight request" in fused.system_prompt
    assert INJECTION_NOTICE in fused.system_prompt
    # The run is quoted exactly as for the plain joint call.
    run_text = fused.user_prompt.split("\n\n", 1)[1]
    assert run_text == joint.user_prompt.split("\n\n", 1)[1]
    assert '<run-data label="observation">' in run_text


async def test_the_fakes_fused_reply_is_the_joint_reply_then_attempt_1(
    fake_llm: FakeOpenAI, client: LLMClient
) -> None:
    install_default_replies(fake_llm)
    _, _, first = await JointAnalyzer(client).aanalyze_with_first_attempt(SUPPLIERS)
    await client.aclose()
    [request] = fake_llm.requests
    reply = fused_analysis_reply(request)
    assert list(reply) == list(FusedAnalysisReply.model_fields)
    assert reply == {**joint_analysis_reply(request), **hindsight_reply(request)}
    assert first == HindsightPromptReply(**hindsight_reply(request))


async def test_fused_an_accepted_run_costs_two_calls(fake_llm: FakeOpenAI) -> None:
    install_default_replies(fake_llm)
    pipeline = _pipeline(fake_llm, fuse_first_attempt=True)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()

    assert result.success, result.error
    assert _calls(fake_llm) == ["FusedAnalysisReply", "SecondJudgeVerdict"]
    assert _temperatures(fake_llm) == [0.3, 0.0]  # the joint call runs at attempt 1's
    fused = fake_llm.requests[0]
    assert result.relabeled is not None and result.relabeled.attempts == 1
    assert result.relabeled.hindsight_prompt == hindsight_reply(fused)["hindsight_prompt"]
    # Stage 3 itself made one call, the judge's.
    assert result.decision is not None and result.decision.attempts == 1


async def test_fused_a_run_dropped_at_stage_1_costs_one_call(fake_llm: FakeOpenAI) -> None:
    install_default_replies(fake_llm)  # the rules find ERRORED unrecoverable
    pipeline = _pipeline(fake_llm, fuse_first_attempt=True)
    result = await pipeline.arelabel(ERRORED)
    await pipeline.aclose()

    assert result.rejected and result.stage_reached == "failure_detection"
    assert result.decision is None and result.relabeled is None
    assert _calls(fake_llm) == ["FusedAnalysisReply"]


async def test_after_a_rejected_fused_attempt_the_retries_are_normal_relabel_calls(
    fake_llm: FakeOpenAI,
) -> None:
    install_default_replies(fake_llm)
    fake_llm.on_schema("FusedAnalysisReply", _fused(hindsight_prompt=GENERIC_PROMPT))
    fake_llm.on_schema("SecondJudgeVerdict", _judge_rejecting_first())
    pipeline = _pipeline(fake_llm, fuse_first_attempt=True)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()

    assert result.success, result.error
    assert _calls(fake_llm) == [
        "FusedAnalysisReply",
        "SecondJudgeVerdict",
        "HindsightPromptReply",
        "SecondJudgeVerdict",
    ]
    assert _temperatures(fake_llm) == [0.3, 0.0, 0.7, 0.0]
    retry = fake_llm.requests[2]
    assert retry.system_prompt == RELABEL_SYSTEM_PROMPT
    assert "Your earlier attempts were rejected" in retry.user_prompt
    assert "the run does not show this" in retry.user_prompt and GENERIC_PROMPT in retry.user_prompt
    assert result.relabeled is not None and result.relabeled.attempts == 2
    assert result.relabeled.hindsight_prompt != GENERIC_PROMPT
    assert result.decision is not None and result.decision.attempts == 3


async def test_a_fused_attempt_the_judge_rejected_never_returns_by_fallback(
    fake_llm: FakeOpenAI,
) -> None:
    install_default_replies(fake_llm)
    fake_llm.on_schema("FusedAnalysisReply", _fused(hindsight_prompt=GENERIC_PROMPT))
    # Retries below θ=0.5 but above 0.8θ: only the fallback can take them.
    fake_llm.on_schema(
        "HindsightPromptReply", lambda request: {**hindsight_reply(request), "confidence": 0.45}
    )
    fake_llm.on_schema("SecondJudgeVerdict", _judge_rejecting_first())
    pipeline = _pipeline(fake_llm, fuse_first_attempt=True, relabel_max_attempts=3)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()

    # The fused attempt (c=0.9) would be the fallback's first pick were it eligible, and the
    # judge now accepts everything: the fallback still takes a retry.
    assert result.success and result.decision is not None
    assert result.decision.reason.startswith("fallback")
    assert result.relabeled is not None and result.relabeled.attempts == 2
    assert result.relabeled.hindsight_prompt != GENERIC_PROMPT
    assert Counter(_calls(fake_llm)) == {
        "FusedAnalysisReply": 1,
        "SecondJudgeVerdict": 2,
        "HindsightPromptReply": 2,
    }


async def test_a_low_confidence_fused_attempt_may_fall_back_as_attempt_1(
    fake_llm: FakeOpenAI,
) -> None:
    install_default_replies(fake_llm)
    fake_llm.on_schema(
        "FusedAnalysisReply", _fused(hindsight_prompt=GENERIC_PROMPT, confidence=0.45)
    )
    fake_llm.on_schema(
        "HindsightPromptReply",
        lambda request: {**hindsight_reply(request), "is_valid_replay": False},
    )
    pipeline = _pipeline(fake_llm, fuse_first_attempt=True, relabel_max_attempts=3)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()

    assert result.success and result.decision is not None
    assert result.decision.reason.startswith("fallback")
    assert result.relabeled is not None and result.relabeled.attempts == 1
    assert result.relabeled.hindsight_prompt == GENERIC_PROMPT
    assert _calls(fake_llm) == [
        "FusedAnalysisReply",
        "HindsightPromptReply",
        "HindsightPromptReply",
        "SecondJudgeVerdict",
    ]


async def test_an_ungrounded_fused_attempt_never_reaches_the_judge(fake_llm: FakeOpenAI) -> None:
    install_default_replies(fake_llm)
    fake_llm.on_schema(
        "FusedAnalysisReply",
        _fused(hindsight_prompt="Find NovaCopper's copper wire price of $2.10/kg."),
    )
    pipeline = _pipeline(fake_llm, fuse_first_attempt=True)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()

    assert result.success, result.error
    assert _calls(fake_llm) == ["FusedAnalysisReply", "HindsightPromptReply", "SecondJudgeVerdict"]
    assert result.relabeled is not None and result.relabeled.attempts == 2


async def test_an_unusable_fused_reply_is_a_stage_1_error(fake_llm: FakeOpenAI) -> None:
    install_default_replies(fake_llm)
    fake_llm.script([Fault.broken_json(), Fault.broken_json()])
    pipeline = _pipeline(fake_llm, fuse_first_attempt=True)
    result = await pipeline.aprocess(SUPPLIERS)
    await pipeline.aclose()

    assert not result.success and result.stage_reached == "failure_detection"
    assert isinstance(result.exception, LLMResponseError)
    assert _calls(fake_llm) == ["FusedAnalysisReply", "FusedAnalysisReply"]  # and one repair


@pytest.mark.parametrize(
    ("inert", "calls"),
    [
        (
            {"joint_analysis": False},
            ["FailureJudgement", "OutcomeReport", "HindsightPromptReply", "SecondJudgeVerdict"],
        ),
        (
            {"use_llm_detector": False},
            ["OutcomeReport", "HindsightPromptReply", "SecondJudgeVerdict"],
        ),
    ],
)
async def test_fuse_first_attempt_needs_the_joint_call(
    fake_llm: FakeOpenAI, inert: dict[str, Any], calls: list[str]
) -> None:
    install_default_replies(fake_llm)
    pipeline = _pipeline(fake_llm, fuse_first_attempt=True, **inert)
    result = await pipeline.arelabel(SUPPLIERS)
    await pipeline.aclose()
    assert result.success, result.error
    assert _calls(fake_llm) == calls


def test_fuse_first_attempt_is_part_of_the_fingerprint_only_where_it_applies() -> None:
    llm = {"use_llm_detector": True, "use_llm_extractor": True}
    fused, plain = PipelineConfig(**llm, fuse_first_attempt=True), PipelineConfig(**llm)
    assert not PipelineConfig().fuse_first_attempt  # Algorithm 1 unless asked for
    assert fused.uses_fused_first_attempt and not plain.uses_fused_first_attempt
    assert fused.fingerprint() != plain.fingerprint()
    for inert in ({"joint_analysis": False}, {"use_llm_relabeler": False}, {"rule_based": True}):
        settings = {**llm, **inert}
        on = PipelineConfig(**settings, fuse_first_attempt=True)
        assert not on.uses_fused_first_attempt
        assert on.fingerprint() == PipelineConfig(**settings).fingerprint()


async def test_fused_examples_have_their_own_ids_and_cache_entries(
    fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    install_default_replies(fake_llm)
    cache = str(tmp_path / "cache")

    async def relabel(**overrides: Any) -> PipelineResult:
        pipeline = _pipeline(fake_llm, cache_dir=cache, **overrides)
        result = await pipeline.arelabel(SUPPLIERS)
        await pipeline.aclose()
        assert result.success and result.sample is not None, result.error
        return result

    plain = await relabel()
    sent = len(fake_llm.requests)
    fused = await relabel(fuse_first_attempt=True)
    # No entry of the plain run answers the fused call; its example gets another id.
    assert _calls(fake_llm)[sent] == "FusedAnalysisReply"
    assert fused.sample is not None and plain.sample is not None
    assert fused.sample.example_id != plain.sample.example_id
    sent = len(fake_llm.requests)
    again = await relabel(fuse_first_attempt=True)
    assert len(fake_llm.requests) == sent  # a replay of the fused run comes from the cache
    assert again.sample is not None and again.sample.example_id == fused.sample.example_id


async def test_a_prompt_too_long_for_the_context_is_asked_again_with_half_the_run(
    fake_llm: FakeOpenAI, client: LLMClient
) -> None:
    # A small local model's window: the run rendered at the full budget does not fit, the
    # server says so (400 context_length_exceeded), and half the run data does.
    install_default_replies(fake_llm)
    steps = [
        step.model_copy(update={"observation": step.observation + " filler" * 800})
        for step in SUPPLIERS.steps
    ]
    long_run = SUPPLIERS.model_copy(update={"steps": steps})
    await JointAnalyzer(client, token_budget=1500).aanalyze(long_run)
    full = fake_llm.requests[-1]
    full_size = count_prompt_tokens(full) + int(full.body["max_tokens"])
    fake_llm.requests.clear()

    fake_llm.context_limit = full_size - 200
    analysis, _ = await JointAnalyzer(client, token_budget=1500).aanalyze(long_run)
    await client.aclose()
    assert analysis.failure_type is not None
    first, second = fake_llm.requests
    assert count_prompt_tokens(first) == count_prompt_tokens(full)  # refused: 400
    assert count_prompt_tokens(second) < count_prompt_tokens(first) - 500  # half the run, accepted
