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
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agenther.config import PIPELINE_VERSION, PipelineConfig
from agenther.errors import LLMFatalError
from agenther.exit_codes import (
    EXIT_ALL_FAILED,
    EXIT_FATAL_LLM,
    EXIT_INVALID_INPUT,
    EXIT_OK,
    EXIT_USAGE,
)
from agenther.file_run import run_file
from agenther.flags import INPUT_FLAGS, PIPELINE_FLAGS, RUN_FLAGS, WORKER_FLAGS
from agenther.inputs.settings import InputSettings
from agenther.run_settings import RunSettings
from agenther.trajectory_io import Reject, Skipped, iter_records

logger = logging.getLogger("agenther.cli")

__all__ = [
    "EXIT_ALL_FAILED",
    "EXIT_FATAL_LLM",
    "EXIT_INVALID_INPUT",
    "EXIT_OK",
    "EXIT_USAGE",
    "build_parser",
    "main",
]


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
    WORKER_FLAGS.add_to(run)
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


def _run_command(args: argparse.Namespace) -> int:
    source: Path = args.file
    if not source.is_file():
        print(f"agenther run: {source}: no such file", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = _config_from_args(args)
        settings = RunSettings.load(
            None, **INPUT_FLAGS.overrides(args), **WORKER_FLAGS.overrides(args)
        )
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
    return asyncio.run(run_file(pipeline, source, settings, output, rejects))


def _config_from_args(args: argparse.Namespace) -> PipelineConfig:
    overrides = {**RUN_FLAGS.overrides(args), **PIPELINE_FLAGS.overrides(args)}
    return PipelineConfig.load(args.config, **overrides)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
    return str(exc).replace("\n", " ")
