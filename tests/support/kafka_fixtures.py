"""A Kafka broker for tests, and helpers to create topics, produce events and collect output.

The broker, in order: ``$AGENTHER_TEST_BOOTSTRAP_SERVERS``; a testcontainers Kafka when
``AGENTHER_TEST_DOCKER=1`` and Docker answers; else the embedded Tansu broker (one per session).
Tests get uniquely named, pre-created topics, since Tansu would auto-create with 4 partitions.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from streams.broker import EmbeddedBroker

# Tansu answers a group join after session_timeout/2: keep it short so tests join quickly.
TEST_SESSION_TIMEOUT_MS = 2000


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    external = os.environ.get("AGENTHER_TEST_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if os.environ.get("AGENTHER_TEST_DOCKER") == "1":
        container = _docker_kafka()
        if container is not None:
            try:
                yield container.get_bootstrap_server()
            finally:
                container.stop()
            return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


def _docker_kafka() -> Any:
    try:
        from testcontainers.kafka import KafkaContainer
    except ImportError:
        return None
    try:
        return KafkaContainer().start()
    except Exception:  # Docker absent or unusable: fall back to the embedded broker
        return None


@dataclass(frozen=True)
class ServiceTopics:
    input: str
    output: str
    rejects: str
    dlq: str
    group: str

    def settings(self, bootstrap: str, **overrides: Any) -> Any:
        """ServiceSettings for these topics: rule-based, metrics off, fast group joins."""
        from agenther.config import PipelineConfig
        from streams.settings import ServiceSettings

        values: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "input_topic": self.input,
            "output_topic": self.output,
            "rejects_topic": self.rejects,
            "dlq_topic": self.dlq,
            "group_id": self.group,
            "metrics_port": 0,
            "create_topics": False,
            "session_timeout_ms": TEST_SESSION_TIMEOUT_MS,
            "fetch_max_wait_ms": 50,
            "shutdown_grace_s": 10,
            "retry_backoff_ms": 10,
            "retry_backoff_max_ms": 50,
            "pipeline": PipelineConfig(rule_based=True),
        }
        values.update(overrides)
        return ServiceSettings(**values)


TopicFactory = Callable[..., Any]


@pytest.fixture
def service_topics(kafka_bootstrap: str) -> Callable[..., Any]:
    """``await service_topics(partitions=2)`` → fresh input/output/rejects/dlq topics."""

    async def make(partitions: int = 2) -> ServiceTopics:
        tag = uuid.uuid4().hex[:10]
        topics = ServiceTopics(
            input=f"runs-{tag}",
            output=f"examples-{tag}",
            rejects=f"rejects-{tag}",
            dlq=f"dlq-{tag}",
            group=f"group-{tag}",
        )
        await create_topics(
            kafka_bootstrap,
            [topics.input, topics.output, topics.rejects, topics.dlq],
            partitions=partitions,
        )
        return topics

    return make


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 2) -> None:
    from streams.topics import ensure_topics

    await ensure_topics(bootstrap, names, partitions=partitions)


Message = bytes | dict[str, Any] | tuple[bytes | str | None, bytes | dict[str, Any]]


async def produce(bootstrap: str, topic: str, messages: Sequence[Message]) -> None:
    """Publish and wait for acks. A dict is sent as JSON keyed by its run id."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    try:
        futures = []
        for message in messages:
            key, value = _key_value(message)
            futures.append(await producer.send(topic, value=value, key=key))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def _key_value(message: Message) -> tuple[bytes | None, bytes]:
    if isinstance(message, tuple):
        key, value = message
        raw_key = key.encode() if isinstance(key, str) else key
        return raw_key, value if isinstance(value, bytes) else json.dumps(value).encode()
    if isinstance(message, dict):
        run_id = message.get("run_id") or message.get("trajectory_id")
        return (str(run_id).encode() if run_id else None), json.dumps(message).encode()
    return None, message


async def collect(
    bootstrap: str,
    topics: str | Sequence[str],
    *,
    until: Callable[[list[Any]], bool] | int,
    timeout_s: float = 20.0,
) -> list[Any]:
    """Records of ``topics`` from the beginning until ``until`` holds (or N records arrive).

    Returns what arrived by the timeout either way; the test's assertions say what was wanted.
    """
    from aiokafka import AIOKafkaConsumer

    names = [topics] if isinstance(topics, str) else list(topics)
    predicate = (lambda rs: len(rs) >= until) if isinstance(until, int) else until
    consumer = AIOKafkaConsumer(
        *names, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not predicate(records) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=100)
            records.extend(r for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    return records


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed position per partition (-1 where none).

    Read through a consumer of the group that never subscribes (so it does not join and
    trigger a rebalance); Tansu does not answer the admin client's OffsetFetch.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        out: dict[int, int] = {}
        for partition in sorted(partitions):
            offset = await consumer.committed(TopicPartition(topic, partition))
            out[partition] = -1 if offset is None else int(offset)
        return out
    finally:
        await consumer.stop()


async def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def headers_of(record: Any) -> dict[str, str]:
    return {name: value.decode() for name, value in (record.headers or ())}


@pytest.fixture
async def running_services() -> AsyncIterator[Callable[..., Any]]:
    """Start services in the background; all are stopped and awaited at teardown."""
    started: list[tuple[Any, asyncio.Task[int]]] = []

    async def start(settings: Any, **kwargs: Any) -> Any:
        from streams.processor import RelabelService

        service = RelabelService(settings, **kwargs)
        task = asyncio.create_task(service.run())
        started.append((service, task))
        return service

    yield start
    for service, _ in started:
        service.stop()
    for _, task in started:
        try:
            await asyncio.wait_for(task, 20)
        except (TimeoutError, Exception):
            task.cancel()
