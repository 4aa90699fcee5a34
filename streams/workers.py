"""Rule-mode relabeling in worker processes.

A rule run is a few milliseconds of pure CPU: in-process it holds the event loop and uses one
core however many the machine has. ``RulePool`` runs ``relabel_rule_based`` in a process pool
instead and hands back the same ``PipelineResult`` (less the two stages' working data, which the
service never reads) or ``StageError``. LLM mode never uses it: it
waits on HTTP, which one event loop overlaps well.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import pickle
from concurrent.futures import Future
from dataclasses import dataclass

from agenther.config import PipelineConfig
from agenther.errors import StageError
from agenther.models import FailedTrajectory
from agenther.pipeline import PipelineResult
from agenther.rule_workers import rule_pool, worker_pipeline

# Runs sent to a worker in one message: a call costs about as much parent CPU as pickling a
# run, so runs waiting together travel together, spread over the workers.
_MAX_CHUNK = 16


@dataclass(frozen=True)
class _StageFailed:
    """A ``StageError`` in a form that crosses the process boundary (its ``__init__`` does not
    match its args, so it cannot be unpickled as it is)."""

    stage: str
    cause: BaseException


_Outcome = PipelineResult | _StageFailed
_Waiting = list[tuple[FailedTrajectory, "asyncio.Future[_Outcome]"]]


def _worker_ready() -> bool:
    return worker_pipeline() is not None


def _relabel_in_worker(
    trajectories: list[FailedTrajectory],
) -> list[_Outcome]:
    pipeline = worker_pipeline()
    outcomes: list[_Outcome] = []
    for trajectory in trajectories:
        try:
            outcomes.append(_for_the_parent(pipeline.relabel_rule_based(trajectory)))
        except StageError as exc:
            outcomes.append(_StageFailed(exc.stage, _portable(exc.cause)))
    return outcomes


def _for_the_parent(result: PipelineResult) -> PipelineResult:
    """``result`` without Stage 2's outcome and Stage 3's decision. The service publishes the
    sample or the rejection and reads neither; pickling the rule outcome would run the entity
    and number scans it defers (about 0.5 ms a run, a third of the worker's time)."""
    return dataclasses.replace(result, outcome=None, decision=None)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else its text under a builtin class: a
    result the parent cannot unpickle would break the whole pool."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class RulePool:
    """``workers`` processes, each with its own rule-based ``AgentHERPipeline``."""

    def __init__(self, config: PipelineConfig, workers: int) -> None:
        self.workers = workers
        self._executor = rule_pool(config, workers)
        self._waiting: _Waiting = []

    async def start(self) -> None:
        """Start the workers now, so the first events do not wait for their imports."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, _worker_ready) for _ in range(self.workers))
        )

    async def relabel(self, trajectory: FailedTrajectory) -> PipelineResult:
        """``AgentHERPipeline.arelabel`` in a worker; raises ``StageError`` like it, and
        ``concurrent.futures.process.BrokenProcessPool`` if a worker died."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Outcome] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send_waiting)
        self._waiting.append((trajectory, future))
        outcome = await future
        if isinstance(outcome, _StageFailed):
            raise StageError(outcome.stage, outcome.cause) from outcome.cause
        return outcome

    def _send_waiting(self) -> None:
        """Send every run queued during this turn of the loop, in up to ``workers`` chunks."""
        waiting, self._waiting = self._waiting, []
        loop = asyncio.get_running_loop()
        size = min(_MAX_CHUNK, math.ceil(len(waiting) / self.workers))
        for start in range(0, len(waiting), size):
            chunk = waiting[start : start + size]
            try:
                sent = self._executor.submit(_relabel_in_worker, [t for t, _ in chunk])
            except Exception as exc:  # BrokenProcessPool, or shut down
                _fail(chunk, exc)
                continue
            # Called on the pool's result thread: hand the outcome back to the loop.
            settle = functools.partial(_settle, chunk)
            sent.add_done_callback(functools.partial(loop.call_soon_threadsafe, settle))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _settle(chunk: _Waiting, done: Future[list[_Outcome]]) -> None:
    if done.cancelled():  # the pool shut down first
        for _, future in chunk:
            future.cancel()
        return
    error = done.exception()
    if error is not None:
        _fail(chunk, error)
        return
    for (_, future), outcome in zip(chunk, done.result(), strict=True):
        if not future.done():  # the waiting event may have been cancelled meanwhile
            future.set_result(outcome)


def _fail(chunk: _Waiting, error: BaseException) -> None:
    for _, future in chunk:
        if not future.done():
            future.set_exception(error)
