"""Stage 3: a hindsight prompt the run fully satisfies, checked by an independent judge.

LLM mode is Algorithm 1 of the paper, with the reference's holes closed:

- attempt 1 at ``temperature`` (0.3), retries at ``retry_temperature`` (0.7); a retry tells
  the model why its last attempt was rejected;
- every attempt first goes through the grounding verifier (``agenther.grounding``); an
  ungrounded prompt is rejected without spending a judge call;
- an attempt with c ≥ θ goes to the second judge (``judge_client``, else the same client with
  its own prompt) at temperature 0; it is accepted if the judge says valid with c2 ≥ θ, with
  confidence (c + c2) / 2;
- after K attempts the fallback takes the best attempt with 0.8θ ≤ c < θ, i.e. one that was
  grounded, marked valid and never judged, and asks the judge once; it is kept only if the
  judge agrees (valid, c2 ≥ θ). An attempt the judge turned down, or one that failed grounding,
  never comes back: the judge cannot be bypassed.
- ``LLMTransientError`` and ``LLMFatalError`` propagate (an outage must not burn attempts);
  an unparseable reply (``LLMResponseError``) counts as a failed attempt.
- ``first_attempt`` (``PipelineConfig.fuse_first_attempt``): attempt 1 already written by the
  joint Stage 1+2 call. It is treated exactly as a reply of attempt 1 (grounding, judge,
  confidence gate, fallback rule); only the call is saved. Retries 2..K are the normal calls.

``RelabelDecision.attempts`` counts the LLM calls Stage 3 made (first-attempt acceptance = 2,
or 1 with a fused first attempt, whose call Stage 1 paid for);
``RelabeledData.attempts`` is the number of the generation attempt that was kept.

Rule mode (``use_llm=False``) is ``agenther.rules``: no LLM call at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, Field

from agenther.config import DEFAULT_RULE_STRATEGIES
from agenther.constraints import unmet_constraints
from agenther.demonstration import run_problem
from agenther.errors import LLMResponseError
from agenther.evidence import collect_evidence
from agenther.grounding import verify_grounding
from agenther.models import (
    FailedTrajectory,
    FailureAnalysis,
    RelabelDecision,
    RelabeledData,
    ReplayOutcome,
    SecondJudgeVerdict,
)
from agenther.reply_bounds import short_text
from agenther.request_style import style_problems
from agenther.rules.decide import decide_by_rules
from agenther.run_text import (
    INJECTION_NOTICE,
    fit_context,
    quote_untrusted,
    render_trajectory,
    truncate_text,
)

if TYPE_CHECKING:
    from agenther.llm_client import LLMClient

logger = logging.getLogger(__name__)

R = TypeVar("R")


class HindsightPromptReply(BaseModel):
    """The relabeling LLM's reply. No run id: the model is never given one."""

    hindsight_prompt: str = Field(description="A natural user request the run fully satisfies")
    is_valid_replay: bool = Field(description="True only if the run fully satisfies the prompt")
    rationale: short_text(240) = Field(  # type: ignore[valid-type]
        default="", description="Which observations satisfy the prompt"
    )
    # Not bounded here: an out-of-range number is clamped rather than failing the reply.
    confidence: float = Field(description="0 to 1: how sure you are the run satisfies it")


# What a hindsight request must be, shared with the joint call that can write attempt 1
# (``agenther.joint_analysis.FUSED_SYSTEM_PROMPT``).
HINDSIGHT_RULES = """Rules for hindsight_prompt:
1. It reads like a real user request: plain words, imperative or a question, no internal tool
   names (say "search the web for", not "use web_search").
2. Every assertion in it is satisfied by the tool observations shown: every number, name, file,
   date and constraint must appear in an observation. Tool errors established nothing.
3. It stands on its own: never mention an original, earlier, failed or previous request, and
   never restate a requirement the run did not meet (see the failure reason).
4. Its complexity and length match the goal shown: keep what the run achieved, drop or restate
   only what it did not.
is_valid_replay: true only if the run fully satisfies your prompt.
confidence: 0 to 1, how sure you are that it does.
rationale: one or two sentences naming the observations that satisfy it."""

RELABEL_SYSTEM_PROMPT = f"""You relabel a failed AI-agent run: you write the request that the
run, exactly as recorded, correctly and fully carries out.

{HINDSIGHT_RULES}
Reply with JSON matching the schema.

{INJECTION_NOTICE}"""

JUDGE_SYSTEM_PROMPT = f"""You are an independent judge of training data. Decide whether the
recorded agent run fully satisfies the user request shown, as if the request had been the
user's goal from the start.

Check every claim, number, name, file, date and constraint of the request against the tool
observations. If the request asks for anything the observations do not show, it is not
satisfied. Tool errors established nothing; the agent's final answer counts only where an
observation backs it. A request that talks about an earlier or failed request is invalid.
is_valid: true if the run satisfies the request. confidence: 0 to 1.
rejection_reason: empty if valid, else what is missing or wrong.
Reply with JSON matching the schema.

{INJECTION_NOTICE}"""

# Share of the token budget given to Stage 2's achievements next to the run itself.
_ACHIEVEMENTS_SHARE = 0.25


@dataclass(slots=True)
class _Attempt:
    number: int
    prompt: str
    confidence: float
    rationale: str
    # "unparseable", "invalid", "ungrounded", "low_confidence", "judge_rejected",
    # "judge_unparseable"; only "low_confidence" attempts (never judged) may fall back.
    status: str
    detail: str
    judge_confidence: float = 0.0


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


class PromptRelabeler:
    """Stage 3. ``adecide`` is what the pipeline calls; ``relabel`` and
    ``relabel_with_validation`` keep the reference's synchronous API."""

    def __init__(
        self,
        llm_client: LLMClient | None = None,
        judge_client: LLMClient | None = None,
        *,
        token_budget: int = 1500,
        rule_strategies: Collection[str] = DEFAULT_RULE_STRATEGIES,
    ) -> None:
        self._llm = llm_client
        self._judge = judge_client
        self._token_budget = token_budget
        self._rule_strategies = rule_strategies

    # ------------------------------------------------------------------------------ async API

    async def adecide(
        self,
        trajectory: FailedTrajectory,
        outcome: ReplayOutcome,
        analysis: FailureAnalysis,
        *,
        use_llm: bool,
        min_confidence: float = 0.5,
        max_attempts: int = 3,
        fallback_factor: float = 0.8,
        temperature: float = 0.3,
        retry_temperature: float = 0.7,
        first_attempt: HindsightPromptReply | None = None,
    ) -> RelabelDecision:
        """Algorithm 1 (``use_llm``) or the rules; ``first_attempt`` replaces attempt 1's call."""
        if not use_llm:
            return decide_by_rules(
                trajectory,
                outcome,
                analysis,
                min_confidence=min_confidence,
                fallback_factor=fallback_factor,
                strategies=self._rule_strategies,
            )
        return await self._decide_llm(
            trajectory,
            outcome,
            analysis,
            min_confidence=min_confidence,
            max_attempts=max_attempts,
            fallback_factor=fallback_factor,
            temperature=temperature,
            retry_temperature=retry_temperature,
            first_attempt=first_attempt,
        )

    async def arelabel(
        self,
        trajectory: FailedTrajectory,
        outcome: ReplayOutcome,
        temperature: float | None = None,
    ) -> RelabeledData:
        """One generation call, unjudged (the reference's ``relabel``); rules without a client.

        The result may have ``is_valid_replay=False``; use ``adecide`` for the full algorithm.
        """
        if self._llm is None:
            decision = decide_by_rules(trajectory, outcome, strategies=self._rule_strategies)
            if decision.relabeled is not None:
                return decision.relabeled
            return RelabeledData(
                trajectory_id=trajectory.trajectory_id,
                hindsight_prompt=trajectory.original_prompt,
                is_valid_replay=False,
                rationale=decision.reason,
                confidence=0.0,
                attempts=max(1, decision.attempts),
                mode="rule",
            )
        reply = await self._llm.acall_structured(
            RELABEL_SYSTEM_PROMPT,
            self._relabel_user_prompt(trajectory, outcome, []),
            HindsightPromptReply,
            temperature=temperature,
        )
        return RelabeledData(
            trajectory_id=trajectory.trajectory_id,
            hindsight_prompt=reply.hindsight_prompt.strip() or trajectory.original_prompt,
            is_valid_replay=reply.is_valid_replay and bool(reply.hindsight_prompt.strip()),
            rationale=reply.rationale,
            confidence=_clamp(reply.confidence),
            attempts=1,
            mode="llm",
        )

    # ------------------------------------------------------------------------------- sync API

    def relabel(
        self,
        trajectory: FailedTrajectory,
        outcome: ReplayOutcome,
        temperature: float | None = None,
    ) -> RelabeledData:
        return self._run_sync(self.arelabel(trajectory, outcome, temperature))

    def relabel_with_validation(
        self,
        trajectory: FailedTrajectory,
        outcome: ReplayOutcome,
        min_confidence: float = 0.5,
        max_attempts: int = 3,
    ) -> RelabeledData | None:
        """Algorithm 1 (LLM with a client, else rules); None when the run is rejected."""
        decision = self._run_sync(
            self._decide_without_analysis(trajectory, outcome, min_confidence, max_attempts)
        )
        return decision.relabeled if decision.accepted else None

    async def _decide_without_analysis(
        self,
        trajectory: FailedTrajectory,
        outcome: ReplayOutcome,
        min_confidence: float,
        max_attempts: int,
    ) -> RelabelDecision:
        if self._llm is None:
            return decide_by_rules(
                trajectory,
                outcome,
                None,
                min_confidence=min_confidence,
                strategies=self._rule_strategies,
            )
        return await self._decide_llm(
            trajectory,
            outcome,
            None,
            min_confidence=min_confidence,
            max_attempts=max_attempts,
            fallback_factor=0.8,
            temperature=0.3,
            retry_temperature=0.7,
        )

    def _run_sync(self, call: Coroutine[Any, Any, R]) -> R:
        clients = [c for c in (self._llm, self._judge) if c is not None]

        async def run_then_close() -> R:
            try:
                return await call
            finally:
                # The HTTP clients belong to this loop, which ends here.
                for client in clients:
                    await client.aclose()

        return asyncio.run(run_then_close())

    # ------------------------------------------------------------------------- Algorithm 1

    async def _decide_llm(
        self,
        t: FailedTrajectory,
        outcome: ReplayOutcome,
        analysis: FailureAnalysis | None,
        *,
        min_confidence: float,
        max_attempts: int,
        fallback_factor: float,
        temperature: float,
        retry_temperature: float,
        first_attempt: HindsightPromptReply | None = None,
    ) -> RelabelDecision:
        llm = self._llm
        if llm is None:
            raise ValueError("use_llm=True needs an llm_client; pass one to PromptRelabeler")
        spoiled = run_problem(t)
        if spoiled:  # no request could be paired with this run: spend no call
            return RelabelDecision(accepted=False, reason=spoiled, attempts=0)
        evidence = collect_evidence(t)
        unmet = unmet_constraints(t, analysis)
        calls = 0
        attempts: list[_Attempt] = []

        for number in range(1, max(1, max_attempts) + 1):
            reply = first_attempt if number == 1 else None
            if reply is None:
                calls += 1
                heat = temperature if number == 1 else retry_temperature

                async def ask(budget: int, heat: float = heat) -> HindsightPromptReply:
                    return await llm.acall_structured(
                        RELABEL_SYSTEM_PROMPT,
                        self._relabel_user_prompt(t, outcome, attempts, budget),
                        HindsightPromptReply,
                        temperature=heat,
                    )

                try:
                    reply = await fit_context(ask, self._token_budget)
                except LLMResponseError as exc:
                    attempts.append(_Attempt(number, "", 0.0, "", "unparseable", str(exc)))
                    logger.info("run %s attempt %d: unparseable reply", t.trajectory_id, number)
                    continue

            prompt = " ".join(reply.hindsight_prompt.split())
            attempt = _Attempt(number, prompt, _clamp(reply.confidence), reply.rationale, "", "")
            attempts.append(attempt)
            if not reply.is_valid_replay:
                attempt.status, attempt.detail = "invalid", "you marked it is_valid_replay=false"
                continue
            grounding = verify_grounding(
                prompt, t, analysis, outcome, evidence=evidence, unmet=unmet
            )
            problems = [*grounding.problems, *style_problems(prompt, t)]
            if problems:
                attempt.status, attempt.detail = "ungrounded", "; ".join(problems)
                continue
            if attempt.confidence < min_confidence:
                attempt.status = "low_confidence"
                attempt.detail = f"confidence {attempt.confidence:.2f} is below {min_confidence}"
                continue

            calls += 1
            if await self._judge_attempt(t, attempt, min_confidence):
                return _accepted(t, attempt, calls, fallback=False)
            logger.info("run %s attempt %d: %s", t.trajectory_id, number, attempt.detail)

        fallback = [
            a
            for a in attempts
            if a.status == "low_confidence" and a.confidence >= fallback_factor * min_confidence
        ]
        if fallback:
            best = max(fallback, key=lambda a: (a.confidence, -a.number))
            calls += 1
            if await self._judge_attempt(t, best, min_confidence):
                return _accepted(t, best, calls, fallback=True)
        return RelabelDecision(accepted=False, reason=_rejection_reason(attempts), attempts=calls)

    async def _judge_attempt(
        self, t: FailedTrajectory, attempt: _Attempt, min_confidence: float
    ) -> bool:
        """Whether the second judge agrees (valid, c2 ≥ θ); ``attempt`` records the verdict.

        An unusable judge reply counts as disagreement: nothing is kept unjudged.
        """
        judge = self._judge or self._llm
        assert judge is not None

        async def ask(budget: int) -> SecondJudgeVerdict:
            return await judge.acall_structured(
                JUDGE_SYSTEM_PROMPT,
                self._judge_user_prompt(t, attempt.prompt, budget),
                SecondJudgeVerdict,
                temperature=0.0,
            )

        try:
            verdict = await fit_context(ask, self._token_budget)
        except LLMResponseError as exc:
            attempt.status, attempt.detail = "judge_unparseable", f"the judge's reply: {exc}"
            return False
        attempt.judge_confidence = verdict.confidence
        if not verdict.is_valid:
            attempt.status = "judge_rejected"
            attempt.detail = "an independent judge rejected it: " + (
                verdict.rejection_reason or "the run does not satisfy it"
            )
            return False
        if verdict.confidence < min_confidence:
            attempt.status = "judge_rejected"
            attempt.detail = (
                f"an independent judge was not confident enough ({verdict.confidence:.2f})"
            )
            return False
        return True

    def _relabel_user_prompt(
        self,
        t: FailedTrajectory,
        outcome: ReplayOutcome,
        earlier: list[_Attempt],
        budget: int | None = None,
    ) -> str:
        budget = self._token_budget if budget is None else budget
        achievements_budget = max(16, int(budget * _ACHIEVEMENTS_SHARE))
        run = render_trajectory(t, max(64, budget - achievements_budget))
        achieved = "\n".join(f"- {a}" for a in outcome.actual_achievements) or "(none)"
        parts = [
            "Write the hindsight request for this agent run.",
            run,
            "What the observations establish: "
            + quote_untrusted("achievements", truncate_text(achieved, achievements_budget)),
        ]
        if earlier:
            # Every rejected attempt, in plain words: each retry is a new request (never a
            # cache replay of the last one) and the model is not shown our internals.
            lines = [f"- {_said(a)}: {_why_rejected(a)}" for a in earlier]
            parts.append(
                "Your earlier attempts were rejected:\n"
                + quote_untrusted("rejections", "\n".join(lines))
                + "\n\nWrite a different request that avoids these problems; do not repeat an "
                "earlier one."
            )
        return "\n\n".join(parts)

    def _judge_user_prompt(self, t: FailedTrajectory, prompt: str, budget: int) -> str:
        # The judge never sees the original goal or failure reason: it judges the new request
        # against the run alone.
        run = render_trajectory(t, budget, include_goal=False, include_failure_reason=False)
        return (
            "Does this run fully satisfy the request?\n\nRequest: "
            + quote_untrusted("request", prompt)
            + "\n\n"
            + run
        )


def _accepted(
    t: FailedTrajectory,
    attempt: _Attempt,
    calls: int,
    *,
    fallback: bool,
) -> RelabelDecision:
    how = "fallback at c ≥ 0.8θ, judge agreed" if fallback else "accepted"
    relabeled = RelabeledData(
        trajectory_id=t.trajectory_id,
        hindsight_prompt=attempt.prompt,
        is_valid_replay=True,
        rationale=attempt.rationale,
        confidence=round((attempt.confidence + attempt.judge_confidence) / 2, 4),
        judge_confidence=attempt.judge_confidence,
        attempts=attempt.number,
        mode="llm",
    )
    return RelabelDecision(accepted=True, relabeled=relabeled, reason=how, attempts=calls)


def _said(attempt: _Attempt) -> str:
    return f'"{attempt.prompt}"' if attempt.prompt else "(no usable reply)"


def _why_rejected(attempt: _Attempt) -> str:
    """Why an attempt was turned down, as the model can act on it."""
    match attempt.status:
        case "unparseable":
            return "the reply was not the JSON object asked for"
        case "invalid":
            return "you said the run does not satisfy it"
        case "ungrounded":
            return attempt.detail
        case "low_confidence":
            return f"you were not confident the run satisfies it ({attempt.confidence:.2f})"
        case "judge_unparseable":
            return "a reviewer could not judge it"
        case "judge_rejected":
            return attempt.detail.replace("an independent judge", "a reviewer")
    return attempt.detail or attempt.status


def _rejection_reason(attempts: list[_Attempt]) -> str:
    parts = [f"attempt {a.number}: {a.status} ({a.detail})" for a in attempts]
    return "no attempt accepted: " + "; ".join(parts)
