"""Redrive: send dead letters back to the topic they came from, once their cause is fixed.

The dead-letter topic is read from the beginning up to its end at the start of the call, so
letters that fail again while we run are left for the next redrive instead of looping. The
original key and value go back unchanged, with the run's own headers and one more,
``agenther-redriven-from`` (``<dlq topic>/<partition>/<offset>``), which a repeat failure keeps.
The topic is append-only: a second redrive of the same range sends the letters again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams import dead_letters

logger = logging.getLogger(__name__)

REDRIVEN_FROM = "agenther-redriven-from"
_STALL_TIMEOUT_S = 15.0


class RedriveError(RuntimeError):
    """The dead-letter topic cannot be read to its end."""


@dataclass
class RedriveReport:
    scanned: int = 0
    matched: int = 0
    redriven: int = 0
    without_target: int = 0
    dry_run: bool = False
    by_topic: Counter[str] = field(default_factory=Counter)

    def __str__(self) -> str:
        verb = "would redrive" if self.dry_run else "redriven"
        targets = ", ".join(f"{t}: {n}" for t, n in sorted(self.by_topic.items())) or "none"
        return (
            f"{self.scanned} dead letters scanned, {self.matched} matched, {self.redriven} "
            f"{verb} ({targets}), {self.without_target} without a source topic"
        )


async def redrive_dead_letters(
    bootstrap_servers: str,
    dlq_topic: str,
    target_topic: str | None = None,
    *,
    reason_substring: str | None = None,
    dry_run: bool = False,
    client_kwargs: dict[str, Any] | None = None,
) -> RedriveReport:
    """Re-send the letters whose ``agenther-error`` or ``agenther-error-type`` contains
    ``reason_substring`` (case-insensitive; None: all) to ``target_topic`` or, by default, to
    each letter's ``agenther-source-topic``. ``dry_run`` counts without sending."""
    kwargs = dict(client_kwargs or {})
    report = RedriveReport(dry_run=dry_run)
    needle = reason_substring.casefold() if reason_substring else None
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kwargs,
    )
    # A dry run makes no producer at all: one never started nor stopped is reported unclosed.
    producer = (
        None
        if dry_run
        else AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", **kwargs)
    )
    try:
        # Started inside the try: a failed start still has to close its client.
        await consumer.start()
        if producer is not None:
            await producer.start()
        if dlq_topic not in await consumer.topics():
            raise RedriveError(f"topic {dlq_topic} does not exist")
        partitions = [
            TopicPartition(dlq_topic, p) for p in sorted(consumer.partitions_for_topic(dlq_topic))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        sends: list[asyncio.Future[Any]] = []
        async for record in _records_until(consumer, end):
            report.scanned += 1
            headers = dict(record.headers or ())
            if needle is not None and needle not in _reason(headers).casefold():
                continue
            report.matched += 1
            source = headers.get(dead_letters.SOURCE_TOPIC, b"").decode("utf-8", "replace")
            target = target_topic or source
            if not target:
                report.without_target += 1
                continue
            report.redriven += 1
            report.by_topic[target] += 1
            if producer is not None:
                sends.append(
                    await producer.send(
                        target,
                        value=record.value,
                        key=record.key,
                        headers=_redrive_headers(record, dlq_topic),
                    )
                )
        await asyncio.gather(*sends)
    finally:
        await consumer.stop()
        if producer is not None:
            await producer.stop()
    logger.info("redrive of %s: %s", dlq_topic, report)
    return report


async def _records_until(
    consumer: AIOKafkaConsumer, end: dict[TopicPartition, int]
) -> AsyncIterator[Any]:
    """Records of the assigned partitions from their positions to ``end`` (exclusive)."""
    remaining = set(end)
    for tp in list(remaining):
        if await consumer.position(tp) >= end[tp]:
            remaining.discard(tp)
    last_progress = time.monotonic()
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=500)
        for tp, records in batch.items():
            for record in records:
                if record.offset < end[tp]:
                    yield record
        for tp in list(remaining):
            if await consumer.position(tp) >= end[tp]:
                remaining.discard(tp)
        if batch:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > _STALL_TIMEOUT_S:
            stuck = ", ".join(f"{tp.topic}-{tp.partition}" for tp in sorted(remaining))
            raise RedriveError(f"no progress reading {stuck} to its end")


def _reason(headers: dict[str, bytes]) -> str:
    error = headers.get(dead_letters.ERROR, b"")
    error_type = headers.get(dead_letters.ERROR_TYPE, b"")
    return f"{error_type.decode('utf-8', 'replace')}\n{error.decode('utf-8', 'replace')}"


def _redrive_headers(record: Any, dlq_topic: str) -> list[tuple[str, bytes]]:
    dropped = {*dead_letters.DEAD_LETTER_HEADERS, REDRIVEN_FROM}
    kept = [(name, value) for name, value in (record.headers or ()) if name not in dropped]
    origin = f"{dlq_topic}/{record.partition}/{record.offset}".encode()
    return [*kept, (REDRIVEN_FROM, origin)]
