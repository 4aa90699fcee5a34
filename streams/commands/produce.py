"""``agenther produce``: publish runs from a file to the input topic."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agenther.flags import INPUT_FLAGS, Flag
from streams.commands.common import (
    EXIT_USAGE,
    bootstrap_of,
    connection_parser,
    load_settings,
    run_async,
    service_table,
)

if TYPE_CHECKING:
    from streams.settings import ServiceSettings

PRODUCE_FLAGS = service_table(
    Flag("--topic", "input_topic"),
    Flag("--schema-registry-url", "schema_registry_url"),
)


def register(subparsers: Any) -> None:
    produce = subparsers.add_parser(
        "produce",
        parents=[connection_parser()],
        help="publish runs from a JSON array or JSONL file",
        description="Publish each run of FILE to the input topic, keyed by its run id. Traces "
        "(otlp-json lines, or with --input-format otlp-proto one serialized TracesData) are "
        "published as the Collector's Kafka exporter writes them: one message per trace, "
        "keyed by the trace id in hex.",
    )
    produce.add_argument(
        "file", help="JSON array or JSONL of run events, trajectories, chat transcripts or traces"
    )
    PRODUCE_FLAGS.add_to(produce)
    INPUT_FLAGS.add_to(produce)
    produce.set_defaults(func=_produce_command)


def _produce_command(args: argparse.Namespace) -> int:
    settings = load_settings(args, PRODUCE_FLAGS, INPUT_FLAGS)
    if settings is None:
        return EXIT_USAGE
    if not Path(args.file).is_file():
        print(f"agenther: {args.file}: no such file", file=sys.stderr)
        return EXIT_USAGE
    bootstrap = bootstrap_of(settings)
    if bootstrap is None:
        return EXIT_USAGE
    return run_async(_produce(settings, bootstrap, args.file), bootstrap)


async def _produce(settings: ServiceSettings, bootstrap: str, path: str) -> int:
    from streams.produce import InputFileError, publish_file

    try:
        sent, bad = await publish_file(settings, bootstrap, path)
    except InputFileError as exc:
        print(f"agenther: {exc}", file=sys.stderr)
        return EXIT_USAGE
    what = "messages" if settings.input_format.value.startswith("otlp") else "runs"
    print(
        f"published {sent} {what} to {settings.input_topic}" + (f", skipped {bad}" if bad else "")
    )
    return 0 if sent or not bad else 1
