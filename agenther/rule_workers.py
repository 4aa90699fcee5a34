"""Rule-mode relabeling in worker processes: ``agenther run --workers N``.

A rule run is about a millisecond of pure CPU, so one process uses one core. Here the parent
only reads the file and writes lines: JSONL lines travel to the workers undecoded, and each
comes back as a ``Finished`` (a trainer line or a rejects entry, already rendered). Decoding,
validation and the four stages all happen in the workers, and pickling stays small: a
``FailedTrajectory`` costs about 120 µs to unpickle, a ``PipelineResult`` 0.5 ms to pickle.
Results come back in input order, so the files match an in-process run's line for line.

The service's worker pool (``streams.workers``) starts its workers with ``init_worker`` too.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from agenther.config import PipelineConfig
from agenther.file_run import Finished, finish_record, finish_result
from agenther.inputs.settings import InputSettings
from agenther.pipeline import AgentHERPipeline
from agenther.trajectory_io import Loaded, RawLine, Record, RecordReader

# Pieces per message: a message costs the parent about as much as reading a few lines, and
# 32 runs keep a worker busy for tens of milliseconds.
CHUNK = 32
# Chunks in flight per worker: enough that no worker waits for the parent, few enough that a
# large file is not read into memory ahead of the workers.
AHEAD = 4

# How often a worker looks whether its parent is still there.
PARENT_CHECK_S = 0.5

# One pipeline and reader per worker process, built once by the pool's initializer.
_pipeline: AgentHERPipeline | None = None
_reader: RecordReader | None = None


def init_worker(config: PipelineConfig, inputs: InputSettings | None = None) -> None:
    """Build this worker process's rule pipeline (and a record reader when ``inputs`` says
    how records look)."""
    # Ctrl-C reaches the whole process group; the parent decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    threading.Thread(target=_exit_with, args=(parent,), name="parent-watch", daemon=True).start()
    global _pipeline, _reader
    _pipeline = AgentHERPipeline(config)
    _pipeline.warm_up()
    _reader = RecordReader(inputs) if inputs is not None else None


def _exit_with(parent: int) -> None:
    """Exit once ``parent`` is gone. A worker waits on a queue it also holds the writing end
    of, so it never sees end-of-file when its parent is killed (``kill -9``, the OOM killer):
    without this it would wait there for good."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def worker_pipeline() -> AgentHERPipeline:
    assert _pipeline is not None, "worker started without its initializer"
    return _pipeline


def _finish(pieces: list[RawLine | Record]) -> list[Finished]:
    pipeline = worker_pipeline()
    assert _reader is not None, "file workers need a record reader"
    finished: list[Finished] = []
    for piece in pieces:
        for record in _reader.records(piece):
            if isinstance(record, Loaded):
                result = pipeline.process(record.trajectory)
                finished.append(finish_result(result, record.line, record.where))
            else:
                finished.append(finish_record(record))
    return finished


def rule_pool(
    config: PipelineConfig, workers: int, inputs: InputSettings | None = None
) -> ProcessPoolExecutor:
    """``workers`` processes, each with its own rule-based ``AgentHERPipeline``."""
    if config.uses_llm:
        raise ValueError("a worker pool runs rule-based pipelines only")
    if workers < 1:
        raise ValueError("a worker pool needs at least one worker")
    # spawn, not fork: a fork would copy the parent's event loop, sockets, open files and any
    # other thread's held locks.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(config, inputs),
    )


class RuleWorkers:
    """A file's records relabeled by ``workers`` rule-mode worker processes."""

    def __init__(self, config: PipelineConfig, inputs: InputSettings, workers: int) -> None:
        self.workers = workers
        self._executor = rule_pool(config, workers, inputs)

    def finished(self, pieces: Iterable[RawLine | Record]) -> Iterator[Finished]:
        """Every piece's records, finished, in input order."""
        pending: deque[Future[list[Finished]]] = deque()
        it = iter(pieces)
        for chunk in iter(lambda: list(itertools.islice(it, CHUNK)), []):
            pending.append(self._executor.submit(_finish, chunk))
            if len(pending) >= AHEAD * self.workers:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
