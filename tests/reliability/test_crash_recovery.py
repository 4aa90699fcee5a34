"""Crash recovery: 10,000 events, ``kill -9`` of the service three times at random points, a
restart each time. Every run id is accounted for afterwards; duplicates are only repeats of
the same output (same example id, same bytes), and the test reports how many there were."""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.faults import (
    RecordTap,
    ServiceProcess,
    hostile_corpus,
    produce_raw,
    serve_args,
    unique_runs,
)
from tests.support.kafka_fixtures import committed_offsets, headers_of

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]

TOTAL = 10_000
HOSTILE = 100
SUCCESS_EVERY = 20  # successes are skipped: they leave no record, only a committed offset
KILLS = 3


def _at_least(count: int) -> Callable[[list[Any]], bool]:
    return lambda records: len(records) >= count


async def test_kill_9_three_times_loses_nothing(
    kafka_bootstrap: str, service_topics: Any, record_property: Any
) -> None:
    rng = random.Random(20260302)
    topics = await service_topics(partitions=2)
    valid = unique_runs("crash", TOTAL - HOSTILE, success_every=SUCCESS_EVERY)
    poison = hostile_corpus(HOSTILE, seed=9, big_values=0)
    stream = [(v["run_id"].encode(), json.dumps(v).encode()) for v in valid]
    stream += [(m.key, m.value) for m in poison]
    rng.shuffle(stream)
    skipped = {v["run_id"].encode() for v in valid if v["status"] == "success"}
    expected = {key for key, _ in stream} - skipped
    await produce_raw(kafka_bootstrap, topics.input, stream)

    service = ServiceProcess(serve_args(topics, kafka_bootstrap, "--rule-based"))
    # Kill points: a random share of the expected outputs within each third of the run.
    targets = [
        int(len(expected) * rng.uniform(k / 3 + 0.05, (k + 1) / 3 - 0.05)) for k in range(KILLS)
    ]
    kills: list[int] = []
    started = time.monotonic()
    async with RecordTap(kafka_bootstrap, [topics.output, topics.rejects, topics.dlq]) as tap:
        with service:
            for target in targets:
                reached = await tap.wait_until(_at_least(target), timeout_s=60)
                assert reached, service.log_text()[-3000:]
                service.kill9()
                kills.append(len(tap.records))
                service.start()
            done = await tap.wait_until(
                lambda rs: len({r.key for r in rs}) >= len(expected), timeout_s=90
            )
            assert done, service.log_text()[-3000:]
            assert service.terminate() == 0  # the last instance stops gracefully
        elapsed = time.monotonic() - started
        outputs = list(tap.records)
    assert service.starts == KILLS + 1

    # Every run id is accounted for: an output record, or a skipped success whose offset is
    # committed (checked below: the group's position covers every input).
    keys = {r.key for r in outputs}
    assert keys == expected, (len(expected - keys), len(keys - expected))
    committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
    assert sum(committed.values()) == TOTAL, committed

    # Duplicates exist only as repeats of the same output.
    by_key: dict[bytes, list[Any]] = defaultdict(list)
    for record in outputs:
        by_key[record.key].append(record)
    duplicates = 0
    for key, records in by_key.items():
        assert len({r.topic for r in records}) == 1, key
        if records[0].topic == topics.output:
            ids = {headers_of(r)["agenther-example-id"] for r in records}
            assert len(ids) == 1, (key, ids)
            # Same content too, apart from the creation time stamp.
            bodies = {json.dumps({**json.loads(r.value), "created_at": None}) for r in records}
            assert len(bodies) == 1, key
        elif records[0].topic == topics.rejects:
            assert len({r.value for r in records}) == 1, key
        else:
            assert len({r.value for r in records}) == 1, key
        duplicates += len(records) - 1

    record_property("duplicates", duplicates)
    record_property("kill_points", kills)
    record_property("seconds", round(elapsed, 1))
    print(
        f"crash recovery: {TOTAL} events, kill -9 after {kills} outputs, "
        f"{duplicates} duplicate outputs, {elapsed:.1f}s"
    )
