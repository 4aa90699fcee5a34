"""The ``agenther`` command: ``run`` and ``validate`` on trajectory files, ``report`` on what
``run`` (or an export) wrote.

Other packages add commands through the ``agenther.commands`` entry-point group (the Kafka
service registers its own that way); this module never imports them by name, so a
library-only install has a working CLI and the library never depends on the service.
API keys come only from ``OPENAI_API_KEY`` / ``OPENAI_API_KEY_FILE`` (and the judge's
``AGENTHER_JUDGE_API_KEY``): a key flag would end up in shell history and ``ps``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import sys
from collections import Counter, defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from pydantic import ValidationError

from agenther.config import PIPELINE_VERSION, PipelineConfig
from agenther.errors import LLMError, LLMFatalError, LLMQuotaError
from agenther.flags import INPUT_FLAGS, PIPELINE_FLAGS, RUN_FLAGS
from agenther.formats.episode import dumps
from agenther.formats.output import SampleWriter
from agenther.inputs.settings import InputSettings
from agenther.models import FailedTrajectory, OutputFormat
from agenther.progress import Progress
from agenther.trajectory_io import Loaded, Record, Reject, Skipped, iter_records

logger = logging.getLogger("agenther.cli")

EXIT_OK = 0
EXIT_INVALID_INPUT = 1  # validate: some records are not trajectories
EXIT_USAGE = 2  # the invocation cannot run (argparse uses 2 as well)
EXIT_FATAL_LLM = 3  # the endpoint refuses key or model, is out of quota, or is unreachable
EXIT_ALL_FAILED = 4  # no example, and runs ended in errors: something is wrong, not just strict


COMMAND_GROUP = "agenther.commands"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    result: int = handler(args)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agenther",
        description="Turn failed LLM-agent runs into training data (hindsight relabeling).",
    )
    parser.add_argument("--version", action="version", version=f"agenther {PIPELINE_VERSION}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_run(commands)
    _add_validate(commands)
    _add_report(commands)
    _add_registered_commands(commands)
    return parser


def _add_run(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="relabel a trajectory file into training examples",
        description="Relabel failed runs from FILE (JSON array or JSONL of agenther runs, "
        "OpenAI chat transcripts or OTLP/JSON traces; or one serialized OTLP TracesData with "
        "--input-format otlp-proto) into training examples, written line by line as they "
        "complete. Bad lines go to the rejects file; successful runs are skipped. "
        "The input and the LLM endpoint are checked before the output is touched. Exit 0; "
        "1 if FILE holds no valid trajectory; 2 for a bad invocation; 3 if the LLM endpoint "
        "refuses the key or model, is out of quota or unreachable; 4 if no example came out "
        "and some runs ended in an error.",
    )
    run.add_argument("file", type=Path, metavar="FILE")
    run.add_argument(
        "-o", "--output", type=Path, help="output JSONL (default outputs/augmented_FMT.jsonl)"
    )
    RUN_FLAGS.add_to(run)
    INPUT_FLAGS.add_to(run)
    PIPELINE_FLAGS.add_to(run)
    run.add_argument(
        "--config", type=Path, help="YAML file of PipelineConfig fields; flags override it"
    )
    run.add_argument("--rejects", type=Path, help="rejects JSONL (default OUTPUT.rejects.jsonl)")
    run.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log to stderr, with a progress line every 10 s when stderr is not a terminal "
        "(on a terminal a progress bar shows anyway)",
    )
    run.set_defaults(func=_run_command)


def _add_validate(commands: Any) -> None:
    validate = commands.add_parser(
        "validate",
        help="check a trajectory file without processing it",
        description="Parse FILE and report each record that is not a valid trajectory. "
        "Exit 1 if any record is bad or the file holds none.",
    )
    validate.add_argument("file", type=Path, metavar="FILE")
    INPUT_FLAGS.add_to(validate)
    validate.add_argument("-v", "--verbose", action="store_true")
    validate.set_defaults(func=_validate_command)


def _add_report(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="one self-contained HTML page of what a run produced and why",
        description="Render the output of `agenther run` (a trainer JSONL file, with its "
        "rejects file and, for OpenAI, its provenance sidecar) or an export directory "
        "(manifest.json, data/ shards, rejects.jsonl) as one HTML file that needs no network: "
        "counts, charts, the examples and the rejects. Needs matplotlib "
        "(pip install 'agenther[report]'). Exit 0; 2 for a bad invocation or input.",
    )
    report.add_argument("path", type=Path, metavar="PATH", help="output JSONL or export directory")
    report.add_argument(
        "--rejects", type=Path, help="rejects JSONL (default OUTPUT.rejects.jsonl if present)"
    )
    report.add_argument(
        "-o",
        "--output",
        type=Path,
        help="HTML file (default DIR/report.html for a directory, OUTPUT.report.html for a file)",
    )
    report.add_argument("--title", help="page title (default: the input's name)")
    report.add_argument(
        "--max-rows",
        type=int,
        default=2000,
        help="rows per table; counts and charts cover all (default: 2000)",
    )
    report.set_defaults(func=_report_command)


def _add_registered_commands(commands: Any) -> None:
    """Each entry point of the group is a ``register(subparsers)`` adding one command; its
    own imports wait until the command runs."""
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as exc:
            # Its package is not installed (a library-only install): not offered.
            logger.debug("command %s unavailable: %s", entry.name, exc)
            continue
        register(commands)


# ---------------------------------------------------------------------------------- validate


def _validate_command(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        print(f"agenther validate: {path}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        inputs = InputSettings.load(None, **INPUT_FLAGS.overrides(args))
    except (ValidationError, ValueError) as exc:
        print(f"agenther validate: invalid settings: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    valid = bad = skipped = 0
    for record in iter_records(path, inputs):
        if isinstance(record, Reject):
            bad += 1
            print(f"{path}: {record.describe()}")
        elif isinstance(record, Skipped):
            skipped += 1
        else:
            valid += 1
    print(f"{path}: {valid} valid, {bad} invalid" + (f", {skipped} successes" if skipped else ""))
    if valid == 0 and bad == 0:
        print(f"{path}: no trajectories in file")
    return EXIT_INVALID_INPUT if bad or not valid else EXIT_OK


# ------------------------------------------------------------------------------------ report


def _report_command(args: argparse.Namespace) -> int:
    # Imported here: ``--help`` and the other commands need neither it nor matplotlib.
    from agenther.report import MissingDependencyError, ReportInputError, write_report

    if not args.path.exists():
        print(f"agenther report: {args.path}: no such file or directory", file=sys.stderr)
        return EXIT_USAGE
    if args.max_rows < 1:
        print("agenther report: --max-rows must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        target, data = write_report(
            args.path, args.output, rejects=args.rejects, title=args.title, max_rows=args.max_rows
        )
    except MissingDependencyError as exc:
        print(f"agenther report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ReportInputError, OSError) as exc:
        print(f"agenther report: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    counts = data.counts()
    print(
        f"{target}: {counts['examples']} examples, {counts['rejected']} rejected, "
        f"{counts['invalid']} invalid, {counts['errors']} errors "
        f"({target.stat().st_size / 1024:.0f} KB)"
    )
    for problem in data.problems:
        print(f"  {problem}", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------------------- run


@dataclass
class RunSummary:
    read: int = 0
    invalid: int = 0
    skipped: int = 0  # successful runs in a chat or trace input
    examples: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

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


class RejectWriter:
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

    def __enter__(self) -> RejectWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _run_command(args: argparse.Namespace) -> int:
    source: Path = args.file
    if not source.is_file():
        print(f"agenther run: {source}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = _config_from_args(args)
        inputs = InputSettings.load(None, **INPUT_FLAGS.overrides(args))
    except (ValidationError, ValueError, OSError) as exc:
        print(f"agenther run: invalid settings: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE

    # Imported here so that ``agenther validate`` and ``--help`` need none of the stages.
    from agenther.pipeline import AgentHERPipeline

    try:
        pipeline = AgentHERPipeline(config)
    except LLMFatalError as exc:
        print(f"agenther run: {exc}", file=sys.stderr)
        return EXIT_FATAL_LLM
    except Exception as exc:  # a client that cannot be built (no key, bad URL) is a usage error
        print(f"agenther run: cannot start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE

    fmt = config.output_format
    output: Path = args.output or Path(config.output_dir) / f"augmented_{fmt.value}.jsonl"
    rejects: Path = args.rejects or output.with_name(output.stem + ".rejects.jsonl")
    return asyncio.run(_run_stream(pipeline, iter_records(source, inputs), source, output, rejects))


def _config_from_args(args: argparse.Namespace) -> PipelineConfig:
    overrides = {**RUN_FLAGS.overrides(args), **PIPELINE_FLAGS.overrides(args)}
    return PipelineConfig.load(args.config, **overrides)


async def _run_stream(
    pipeline: Any, records: Iterator[Record], source: Path, output: Path, rejects_path: Path
) -> int:
    """Check the input and the endpoint, then relabel; an existing output file is only
    replaced once both are known to be usable."""
    leading: list[Record] = []
    first: Loaded | None = None
    for record in records:
        if not isinstance(record, Loaded):
            leading.append(record)
            continue
        first = record
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
    return await _relabel_file(
        pipeline, itertools.chain(leading, [first], records), output, rejects_path
    )


async def _relabel_file(
    pipeline: Any, records: Iterator[Record], output: Path, rejects_path: Path
) -> int:
    summary = RunSummary()
    origin: dict[str, deque[tuple[int, str]]] = defaultdict(deque)
    fatal: LLMFatalError | LLMQuotaError | None = None
    fmt: OutputFormat = pipeline.config.output_format
    progress = Progress()

    with SampleWriter(output, fmt) as writer, RejectWriter(rejects_path) as rejects:

        def trajectories() -> Iterator[FailedTrajectory]:
            for record in records:
                if isinstance(record, Reject):
                    summary.invalid += 1
                    rejects.write({"outcome": "invalid", "stage": "input", **record.as_dict()})
                    continue
                if isinstance(record, Skipped):
                    summary.skipped += 1
                    continue
                summary.read += 1
                origin[record.trajectory.trajectory_id].append((record.line, record.where))
                yield record.trajectory

        try:
            async with contextlib.aclosing(pipeline.aprocess_stream(trajectories())) as results:
                async for result in results:
                    queue = origin.get(result.trajectory_id)
                    line, where = queue.popleft() if queue else (0, "line")
                    if result.success and result.sample is not None:
                        writer.write(result.sample)
                        summary.examples += 1
                        progress.done("example")
                        continue
                    if isinstance(result.exception, LLMFatalError | LLMQuotaError):
                        fatal = result.exception
                        break
                    outcome = "error" if result.exception is not None else "rejected"
                    progress.done(outcome)
                    (summary.errors if outcome == "error" else summary.rejected)[
                        result.stage_reached
                    ] += 1
                    rejects.write(
                        {
                            "outcome": outcome,
                            "stage": result.stage_reached,
                            "line": line,
                            "where": where,
                            "trajectory_id": result.trajectory_id,
                            "reason": result.error or "",
                            **result.analysis_fields(),
                        }
                    )
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


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
    return str(exc).replace("\n", " ")
