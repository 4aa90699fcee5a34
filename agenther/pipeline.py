"""The only module that knows all four stages: it runs them in order for one run.

``arelabel`` is the service's entry point: gate decisions come back as a result, failures of a
stage are raised as ``StageError`` so the caller can retry, dead-letter or stop by the cause's
class. ``process`` / ``process_batch`` / ``run_and_save`` keep the reference's behaviour
(errors folded into the result) for library users.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from agenther import places
from agenther.config import PipelineConfig
from agenther.data_augmenter import DataAugmenter
from agenther.errors import StageError
from agenther.failure_detector import FailureDetector
from agenther.joint_analysis import JointAnalyzer
from agenther.models import (
    AugmentedSample,
    FailedTrajectory,
    FailureAnalysis,
    OutputFormat,
    RelabelDecision,
    RelabeledData,
    ReplayOutcome,
)
from agenther.outcome_extractor import OutcomeExtractor
from agenther.prompt_relabeler import HindsightPromptReply, PromptRelabeler
from agenther.rules.decide import decide_by_rules
from agenther.rules.failure_types import load_type_model

if TYPE_CHECKING:
    from agenther.llm_client import LLMClient

logger = logging.getLogger(__name__)

T = TypeVar("T")

DETECTION = "failure_detection"
EXTRACTION = "outcome_extraction"
RELABELING = "prompt_relabeling"
AUGMENTATION = "data_augmentation"
COMPLETE = "complete"

# A rule run takes about a millisecond; a batch gives the event loop a turn this often.
_RULE_RUNS_PER_YIELD = 32


@dataclass
class PipelineResult:
    """What happened to one run. ``success`` means a training example was produced."""

    trajectory_id: str
    stage_reached: str
    success: bool
    sample: AugmentedSample | None = None
    outcome: ReplayOutcome | None = None
    relabeled: RelabeledData | None = None
    error: str | None = None
    analysis: FailureAnalysis | None = None
    decision: RelabelDecision | None = None
    # Set when a stage raised (process/aprocess only); ``error`` then carries its message.
    exception: BaseException | None = field(default=None, repr=False)

    def analysis_fields(self) -> dict[str, Any]:
        """Stage 1's verdict as plain fields for a rejection record (all None before Stage 1)."""
        a = self.analysis
        return {
            "failure_type": a.failure_type.value if a is not None and a.failure_type else None,
            "severity": round(a.severity, 4) if a is not None else None,
            "weight": round(a.weight, 4) if a is not None else None,
            "recoverable": a.recoverable if a is not None else None,
        }

    @property
    def rejected(self) -> bool:
        """A gate turned the run down (as opposed to an error or an example)."""
        return not self.success and self.exception is None


class AgentHERPipeline:
    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()
        cfg = self.config
        self.llm: LLMClient | None = None
        self.judge_llm: LLMClient | None = None
        if cfg.uses_llm:
            # Imported here: the openai SDK takes about half a second to import, and rule mode
            # (the CLI's zero-cost path, a rule-mode service) never calls it.
            from agenther.llm_client import LLMClient

            self.llm = LLMClient(
                model=cfg.model,
                base_url=cfg.base_url,
                api_key=cfg.resolved_api_key(),
                temperature=cfg.temperature,
                timeout=cfg.request_timeout,
                structured_output=cfg.structured_output,
                max_retries=cfg.max_retries,
                max_concurrency=cfg.max_concurrency,
                cache_dir=cfg.cache_dir,
                prices=cfg.prices,
            )
            if cfg.use_llm_relabeler and (cfg.judge_model or cfg.judge_base_url):
                self.judge_llm = LLMClient(
                    model=cfg.judge_model or cfg.model,
                    base_url=cfg.judge_base_url or cfg.base_url,
                    api_key=cfg.resolved_judge_api_key(),
                    temperature=0.0,
                    timeout=cfg.request_timeout,
                    structured_output=cfg.structured_output,
                    max_retries=cfg.max_retries,
                    max_concurrency=cfg.max_concurrency,
                    cache_dir=cfg.cache_dir,
                    prices=cfg.prices,
                    usage=self.llm.usage,
                )
        budget = cfg.observation_token_budget
        self.detector = FailureDetector(llm_client=self.llm, token_budget=budget)
        self.extractor = OutcomeExtractor(llm_client=self.llm, token_budget=budget)
        self.joint: JointAnalyzer | None = None
        if cfg.uses_joint_analysis and self.llm is not None:
            self.joint = JointAnalyzer(self.llm, token_budget=budget)
        self.relabeler = PromptRelabeler(
            llm_client=self.llm,
            judge_client=self.judge_llm,
            token_budget=budget,
            rule_strategies=cfg.rule_strategies,
        )
        self.augmenter = DataAugmenter(
            pipeline_fingerprint=cfg.fingerprint(),
            mode="llm" if cfg.use_llm_relabeler else "rule",
            models=_models(cfg),
        )
        # Its own salt keeps a success's example id apart from any relabeled example's.
        self._success_augmenter = DataAugmenter(
            pipeline_fingerprint=cfg.fingerprint() + "|success", mode="success"
        )

    def warm_up(self) -> None:
        """Load what the stages otherwise load at their first use (the city-name table of the
        grounding check, the failure-type model), so that a service's first events are not
        the slow ones."""
        places.load()
        load_type_model()

    async def arelabel(self, trajectory: FailedTrajectory) -> PipelineResult:
        """Run the four stages; raise ``StageError`` if one of them fails."""
        cfg = self.config
        if not cfg.uses_llm:
            return self.relabel_rule_based(trajectory)
        tid = trajectory.trajectory_id

        joint = self.joint
        first_attempt: HindsightPromptReply | None = None
        if joint is not None:
            # One call for both stages (fused: and relabel attempt 1); a failure of it is
            # reported as Stage 1's, the first stage it stands for.
            if cfg.uses_fused_first_attempt:
                analysis, outcome, first_attempt = await _stage(
                    DETECTION,
                    lambda: joint.aanalyze_with_first_attempt(
                        trajectory, temperature=cfg.temperature
                    ),
                )
            else:
                analysis, outcome = await _stage(DETECTION, lambda: joint.aanalyze(trajectory))
            # A dropped run's fused candidate is simply never used.
            dropped = self._dropped_at_detection(tid, analysis)
            if dropped is not None:
                return dropped
        else:
            analysis = await _stage(
                DETECTION, lambda: self.detector.adetect(trajectory, use_llm=cfg.use_llm_detector)
            )
            dropped = self._dropped_at_detection(tid, analysis)
            if dropped is not None:
                return dropped
            outcome = await _stage(
                EXTRACTION,
                lambda: self.extractor.aextract(trajectory, use_llm=cfg.use_llm_extractor),
            )

        decision = await _stage(
            RELABELING,
            lambda: self.relabeler.adecide(
                trajectory,
                outcome,
                analysis,
                use_llm=cfg.use_llm_relabeler,
                min_confidence=cfg.min_confidence,
                max_attempts=cfg.relabel_max_attempts,
                fallback_factor=cfg.fallback_factor,
                temperature=cfg.temperature,
                retry_temperature=cfg.retry_temperature,
                first_attempt=first_attempt,
            ),
        )
        return _in_stage(
            AUGMENTATION, lambda: self._augmented(trajectory, analysis, outcome, decision)
        )

    def relabel_rule_based(self, trajectory: FailedTrajectory) -> PipelineResult:
        """``arelabel`` without an event loop, for a pipeline whose stages are all rules.

        Same results, same ``StageError``s; it saves the coroutines and tasks that cost a
        sizeable share of a rule run's time. ``arelabel`` and the batch entry points use it
        whenever no stage needs an LLM.
        """
        cfg = self.config
        if cfg.uses_llm:
            raise ValueError("relabel_rule_based needs a pipeline whose stages are all rules")
        tid = trajectory.trajectory_id
        analysis = _in_stage(DETECTION, lambda: self.detector.detect_rule_based(trajectory))
        dropped = self._dropped_at_detection(tid, analysis)
        if dropped is not None:
            return dropped
        outcome = _in_stage(EXTRACTION, lambda: self.extractor.extract_rule_based(trajectory))
        decision = _in_stage(
            RELABELING,
            lambda: decide_by_rules(
                trajectory,
                outcome,
                analysis,
                min_confidence=cfg.min_confidence,
                fallback_factor=cfg.fallback_factor,
                strategies=cfg.rule_strategies,
            ),
        )
        return _in_stage(
            AUGMENTATION, lambda: self._augmented(trajectory, analysis, outcome, decision)
        )

    def _dropped_at_detection(self, tid: str, analysis: FailureAnalysis) -> PipelineResult | None:
        threshold = self.config.severity_threshold
        if not analysis.is_failure:
            return PipelineResult(tid, DETECTION, False, analysis=analysis, error="not a failure")
        if not analysis.recoverable:
            kind = analysis.failure_type.value if analysis.failure_type else "unknown"
            return PipelineResult(
                tid, DETECTION, False, analysis=analysis, error=f"unrecoverable failure: {kind}"
            )
        if analysis.weight < threshold:
            return PipelineResult(
                tid,
                DETECTION,
                False,
                analysis=analysis,
                error=f"weight {analysis.weight:.2f} below δ={threshold}",
            )
        return None

    def _augmented(
        self,
        trajectory: FailedTrajectory,
        analysis: FailureAnalysis,
        outcome: ReplayOutcome,
        decision: RelabelDecision,
    ) -> PipelineResult:
        """Stage 4, or the relabeling rejection (which never reaches it)."""
        tid = trajectory.trajectory_id
        if not decision.accepted or decision.relabeled is None:
            return PipelineResult(
                tid,
                RELABELING,
                False,
                outcome=outcome,
                analysis=analysis,
                decision=decision,
                error=decision.reason or "relabeling rejected",
            )
        sample = self.augmenter.augment(
            trajectory,
            decision.relabeled,
            output_format=self.config.output_format,
            severity_weight=analysis.weight,
            analysis=analysis,
        )
        return PipelineResult(
            tid,
            COMPLETE,
            True,
            sample=sample,
            outcome=outcome,
            relabeled=decision.relabeled,
            analysis=analysis,
            decision=decision,
        )

    async def aprocess(self, trajectory: FailedTrajectory) -> PipelineResult:
        """Like ``arelabel`` but a failing stage is reported in the result, not raised."""
        try:
            return await self.arelabel(trajectory)
        except StageError as exc:
            return _stage_failed(trajectory, exc)

    def _process_rule_based(self, trajectory: FailedTrajectory) -> PipelineResult:
        try:
            return self.relabel_rule_based(trajectory)
        except StageError as exc:
            return _stage_failed(trajectory, exc)

    async def _arule_results(
        self, trajectories: Iterable[FailedTrajectory]
    ) -> AsyncGenerator[PipelineResult, None]:
        """Rule runs one after the other, in input order: there is nothing to wait on, so tasks
        would only add overhead. Control goes back to the loop every few runs so other tasks
        (a consumer's heartbeat, a health probe) are not starved by a long batch."""
        for index, trajectory in enumerate(trajectories, start=1):
            yield self._process_rule_based(trajectory)
            if index % _RULE_RUNS_PER_YIELD == 0:
                await asyncio.sleep(0)

    async def aprocess_stream(
        self, trajectories: Iterable[FailedTrajectory]
    ) -> AsyncGenerator[PipelineResult, None]:
        """Results as they complete, with at most ``max_concurrency`` runs in flight, so a large
        input file neither waits on its slowest run nor sits in memory as tasks."""
        if not self.config.uses_llm:
            async for result in self._arule_results(trajectories):
                yield result
            return
        limit = self.config.max_concurrency
        pending: set[asyncio.Task[PipelineResult]] = set()
        for trajectory in trajectories:
            pending.add(asyncio.create_task(self.aprocess(trajectory)))
            if len(pending) >= limit:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    yield task.result()
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield task.result()

    async def aprocess_batch(
        self, trajectories: Sequence[FailedTrajectory]
    ) -> list[PipelineResult]:
        """All results, in input order."""
        if not self.config.uses_llm:
            return [result async for result in self._arule_results(trajectories)]
        by_id: dict[int, PipelineResult] = {}
        semaphore = asyncio.Semaphore(self.config.max_concurrency)

        async def one(index: int, trajectory: FailedTrajectory) -> None:
            async with semaphore:
                by_id[index] = await self.aprocess(trajectory)

        await asyncio.gather(*(one(i, t) for i, t in enumerate(trajectories)))
        return [by_id[i] for i in range(len(trajectories))]

    def process(self, trajectory: FailedTrajectory) -> PipelineResult:
        if not self.config.uses_llm:
            return self._process_rule_based(trajectory)
        return asyncio.run(self.aprocess(trajectory))

    def process_batch(self, trajectories: Sequence[FailedTrajectory]) -> list[PipelineResult]:
        if not self.config.uses_llm:
            return [self._process_rule_based(t) for t in trajectories]
        return asyncio.run(self.aprocess_batch(trajectories))

    def run_and_save(
        self, trajectories: Sequence[FailedTrajectory], output_path: str | None = None
    ) -> tuple[list[PipelineResult], Path | None]:
        results = self.process_batch(trajectories)
        samples = [r.sample for r in results if r.success and r.sample is not None]
        if not samples:
            logger.warning("no run was relabeled; nothing saved")
            return results, None
        fmt = self.config.output_format.value
        path = output_path or f"{self.config.output_dir}/augmented_{fmt}.jsonl"
        saved = DataAugmenter.save_samples(samples, path)
        logger.info("relabeled %d of %d runs into %s", len(samples), len(results), saved)
        return results, saved

    def positive_example(self, trajectory: FailedTrajectory) -> AugmentedSample:
        """A run that succeeded is already a demonstration of its own prompt (weight 1).

        DPO needs a rejected goal, which a success does not have, so its positive is SFT.
        """
        relabeled = RelabeledData(
            trajectory_id=trajectory.trajectory_id,
            hindsight_prompt=trajectory.original_prompt,
            is_valid_replay=True,
            rationale="the run succeeded at its own prompt",
            confidence=1.0,
            mode="rule",
        )
        fmt = self.config.output_format
        return self._success_augmenter.augment(
            trajectory,
            relabeled,
            output_format=OutputFormat.SFT if fmt is OutputFormat.DPO else fmt,
            severity_weight=1.0,
        )

    async def acheck_endpoints(self) -> None:
        """One minimal request to each LLM endpoint (main model, judge), so a wrong key, model
        or URL stops a run before any input is read or output written. Raises the client's
        errors (``LLMFatalError``, ``LLMQuotaError``, ``LLMTransientError``); rule mode
        checks nothing."""
        seen: set[tuple[str | None, str]] = set()
        for client in (self.llm, self.judge_llm):
            if client is None or (client.base_url, client.model) in seen:
                continue
            seen.add((client.base_url, client.model))
            await client.acheck()

    async def aclose(self) -> None:
        for client in (self.llm, self.judge_llm):
            if client is not None:
                await client.aclose()


async def _stage(name: str, call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except StageError:
        raise
    except Exception as exc:
        raise StageError(name, exc) from exc


def _in_stage(name: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except StageError:
        raise
    except Exception as exc:
        raise StageError(name, exc) from exc


def _stage_failed(trajectory: FailedTrajectory, exc: StageError) -> PipelineResult:
    logger.warning("run %s failed at %s: %s", trajectory.trajectory_id, exc.stage, exc)
    return PipelineResult(
        trajectory.trajectory_id, exc.stage, False, error=str(exc), exception=exc.cause
    )


def _models(cfg: PipelineConfig) -> tuple[str, ...]:
    """The models an example's stages used: the model, then a distinct judge."""
    if not cfg.uses_llm:
        return ()
    judge = cfg.judge_model if cfg.use_llm_relabeler else None
    return (cfg.model, judge) if judge and judge != cfg.model else (cfg.model,)
