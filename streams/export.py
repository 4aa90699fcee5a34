"""Export the output topic to a directory a trainer loads: a consistent, deduplicated and
incremental snapshot.

Consistent: each partition's end is fixed when the export starts reading it (the listed end
offset, or the first fetch's high watermark where a broker lists less), and nothing past it is
taken, so examples produced meanwhile wait for the next export. Deduplicated: replays repeat
example ids; an id already in the directory (from this run or an earlier one) is skipped.
Incremental: the manifest keeps the next offset per partition; the next export starts there.
With ``--rejects-topic`` and ``--dlq-topic`` the rejections and dead letters are snapshotted
the same way (``streams.export_outcomes``), so ``agenther report DIR`` shows why runs were
turned down.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agenther.export_dir import ExportDir, ExportDirError, ExportFilters, FileFormat, Manifest
from streams.events import EventCodec, EventDecodeError, TrainingExample
from streams.export_outcomes import (
    DEAD_LETTERS_FILE,
    REJECTS_FILE,
    OutcomeFile,
    dead_letter_entry,
    dead_letters_file,
    rejection_entry,
    rejects_file,
)
from streams.snapshot import Progress, UnknownTopicError, read_snapshot

logger = logging.getLogger(__name__)


class ExportError(RuntimeError):
    """The export cannot run as asked (no such topic, another dataset in the directory)."""


@dataclass
class ExportRequest:
    topic: str
    out_dir: Path
    output_format: str | None = None  # None: the directory's, else the first example's
    file_format: FileFormat = "jsonl"
    filters: ExportFilters = field(default_factory=ExportFilters)
    max_examples: int | None = None
    rejects_topic: str | None = None  # also snapshot the rejections into rejects.jsonl
    dlq_topic: str | None = None  # also list the dead letters (headers only)


@dataclass
class ExportReport:
    written: int = 0
    shard: str | None = None
    total: int = 0  # examples in the directory after this run
    skipped: Counter[str] = field(default_factory=Counter)
    stopped_short: bool = False
    rejects: int | None = None  # new rejections, when asked for
    dead_letters: int | None = None

    def lines(self, out_dir: Path) -> list[str]:
        where = f" to {out_dir / self.shard}" if self.shard else ""
        out = [f"exported {self.written} new examples{where}; {self.total} in {out_dir}"]
        if self.rejects is not None:
            out.append(f"  {self.rejects} new rejections in {out_dir / REJECTS_FILE}")
        if self.dead_letters is not None:
            out.append(f"  {self.dead_letters} new dead letters in {out_dir / DEAD_LETTERS_FILE}")
        out += [f"  skipped {n}: {reason}" for reason, n in sorted(self.skipped.items())]
        if self.stopped_short:
            out.append("  stopped before the snapshot's end: run the export again")
        return out


async def export_topic(
    bootstrap: str,
    request: ExportRequest,
    *,
    client_kwargs: dict[str, Any] | None = None,
    schema_registry_url: str | None = None,
    progress: Progress | None = None,
) -> ExportReport:
    directory = ExportDir(request.out_dir)
    manifest = _manifest_for(directory, request)
    directory.remove_orphans(manifest)
    seen = directory.seen_ids()

    codec = EventCodec(schema_registry_url)
    report = ExportReport()
    records: list[dict[str, Any]] = []
    provenance: list[dict[str, Any]] = []
    new_ids: list[str] = []

    async def take(message: Any) -> bool:
        example = await _decode(codec, message.value, report)
        if example is None:
            return False
        skip = _skip_reason(example, message, request, manifest)
        if skip is not None:
            report.skipped[skip] += 1
        elif example.example_id in seen:
            report.skipped["duplicate example id (a replay)"] += 1
        else:
            seen.add(example.example_id)
            new_ids.append(example.example_id)
            records.append(json.loads(example.record))
            provenance.append(_provenance(example, message))
        return request.max_examples is not None and len(records) >= request.max_examples

    rejects = rejects_file(directory.path) if request.rejects_topic else None
    letters = dead_letters_file(directory.path) if request.dlq_topic else None
    try:
        snapshot = await read_snapshot(
            bootstrap, request.topic, manifest.positions, take, client_kwargs, progress
        )
        # The other outputs, each read up to its own snapshot, into its own file.
        others = [
            (request.rejects_topic, "rejects_positions", rejects, _rejection(codec, request)),
            (request.dlq_topic, "dead_letter_positions", letters, _dead_letter),
        ]
        for topic, positions, into, entry in others:
            if topic is not None and into is not None:
                read_to = await _outcomes(
                    bootstrap,
                    client_kwargs,
                    topic,
                    getattr(manifest, positions),
                    entry,
                    into,
                    request.filters,
                    report,
                )
                setattr(manifest, positions, read_to)
    except UnknownTopicError as exc:
        raise ExportError(str(exc)) from None
    finally:
        await codec.aclose()

    if report.skipped.get("another format"):
        logger.warning(
            "skipped %d examples of another format: this directory holds %s; export them "
            "into another directory with --format",
            report.skipped["another format"],
            manifest.format,
        )
    report.stopped_short = snapshot.stopped_short
    if records:
        shard = directory.write_shard(manifest, records, provenance, snapshot.ranges())
        manifest.shards.append(shard)
        report.shard = shard.file
    manifest.positions.update({str(p): o for p, o in snapshot.position.items()})
    manifest.examples += len(records)
    for reason, count in report.skipped.items():
        manifest.skipped[reason] = manifest.skipped.get(reason, 0) + count
    # Outcome lines go first: the manifest, written last, is what counts them as read.
    if rejects is not None:
        report.rejects = rejects.write()
        manifest.rejects += report.rejects
    if letters is not None:
        for letter in letters.pending():
            key = f"{letter['stage']}: {letter['error_type']}"
            manifest.dead_letters[key] = manifest.dead_letters.get(key, 0) + 1
        report.dead_letters = letters.write()
    directory.commit(manifest, new_ids)
    report.written = len(records)
    report.total = manifest.examples
    return report


Entry = Callable[[Any], Awaitable[dict[str, Any] | str]]


def _rejection(codec: EventCodec, request: ExportRequest) -> Entry:
    async def entry(message: Any) -> dict[str, Any] | str:
        return await rejection_entry(codec, message, request.filters)

    return entry


async def _dead_letter(message: Any) -> dict[str, Any] | str:
    return dead_letter_entry(message)


async def _outcomes(
    bootstrap: str,
    client_kwargs: dict[str, Any] | None,
    topic: str,
    positions: dict[str, int],
    entry: Entry,
    into: OutcomeFile,
    filters: ExportFilters,
    report: ExportReport,
) -> dict[str, int]:
    """Read ``topic`` up to its snapshot into ``into``; the next positions."""

    async def take(message: Any) -> bool:
        found = await entry(message)
        skip = found if isinstance(found, str) else _time_skip(message, filters)
        if skip is not None:
            report.skipped[f"{topic}: {skip}"] += 1
        elif isinstance(found, dict) and not into.add(found):
            report.skipped[f"{topic}: already exported (a replay)"] += 1
        return False

    snapshot = await read_snapshot(bootstrap, topic, positions, take, client_kwargs)
    report.stopped_short = report.stopped_short or snapshot.stopped_short
    return {**positions, **{str(p): o for p, o in snapshot.position.items()}}


def _manifest_for(directory: ExportDir, request: ExportRequest) -> Manifest:
    try:
        existing = directory.manifest()
    except ExportDirError as exc:
        raise ExportError(str(exc)) from None
    fmt = request.output_format or (existing.format if existing else "")
    wanted = Manifest(
        source=f"kafka:{request.topic}",
        format=fmt,
        file_format=request.file_format,
        filters=request.filters,
    )
    if existing is None:
        return wanted
    try:
        existing.check_same_dataset(wanted)
    except ExportDirError as exc:
        raise ExportError(str(exc)) from None
    return existing


async def _decode(codec: EventCodec, value: bytes | None, report: ExportReport) -> Any:
    try:
        return await codec.decode_training_example(value)
    except EventDecodeError as exc:
        # Foreign bytes on the topic are counted and skipped, never a crash.
        report.skipped[f"not a training example ({exc.reason})"] += 1
        return None


def _skip_reason(
    example: TrainingExample, message: Any, request: ExportRequest, manifest: Manifest
) -> str | None:
    if not manifest.format:
        manifest.format = example.format  # the directory takes the first example's format
    if example.format != manifest.format:
        return "another format"
    filters = request.filters
    if (too_early_or_late := _time_skip(message, filters)) is not None:
        return too_early_or_late
    if filters.min_weight is not None and example.weight < filters.min_weight:
        return "weight below --min-weight"
    if filters.failure_types and example.failure_type not in filters.failure_types:
        return "failure type not asked for"
    return None


def _time_skip(message: Any, filters: ExportFilters) -> str | None:
    produced = datetime.fromtimestamp(message.timestamp / 1000, UTC)
    if filters.since is not None and produced < filters.since:
        return "before --since"
    if filters.until is not None and produced >= filters.until:
        return "at or after --until"
    return None


def _provenance(example: TrainingExample, message: Any) -> dict[str, Any]:
    record = json.loads(example.record)
    block = record.get("agenther") if isinstance(record.get("agenther"), dict) else {}
    return {
        **block,
        "example_id": example.example_id,
        "run_id": example.run_id,
        "format": example.format,
        "weight": example.weight,
        "confidence": example.confidence,
        "failure_type": example.failure_type,
        "pipeline_version": example.pipeline_version,
        "created_at": example.created_at.isoformat(),
        "partition": message.partition,
        "offset": message.offset,
        "hindsight_prompt": block.get("hindsight_prompt") or _first_user_text(record),
    }


def _first_user_text(record: dict[str, Any]) -> str | None:
    for message in record.get("messages") or record.get("prompt") or []:
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else None
    return None
