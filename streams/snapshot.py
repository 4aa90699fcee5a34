"""Read one topic up to a consistent snapshot: each partition's end is fixed when reading starts
(the listed end offset, or the first fetch's high watermark where a broker lists less, as Tansu
lists the last batch's first offset), and nothing past it is taken, so records produced
meanwhile wait for the next read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# How long a fetch may bring nothing before the read stops short of its snapshot (a broker
# whose end offsets run ahead of what it serves); what was read is kept.
IDLE_GIVE_UP_S = 30.0

Handler = Callable[[Any], Awaitable[bool]]  # a record -> True once no more are wanted
Progress = Callable[[int, int], None]  # (records read, records left in the snapshot)


class UnknownTopicError(RuntimeError):
    pass


@dataclass
class Snapshot:
    start: dict[int, int]  # partition -> first offset read
    position: dict[int, int]  # partition -> next offset to read
    stopped_short: bool = False

    def ranges(self) -> dict[str, tuple[int, int]]:
        """partition -> [first, next) of what this read took, where it took anything."""
        return {
            str(p): (self.start[p], self.position[p])
            for p in self.position
            if self.position[p] > self.start[p]
        }


async def read_snapshot(
    bootstrap: str,
    topic: str,
    positions: dict[str, int],
    handle: Handler,
    client_kwargs: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> Snapshot:
    """Feed ``handle`` every record of ``topic`` from ``positions`` (partition -> next offset,
    from an earlier read) up to the snapshot, with a consumer of no group."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(client_kwargs or {}),
    )
    await consumer.start()
    try:
        return await _read(consumer, topic, positions, handle, progress)
    finally:
        await consumer.stop()


async def _read(
    consumer: Any,
    topic: str,
    positions: dict[str, int],
    handle: Handler,
    progress: Progress | None,
) -> Snapshot:
    from aiokafka import TopicPartition

    if topic not in await consumer.topics():
        raise UnknownTopicError(f"topic {topic} does not exist")
    partitions = [
        TopicPartition(topic, n) for n in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(partitions)
    beginning = await consumer.beginning_offsets(partitions)
    listed = await consumer.end_offsets(partitions)
    start = {tp: max(positions.get(str(tp.partition), 0), beginning[tp]) for tp in partitions}
    for tp, offset in start.items():
        consumer.seek(tp, offset)
    position = dict(start)
    end: dict[Any, int] = {}
    read = 0
    idle_since = datetime.now(UTC)
    full = stopped_short = False
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
                stopped_short = True
                break
            continue
        idle_since = datetime.now(UTC)
        for tp, messages in batch.items():
            for message in messages:
                if message.offset >= end[tp] or full:
                    break
                position[tp] = message.offset + 1
                read += 1
                full = await handle(message)
            if not full:
                # Offsets without a record (transaction markers, compaction) count as read.
                position[tp] = max(position[tp], min(await consumer.position(tp), end[tp]))
        if progress is not None:
            left = sum(max(0, end.get(tp, listed[tp]) - position[tp]) for tp in partitions)
            progress(read, left)
    return Snapshot(
        {tp.partition: o for tp, o in start.items()},
        {tp.partition: o for tp, o in position.items()},
        stopped_short,
    )
