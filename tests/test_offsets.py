"""The commit tracker: only the lowest contiguous completed offset may be committed."""

from __future__ import annotations

import random

import pytest

from streams.offsets import OffsetTracker, PartitionOffsets


def test_out_of_order_completion_commits_only_the_contiguous_prefix() -> None:
    p = PartitionOffsets()
    for offset in range(10, 15):
        p.track(offset)
    p.complete(12)
    p.complete(13)
    assert p.uncommitted() is None  # 10 still open: nothing may be committed
    p.complete(10)
    assert p.uncommitted() == 11
    p.complete(11)
    assert p.uncommitted() == 14  # 10..13 done, 14 open
    p.committed(14)
    assert p.uncommitted() is None
    p.complete(14)
    assert p.uncommitted() == 15
    assert p.in_flight == 0


def test_gaps_in_offsets_do_not_block_commits() -> None:
    # Compacted topics and transaction markers leave holes in the offsets delivered.
    p = PartitionOffsets()
    for offset in (3, 7, 8, 20):
        p.track(offset)
    for offset in (20, 8, 7, 3):
        p.complete(offset)
    assert p.uncommitted() == 21


def test_offsets_must_arrive_in_order() -> None:
    p = PartitionOffsets()
    p.track(5)
    with pytest.raises(ValueError):
        p.track(5)


def test_a_failed_commit_is_offered_again() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.track("p0", 0)
    tracker.complete("p0", 0)
    assert tracker.to_commit() == {"p0": 1}
    # The commit did not go through (no `committed` call): same position next time.
    assert tracker.to_commit() == {"p0": 1}
    tracker.committed({"p0": 1})
    assert tracker.to_commit() == {}


def test_partitions_are_independent_and_dropped_on_revoke() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    for offset in range(3):
        tracker.track("a", offset)
        tracker.track("b", offset)
    tracker.complete("a", 0)
    tracker.complete("b", 1)
    assert tracker.to_commit() == {"a": 1}
    assert tracker.in_flight() == 4
    tracker.drop(["a"])
    assert tracker.complete("a", 1) is False  # work of a revoked partition commits nothing
    assert tracker.to_commit(["a", "b"]) == {}
    assert tracker.partitions() == ["b"]


@pytest.mark.parametrize("seed", range(20))
def test_random_completion_order_never_commits_past_an_open_offset(seed: int) -> None:
    rng = random.Random(seed)
    offsets = sorted(rng.sample(range(1000), 60))
    p = PartitionOffsets()
    for offset in offsets:
        p.track(offset)
    order = offsets[:]
    rng.shuffle(order)
    done: set[int] = set()
    for offset in order:
        p.complete(offset)
        done.add(offset)
        position = p.uncommitted()
        if position is not None:
            below = [o for o in offsets if o < position]
            assert all(o in done for o in below)
            first_open = next((o for o in offsets if o not in done), None)
            assert first_open is None or position <= first_open
            p.committed(position)
    assert p.uncommitted() is None and p.in_flight == 0
