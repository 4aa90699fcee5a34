"""Scripted, realistic replies for the fake OpenAI server, one handler per reply schema.

Each handler reads the run back out of the request (the ``<run-data>`` blocks that
``agenther.run_text`` renders) and answers as a careful model would, using the rule-based
stages: the hindsight prompt is grounded in the observations the request shows, the judge
accepts, Stage 1 and Stage 2 replies match what the rules find. End-to-end LLM-mode tests
get plausible traffic without a model.

    from tests.support.llm_replies import install_default_replies
    install_default_replies(fake_llm)
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from agenther.failure_detector import FailureJudgement, analyze_rules
from agenther.joint_analysis import FusedAnalysisReply, JointAnalysisReply
from agenther.models import AgentStep, FailedTrajectory, SecondJudgeVerdict
from agenther.outcome_extractor import OutcomeReport, extract_rules
from agenther.prompt_relabeler import HindsightPromptReply
from agenther.rules.decide import decide_by_rules
from tests.support.fake_openai import FakeOpenAI, FakeRequest

_BLOCK_RE = re.compile(r'<run-data label="(?P<label>[^"]+)">(?P<body>.*?)</run-data>', re.DOTALL)
_TRUNCATED_RE = re.compile(r" …\[truncated \d+ chars\]$")
# The prompt a model falls back to when the run shows no tool work worth naming: it asserts
# no number or name, so it is always grounded.
GENERIC_PROMPT = "Describe what the tools returned in this session."


def _unescape(text: str) -> str:
    text = text.replace("&#91;", "[").replace("&#93;", "]")
    return _TRUNCATED_RE.sub("", html.unescape(text))


def run_from_request(request: FakeRequest) -> FailedTrajectory:
    """The run as rendered into the request's last user message (goal may be a placeholder)."""
    fields: dict[str, str] = {}
    steps: list[dict[str, Any]] = []
    for match in _BLOCK_RE.finditer(request.user_prompt):
        label, body = match.group("label"), _unescape(match.group("body"))
        if label == "action":
            steps.append({"action_name": body or "tool", "action_input": {}, "observation": ""})
        elif label == "action_input" and steps:
            try:
                value = json.loads(body)
            except ValueError:
                value = {}
            steps[-1]["action_input"] = value if isinstance(value, dict) else {}
        elif label == "observation" and steps:
            steps[-1]["observation"] = body
        elif label in ("goal", "failure_reason", "final_answer"):
            fields[label] = body
    if not steps:
        steps.append({"action_name": "tool", "action_input": {}, "observation": ""})
    return FailedTrajectory(
        trajectory_id="from-request",
        original_prompt=fields.get("goal") or "(goal not shown)",
        steps=[AgentStep(**s) for s in steps],
        final_answer=fields.get("final_answer", ""),
        failure_reason=fields.get("failure_reason", ""),
    )


def hindsight_reply(request: FakeRequest) -> dict[str, Any]:
    """A grounded hindsight prompt for the run in the request, confidence 0.9."""
    decision = decide_by_rules(run_from_request(request))
    prompt = decision.relabeled.hindsight_prompt if decision.relabeled else GENERIC_PROMPT
    return HindsightPromptReply(
        hindsight_prompt=prompt,
        is_valid_replay=True,
        rationale="The observations show exactly this work.",
        confidence=0.9,
    ).model_dump()


def accepting_judge(request: FakeRequest) -> dict[str, Any]:
    del request
    return SecondJudgeVerdict(is_valid=True, confidence=0.9).model_dump()


def rejecting_judge(request: FakeRequest) -> dict[str, Any]:
    del request
    return SecondJudgeVerdict(
        is_valid=False, confidence=0.2, rejection_reason="the run does not show this"
    ).model_dump()


def failure_judgement_reply(request: FakeRequest) -> dict[str, Any]:
    """Stage 1: what the rule detector says about the run in the request."""
    analysis = analyze_rules(run_from_request(request))
    return {
        "failure_type": (analysis.failure_type.value if analysis.failure_type else "incomplete"),
        "severity": analysis.severity,
        "weight": analysis.weight,
        "recoverable": analysis.recoverable,
        "explanation": analysis.explanation or "the run did not meet the request",
    }


def outcome_report_reply(request: FakeRequest) -> dict[str, Any]:
    """Stage 2: what the rule extractor finds in the run in the request."""
    outcome = extract_rules(run_from_request(request))
    return {
        "actual_achievements": outcome.actual_achievements,
        "key_observations": outcome.key_observations,
        "limitations": outcome.limitations,
        "entities": outcome.entities,
        "numbers": outcome.numbers,
    }


def joint_analysis_reply(request: FakeRequest) -> dict[str, Any]:
    """Stages 1 and 2 in one reply: the two stage replies above, merged."""
    return {**outcome_report_reply(request), **failure_judgement_reply(request)}


def fused_analysis_reply(request: FakeRequest) -> dict[str, Any]:
    """The joint reply with relabel attempt 1 after it, in the schema's order (facts first)."""
    return {**joint_analysis_reply(request), **hindsight_reply(request)}


def install_default_replies(fake: FakeOpenAI) -> None:
    """Register realistic handlers for the reply schemas of all three LLM stages (and of the
    joint Stage 1+2 call, also in its fused form that carries relabel attempt 1)."""
    fake.on_schema(HindsightPromptReply.__name__, hindsight_reply)
    fake.on_schema(SecondJudgeVerdict.__name__, accepting_judge)
    fake.on_schema(FailureJudgement.__name__, failure_judgement_reply)
    fake.on_schema(OutcomeReport.__name__, outcome_report_reply)
    fake.on_schema(JointAnalysisReply.__name__, joint_analysis_reply)
    fake.on_schema(FusedAnalysisReply.__name__, fused_analysis_reply)
