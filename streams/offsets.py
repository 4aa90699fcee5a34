"""Which input offsets may be committed, when work on a partition finishes out of order.

Kafka commits a position: everything below it counts as done. With many runs in flight an
early offset can still be waiting for the LLM while later ones are finished, so per partition
we commit only up to the lowest offset that is not yet complete.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

P = TypeVar("P")


class PartitionOffsets:
    """Offsets of one partition in the order the consumer delivered them."""

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._done: set[int] = set()
        self._position: int | None = None  # next offset to commit: all below are complete
        self._committed: int | None = None

    def track(self, offset: int) -> None:
        if self._pending and offset <= self._pending[-1]:
            raise ValueError(f"offset {offset} delivered out of order")
        self._pending.append(offset)

    def complete(self, offset: int) -> None:
        self._done.add(offset)
        # Offsets need not be consecutive (compaction, transaction markers): only the order in
        # which they were delivered counts.
        while self._pending and self._pending[0] in self._done:
            head = self._pending.popleft()
            self._done.discard(head)
            self._position = head + 1

    @property
    def in_flight(self) -> int:
        return len(self._pending) - len(self._done)

    def uncommitted(self) -> int | None:
        """The position to commit, if it moved since the last acknowledged commit."""
        if self._position is None or self._position == self._committed:
            return None
        return self._position

    def committed(self, position: int) -> None:
        self._committed = position


class OffsetTracker(Generic[P]):
    """``PartitionOffsets`` per partition; a partition is dropped when it is revoked."""

    def __init__(self) -> None:
        self._partitions: dict[P, PartitionOffsets] = {}

    def track(self, partition: P, offset: int) -> None:
        self._partitions.setdefault(partition, PartitionOffsets()).track(offset)

    def complete(self, partition: P, offset: int) -> bool:
        """Mark done; False when the partition was revoked meanwhile (the result is moot)."""
        state = self._partitions.get(partition)
        if state is None:
            return False
        state.complete(offset)
        return True

    def to_commit(self, partitions: Iterable[P] | None = None) -> dict[P, int]:
        chosen = self._partitions if partitions is None else partitions
        out: dict[P, int] = {}
        for partition in chosen:
            state = self._partitions.get(partition)
            position = state.uncommitted() if state is not None else None
            if position is not None:
                out[partition] = position
        return out

    def committed(self, positions: dict[P, int]) -> None:
        for partition, position in positions.items():
            state = self._partitions.get(partition)
            if state is not None:
                state.committed(position)

    def in_flight(self, partition: P | None = None) -> int:
        if partition is not None:
            state = self._partitions.get(partition)
            return state.in_flight if state is not None else 0
        return sum(state.in_flight for state in self._partitions.values())

    def drop(self, partitions: Iterable[P]) -> None:
        for partition in partitions:
            self._partitions.pop(partition, None)

    def partitions(self) -> list[P]:
        return list(self._partitions)
