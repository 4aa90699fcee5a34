"""Export the output topic to a directory a trainer loads: a consistent, deduplicated and
incremental snapshot.

Consistent: each partition's end is fixed when the export starts reading it (the listed end
offset, or the first fetch's high watermark where a broker lists less), and nothing past it is
taken, so examples produced meanwhile wait for the next export. Deduplicated: replays repeat
example ids; an id already in the directory (from this run or an earlier one) is skipped.
Incremental: the manifest keeps the next offset per partition; the next export starts there.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agenther.export_dir import ExportDir, ExportDirError, ExportFilters, FileFormat, Manifest
from streams.events import EventCodec, EventDecodeError, TrainingExample

logger = logging.getLogger(__name__)

# How long a fetch may bring nothing before the export stops short of its snapshot (a broker
# whose end offsets run ahead of what it serves); what was read is kept.
IDLE_GIVE_UP_S = 30.0


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


@dataclass
class ExportReport:
    written: int = 0
    shard: str | None = None
    total: int = 0  # examples in the directory after this run
    skipped: Counter[str] = field(default_factory=Counter)
    stopped_short: bool = False

    def lines(self, out_dir: Path) -> list[str]:
        where = f" to {out_dir / self.shard}" if self.shard else ""
        out = [f"exported {self.written} new examples{where}; {self.total} in {out_dir}"]
        out += [f"  skipped {n}: {reason}" for reason, n in sorted(self.skipped.items())]
        if self.stopped_short:
            out.append("  stopped before the snapshot's end: run the export again")
        return out


Progress = Callable[[int, int], None]  # (records read, records left in the snapshot)


async def export_topic(
    bootstrap: str,
    request: ExportRequest,
    *,
    client_kwargs: dict[str, Any] | None = None,
    schema_registry_url: str | None = None,
    progress: Progress | None = None,
) -> ExportReport:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    directory = ExportDir(request.out_dir)
    manifest = _manifest_for(directory, request)
    directory.remove_orphans(manifest)
    seen = directory.seen_ids()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(client_kwargs or {}),
    )
    codec = EventCodec(schema_registry_url)
    report = ExportReport()
    records: list[dict[str, Any]] = []
    provenance: list[dict[str, Any]] = []
    new_ids: list[str] = []
    try:
        await consumer.start()
        if request.topic not in await consumer.topics():
            raise ExportError(f"topic {request.topic} does not exist")
        partitions = [
            TopicPartition(request.topic, n)
            for n in sorted(consumer.partitions_for_topic(request.topic) or ())
        ]
        consumer.assign(partitions)
        beginning = await consumer.beginning_offsets(partitions)
        listed = await consumer.end_offsets(partitions)
        start = {
            tp: max(manifest.positions.get(str(tp.partition), 0), beginning[tp])
            for tp in partitions
        }
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        position = dict(start)
        # The snapshot: per partition, the end offset listed at the start, or the high
        # watermark of the first fetch if higher (some brokers, Tansu among them, list the
        # last batch's first offset as the end). Nothing past it is taken.
        end: dict[Any, int] = {}
        read = 0
        idle_since = datetime.now(UTC)
        full = False
        while not full and (
            len(end) < len(partitions) or any(position[tp] < end[tp] for tp in partitions)
        ):
            batch = await consumer.getmany(timeout_ms=500)
            for tp in partitions:
                highwater = consumer.highwater(tp)
                if tp not in end and highwater is not None:
                    end[tp] = max(listed[tp], highwater)
            if not batch:
                if (datetime.now(UTC) - idle_since).total_seconds() > IDLE_GIVE_UP_S:
                    report.stopped_short = True
                    break
                continue
            idle_since = datetime.now(UTC)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset >= end[tp] or full:
                        break
                    position[tp] = message.offset + 1
                    read += 1
                    example = await _decode(codec, message.value, report)
                    if example is None:
                        continue
                    skip = _skip_reason(example, message, request, manifest)
                    if skip is not None:
                        report.skipped[skip] += 1
                        continue
                    if example.example_id in seen:
                        report.skipped["duplicate example id (a replay)"] += 1
                        continue
                    seen.add(example.example_id)
                    new_ids.append(example.example_id)
                    records.append(json.loads(example.record))
                    provenance.append(_provenance(example, message))
                    full = request.max_examples is not None and len(records) >= (
                        request.max_examples
                    )
                if not full:
                    # Offsets without a record (transaction markers, compaction) count as read.
                    position[tp] = max(position[tp], min(await consumer.position(tp), end[tp]))
            if progress is not None:
                left = sum(max(0, end.get(tp, listed[tp]) - position[tp]) for tp in partitions)
                progress(read, left)
    finally:
        await consumer.stop()
        await codec.aclose()

    if report.skipped.get("another format"):
        logger.warning(
            "skipped %d examples of another format: this directory holds %s; export them "
            "into another directory with --format",
            report.skipped["another format"],
            manifest.format,
        )
    offsets = {
        str(tp.partition): (start[tp], position[tp])
        for tp in partitions
        if position[tp] > start[tp]
    }
    if records:
        shard = directory.write_shard(manifest, records, provenance, offsets)
        manifest.shards.append(shard)
        report.shard = shard.file
    manifest.positions.update({str(tp.partition): position[tp] for tp in partitions})
    manifest.examples += len(records)
    for reason, count in report.skipped.items():
        manifest.skipped[reason] = manifest.skipped.get(reason, 0) + count
    directory.commit(manifest, new_ids)
    report.written = len(records)
    report.total = manifest.examples
    return report


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
    produced = datetime.fromtimestamp(message.timestamp / 1000, UTC)
    if filters.since is not None and produced < filters.since:
        return "before --since"
    if filters.until is not None and produced >= filters.until:
        return "at or after --until"
    if filters.min_weight is not None and example.weight < filters.min_weight:
        return "weight below --min-weight"
    if filters.failure_types and example.failure_type not in filters.failure_types:
        return "failure type not asked for"
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
