"""Stage 1: what kind of failure a run is, whether it can be salvaged, and how much it weighs.

Rule mode (zero cost) reads the run's failure signals (``agenther.rules.failure_signals``:
keyword lexicons over the agent's own text, never the user's prompt, plus error observations,
unsupported claims, a goal the run never touched, injected instructions it followed) and takes
the type from a linear model over those signals and the failure reason's words, fitted on the
hand-labelled tuning sets (``agenther.rules.failure_types``).

Severity and weight are separate (the reference used one for both, so the worst runs weighed
most). From the winning type's ``hits``:

* strength ``v = min(1, 0.3 + 0.1·hits)`` — the paper's formula;
* ``severity = lo + (hi − lo)·v`` inside the type's band (1 = catastrophic): minor types
  (constraint_violation, incomplete) sit in [0.10, 0.50], off_topic in [0.15, 0.55],
  wrong_result and non-destructive tool_error in [0.20, 0.65], hallucination in
  [0.75, 1.00] and destructive tool misuse (deleted data, dropped tables) in [0.80, 1.00];
* ``weight = 1 − severity``: minor failures keep w in [0.35, 0.78], major ones fall below
  δ = 0.3 and the pipeline drops them, as the paper prescribes.

A run is unrecoverable when no observation carries usable content (all errors, empty,
acknowledgements or the model's own text relayed by a tool), when it hallucinates, or when it
misused a tool destructively. It is reported as *not* a failure only when it has a final
answer, no failure reason and no failure signal at all; anything flagged upstream stays a
failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from agenther.models import FailedTrajectory, FailureAnalysis, FailureType
from agenther.reply_bounds import short_text
from agenther.rules.failure_signals import failure_signals
from agenther.rules.failure_types import classify_failure
from agenther.run_text import INJECTION_NOTICE, fit_context, render_trajectory

if TYPE_CHECKING:
    from agenther.llm_client import LLMClient

# (lowest, highest) severity per type; see the module docstring.
_SEVERITY_BANDS: dict[FailureType, tuple[float, float]] = {
    FailureType.CONSTRAINT_VIOLATION: (0.10, 0.50),
    FailureType.INCOMPLETE: (0.10, 0.50),
    FailureType.OFF_TOPIC: (0.15, 0.55),
    FailureType.WRONG_RESULT: (0.20, 0.65),
    FailureType.TOOL_ERROR: (0.20, 0.65),
    FailureType.HALLUCINATION: (0.75, 1.00),
}
_DESTRUCTIVE_BAND = (0.80, 1.00)


def _severity_weight(band: tuple[float, float], hits: int) -> tuple[float, float]:
    strength = min(1.0, 0.3 + 0.1 * hits)
    low, high = band
    severity = round(low + (high - low) * strength, 4)
    return severity, round(1.0 - severity, 4)


def analyze_rules(t: FailedTrajectory) -> FailureAnalysis:
    """The rule-based analysis of one run (see the module docstring for the scoring)."""
    signals = failure_signals(t)
    if signals.total == 0 and t.final_answer and not t.failure_reason:
        return FailureAnalysis(
            is_failure=False,
            failure_type=None,
            severity=0.0,
            weight=1.0,
            recoverable=True,
            explanation="no failure signal: the run answered and no failure reason was given",
        )

    failure_type = classify_failure(t, signals)
    type_hits = signals.hits[failure_type]
    catastrophic = signals.unsafe or (
        failure_type is FailureType.TOOL_ERROR and signals.destructive
    )
    band = _DESTRUCTIVE_BAND if catastrophic else _SEVERITY_BANDS[failure_type]
    severity, weight = _severity_weight(band, type_hits)
    miscalculated = signals.miscalculated and failure_type is FailureType.WRONG_RESULT

    recoverable = (
        signals.usable > 0
        and failure_type is not FailureType.HALLUCINATION
        and not catastrophic
        and not miscalculated
    )
    shown = ", ".join(repr(s) for s in signals.examples[failure_type]) or "none matched"
    explanation = (
        f"{failure_type.value}: {type_hits} signal(s) ({shown}); "
        f"{signals.usable} of {signals.observations} observations usable"
    )
    if not recoverable:
        if signals.unsafe:
            explanation += "; unsafe action (destructive, forbidden or injected)"
        elif catastrophic:
            explanation += "; destructive tool use"
        elif failure_type is FailureType.HALLUCINATION:
            explanation += "; hallucinated content"
        elif miscalculated:
            explanation += "; the run's own computation was wrong"
        else:
            explanation += "; nothing the run observed can support a relabeled goal"
    return FailureAnalysis(
        is_failure=True,
        failure_type=failure_type,
        severity=severity,
        weight=weight,
        recoverable=recoverable,
        explanation=explanation,
    )


class FailureJudgement(BaseModel):
    """The LLM's reply. Bounds are not enforced here: out-of-range numbers are clamped."""

    failure_type: FailureType
    severity: float = Field(description="How bad the failure is, 0 (trivial) to 1 (catastrophic)")
    weight: float = Field(
        description="Training weight 0..1 of a relabeled copy: high for minor failures, "
        "below 0.3 for hallucinated observations, contradictions or catastrophic tool misuse"
    )
    recoverable: bool = Field(
        description="Whether the observations show something real a different goal could rest on"
    )
    explanation: short_text(240)  # type: ignore[valid-type]


# The labels and scales of a FailureJudgement; the joint Stage 1+2 prompt reuses them.
FAILURE_GUIDE = """Failure types:
- constraint_violation: the run ignored or broke an explicit constraint (price, format, limit)
- wrong_result: the run produced an answer, but it is incorrect
- incomplete: the run stopped before doing everything asked
- tool_error: tools failed (errors, timeouts, outages) or were misused
- hallucination: the answer asserts facts no observation supports
- off_topic: the run worked on something other than what was asked

severity: 0 = trivial, 1 = catastrophic. weight: the training weight of a relabeled copy of
this run; minor failures (constraint violations, incomplete results) get 0.3 to 1, major
ones (hallucinated observations, contradictions, catastrophic tool misuse) below 0.3.
recoverable: true if the observations show real results that some other request would be
fully satisfied by; false if every tool call failed or the content is made up."""

_SYSTEM_PROMPT = f"""You classify why an AI agent's run failed its user's request.

{FAILURE_GUIDE}
Judge only from the run shown. Reply with JSON matching the schema.

{INJECTION_NOTICE}"""


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


class FailureDetector:
    """Stage 1. ``adetect`` is the async entry point; ``detect``/``batch_detect`` keep the
    reference's synchronous API."""

    def __init__(self, llm_client: LLMClient | None = None, *, token_budget: int = 1500) -> None:
        self._llm = llm_client
        self._token_budget = token_budget

    async def adetect(self, trajectory: FailedTrajectory, use_llm: bool = False) -> FailureAnalysis:
        if use_llm:
            return await self._detect_llm(trajectory)
        return analyze_rules(trajectory)

    def detect(self, trajectory: FailedTrajectory, use_llm: bool = False) -> FailureAnalysis:
        if use_llm:
            self._client()
            return asyncio.run(self._detect_llm(trajectory))
        return analyze_rules(trajectory)

    def detect_rule_based(self, trajectory: FailedTrajectory) -> FailureAnalysis:
        return analyze_rules(trajectory)

    def batch_detect(
        self, trajectories: Sequence[FailedTrajectory], use_llm: bool = False
    ) -> list[FailureAnalysis]:
        if not use_llm:
            return [analyze_rules(t) for t in trajectories]
        self._client()

        async def run_all() -> list[FailureAnalysis]:
            return list(await asyncio.gather(*(self._detect_llm(t) for t in trajectories)))

        return asyncio.run(run_all())

    def _client(self) -> LLMClient:
        if self._llm is None:
            raise ValueError("use_llm=True needs an llm_client; pass one to FailureDetector")
        return self._llm

    async def _detect_llm(self, trajectory: FailedTrajectory) -> FailureAnalysis:
        llm = self._client()

        async def ask(budget: int) -> FailureJudgement:
            user_prompt = "Classify the failure of this agent run.\n\n" + render_trajectory(
                trajectory, budget
            )
            return await llm.acall_structured(
                _SYSTEM_PROMPT, user_prompt, FailureJudgement, temperature=0.0
            )

        return analysis_from_judgement(await fit_context(ask, self._token_budget))


def analysis_from_judgement(reply: FailureJudgement) -> FailureAnalysis:
    """The LLM's judgement as a Stage 1 result, with out-of-range numbers clamped to [0, 1]."""
    return FailureAnalysis(
        is_failure=True,
        failure_type=reply.failure_type,
        severity=_clamp(reply.severity),
        weight=_clamp(reply.weight),
        recoverable=reply.recoverable,
        explanation=reply.explanation,
    )


__all__ = [
    "FAILURE_GUIDE",
    "FailureDetector",
    "FailureJudgement",
    "analysis_from_judgement",
    "analyze_rules",
]
