"""Oversized outputs: a record the producer may not send is replaced, never retried forever.

The embedded broker (Tansu) enforces no size limit at all: it accepts a topic created with
``max.message.bytes=2000`` and then stores a 5,000-byte record in it, and it stored a 120 MB
record when asked. So the limit here is the client's own: the service's producer is a real
``AIOKafkaProducer`` built with a small ``max_request_size``, which refuses a larger record
with a non-retriable ``MessageSizeTooLargeError``, the same error class a Kafka broker
returns for a record over ``max.message.bytes``.

With the DPO format an example is about twice its run (the observations appear in both the
chosen and the rejected side), so a run of ~20 KB makes an example over a 32 KB limit while
its dead letter still fits, and a run of ~40 KB makes both too large. Expected
(``streams/delivery.py``): the refused example becomes a ``produce`` dead letter carrying the
original input bytes and headers; a refused dead letter keeps its key and headers, gains
``agenther-value-dropped`` and loses its value. Every input offset is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from agenther.config import PipelineConfig
from agenther.models import OutputFormat
from agenther.pipeline import AgentHERPipeline
from streams.delivery import VALUE_DROPPED_HEADER
from streams.events import AgentRunEvent, event_to_trajectory
from streams.processor import Outcome, RelabelService
from streams.sample_runs import FAILED_RUNS
from tests.support.faults import unique_runs
from tests.support.kafka_fixtures import collect, committed_offsets, headers_of, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]

LIMIT = 32 * 1024  # the producer's max_request_size: no record over it is ever sent
TRACE = ("trace-id", b"trace-0123")  # a header of the input that every dead letter keeps


def small_request_producer(limit: int = LIMIT) -> Any:
    """A ``producer_factory``: the service's own producer settings, a ``limit``-byte cap."""

    def factory(**kwargs: Any) -> AIOKafkaProducer:
        return AIOKafkaProducer(**{**kwargs, "max_request_size": limit})

    return factory


async def example_run(run_id: str, pad_bytes: int) -> bytes:
    """A valid failed run, its last observation ``pad_bytes`` longer (plain words), that the
    service's rule pipeline turns into an example: the first sample run that does, so rule
    tuning cannot quietly turn this test's examples into rejections."""
    words = " lorem ipsum dolor"
    pipeline = AgentHERPipeline(PipelineConfig(rule_based=True, output_format=OutputFormat.DPO))
    try:
        for run in unique_runs(run_id, len(FAILED_RUNS)):
            run["run_id"] = run_id
            run["steps"][-1]["observation"] += words * (pad_bytes // len(words))
            trajectory = event_to_trajectory(AgentRunEvent.model_validate(run))
            if (await pipeline.arelabel(trajectory)).success:
                return json.dumps(run).encode()
    finally:
        await pipeline.aclose()
    pytest.fail("no sample run makes an example any more: this test needs one")


async def produce_with_headers(
    bootstrap: str, topic: str, messages: Sequence[tuple[bytes, bytes]]
) -> None:
    """In order, one partition, every record carrying ``TRACE``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    try:
        for key, value in messages:
            await (await producer.send(topic, value=value, key=key, headers=[TRACE]))
    finally:
        await producer.stop()


async def test_refused_outputs_become_dead_letters_and_every_offset_is_committed(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    topics = await service_topics(partitions=1)
    fits = await example_run("fits-00000", 0)
    big_example = await example_run("big-example", 20_000)  # example ~42 KB, letter ~21 KB
    big_everything = await example_run("big-everything", 40_000)  # example ~82 KB, letter ~41 KB
    big_poison = b'{"run_id": "big-poison", "steps": [' + b"9" * 40_000  # decode dead letter
    small_poison = b'{"run_id": "small-poison"'
    inputs = [
        (b"fits-00000", fits),
        (b"big-example", big_example),
        (b"big-everything", big_everything),
        (b"big-poison", big_poison),
        (b"small-poison", small_poison),
    ]
    assert len(big_example) < LIMIT - 2048 < LIMIT + 2048 < len(big_everything)
    await produce_with_headers(kafka_bootstrap, topics.input, inputs)

    settings = topics.settings(kafka_bootstrap, output_format=OutputFormat.DPO)
    service = await running_services(settings, producer_factory=small_request_producer())
    assert await wait_for(lambda: sum(service.counts.values()) == len(inputs), timeout_s=20), (
        service.counts
    )
    await service.commit_now()
    # Nothing stuck: the partition moved past every input.
    assert await committed_offsets(kafka_bootstrap, topics.group, topics.input) == {0: 5}
    assert service.counts == {Outcome.EXAMPLE: 1, Outcome.DEAD_LETTER: 4}

    outputs = await collect(
        kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=5, timeout_s=10
    )
    # One output per input: no refused record was retried into several.
    assert sorted(r.key for r in outputs) == sorted(k for k, _ in inputs)
    by_key = {r.key: r for r in outputs}

    example = by_key[b"fits-00000"]
    assert example.topic == topics.output
    assert "agenther-example-id" in headers_of(example)

    def letter(key: bytes, offset: int, stage: str) -> tuple[Any, dict[str, str]]:
        record = by_key[key]
        assert record.topic == topics.dlq, (key, record.topic)
        names = [name for name, _ in record.headers]
        assert len(names) == len(set(names)), (key, names)  # no header added twice
        headers = headers_of(record)
        assert headers["trace-id"] == TRACE[1].decode(), key  # the input's own header
        assert headers["agenther-stage"] == stage, (key, headers)
        assert headers["agenther-source-topic"] == topics.input
        assert headers["agenther-source-partition"] == "0"
        assert headers["agenther-source-offset"] == str(offset)
        assert headers["agenther-attempts"] == "1"
        return record, headers

    # The example was refused: the dead letter is the original input, byte for byte.
    record, headers = letter(b"big-example", 1, "produce")
    assert record.value == big_example
    assert headers["agenther-error-type"] == "MessageSizeTooLargeError"
    assert "max_request_size" in headers["agenther-error"]
    assert VALUE_DROPPED_HEADER not in headers

    # The example and then its dead letter were refused: headers kept, value gone.
    record, headers = letter(b"big-everything", 2, "produce")
    assert record.value is None
    assert headers["agenther-error-type"] == "MessageSizeTooLargeError"
    assert headers[VALUE_DROPPED_HEADER] == "broker refused the size"

    # A poison input too large to dead-letter whole: same, at the decode stage.
    record, headers = letter(b"big-poison", 3, "decode")
    assert record.value is None
    assert headers["agenther-error-type"] == "EventDecodeError"
    assert headers[VALUE_DROPPED_HEADER] == "broker refused the size"

    # The limit only bites when exceeded: a small poison keeps its bytes.
    record, headers = letter(b"small-poison", 4, "decode")
    assert record.value == small_poison
    assert VALUE_DROPPED_HEADER not in headers


class RoundTripProducer(AIOKafkaProducer):  # type: ignore[misc]
    """A real producer whose ``send`` first yields to the event loop, as a send refused by a
    broker does (its answer takes a round trip). Without it, the bug below refuses the same
    record synchronously in a loop that never yields, and the test could not even observe it:
    the whole event loop (heartbeats, health endpoint, this test) freezes."""

    sends = 0

    async def send(self, topic: str, *args: Any, **kwargs: Any) -> Any:
        RoundTripProducer.sends += 1
        await asyncio.sleep(0.001)
        return await super().send(topic, *args, **kwargs)


async def test_a_dead_letter_whose_key_alone_is_too_large_does_not_stall_the_partition(
    kafka_bootstrap: str, service_topics: Any
) -> None:
    topics = await service_topics(partitions=1)
    huge_key = b"k" * (LIMIT + 8 * 1024)
    await produce_with_headers(
        kafka_bootstrap, topics.input, [(huge_key, b"{not json"), (b"after", b"{not json")]
    )
    RoundTripProducer.sends = 0

    def factory(**kwargs: Any) -> AIOKafkaProducer:
        return RoundTripProducer(**{**kwargs, "max_request_size": LIMIT})

    service = RelabelService(topics.settings(kafka_bootstrap), producer_factory=factory)
    task = asyncio.create_task(service.run())
    try:
        # Both inputs end (the first as a findable dead letter without key or value if need
        # be), and the partition moves on past them.
        done = await wait_for(lambda: sum(service.counts.values()) == 2, timeout_s=3)
        sends = RoundTripProducer.sends
        assert done, f"stuck after {sends} sends of the first input's dead letter"
        await service.commit_now()
        assert await committed_offsets(kafka_bootstrap, topics.group, topics.input) == {0: 2}
        letters = await collect(kafka_bootstrap, topics.dlq, until=2, timeout_s=5)
        first = next(r for r in letters if headers_of(r)["agenther-source-offset"] == "0")
        assert not first.value  # None, or empty where the key had to go too
        assert [n for n, _ in first.headers].count(VALUE_DROPPED_HEADER) == 1
    finally:
        service.stop()
        # The buggy loop ignores stop(): cancel it rather than wait out running_services' 20 s.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 1)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
