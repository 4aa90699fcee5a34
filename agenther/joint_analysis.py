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

Fused first attempt (``PipelineConfig.fuse_first_attempt``, off by default): the same call also
writes Stage 3's first relabel candidate, in the relabeler's own reply fields, after the outcome
and the judgement, so the facts are written down before the request built on them. Stage 3 then
treats it exactly as its attempt 1 (grounding, second judge, gates, fallback rule) and saves that
call: an example accepted at once costs 2 calls, not 3. The price: the call runs at the first
attempt's temperature (0.3), so Stages 1 and 2 are answered at 0.3 instead of 0.
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
from agenther.prompt_relabeler import HINDSIGHT_RULES, HindsightPromptReply
from agenther.run_text import INJECTION_NOTICE, fit_context, render_trajectory

if TYPE_CHECKING:
    from agenther.llm_client import LLMClient


class JointAnalysisReply(FailureJudgement, OutcomeReport):
    """The LLM's reply: a Stage 1 judgement and a Stage 2 report in one object."""


# The base order puts the relabeler's fields last: hindsight request after the facts.
class FusedAnalysisReply(HindsightPromptReply, JointAnalysisReply):
    """The joint reply plus the relabeler's first attempt (the fields of its own reply)."""


# The reply's fields come in schema order, the outcome first: the facts are written down
# before the judgement against the goal.
_OUTCOME_AND_FAILURE = f"""\
Part 1, the outcome (actual_achievements, key_observations, limitations, entities, numbers):
what the run actually established, as facts, whatever the goal was. Use only what the tool
observations show. Do not describe the run in terms of the goal, do not count anything the
goal asked for unless an observation states it, do not add knowledge of your own, and leave
out anything an observation does not state.
{EVIDENCE_RULES}
{OUTCOME_GUIDE}

Part 2, the failure (failure_type, severity, weight, recoverable, explanation): why the run
failed the goal shown.
{FAILURE_GUIDE}"""

_CLOSING = f"""Judge only from the run shown. Reply with JSON matching the schema.

{INJECTION_NOTICE}"""

JOINT_SYSTEM_PROMPT = f"""You analyse a failed AI agent's run and reply with one JSON object
that has two parts.

{_OUTCOME_AND_FAILURE}

{_CLOSING}"""

FUSED_SYSTEM_PROMPT = f"""You analyse a failed AI agent's run and reply with one JSON object
that has three parts.

{_OUTCOME_AND_FAILURE}

Part 3, the hindsight request (hindsight_prompt, is_valid_replay, rationale, confidence),
written after parts 1 and 2: the request that the run, exactly as recorded, correctly and
fully carries out, built only on the facts of part 1.
{HINDSIGHT_RULES}

{_CLOSING}"""


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

        async def ask(budget: int) -> JointAnalysisReply:
            user_prompt = (
                "Classify the failure of this agent run and report what it established.\n\n"
                + render_trajectory(trajectory, budget)
            )
            return await self._llm.acall_structured(
                JOINT_SYSTEM_PROMPT, user_prompt, JointAnalysisReply, temperature=0.0
            )

        reply = await fit_context(ask, self._token_budget)
        return analysis_from_judgement(reply), outcome_from_report(reply, trajectory)

    async def aanalyze_with_first_attempt(
        self, trajectory: FailedTrajectory, *, temperature: float = 0.3
    ) -> tuple[FailureAnalysis, ReplayOutcome, HindsightPromptReply]:
        """``aanalyze`` plus Stage 3's first relabel candidate, from one call at ``temperature``
        (attempt 1's; Stages 1 and 2 are then not answered at 0).

        The candidate is unchecked: the relabeler verifies and judges it as its attempt 1. An
        unusable reply fails the whole call, as in ``aanalyze``.
        """

        async def ask(budget: int) -> FusedAnalysisReply:
            user_prompt = (
                "Classify the failure of this agent run, report what it established and write "
                "the request it fully carries out.\n\n" + render_trajectory(trajectory, budget)
            )
            return await self._llm.acall_structured(
                FUSED_SYSTEM_PROMPT, user_prompt, FusedAnalysisReply, temperature=temperature
            )

        reply = await fit_context(ask, self._token_budget)
        candidate = HindsightPromptReply.model_validate(
            reply.model_dump(include=set(HindsightPromptReply.model_fields))
        )
        return analysis_from_judgement(reply), outcome_from_report(reply, trajectory), candidate


__all__ = [
    "FUSED_SYSTEM_PROMPT",
    "JOINT_SYSTEM_PROMPT",
    "FusedAnalysisReply",
    "JointAnalysisReply",
    "JointAnalyzer",
]
