"""Stages 1 and 2 in one LLM call, for a pipeline that runs both in LLM mode.

Two separate calls show the model the same run twice; one call halves that traffic and saves a
round trip per run. The joint reply carries every field of ``FailureJudgement`` and of
``OutcomeReport`` and is mapped exactly as the two stages map their own replies: severity and
weight clamped to [0, 1], and only the numbers and entities that the run's evidence contains
kept.

The paper's Stage 2 never sees the goal, so the goal cannot colour what it reports. The joint
call has to show the goal (Stage 1 judges the run against it), so the prompt tells the model to
report achievements strictly from the observations and never in terms of the goal, and the
evidence filter still drops any number or name the run never saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agenther.failure_detector import FAILURE_GUIDE, FailureJudgement, analysis_from_judgement
from agenther.models import FailedTrajectory, FailureAnalysis, ReplayOutcome
from agenther.outcome_extractor import (
    EVIDENCE_RULES,
    OUTCOME_GUIDE,
    OutcomeReport,
    outcome_from_report,
)
from agenther.run_text import INJECTION_NOTICE, render_trajectory

if TYPE_CHECKING:
    from agenther.llm_client import LLMClient


class JointAnalysisReply(FailureJudgement, OutcomeReport):
    """The LLM's reply: a Stage 1 judgement and a Stage 2 report in one object."""


# The reply's fields come in schema order, the outcome first: the facts are written down
# before the judgement against the goal.
JOINT_SYSTEM_PROMPT = f"""You analyse a failed AI agent's run and reply with one JSON object
that has two parts.

Part 1, the outcome (actual_achievements, key_observations, limitations, entities, numbers):
what the run actually established, as facts, whatever the goal was. Use only what the tool
observations show. Do not describe the run in terms of the goal, do not count anything the
goal asked for unless an observation states it, do not add knowledge of your own, and leave
out anything an observation does not state.
{EVIDENCE_RULES}
{OUTCOME_GUIDE}

Part 2, the failure (failure_type, severity, weight, recoverable, explanation): why the run
failed the goal shown.
{FAILURE_GUIDE}

Judge only from the run shown. Reply with JSON matching the schema.

{INJECTION_NOTICE}"""


class JointAnalyzer:
    """Stages 1 and 2 of one run from a single LLM call."""

    def __init__(self, llm_client: LLMClient, *, token_budget: int = 1500) -> None:
        self._llm = llm_client
        self._token_budget = token_budget

    async def aanalyze(self, trajectory: FailedTrajectory) -> tuple[FailureAnalysis, ReplayOutcome]:
        """The failure analysis and the outcome of ``trajectory``.

        ``LLMTransientError``, ``LLMFatalError`` and ``LLMResponseError`` propagate, as they do
        from either stage alone.
        """
        user_prompt = (
            "Classify the failure of this agent run and report what it established.\n\n"
            + render_trajectory(trajectory, self._token_budget)
        )
        reply = await self._llm.acall_structured(
            JOINT_SYSTEM_PROMPT, user_prompt, JointAnalysisReply, temperature=0.0
        )
        return analysis_from_judgement(reply), outcome_from_report(reply, trajectory)


__all__ = ["JOINT_SYSTEM_PROMPT", "JointAnalysisReply", "JointAnalyzer"]
