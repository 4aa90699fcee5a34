"""Rebalances mid-stream: members join, leave and die while they work through a backlog.

Two ``agenther serve`` processes share one consumer group on a 4-partition input topic. A
feeder keeps at least ``BACKLOG`` unique runs waiting until the last membership change is over,
so every rebalance finds its members saturated (``MAX_IN_FLIGHT`` events in flight each),
whatever the machine's speed; the total (a few thousand) is whatever it took. Member A starts
alone; member B joins and takes half the partitions; then A leaves gracefully (SIGTERM: it
drains, commits and leaves the group) or is ``kill -9``-ed with events in flight (its
partitions come back only when its session expires); a fresh member C joins, takes partitions
from B, and drains the rest with B.

Each member relabels in one worker process (``--workers 1``), so an event in flight is really
waiting before it writes anything, as it would be on an LLM call: a member that gave up
in-flight work at a revoke but committed past it would lose those runs. (In-process, a rule run
is synchronous: by the time a revoke runs, every event in flight has handed its output to the
producer already, and such a bug would go unseen.)

Afterwards every run id is in the outputs at least once (nothing lost), every input offset is
committed, and a run that came out more than once came out the same each time: same topic,
same key, same example id, and the same value bytes apart from the ``created_at`` time stamp
(see ``test_a_run_processed_twice_repeats_its_example_byte_for_byte`` for that one). A graceful
handoff processes nothing twice; after a kill the duplicates are counted
(``record_property("duplicates", ...)``).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tests.support.faults import RecordTap, ServiceProcess, serve_args, unique_runs
from tests.support.kafka_fixtures import (
    collect,
    committed_offsets,
    headers_of,
    produce,
    wait_for,
)

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]

PARTITIONS = 4
MAX_IN_FLIGHT = 16  # per member
BACKLOG = 1500  # runs kept waiting (as far as the outputs show) until the last join
CHUNK = 500
CREATED_AT = re.compile(rb'"created_at":"[^"]*"')
IN_FLIGHT = re.compile(r"^agenther_in_flight (\S+)$", re.MULTILINE)


class Feeder:
    """Keeps ``BACKLOG`` runs waiting ahead of the outputs ``tap`` has seen, producing unique
    runs in chunks until ``stop()``; ``keys`` are the run ids produced and acknowledged."""

    def __init__(self, bootstrap: str, topic: str, tap: RecordTap) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.tap = tap
        self.keys: set[bytes] = set()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def sent(self) -> int:
        return len(self.keys)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            chunk = 0
            while not self._stop.is_set():
                if self.sent - len(self.tap.records) >= BACKLOG:
                    await asyncio.sleep(0.02)
                    continue
                runs = unique_runs(f"rebalance-{chunk:03d}", CHUNK)
                chunk += 1
                futures = [
                    await producer.send(
                        self.topic, value=json.dumps(r).encode(), key=r["run_id"].encode()
                    )
                    for r in runs
                ]
                await asyncio.gather(*futures)
                self.keys.update(r["run_id"].encode() for r in runs)
        finally:
            await producer.stop()

    async def stop(self) -> None:
        """Stop after the chunk being produced is acknowledged."""
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()


def held(service: ServiceProcess) -> set[str]:
    """The partitions the member holds now, by its log: the last assignment since its last
    start, unless a revocation came after it."""
    log = service.log_text()
    log = log[log.rfind("--- start") :]
    holding: set[str] = set()
    for line in log.splitlines():
        if "partitions revoked: " in line:
            holding = set()
        elif "partitions assigned: " in line:
            names = line.split("partitions assigned: ", 1)[1].strip()
            holding = set() if names == "(none)" else set(names.split(", "))
    return holding


async def when_busy(member: ServiceProcess, timeout_s: float = 15.0) -> int:
    """Returns once ``member`` has ``MAX_IN_FLIGHT`` events in flight (its ``/metrics``
    gauge): work fetched, not yet written or committed. Returns that count."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _, metrics = await asyncio.to_thread(member.http_get, "/metrics", 0.5)
        found = IN_FLIGHT.search(metrics)
        if found and float(found.group(1)) >= MAX_IN_FLIGHT:
            return int(float(found.group(1)))
        await asyncio.sleep(0.005)
    raise AssertionError(f"the member never had {MAX_IN_FLIGHT} events in flight")


def settled(members: Sequence[ServiceProcess], partitions: int) -> Callable[[], bool]:
    """True once every member holds some partitions and together they hold them all."""

    def check() -> bool:
        holdings = [held(m) for m in members]
        return all(holdings) and len(set().union(*holdings)) == partitions

    return check


def finished(service: Any, count: int) -> Callable[[], bool]:
    return lambda: sum(service.counts.values()) == count


def at_least(count: int) -> Callable[[list[Any]], bool]:
    return lambda records: len(records) >= count


def without_time_stamp(value: bytes | None) -> bytes | None:
    return None if value is None else CREATED_AT.sub(b'"created_at":null', value)


def check_duplicates(outputs: Sequence[Any], example_topic: str) -> tuple[int, int]:
    """Asserts every repeat of a key equals its first copy; returns (duplicates, repeats whose
    bytes differ only in ``created_at``)."""
    by_key: dict[bytes, list[Any]] = defaultdict(list)
    for record in outputs:
        by_key[record.key].append(record)
    duplicates = restamped = 0
    for key, records in by_key.items():
        first = records[0]
        for again in records[1:]:
            assert again.topic == first.topic, (key, headers_of(first), headers_of(again))
            if first.topic == example_topic:
                assert (
                    headers_of(again)["agenther-example-id"]
                    == headers_of(first)["agenther-example-id"]
                ), key
                assert without_time_stamp(again.value) == without_time_stamp(first.value), key
                restamped += again.value != first.value
            else:
                assert again.value == first.value, key
            duplicates += 1
    return duplicates, restamped


async def rebalance_scenario(
    bootstrap: str, topics: Any, record_property: Any, *, kill: bool
) -> None:
    args = serve_args(
        topics, bootstrap, "--rule-based", "--workers", "1", "--max-in-flight", str(MAX_IN_FLIGHT)
    )
    a, b, c = ServiceProcess(args), ServiceProcess(args), ServiceProcess(args)
    started = time.monotonic()
    async with RecordTap(bootstrap, [topics.output, topics.rejects, topics.dlq]) as tap:
        feed = Feeder(bootstrap, topics.input, tap)
        try:
            feed.start()
            a.start()
            # A alone, working.
            assert await tap.wait_until(at_least(100), timeout_s=30), a.log_text()[-3000:]
            # B joins: the group settles with both members holding partitions.
            b.start()
            assert await wait_for(settled([a, b], PARTITIONS), timeout_s=30), (
                held(a),
                held(b),
                b.log_text()[-3000:],
            )
            # A goes with events in flight.
            in_flight = await when_busy(a)
            fault_at = len(tap.records)
            if kill:
                a.kill9()
            else:
                assert a.terminate() == 0, a.log_text()[-3000:]
                log = a.log_text()
                assert "partitions revoked" in log and "stopped (" in log, log[-3000:]
            # A fresh member joins and takes partitions from B; together they drain the rest.
            c.start()
            assert await wait_for(settled([b, c], PARTITIONS), timeout_s=30), (
                held(b),
                held(c),
                c.log_text()[-3000:],
            )
            await feed.stop()
            expected = feed.keys
            done = await tap.wait_until(
                lambda rs: len({r.key for r in rs}) >= len(expected), timeout_s=60
            )
            missing = len(expected - {r.key for r in tap.records})
            assert done, f"{missing} of {len(expected)} runs never came out"
            assert b.terminate() == 0, b.log_text()[-3000:]
            assert c.terminate() == 0, c.log_text()[-3000:]
            outputs = list(tap.records)
        finally:
            feed.cancel()
            for member in (a, b, c):
                member.close()
    elapsed = time.monotonic() - started

    # Nothing lost: every run id came out, and the group's position covers every input.
    total = len(expected)
    keys = {r.key for r in outputs}
    assert keys == expected, (len(expected - keys), len(keys - expected))
    committed = await committed_offsets(bootstrap, topics.group, topics.input)
    assert sum(committed.values()) == total, (committed, total)
    # Duplicates only repeat the same output.
    duplicates, restamped = check_duplicates(outputs, topics.output)
    if not kill:
        # A graceful handoff drains and commits before the partitions move (docs/service.md,
        # "Upgrading"): nothing is processed twice.
        assert duplicates == 0, duplicates

    record_property("events", total)
    record_property("duplicates", duplicates)
    record_property("duplicates_differing_only_in_created_at", restamped)
    record_property("outputs_before_fault", fault_at)
    record_property("in_flight_at_fault", in_flight)
    record_property("seconds", round(elapsed, 1))
    print(
        f"rebalance ({'kill -9' if kill else 'graceful leave'}): {total} events, fault after "
        f"{fault_at} outputs ({in_flight} in flight); {duplicates} duplicates ({restamped} "
        f"differing in created_at only), {elapsed:.1f}s"
    )


async def test_a_member_joining_then_leaving_mid_stream_loses_nothing(
    kafka_bootstrap: str, service_topics: Any, record_property: Any
) -> None:
    topics = await service_topics(partitions=PARTITIONS)
    await rebalance_scenario(kafka_bootstrap, topics, record_property, kill=False)


async def test_a_member_killed_mid_stream_loses_nothing(
    kafka_bootstrap: str, service_topics: Any, record_property: Any
) -> None:
    topics = await service_topics(partitions=PARTITIONS)
    await rebalance_scenario(kafka_bootstrap, topics, record_property, kill=True)


async def test_a_run_processed_twice_repeats_its_example_byte_for_byte(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    """What a redelivery after a crash or a rebalance does, made deterministic: the same input
    record processed twice (by two groups, one after the other)."""
    topics = await service_topics(partitions=1)
    await produce(kafka_bootstrap, topics.input, unique_runs("twice", 1))
    for group in (topics.group, topics.group + "-again"):
        service = await running_services(topics.settings(kafka_bootstrap, group_id=group))
        assert await wait_for(finished(service, 1), timeout_s=20)
        await asyncio.sleep(0.01)  # a different millisecond, as any real redelivery is
    outputs = await collect(kafka_bootstrap, topics.output, until=2, timeout_s=10)
    assert len(outputs) == 2
    first, again = outputs
    assert headers_of(first)["agenther-example-id"] == headers_of(again)["agenther-example-id"]
    assert without_time_stamp(first.value) == without_time_stamp(again.value)
    assert again.value == first.value
