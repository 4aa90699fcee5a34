"""Before the service joins its group: the LLM endpoints answer, and the Kafka clients start.

Both wait with capped backoff for what may come up later (a broker starting, an endpoint out
of quota) and give up only on a stop, or on a configuration that can never work.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import KafkaConnectionError, KafkaError

from agenther.errors import LLMFatalError, LLMQuotaError, LLMTransientError
from agenther.pipeline import AgentHERPipeline
from streams.dead_letters import SecretScrubber
from streams.retry import Backoff
from streams.settings import ServiceSettings
from streams.stopping import StopSignal
from streams.topics import ensure_topics

logger = logging.getLogger("streams.processor")

_CONNECT_BACKOFF = Backoff(initial_s=0.5, max_s=10.0)
_PRODUCER_LINGER_MS = 5
_PRODUCER_BATCH_BYTES = 1024 * 1024

ProducerFactory = Callable[..., Any]


async def check_llm(pipeline: AgentHERPipeline, stop: StopSignal, scrubber: SecretScrubber) -> bool:
    """One minimal request per LLM endpoint before joining the group, so the service is never
    ready with a key or model that cannot work: a wrong key or model raises ``LLMFatalError``
    (after saying so); an endpoint that is down or out of quota is waited for. False if
    stopped first."""
    attempt = 0
    while not stop.is_set():
        attempt += 1
        try:
            await pipeline.acheck_endpoints()
            return True
        except LLMFatalError as exc:
            logger.error(
                "the LLM endpoint refuses this configuration, not starting: %s",
                scrubber.describe(exc),
            )
            raise
        except (LLMTransientError, LLMQuotaError) as exc:
            delay = max(_CONNECT_BACKOFF.ceiling(attempt), exc.retry_after or 0.0)
            logger.warning(
                "LLM endpoint not usable yet (attempt %d: %s); retrying in %.1fs",
                attempt,
                scrubber.describe(exc),
                delay,
            )
            await stop.sleep(delay)
    return False


async def connect(
    s: ServiceSettings,
    producer_factory: ProducerFactory,
    listener: ConsumerRebalanceListener,
    stop: StopSignal,
    scrubber: SecretScrubber,
) -> tuple[AIOKafkaConsumer, Any] | None:
    """The started consumer (subscribed with ``listener``) and producer; None if stopped
    before the broker answered."""
    assert s.bootstrap_servers is not None
    kwargs = s.kafka_client_kwargs()
    attempt = 0
    while not stop.is_set():
        attempt += 1
        consumer: AIOKafkaConsumer | None = None
        producer: Any = None
        try:
            if s.create_topics:
                await ensure_topics(
                    s.bootstrap_servers,
                    [s.input_topic, s.output_topic, s.rejects_topic, s.dlq_topic],
                    partitions=s.topic_partitions,
                    replication_factor=s.replication_factor,
                    client_kwargs=kwargs,
                )
            producer = producer_factory(
                bootstrap_servers=s.bootstrap_servers,
                acks="all",
                linger_ms=_PRODUCER_LINGER_MS,
                # Examples are several KB: the 16 KB default holds two, and every further
                # send to that partition then waits for the batch to drain.
                max_batch_size=_PRODUCER_BATCH_BYTES,
                # Dead letters carry the original value, which may be up to the broker's
                # limit even when it exceeds our max_event_bytes.
                max_request_size=max(8 * 1024 * 1024, 2 * s.max_event_bytes),
                **kwargs,
            )
            await producer.start()
            consumer = AIOKafkaConsumer(
                bootstrap_servers=s.bootstrap_servers,
                group_id=s.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                session_timeout_ms=s.session_timeout_ms,
                heartbeat_interval_ms=max(100, s.session_timeout_ms // 3),
                fetch_max_wait_ms=s.fetch_max_wait_ms,
                **kwargs,
            )
            consumer.subscribe([s.input_topic], listener=listener)
            await consumer.start()
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            for client in (consumer, producer):
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.stop()
            delay = _CONNECT_BACKOFF.ceiling(attempt)
            logger.warning(
                "Kafka at %s not reachable (attempt %d: %s); retrying in %.1fs",
                s.bootstrap_servers,
                attempt,
                scrubber.describe(exc),
                delay,
            )
            await stop.sleep(delay)
            continue
        return consumer, producer
    return None
