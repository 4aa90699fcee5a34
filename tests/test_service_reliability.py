"""At-least-once under a crash, a group of two instances, and the backpressure bound."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import pytest

from agenther.config import PipelineConfig
from streams.processor import Outcome, RelabelService
from streams.sample_runs import FAILED_RUNS
from tests.support.fake_openai import FakeOpenAI
from tests.support.kafka_fixtures import collect, committed_offsets, headers_of, produce, wait_for

pytestmark = pytest.mark.kafka


def runs(tag: str, n: int) -> list[dict[str, Any]]:
    return [dict(FAILED_RUNS[i % len(FAILED_RUNS)], run_id=f"{tag}-{i:03d}") for i in range(n)]


async def test_crash_mid_stream_then_restart_loses_nothing(
    kafka_bootstrap: str, service_topics: Any, running_services: Any, fake_llm: FakeOpenAI
) -> None:
    topics = await service_topics(partitions=2)
    events = runs("crash", 24)
    ids = {e["run_id"] for e in events}
    await produce(kafka_bootstrap, topics.input, events)
    # A slow endpoint keeps work in flight when the first instance dies.
    fake_llm.latency = 0.05
    pipeline = PipelineConfig(base_url=fake_llm.base_url, api_key="sk-test", max_retries=0)
    settings = topics.settings(kafka_bootstrap, pipeline=pipeline, max_in_flight=4)

    first = RelabelService(settings)
    task = asyncio.create_task(first.run())
    assert await wait_for(lambda: sum(first.counts.values()) >= 6)
    # A crash: cancel the service task, so nothing is drained and nothing more is committed.
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=20)
    assert done, "the cancelled service was still stopping after 20 s"
    assert sum(first.counts.values()) < len(events)

    second = await running_services(settings)
    outputs = await collect(
        kafka_bootstrap,
        [topics.output, topics.rejects, topics.dlq],
        until=lambda rs: {r.key.decode() for r in rs} >= ids,
        timeout_s=40,
    )
    assert {r.key.decode() for r in outputs} == ids  # nothing lost
    example_ids: dict[str, set[str]] = defaultdict(set)
    for record in outputs:
        if record.topic == topics.output:
            example_ids[record.key.decode()].add(headers_of(record)["agenther-example-id"])
    # Duplicates, if any, repeat the same example id, so consumers can drop them.
    assert all(len(found) == 1 for found in example_ids.values())
    assert sum(first.counts.values()) + sum(second.counts.values()) >= len(events)

    async def fully_committed() -> bool:
        committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
        return sum(committed.values()) == len(events)

    assert await _eventually(fully_committed)


async def test_two_instances_in_one_group_split_the_partitions(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    topics = await service_topics(partitions=4)
    settings = topics.settings(kafka_bootstrap)
    first = await running_services(settings)
    await first.wait_joined(15)
    second = await running_services(settings)
    assert await wait_for(
        lambda: (
            len(first.assignment) + len(second.assignment) == 4
            and bool(first.assignment)
            and bool(second.assignment)
        ),
        timeout_s=20,
    )
    assert not first.assignment & second.assignment

    events = runs("pair", 40)
    await produce(kafka_bootstrap, topics.input, events)
    total = len(events)
    assert await wait_for(lambda: sum(first.counts.values()) + sum(second.counts.values()) >= total)
    assert sum(first.counts.values()) > 0 and sum(second.counts.values()) > 0
    outputs = await collect(kafka_bootstrap, [topics.output, topics.rejects], until=total)
    assert sorted(r.key.decode() for r in outputs) == sorted(e["run_id"] for e in events)


async def test_in_flight_work_is_bounded(
    kafka_bootstrap: str, service_topics: Any, running_services: Any, fake_llm: FakeOpenAI
) -> None:
    topics = await service_topics(partitions=2)
    fake_llm.latency = 0.02
    pipeline = PipelineConfig(base_url=fake_llm.base_url, api_key="sk-test", max_retries=0)
    events = runs("bound", 20)
    await produce(kafka_bootstrap, topics.input, events)
    service = await running_services(
        topics.settings(kafka_bootstrap, pipeline=pipeline, max_in_flight=3)
    )
    peak = 0

    def observe() -> bool:
        nonlocal peak
        peak = max(peak, service.in_flight)
        return sum(service.counts.values()) == len(events)

    assert await wait_for(observe, timeout_s=40)
    assert 1 <= peak <= 3
    # LLM calls of different runs overlapped: concurrency is real, not one run at a time.
    assert fake_llm.max_in_flight >= 2
    assert service.counts[Outcome.DEAD_LETTER] == 0


async def _eventually(check: Any, timeout_s: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_waits_for_an_absent_broker_and_is_ready_only_once_joined(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import aiohttp

    from streams.broker import EmbeddedBroker, free_port
    from tests.support.kafka_fixtures import ServiceTopics

    caplog.set_level(logging.WARNING, logger="streams.processor")
    broker_port, metrics_port = free_port(), free_port()
    topics = ServiceTopics("late-in", "late-out", "late-rej", "late-dlq", "late-group")
    settings = topics.settings(
        f"127.0.0.1:{broker_port}",
        create_topics=True,
        topic_partitions=1,
        metrics_port=metrics_port,
        metrics_host="127.0.0.1",
    )
    service = RelabelService(settings)
    task = asyncio.create_task(service.run())
    url = f"http://127.0.0.1:{metrics_port}"
    try:
        assert await wait_for(lambda: "not reachable" in caplog.text, timeout_s=10)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/readyz") as response:
                assert response.status == 503
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 200
            with EmbeddedBroker(port=broker_port):
                await service.wait_joined(20)
                async with http.get(f"{url}/readyz") as response:
                    assert response.status == 200
                await produce(settings.bootstrap_servers, topics.input, runs("late", 2))
                assert await wait_for(lambda: sum(service.counts.values()) == 2)
                service.stop()
                assert await asyncio.wait_for(task, 20) == 0
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
