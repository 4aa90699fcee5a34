"""``agenther export``: the output topic as files a trainer loads, with a dataset card."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agenther.flags import Flag
from agenther.models import FailureType, OutputFormat
from streams.commands.common import (
    EXIT_USAGE,
    OperationFailed,
    bootstrap_of,
    connection_parser,
    load_settings,
    run_operation,
    service_table,
)

if TYPE_CHECKING:
    from streams.settings import ServiceSettings

logger = logging.getLogger("agenther.export")

EXPORT_FLAGS = service_table(
    Flag("--topic", "output_topic"),
    Flag("--schema-registry-url", "schema_registry_url"),
)


def register(subparsers: Any) -> None:
    export = subparsers.add_parser(
        "export",
        parents=[connection_parser()],
        help="write the output topic to a directory a trainer loads (incremental, deduplicated)",
        description="Read the output topic up to its end at the start (a consistent snapshot), "
        "skip example ids already in DIR (replays repeat them), and write the new trainer lines "
        "as one shard under DIR/data, with DIR/manifest.json, a dataset card (DIR/README.md) "
        "and, for sharegpt, LLaMA-Factory's dataset_info.json. Run it again with the same DIR "
        "to add what arrived since.",
    )
    EXPORT_FLAGS.add_to(export)
    export.add_argument("-o", "--out", type=Path, required=True, metavar="DIR")
    export.add_argument(
        "--file-format", choices=["jsonl", "parquet"], default="jsonl", help="default: jsonl"
    )
    export.add_argument(
        "-f",
        "--format",
        choices=[f.value for f in OutputFormat],
        default=None,
        help="trainer format to export (default: DIR's, else the first example's); a DIR "
        "holds one format",
    )
    export.add_argument("--since", type=_moment, help="produced at or after (ISO 8601; naive: UTC)")
    export.add_argument("--until", type=_moment, help="produced before (ISO 8601; naive: UTC)")
    export.add_argument("--min-weight", type=float, default=None, metavar="W")
    export.add_argument(
        "--failure-type",
        action="append",
        default=[],
        choices=[t.value for t in FailureType],
        help="only this failure type (repeatable)",
    )
    export.add_argument("--max-examples", type=int, default=None, metavar="N")
    export.add_argument(
        "--rejects-topic",
        metavar="TOPIC",
        help="also snapshot this topic's rejections into DIR/rejects.jsonl (one per run), "
        "for agenther report",
    )
    export.add_argument(
        "--dlq-topic",
        metavar="TOPIC",
        help="also list this topic's dead letters in DIR/dead_letters.jsonl (headers only)",
    )
    export.set_defaults(func=_export_command)


def _moment(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _export_command(args: argparse.Namespace) -> int:
    settings = load_settings(args, EXPORT_FLAGS)
    if settings is None:
        return EXIT_USAGE
    bootstrap = bootstrap_of(settings)
    if bootstrap is None:
        return EXIT_USAGE
    from agenther.dataset_card import write_dataset_card
    from agenther.export_dir import ExportDir, ExportDirError, ExportFilters
    from streams.export import ExportError, ExportRequest, export_topic

    request = ExportRequest(
        topic=settings.output_topic,
        out_dir=args.out,
        output_format=args.format,
        file_format=args.file_format,
        filters=ExportFilters(
            since=args.since,
            until=args.until,
            min_weight=args.min_weight,
            failure_types=sorted(set(args.failure_type)),
        ),
        max_examples=args.max_examples,
        rejects_topic=args.rejects_topic,
        dlq_topic=args.dlq_topic,
    )
    progress = _Progress()
    try:
        report = run_operation(
            export_topic(
                bootstrap,
                request,
                client_kwargs=settings.kafka_client_kwargs(),
                schema_registry_url=settings.schema_registry_url,
                progress=progress.update,
            ),
            settings,
            bootstrap,
            refused=(ExportError, ExportDirError),
        )
    except OperationFailed as failed:
        return failed.report()
    finally:
        progress.close()
    for line in report.lines(args.out):
        print(line)
    manifest = ExportDir(args.out).manifest()
    if manifest is not None and manifest.shards:
        print(f"  dataset card: {write_dataset_card(args.out, manifest, _source(settings))}")
    return 0


def _source(settings: ServiceSettings) -> str:
    return f"{settings.output_topic} at {settings.bootstrap_servers}"


class _Progress:
    """A bar on a terminal; elsewhere a log line every 10 s."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._last = time.monotonic()
        self._tty = sys.stderr.isatty()

    def update(self, read: int, left: int) -> None:
        if self._tty:
            if self._bar is None:
                from tqdm import tqdm

                self._bar = tqdm(total=read + left, unit=" records", leave=False)
            self._bar.total = read + left
            self._bar.n = read
            self._bar.refresh()
        elif time.monotonic() - self._last >= 10.0:
            self._last = time.monotonic()
            logger.info("%d records read, %d left in the snapshot", read, left)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
