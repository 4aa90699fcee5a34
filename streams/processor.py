"""The service runtime: a consumer-group member that relabels runs and commits safely.

It connects (waiting for the broker, checking the LLM endpoint once), consumes with
backpressure, hands each record to ``streams.handler`` for a decision, writes it with
``streams.delivery``, and commits. Guarantees (at-least-once):

- an input offset is committed only after every record it produced is acknowledged;
- per partition the commit is the lowest contiguous completed offset, since runs finish out
  of order while their LLM calls overlap;
- every event ends as exactly one of: example, rejection, dead letter, skipped success;
- a poison event becomes a dead letter, so its partition moves on; so does an event the LLM
  endpoint refuses for its content (too long for the context, a content filter);
- positions are only committed on top of the offsets this member committed: partitions lost
  with the group membership are not committed, and a partition whose group offset moved under
  us (a broker that restarted empty) restarts from what the broker holds;
- a configuration error (bad key, unknown model, a dead rule worker pool) stops the service
  without committing that event; an exhausted LLM quota pauses it (``streams.quota_pause``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from agenther.errors import LLMFatalError, LLMQuotaError, LLMTransientError
from agenther.pipeline import AgentHERPipeline
from streams.dead_letters import SecretScrubber
from streams.delivery import Delivery
from streams.events import EventCodec
from streams.group_leave import leave_generation_zero
from streams.handler import Abandoned, Decision, EventHandler, Fatal, Outcome
from streams.health import HealthServer
from streams.metrics import ServiceMetrics
from streams.offsets import OffsetTracker
from streams.quota_pause import QuotaPause
from streams.retry import Backoff
from streams.settings import ServiceSettings
from streams.stopping import StopSignal
from streams.topics import ensure_topics
from streams.workers import RulePool

logger = logging.getLogger(__name__)

__all__ = ["EXIT_FATAL", "EXIT_OK", "Outcome", "RelabelService"]

EXIT_OK = 0
EXIT_FATAL = 3  # stopped on a configuration error; the offending event is not committed

_COMMIT_COALESCE_S = 0.05
_LAG_INTERVAL_S = 1.0
_POLL_TIMEOUT_MS = 200
_PRODUCER_LINGER_MS = 5
_PRODUCER_BATCH_BYTES = 1024 * 1024
_CONNECT_BACKOFF = Backoff(initial_s=0.5, max_s=10.0)

ProducerFactory = Callable[..., Any]


class RelabelService:
    """One service instance: a consumer-group member and its producer.

    ``run()`` returns an exit code; ``stop()`` asks for a graceful stop from anywhere (signal
    handler, test). ``counts`` tallies outcomes of acknowledged events. ``producer_factory``
    builds the producer from aiokafka's keyword arguments (tests wrap it to hold back acks).
    """

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        pipeline: AgentHERPipeline | None = None,
        metrics: ServiceMetrics | None = None,
        producer_factory: ProducerFactory = AIOKafkaProducer,
    ) -> None:
        if not settings.bootstrap_servers:
            raise ValueError("RelabelService needs bootstrap_servers (start a broker first)")
        self.settings = settings
        self.bootstrap_servers: str = settings.bootstrap_servers
        self.metrics = metrics or ServiceMetrics()
        self.scrubber = SecretScrubber(settings.secret_values())
        self._owns_pipeline = pipeline is None
        self.pipeline = pipeline or AgentHERPipeline(
            settings.pipeline.model_copy(update={"output_format": settings.output_format})
        )
        if self.pipeline.llm is not None:
            self.pipeline.llm.usage.add_listener(self.metrics.on_llm_request)
            self.pipeline.llm.usage.add_failure_listener(self.metrics.on_llm_failure)
            self.pipeline.llm.usage.add_rung_listener(self.metrics.on_llm_rung)
        self._pool: RulePool | None = None
        if settings.workers and not self.pipeline.config.uses_llm:
            self._pool = RulePool(self.pipeline.config, settings.workers)
        elif settings.workers:
            logger.info("workers=%d ignored: LLM stages run in-process", settings.workers)
        self.codec = EventCodec(settings.schema_registry_url, settings.max_event_bytes)
        self.counts: Counter[Outcome] = Counter()
        self.metrics_port: int | None = None
        self.exit_code = EXIT_OK

        self._producer_factory = producer_factory
        self._stop = StopSignal()
        self._quota = QuotaPause(
            Backoff(initial_s=settings.quota_pause_s, max_s=settings.quota_pause_max_s),
            self.metrics,
            self._stop,
        )
        self._handler: EventHandler | None = None
        self._delivery: Delivery | None = None
        self._slot_freed = asyncio.Event()
        self._commit_wanted = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._ready = False
        self._fatal = False
        self._joined = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: Any = None
        self._tasks: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._revoking: set[TopicPartition] = set()
        self._in_flight = 0
        self._offsets: OffsetTracker[TopicPartition] = OffsetTracker()
        # Bumped when a partition's tracking restarts, so work begun before it cannot mark an
        # offset of the new tracking done.
        self._epochs: Counter[TopicPartition] = Counter()
        self._last_commit: dict[TopicPartition, int] = {}

    # -- state for health checks and tests -------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready and not self._stop.is_set() and not self._quota.closed

    def not_ready_reason(self) -> str:
        if self._stop.is_set():
            return "stopping"
        if self._quota.closed:
            return f"LLM quota exhausted: paused for {self._quota.seconds_left:.0f}s more"
        return "" if self._ready else "not yet consuming (LLM endpoint or Kafka group join)"

    @property
    def live(self) -> bool:
        return not self._fatal

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def assignment(self) -> set[TopicPartition]:
        return set(self._consumer.assignment()) if self._consumer is not None else set()

    async def wait_joined(self, timeout_s: float) -> None:
        await asyncio.wait_for(self._joined.wait(), timeout_s)

    async def commit_now(self) -> None:
        """Commit what may be committed, now (the commit loop does this 50 ms after work
        completes; tests call it to check the commit rule without racing that loop)."""
        await self._commit()

    def stop(self) -> None:
        if not self._stop.is_set():
            logger.info("stopping: no new events are fetched, in-flight work is drained")
        self._stop.set()
        self._slot_freed.set()

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> int:
        health: HealthServer | None = None
        if self.settings.metrics_port:
            health = HealthServer(
                self.metrics.registry,
                is_live=lambda: self.live,
                is_ready=lambda: self.ready,
                not_ready_reason=self.not_ready_reason,
                host=self.settings.metrics_host,
                port=self.settings.metrics_port,
            )
            self.metrics_port = await health.start()
        background: list[asyncio.Task[None]] = []
        try:
            if self._pool is not None:
                await self._pool.start()
            if await self._check_llm() and await self._connect():
                background = [
                    asyncio.create_task(self._commit_loop(), name="agenther-commit"),
                    asyncio.create_task(self._lag_loop(), name="agenther-lag"),
                ]
                await self._consume()
                await self._drain()
        finally:
            # Reached without draining only when cancelled: in-flight work stays uncommitted.
            orphans = [t for group in self._tasks.values() for t in group]
            for task in [*background, *orphans]:
                task.cancel()
            await asyncio.gather(*orphans, return_exceptions=True)
            for task in background:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception:  # a helper task's bug must not turn a clean stop into exit 1
                    logger.exception("background task %s failed", task.get_name())
            await self._close()
            if health is not None:
                await health.stop()
        return self.exit_code

    async def _check_llm(self) -> bool:
        """One minimal request per LLM endpoint before joining the group, so the service is
        never ready with a key or model that cannot work. A wrong key or model stops it
        (exit 3); an endpoint that is down or out of quota is waited for. False if stopped."""
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            try:
                await self.pipeline.acheck_endpoints()
                return True
            except LLMFatalError as exc:
                self._fatal = True
                self.exit_code = EXIT_FATAL
                logger.error(
                    "the LLM endpoint refuses this configuration, not starting: %s",
                    self.scrubber.describe(exc),
                )
                return False
            except (LLMTransientError, LLMQuotaError) as exc:
                delay = max(_CONNECT_BACKOFF.ceiling(attempt), exc.retry_after or 0.0)
                logger.warning(
                    "LLM endpoint not usable yet (attempt %d: %s); retrying in %.1fs",
                    attempt,
                    self.scrubber.describe(exc),
                    delay,
                )
                await self._stop.sleep(delay)
        return False

    async def _connect(self) -> bool:
        """Start clients, waiting for the broker with capped backoff; False if stopped first."""
        attempt = 0
        s = self.settings
        kwargs = s.kafka_client_kwargs()
        while not self._stop.is_set():
            attempt += 1
            consumer: AIOKafkaConsumer | None = None
            producer: Any = None
            try:
                if s.create_topics:
                    await ensure_topics(
                        self.bootstrap_servers,
                        [s.input_topic, s.output_topic, s.rejects_topic, s.dlq_topic],
                        partitions=s.topic_partitions,
                        replication_factor=s.replication_factor,
                        client_kwargs=kwargs,
                    )
                producer = self._producer_factory(
                    bootstrap_servers=self.bootstrap_servers,
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
                    bootstrap_servers=self.bootstrap_servers,
                    group_id=s.group_id,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    session_timeout_ms=s.session_timeout_ms,
                    heartbeat_interval_ms=max(100, s.session_timeout_ms // 3),
                    fetch_max_wait_ms=s.fetch_max_wait_ms,
                    **kwargs,
                )
                consumer.subscribe([s.input_topic], listener=_Rebalance(self))
                await consumer.start()
            except (KafkaConnectionError, KafkaError, OSError) as exc:
                for client in (consumer, producer):
                    if client is not None:
                        with contextlib.suppress(Exception):
                            await client.stop()
                delay = _CONNECT_BACKOFF.ceiling(attempt)
                logger.warning(
                    "Kafka at %s not reachable (attempt %d: %s); retrying in %.1fs",
                    self.bootstrap_servers,
                    attempt,
                    self.scrubber.describe(exc),
                    delay,
                )
                await self._stop.sleep(delay)
                continue
            self._consumer, self._producer = consumer, producer
            self._handler = EventHandler(
                s,
                self.pipeline,
                self.codec,
                pool=self._pool,
                scrubber=self.scrubber,
                metrics=self.metrics,
                stop=self._stop,
                quota=self._quota,
            )
            self._delivery = Delivery(
                producer,
                dead_letter=self._handler.dead_letter,
                scrubber=self.scrubber,
                stop=self._stop,
            )
            logger.info(
                "consuming %s as group %s from %s",
                s.input_topic,
                s.group_id,
                self.bootstrap_servers,
            )
            return True
        return False

    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        limit = self.settings.max_in_flight
        while not self._stop.is_set():
            if self._quota.closed:
                await self._hold(lambda: self._quota.closed)
                continue
            free = limit - self._in_flight
            if free <= 0:
                # Full: stop fetching so buffered records do not pile up, until a slot frees.
                await self._hold(lambda: self._in_flight >= limit)
                continue
            try:
                batch = await consumer.getmany(timeout_ms=_POLL_TIMEOUT_MS, max_records=free)
            except KafkaError as exc:
                # aiokafka recovers connections itself; a fetch error must not end the service.
                logger.warning("fetch failed: %s", self.scrubber.describe(exc))
                await self._stop.sleep(1.0)
                continue
            for tp, records in batch.items():
                if tp in self._revoking:
                    continue  # the next owner reads them from the committed position
                for record in records:
                    self._start(tp, record)

    async def _hold(self, busy: Callable[[], bool]) -> None:
        """Fetch nothing while ``busy()``; the partitions stay ours."""
        consumer = self._consumer
        assert consumer is not None
        paused = set(consumer.assignment())
        consumer.pause(*paused)
        while busy() and not self._stop.is_set():
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_freed.wait(), _POLL_TIMEOUT_MS / 1000)
            # Paused partitions return nothing, but the poll keeps this member in the group:
            # one that stops polling for max_poll_interval_ms (5 min) is expelled.
            with contextlib.suppress(KafkaError):
                await consumer.getmany(timeout_ms=0)
        consumer.resume(*(paused & consumer.assignment() - self._revoking))

    def _start(self, tp: TopicPartition, record: Any) -> None:
        self._offsets.track(tp, record.offset)
        self.metrics.events_consumed.inc()
        self._in_flight += 1
        self.metrics.in_flight.set(self._in_flight)
        task = asyncio.create_task(self._process(tp, record, self._epochs[tp]))
        self._tasks.setdefault(tp, set()).add(task)

        def finished(t: asyncio.Task[None]) -> None:
            self._tasks.get(tp, set()).discard(t)
            self._in_flight -= 1
            self.metrics.in_flight.set(self._in_flight)
            self._slot_freed.set()

        task.add_done_callback(finished)

    async def _drain(self) -> None:
        """Wait for in-flight work up to ``shutdown_grace_s``, then commit what is done."""
        consumer = self._consumer
        if consumer is not None:
            consumer.pause(*consumer.assignment())
        tasks = [t for group in self._tasks.values() for t in group]
        if tasks:
            logger.info("draining %d in-flight events", len(tasks))
            _, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_s)
            if pending:
                logger.warning(
                    "%d events still in flight after %.0fs; they stay uncommitted",
                    len(pending),
                    self.settings.shutdown_grace_s,
                )
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        await self._commit()

    async def _close(self) -> None:
        if self._consumer is not None:
            await leave_generation_zero(self._consumer)
        for client in (self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        self._consumer = self._producer = None
        self._ready = False
        self.metrics.ready.set(0)
        await self.codec.aclose()
        if self._pool is not None:
            self._pool.close()
        if self._owns_pipeline:
            await self.pipeline.aclose()
        done = ", ".join(f"{k.value}={v}" for k, v in self.counts.items()) or "no events"
        logger.info("stopped (%s)", done)

    # -- rebalancing -----------------------------------------------------------------------

    async def _on_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        revoked = set(revoked)
        if not revoked:
            return
        self._revoking |= revoked
        lost = self._consumer is not None and _membership_lost(self._consumer)
        tasks = [t for tp in revoked for t in self._tasks.get(tp, set())]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_s)
            for task in pending:
                task.cancel()
        if lost:
            # The group no longer knows this member: the partitions may be someone else's, or
            # the broker forgot the group (restarted empty). Either way our positions are void.
            logger.warning(
                "group membership lost: not committing %s; they restart from the group's "
                "committed offsets",
                _names(revoked),
            )
        else:
            await self._commit(revoked)
        self._forget(revoked)
        for tp in revoked:
            self._tasks.pop(tp, None)
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(tp.topic, str(tp.partition))
        logger.info("partitions revoked: %s", _names(revoked))

    def _on_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        assigned = set(assigned)
        self._revoking -= assigned
        self._ready = True
        self.metrics.ready.set(1)
        self._joined.set()
        logger.info("partitions assigned: %s", _names(assigned) or "(none)")

    # -- committing ------------------------------------------------------------------------

    async def _commit_loop(self) -> None:
        while True:
            await self._commit_wanted.wait()
            self._commit_wanted.clear()
            await asyncio.sleep(_COMMIT_COALESCE_S)
            await self._commit()

    async def _commit(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        async with self._commit_lock:
            assigned = consumer.assignment()
            chosen = assigned if partitions is None else set(partitions) & assigned
            positions = self._offsets.to_commit(chosen)
            if positions:
                positions = await self._still_ours(consumer, positions)
            if not positions:
                return
            try:
                await consumer.commit(positions)
            except KafkaError as exc:
                # Nothing is lost: the offsets stay uncommitted and are retried next time.
                logger.warning("commit failed: %s", self.scrubber.describe(exc))
                return
            self._offsets.committed(positions)
            self._last_commit.update(positions)
            logger.debug(
                "committed %s", {f"{t.topic}-{t.partition}": o for t, o in positions.items()}
            )

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
            logger.warning("commit check failed: %s", self.scrubber.describe(exc))
            return {}
        safe = dict(positions)
        for tp, offset in zip(known, found, strict=True):
            if offset == self._last_commit[tp]:
                continue
            del safe[tp]
            logger.warning(
                "%s: the group's committed offset is %s, not the %d this member committed "
                "(the broker lost the group's state); restarting the partition from %s",
                _name(tp),
                offset,
                self._last_commit[tp],
                "the beginning" if offset is None else offset,
            )
            self._forget([tp])
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        return safe

    def _forget(self, partitions: Iterable[TopicPartition]) -> None:
        partitions = list(partitions)
        self._offsets.drop(partitions)
        for tp in partitions:
            self._epochs[tp] += 1
            self._last_commit.pop(tp, None)

    async def _lag_loop(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while True:
            await asyncio.sleep(_LAG_INTERVAL_S)
            for tp in consumer.assignment():
                # A rebalance may take the partition away between assignment() and these calls;
                # aiokafka then asserts (or finds no assignment at all). Lag is skipped, not
                # fatal: a dead lag task used to fail the whole shutdown with exit 1.
                try:
                    highwater = consumer.highwater(tp)
                    if highwater is None:
                        continue
                    position = await asyncio.wait_for(consumer.position(tp), 0.5)
                except (TimeoutError, KafkaError, AssertionError, AttributeError):
                    continue
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(0, highwater - position)
                )

    # -- one event -------------------------------------------------------------------------

    async def _process(self, tp: TopicPartition, record: Any, epoch: int) -> None:
        assert self._handler is not None and self._delivery is not None
        try:
            decision = await self._handler.decide(record)
            # The at-least-once rule: the offset is marked done only after ``deliver`` has
            # seen every output acknowledged.
            await self._delivery.deliver(record, decision)
        except Fatal as exc:
            self._fatal = True
            self.exit_code = EXIT_FATAL
            logger.error(
                "fatal %s error on %s@%d, stopping without committing it: %s",
                "worker" if isinstance(exc.__cause__, BrokenProcessPool) else "LLM",
                _name(tp),
                record.offset,
                self.scrubber.describe(exc.__cause__ or exc),
            )
            self.stop()
            return
        except Abandoned:
            return
        if self._epochs[tp] == epoch and self._offsets.complete(tp, record.offset):
            self._commit_wanted.set()
        self._account(decision)

    def _account(self, decision: Decision) -> None:
        self.counts[decision.outcome] += 1
        m = self.metrics
        if decision.outcome is Outcome.EXAMPLE:
            m.examples_produced.labels(decision.label).inc()
        elif decision.outcome is Outcome.REJECTION:
            m.rejections.labels(decision.label).inc()
        elif decision.outcome is Outcome.DEAD_LETTER:
            m.dead_letters.labels(decision.label, decision.reason).inc()
        else:
            m.successes_skipped.inc()
        if decision.origin_s is not None:
            m.event_latency.observe(max(0.0, time.time() - decision.origin_s))


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: RelabelService) -> None:
        self._service = service

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._service._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._service._on_assigned(assigned)


def _membership_lost(consumer: AIOKafkaConsumer) -> bool:
    """True once aiokafka reset the generation: the coordinator no longer knew this member
    (session expired, or the broker restarted without its group state). aiokafka's listener
    has no "partitions lost" callback (the Java client's ``onPartitionsLost``), so the
    coordinator's generation is read directly; -1 is Kafka's "no generation"."""
    generation = getattr(getattr(consumer, "_coordinator", None), "generation", None)
    return isinstance(generation, int) and generation < 0


def _name(tp: TopicPartition) -> str:
    return f"{tp.topic}-{tp.partition}"


def _names(tps: Iterable[TopicPartition]) -> str:
    return ", ".join(sorted(_name(tp) for tp in tps))
