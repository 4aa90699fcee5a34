"""The at-least-once rule, checked without racing anything: an input offset is committed only
after every record it produced is acknowledged.

The service's producer is a real aiokafka producer whose acknowledgements are held back until
the test releases them. The records are on the broker, the service has not heard so yet, and
the test asks the service to commit right then: nothing may be committed. Moving the offset's
completion before the acknowledgement (``scripts/mutation-check commit-before-ack``) makes this
test fail; the 50 ms commit coalescing used to hide that bug from every timing-based test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from streams.processor import Outcome
from tests.support.faults import unique_runs
from tests.support.kafka_fixtures import collect, committed_offsets, produce, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]


class HeldAckProducer:
    """An ``AIOKafkaProducer`` whose send futures resolve only after ``release()``."""

    def __init__(self, **kwargs: Any) -> None:
        self._inner = AIOKafkaProducer(**kwargs)
        self._released = asyncio.Event()
        self.sends = 0
        self.acked_by_broker = 0

    async def start(self) -> None:
        await self._inner.start()

    async def stop(self) -> None:
        self._released.set()
        await self._inner.stop()

    def release(self) -> None:
        self._released.set()

    async def send(self, topic: str, **kwargs: Any) -> asyncio.Future[Any]:
        acked = await self._inner.send(topic, **kwargs)
        held: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sends += 1

        async def relay() -> None:
            try:
                metadata = await acked
            except Exception as exc:
                await self._released.wait()
                held.set_exception(exc)
                return
            self.acked_by_broker += 1
            await self._released.wait()
            held.set_result(metadata)

        asyncio.get_running_loop().create_task(relay())
        return held


async def test_no_offset_is_committed_while_its_outputs_await_acknowledgement(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    topics = await service_topics(partitions=1)
    # An example, a dead letter and a rejection-or-example: three kinds of output.
    runs = unique_runs("held", 2)
    await produce(kafka_bootstrap, topics.input, [runs[0], (b"poison", b"{not json"), runs[1]])
    producers: list[HeldAckProducer] = []

    def factory(**kwargs: Any) -> HeldAckProducer:
        producers.append(HeldAckProducer(**kwargs))
        return producers[-1]

    service = await running_services(topics.settings(kafka_bootstrap), producer_factory=factory)
    assert await wait_for(lambda: bool(producers) and producers[-1].acked_by_broker == 3)
    producer = producers[-1]
    try:
        # The broker has all three outputs; the service has not been told.
        outputs = await collect(
            kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=3
        )
        assert len(outputs) == 3
        assert sum(service.counts.values()) == 0

        await service.commit_now()
        committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
        assert all(offset <= 0 for offset in committed.values()), committed
    finally:
        producer.release()
    assert await wait_for(lambda: sum(service.counts.values()) == 3)
    assert service.counts[Outcome.DEAD_LETTER] == 1
    await service.commit_now()
    assert await committed_offsets(kafka_bootstrap, topics.group, topics.input) == {0: 3}
