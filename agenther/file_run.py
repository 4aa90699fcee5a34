"""``agenther run``'s engine: the records of one file in, trainer lines and rejects out.

Every record ends as one ``Finished``: a trainer line, a rejects entry, or a skipped success.
The same two functions build it in this process and in rule-mode worker processes
(``agenther.rule_workers``), so the files are the same either way. Lines are written and
flushed as runs finish, so a crash loses nothing already done.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from agenther.errors import LLMError, LLMFatalError, LLMQuotaError
from agenther.exit_codes import EXIT_ALL_FAILED, EXIT_FATAL_LLM, EXIT_INVALID_INPUT, EXIT_OK
from agenther.formats.episode import dumps
from agenther.formats.output import LineWriter, SampleLines, SampleWriter, sample_lines
from agenther.models import FailedTrajectory, OutputFormat
from agenther.progress import Progress
from agenther.run_settings import RunSettings
from agenther.trajectory_io import (
    Loaded,
    RawLine,
    Record,
    RecordReader,
    Reject,
    Skipped,
    iter_pieces,
)

if TYPE_CHECKING:
    from agenther.pipeline import AgentHERPipeline, PipelineResult

Ending = Literal["example", "rejected", "error", "invalid", "skipped"]


@dataclass(frozen=True, slots=True)
class Finished:
    """How one record ended, ready to write: plain strings and dicts, cheap to send between
    processes (a ``PipelineResult`` is not: pickling it runs the rule outcome's deferred
    scans)."""

    ending: Ending
    stage: str = ""
    lines: SampleLines | None = None
    reject: dict[str, Any] | None = None


def finish_record(record: Reject | Skipped) -> Finished:
    if isinstance(record, Skipped):
        return Finished("skipped")
    return Finished(
        "invalid", "input", reject={"outcome": "invalid", "stage": "input", **record.as_dict()}
    )


def finish_result(result: PipelineResult, line: int, where: str) -> Finished:
    if result.success and result.sample is not None:
        return Finished("example", result.stage_reached, lines=sample_lines(result.sample))
    ending: Ending = "error" if result.exception is not None else "rejected"
    reject = {
        "outcome": ending,
        "stage": result.stage_reached,
        "line": line,
        "where": where,
        "trajectory_id": result.trajectory_id,
        "reason": result.error or "",
        **result.analysis_fields(),
    }
    return Finished(ending, result.stage_reached, reject=reject)


@dataclass
class RunSummary:
    read: int = 0
    invalid: int = 0
    skipped: int = 0  # successful runs in a chat or trace input
    examples: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def count(self, finished: Finished) -> None:
        """Count an ending (``read`` is counted where runs are read)."""
        if finished.ending == "invalid":
            self.invalid += 1
        elif finished.ending == "skipped":
            self.skipped += 1
        elif finished.ending == "example":
            self.examples += 1
        else:
            (self.errors if finished.ending == "error" else self.rejected)[finished.stage] += 1

    def lines(self) -> list[str]:
        skipped = f", {self.skipped} successes skipped" if self.skipped else ""
        out = [
            f"{self.read} trajectories read{skipped}, {self.invalid} invalid lines, "
            f"{self.examples} examples, {sum(self.rejected.values())} rejected, "
            f"{sum(self.errors.values())} errors"
        ]
        out += [f"  rejected at {stage}: {n}" for stage, n in sorted(self.rejected.items())]
        out += [f"  errors at {stage}: {n}" for stage, n in sorted(self.errors.items())]
        return out


class RejectWriter(LineWriter):
    """Rejects JSONL: one line per bad input record or turned-down run, with its line number,
    stage, reason and the original text, flushed as written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: IO[str] = path.open("w", encoding="utf-8")

    def write(self, entry: dict[str, Any]) -> None:
        self._out.write(dumps(entry) + "\n")
        self._out.flush()
        self.count += 1

    def close(self) -> None:
        self._out.close()


async def run_file(
    pipeline: AgentHERPipeline,
    source: Path,
    settings: RunSettings,
    output: Path,
    rejects_path: Path,
) -> int:
    """Check the input and the endpoint, then relabel; an existing output file is only
    replaced once both are known to be usable. Returns the command's exit code."""
    reader = RecordReader(settings)
    pieces = iter_pieces(source, reader)
    # Read up to the first valid run here; the rest may travel undecoded to worker processes.
    leading: list[Record] = []
    first: Loaded | None = None
    records: Iterator[Record] = iter(())
    for piece in pieces:
        records = reader.records(piece)
        for record in records:
            if isinstance(record, Loaded):
                first = record
                break
            leading.append(record)
        if first is not None:
            break
    if first is None:
        await pipeline.aclose()
        print(
            f"agenther run: {source} holds no valid trajectory ({_invalid_and_skipped(leading)}; "
            f"`agenther validate {source}` lists them); {output} was not touched",
            file=sys.stderr,
        )
        return EXIT_INVALID_INPUT
    try:
        await pipeline.acheck_endpoints()
    except LLMError as exc:
        await pipeline.aclose()
        print(
            f"agenther run: the LLM endpoint is not usable, {output} was not touched: {exc}",
            file=sys.stderr,
        )
        return EXIT_FATAL_LLM
    # ``records`` holds the rest of the first valid run's line (one line may hold several
    # traces), ``pieces`` the rest of the file.
    rest = itertools.chain(leading, [first], records, pieces)
    return await _relabel_file(pipeline, reader, rest, settings.workers, output, rejects_path)


async def _relabel_file(
    pipeline: AgentHERPipeline,
    reader: RecordReader,
    pieces: Iterator[RawLine | Record],
    workers: int,
    output: Path,
    rejects_path: Path,
) -> int:
    summary = RunSummary()
    fatal: LLMFatalError | LLMQuotaError | None = None
    fmt: OutputFormat = pipeline.config.output_format
    progress = Progress()

    with SampleWriter(output, fmt) as writer, RejectWriter(rejects_path) as rejects:

        def take(finished: Finished) -> None:
            summary.count(finished)
            if finished.ending not in ("invalid", "skipped"):
                progress.done(finished.ending)
            if finished.lines is not None:
                writer.write_lines(finished.lines)
            if finished.reject is not None:
                rejects.write(finished.reject)

        try:
            if workers and not pipeline.config.uses_llm:
                from agenther.rule_workers import RuleWorkers

                pool = RuleWorkers(pipeline.config, reader.settings, workers)
                try:
                    for finished in pool.finished(pieces):
                        if finished.ending in ("example", "rejected", "error"):
                            summary.read += 1
                        take(finished)
                finally:
                    pool.close()
            else:
                fatal = await _relabel_here(pipeline, reader, pieces, summary, take)
        finally:
            progress.close()
            await _cancel_other_tasks()
            await pipeline.aclose()

    for text in summary.lines():
        print(text)
    print(f"  output: {output} ({_lines(writer.count)})")
    print(f"  rejects: {rejects_path} ({_lines(rejects.count)})")
    for text in _usage_lines(pipeline):
        print(text)
    if fatal is not None:
        print(f"agenther run: stopped, the LLM endpoint refuses: {fatal}", file=sys.stderr)
        return EXIT_FATAL_LLM
    failed = sum(summary.errors.values())
    if failed and not summary.examples:
        print(
            f"agenther run: no examples, and {failed} of {summary.read} runs ended in an "
            f"error; see {rejects_path}",
            file=sys.stderr,
        )
        return EXIT_ALL_FAILED
    return EXIT_OK


async def _relabel_here(
    pipeline: AgentHERPipeline,
    reader: RecordReader,
    pieces: Iterator[RawLine | Record],
    summary: RunSummary,
    take: Callable[[Finished], None],
) -> LLMFatalError | LLMQuotaError | None:
    """Relabel in this process; returns the LLM error that stopped the run, if one did."""
    origin: dict[str, deque[tuple[int, str]]] = defaultdict(deque)

    def trajectories() -> Iterator[FailedTrajectory]:
        for piece in pieces:
            for record in reader.records(piece):
                if not isinstance(record, Loaded):
                    take(finish_record(record))
                    continue
                summary.read += 1
                origin[record.trajectory.trajectory_id].append((record.line, record.where))
                yield record.trajectory

    async with contextlib.aclosing(pipeline.aprocess_stream(trajectories())) as results:
        async for result in results:
            if isinstance(result.exception, LLMFatalError | LLMQuotaError):
                return result.exception
            queue = origin.get(result.trajectory_id)
            line, where = queue.popleft() if queue else (0, "line")
            take(finish_result(result, line, where))
    return None


def _invalid_and_skipped(records: list[Record]) -> str:
    skipped = sum(isinstance(r, Skipped) for r in records)
    text = f"{len(records) - skipped} invalid records"
    return text + (f", {skipped} successful runs skipped" if skipped else "")


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


async def _cancel_other_tasks() -> None:
    """Runs still in flight when the stream stops early (fatal error) are abandoned cleanly."""
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def _usage_lines(pipeline: Any) -> list[str]:
    usage = getattr(getattr(pipeline, "llm", None), "usage", None)
    if usage is None:
        return ["  llm: no calls (rule-based)"]
    lines = []
    for model, counts in usage.snapshot().items():
        lines.append(
            f"  llm {model}: {counts['requests']} requests, {counts['prompt_tokens']} prompt + "
            f"{counts['completion_tokens']} completion tokens, ${counts['cost_usd']:.4f}, "
            f"{counts['cache_hits']} cache hits, {counts['failures']} failed calls, "
            f"structured output {counts['structured_output']}"
            + (f" (after {counts['format_refusals']} refused)" if counts["format_refusals"] else "")
        )
    return lines or ["  llm: no calls"]
