"""Replay: move a stopped consumer group's committed offsets, like Kafka's reset tool.

After a reset the service, restarted, reads the topic again from the new positions. Output
topics are not rewound: the examples of a replayed range are produced a second time, with the
same example ids when the pipeline settings are unchanged, so consumers can deduplicate. To
reprocess into a clean output instead, run the service with a fresh ``--group-id`` and another
``--output-topic``.

Finding the offset for a time asks the broker (``offsets_for_times``) and checks its answer
against the records' timestamps; brokers that answer wrongly (Tansu answers offset 0) are
served by a binary search over record timestamps instead.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

logger = logging.getLogger(__name__)

_PROBE_TIMEOUT_S = 10.0
_ACTIVE_STATES = {"Stable", "PreparingRebalance", "CompletingRebalance"}


class ReplayError(RuntimeError):
    """The reset cannot be done as asked (active group, unknown topic or partition)."""


async def reset_offsets(
    bootstrap_servers: str,
    group_id: str,
    topic: str,
    *,
    to_earliest: bool = False,
    to_offset: int | None = None,
    partition: int | None = None,
    to_datetime: datetime | None = None,
    by_duration: timedelta | None = None,
    client_kwargs: dict[str, Any] | None = None,
) -> dict[int, int]:
    """Commit new positions for ``group_id`` on ``topic``; returns partition -> offset.

    Exactly one target: earliest, an offset (clamped to what the partition holds), a datetime
    (naive means UTC) or a duration back from now. ``partition`` limits the reset to one
    partition. Refuses while the group has members, since they would overwrite the commit.
    """
    targets = [to_earliest, to_offset is not None, to_datetime is not None, by_duration is not None]
    if sum(targets) != 1:
        raise ValueError("give exactly one of to_earliest, to_offset, to_datetime, by_duration")
    if to_offset is not None and to_offset < 0:
        raise ValueError("to_offset must be >= 0")
    kwargs = dict(client_kwargs or {})
    await _refuse_active_group(bootstrap_servers, group_id, kwargs)

    probe = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **kwargs,
    )
    try:
        await probe.start()
        partitions = await _partitions(probe, topic, partition)
        beginning = await probe.beginning_offsets(partitions)
        end = await probe.end_offsets(partitions)
        if to_earliest:
            new = {tp: beginning[tp] for tp in partitions}
        elif to_offset is not None:
            new = {tp: min(max(to_offset, beginning[tp]), end[tp]) for tp in partitions}
        else:
            moment = to_datetime or datetime.now(UTC) - (by_duration or timedelta())
            new = await _offsets_for_time(probe, partitions, beginning, end, _millis(moment))
    finally:
        await probe.stop()

    await _commit(bootstrap_servers, group_id, new, kwargs)
    for tp, offset in sorted(new.items()):
        logger.info("group %s: %s-%d reset to offset %d", group_id, tp.topic, tp.partition, offset)
    return {tp.partition: offset for tp, offset in new.items()}


async def _refuse_active_group(bootstrap: str, group_id: str, kwargs: dict[str, Any]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **kwargs)
    await admin.start()
    try:
        responses = await admin.describe_consumer_groups([group_id])
    except Exception as exc:  # old or partial brokers lack DescribeGroups: say so, go on
        logger.warning(
            "cannot check whether group %s is active (%s); make sure it is stopped",
            group_id,
            type(exc).__name__,
        )
        return
    finally:
        await admin.close()
    for response in responses:
        for group in response.groups:
            # (error_code, group_id, state, protocol_type, protocol, members, ...)
            state, members = group[2], group[5]
            if group[1] == group_id and (members or state in _ACTIVE_STATES):
                raise ReplayError(
                    f"group {group_id} is active ({state}, {len(members)} members): stop every "
                    "consumer of the group before resetting its offsets"
                )


async def _partitions(
    consumer: AIOKafkaConsumer, topic: str, partition: int | None
) -> list[TopicPartition]:
    if topic not in await consumer.topics():
        raise ReplayError(f"topic {topic} does not exist")
    numbers = sorted(consumer.partitions_for_topic(topic) or ())
    if partition is not None:
        if partition not in numbers:
            raise ReplayError(f"topic {topic} has no partition {partition} (has {numbers})")
        numbers = [partition]
    return [TopicPartition(topic, n) for n in numbers]


async def _commit(
    bootstrap: str, group_id: str, offsets: dict[TopicPartition, int], kwargs: dict[str, Any]
) -> None:
    # A manually assigned consumer commits for the group without joining it.
    committer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False, **kwargs
    )
    try:
        await committer.start()
        committer.assign(list(offsets))
        await committer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
    finally:
        await committer.stop()


def _millis(moment: datetime) -> int:
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int(aware.timestamp() * 1000)


async def _offsets_for_time(
    consumer: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    beginning: dict[TopicPartition, int],
    end: dict[TopicPartition, int],
    target_ms: int,
) -> dict[TopicPartition, int]:
    """Per partition, the first offset whose record timestamp is >= ``target_ms``."""
    try:
        answers = await consumer.offsets_for_times({tp: target_ms for tp in partitions})
    except Exception as exc:  # unsupported by the broker: search instead
        logger.info("offsets_for_times failed (%s); searching timestamps", type(exc).__name__)
        answers = {}
    result: dict[TopicPartition, int] = {}
    for tp in partitions:
        search = _TimestampSearch(consumer, tp, beginning[tp], end[tp])
        answer = answers.get(tp)
        offset = None if answer is None else answer.offset
        if tp in answers and await search.confirms(offset, target_ms):
            result[tp] = end[tp] if offset is None else offset
        else:
            if tp in answers:
                logger.info("broker's offset for time on %s is wrong; searching", tp)
            result[tp] = await search.first_at_or_after(target_ms)
    return result


class _TimestampSearch:
    """Record timestamps of one partition, read one record at a time."""

    def __init__(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, begin: int, end: int
    ) -> None:
        self.consumer, self.tp, self.begin, self.end = consumer, tp, begin, end
        consumer.assign([tp])

    async def record_at(self, offset: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record at or after ``offset`` below the end."""
        if offset >= self.end:
            return None
        self.consumer.seek(self.tp, offset)
        deadline = time.monotonic() + _PROBE_TIMEOUT_S
        while time.monotonic() < deadline:
            batch = await self.consumer.getmany(self.tp, timeout_ms=500, max_records=1)
            for record in batch.get(self.tp, ()):
                return (record.offset, record.timestamp) if record.offset < self.end else None
        raise ReplayError(f"no record from {self.tp.topic}-{self.tp.partition} at {offset}")

    async def confirms(self, offset: int | None, target_ms: int) -> bool:
        """Whether ``offset`` (None: past the last record) is right for ``target_ms``."""
        if self.begin >= self.end:
            return True
        if offset is None:
            last = await self.record_at(self.end - 1)
            return last is None or last[1] < target_ms
        if not self.begin <= offset <= self.end:
            return False
        at = await self.record_at(offset)
        if at is not None and at[1] < target_ms:
            return False
        if offset == self.begin:
            return True
        before = await self.record_at(offset - 1)
        return before is not None and before[0] < offset and before[1] < target_ms

    async def first_at_or_after(self, target_ms: int) -> int:
        # Assumes timestamps grow with offsets, as the broker's own time index does.
        low, high = self.begin, self.end
        while low < high:
            middle = (low + high) // 2
            found = await self.record_at(middle)
            if found is None or found[1] >= target_ms:
                high = middle
            else:
                low = min(found[0] + 1, high)
        return low
