"""Committing input offsets safely: what may be committed, when, and whether it is still ours.

- Per partition the position is the lowest contiguous completed offset (``streams.offsets``),
  since runs finish out of order while their LLM calls overlap; a trace input moves it back to
  the first message of any relabeled trace it would cut in two (``streams.trace_assembly``).
- Work begun before a partition's tracking restarted (revoked, or reset under us) carries an
  older epoch and completes nothing.
- Positions are only committed on top of the offsets this member committed: a partition whose
  group offset moved under us (a broker that restarted empty) restarts from what the broker
  holds instead of skipping the first records of its new log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streams.dead_letters import SecretScrubber
from streams.offsets import OffsetTracker

logger = logging.getLogger("streams.processor")

_COMMIT_COALESCE_S = 0.05

CommitFloor = Callable[[TopicPartition, int], int]


class Commits:
    def __init__(
        self,
        scrubber: SecretScrubber,
        *,
        floor: CommitFloor | None = None,
        on_forget: Callable[[list[TopicPartition]], None] | None = None,
    ) -> None:
        self._scrubber = scrubber
        self._floor = floor
        self._on_forget = on_forget
        self._offsets: OffsetTracker[TopicPartition] = OffsetTracker()
        # Bumped when a partition's tracking restarts, so work begun before it cannot mark an
        # offset of the new tracking done.
        self._epochs: Counter[TopicPartition] = Counter()
        self._last_commit: dict[TopicPartition, int] = {}
        self._wanted = asyncio.Event()
        self._lock = asyncio.Lock()

    def track(self, tp: TopicPartition, offset: int) -> int:
        """Start tracking a delivered offset; returns the partition's epoch for ``done``."""
        self._offsets.track(tp, offset)
        return self._epochs[tp]

    def epoch(self, tp: TopicPartition) -> int:
        return self._epochs[tp]

    def done(self, tp: TopicPartition, offsets: Iterable[int], epoch: int) -> None:
        if self._epochs[tp] != epoch:
            return
        if [o for o in offsets if self._offsets.complete(tp, o)]:
            self._wanted.set()

    async def loop(self, consumer: AIOKafkaConsumer) -> None:
        """Commit shortly after work completes, coalescing bursts."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            await asyncio.sleep(_COMMIT_COALESCE_S)
            await self.commit(consumer)

    async def commit(
        self, consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition] | None = None
    ) -> None:
        async with self._lock:
            assigned = consumer.assignment()
            chosen = assigned if partitions is None else set(partitions) & assigned
            positions = self._offsets.to_commit(chosen)
            if self._floor is not None:
                positions = self._floored(positions)
            if positions:
                positions = await self._still_ours(consumer, positions)
            if not positions:
                return
            try:
                await consumer.commit(positions)
            except KafkaError as exc:
                # Nothing is lost: the offsets stay uncommitted and are retried next time.
                logger.warning("commit failed: %s", self._scrubber.describe(exc))
                return
            self._offsets.committed(positions)
            self._last_commit.update(positions)
            logger.debug(
                "committed %s", {f"{t.topic}-{t.partition}": o for t, o in positions.items()}
            )

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop tracking the partitions: whoever reads them next starts from the committed
        offset."""
        partitions = list(partitions)
        self._offsets.drop(partitions)
        if self._on_forget is not None:
            self._on_forget(partitions)
        for tp in partitions:
            self._epochs[tp] += 1
            self._last_commit.pop(tp, None)

    def _floored(self, positions: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        assert self._floor is not None
        moved = {}
        for tp, position in positions.items():
            floor = self._floor(tp, position)
            if floor != self._last_commit.get(tp):
                moved[tp] = floor
        return moved

    async def _still_ours(
        self, consumer: AIOKafkaConsumer, positions: dict[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """The positions that are safe to commit.

        While this member owns a partition only it commits there, so the group's offset must
        still be the one it last committed. If not, the broker lost the group's state (an
        in-memory broker restarted empty) while the consumer kept reading at its old position:
        committing would skip the first records of the new log. Such a partition restarts from
        what the broker holds instead.
        """
        known = [tp for tp in positions if tp in self._last_commit]
        if not known:
            return positions
        try:
            found = await asyncio.gather(*(consumer.committed(tp) for tp in known))
        except KafkaError as exc:
            logger.warning("commit check failed: %s", self._scrubber.describe(exc))
            return {}
        safe = dict(positions)
        for tp, offset in zip(known, found, strict=True):
            if offset == self._last_commit[tp]:
                continue
            del safe[tp]
            logger.warning(
                "%s-%d: the group's committed offset is %s, not the %d this member committed "
                "(the broker lost the group's state); restarting the partition from %s",
                tp.topic,
                tp.partition,
                offset,
                self._last_commit[tp],
                "the beginning" if offset is None else offset,
            )
            self.forget([tp])
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        return safe
