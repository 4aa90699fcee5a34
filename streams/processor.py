"""The service runtime: a consumer-group member that relabels runs and commits safely.

It connects (``streams.startup``: waiting for the broker, checking the LLM endpoint once),
consumes with backpressure, assembles trace input into runs (``streams.trace_assembly``), hands
each run to ``streams.handler`` for a decision, writes it with ``streams.delivery``, and commits
(``streams.commits``). Guarantees (at-least-once):

- an input offset is committed only after every record it produced is acknowledged; a message
  of trace spans, only after every trace it carried spans of has its outcome, and never so
  that a relabeled trace is cut in two;
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
from aiokafka.errors import KafkaError

from agenther.errors import LLMFatalError
from agenther.inputs import InputMappingError
from agenther.pipeline import AgentHERPipeline
from streams.commits import Commits
from streams.dead_letters import SecretScrubber
from streams.delivery import Delivery
from streams.events import EventCodec
from streams.group_leave import leave_generation_zero
from streams.handler import DECODE_STAGE, Abandoned, Decision, EventHandler, Fatal, Outcome
from streams.health import HealthServer
from streams.metrics import ServiceMetrics
from streams.quota_pause import QuotaPause
from streams.retry import Backoff
from streams.settings import ServiceSettings
from streams.startup import ProducerFactory, check_llm, connect
from streams.stopping import StopSignal
from streams.trace_assembly import (
    TRACE_FORMATS,
    AssembledTrace,
    DeadLetterNow,
    TraceAssembler,
    trace_spans,
)
from streams.workers import RulePool

logger = logging.getLogger(__name__)

__all__ = ["EXIT_FATAL", "EXIT_OK", "Outcome", "RelabelService"]

EXIT_OK = 0
EXIT_FATAL = 3  # stopped on a configuration error; the offending event is not committed

_ASSEMBLY_TICK_S = 0.1
_LAG_INTERVAL_S = 1.0
_POLL_TIMEOUT_MS = 200


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
        self.codec = EventCodec(
            settings.schema_registry_url,
            settings.max_event_bytes,
            input_format=settings.input_format,
        )
        self._traces: TraceAssembler | None = None
        if settings.input_format in TRACE_FORMATS:
            self._traces = TraceAssembler(settings.trace_grace_s, settings.trace_max_wait_s)
        traces = self._traces
        self._commits = Commits(
            self.scrubber,
            floor=traces.commit_floor if traces is not None else None,
            # Their spans are read again from the committed offset by whoever owns them next.
            on_forget=traces.drop if traces is not None else None,
        )
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
        self._ready = False
        self._fatal = False
        self._joined = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: Any = None
        self._tasks: dict[TopicPartition, set[asyncio.Task[None]]] = {}
        self._revoking: set[TopicPartition] = set()
        self._in_flight = 0

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

    async def _commit(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        if self._consumer is not None:
            await self._commits.commit(self._consumer, partitions)

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
                await self._pool.start()  # each worker warms its own pipeline
            else:
                await asyncio.to_thread(self.pipeline.warm_up)
            if await self._check_llm() and await self._connect():
                background = [
                    asyncio.create_task(self._commits.loop(self._consumer), name="agenther-commit"),
                    asyncio.create_task(self._lag_loop(), name="agenther-lag"),
                ]
                if self._traces is not None:
                    background.append(
                        asyncio.create_task(self._assembly_loop(), name="agenther-traces")
                    )
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
        try:
            return await check_llm(self.pipeline, self._stop, self.scrubber)
        except LLMFatalError:
            self._fatal = True
            self.exit_code = EXIT_FATAL
            return False

    async def _connect(self) -> bool:
        """Start clients, waiting for the broker; False if stopped first."""
        s = self.settings
        clients = await connect(
            s, self._producer_factory, _Rebalance(self), self._stop, self.scrubber
        )
        if clients is None:
            return False
        self._consumer, self._producer = clients
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
            self._producer,
            dead_letter=self._handler.dead_letter,
            scrubber=self.scrubber,
            stop=self._stop,
        )
        logger.info(
            "consuming %s as group %s from %s", s.input_topic, s.group_id, self.bootstrap_servers
        )
        return True

    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        limit = self.settings.max_in_flight
        while not self._stop.is_set():
            if self._quota.closed:
                await self._hold(lambda: self._quota.closed)
                continue
            if self._traces_full():
                # Full of traces waiting for their roots or grace: they close by time.
                await self._hold(self._traces_full)
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
        epoch = self._commits.track(tp, record.offset)
        self.metrics.events_consumed.inc()
        value = record.value
        # An oversized message is not parsed at all: the handler dead-letters it unread.
        if self._traces is not None and value and len(value) <= self.settings.max_event_bytes:
            try:
                spans = trace_spans(value, self.settings.input_format)
            except Exception as exc:  # whatever the bytes are, they must not stop the service
                reason = exc.reason if isinstance(exc, InputMappingError) else repr(exc)
                self._launch(tp, record, DeadLetterNow(type(exc).__name__, reason))
                return
            if spans is not None:
                if not self._traces.add(tp, record, spans):
                    # A message without spans: nothing to wait for.
                    self._commits.done(tp, [record.offset], epoch)
                return
        self._launch(tp, record)

    def _traces_full(self) -> bool:
        traces = self._traces
        return traces is not None and traces.open >= self.settings.max_open_traces

    def _launch(
        self, tp: TopicPartition, record: Any, verdict: DeadLetterNow | None = None
    ) -> None:
        self._in_flight += 1
        self.metrics.in_flight.set(self._in_flight)
        epoch = self._commits.epoch(tp)
        task = asyncio.create_task(self._process(tp, record, epoch, verdict))
        self._tasks.setdefault(tp, set()).add(task)

        def finished(t: asyncio.Task[None]) -> None:
            self._tasks.get(tp, set()).discard(t)
            self._in_flight -= 1
            self.metrics.in_flight.set(self._in_flight)
            self._slot_freed.set()

        task.add_done_callback(finished)

    def _launch_due_traces(self, *, flush: bool = False) -> None:
        assert self._traces is not None
        for tp, trace in self._traces.due(flush=flush):
            self._launch(tp, trace)
        self.metrics.open_traces.set(self._traces.open)

    async def _assembly_loop(self) -> None:
        assert self._traces is not None
        while True:
            await asyncio.sleep(_ASSEMBLY_TICK_S)
            self._launch_due_traces()

    async def _drain(self) -> None:
        """Wait for in-flight work up to ``shutdown_grace_s``, then commit what is done."""
        consumer = self._consumer
        if consumer is not None:
            consumer.pause(*consumer.assignment())
        if self._traces is not None:
            # A trace whose root has come is relabeled now; one still without it stays
            # uncommitted and is assembled again after the restart.
            self._launch_due_traces(flush=True)
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
        self._commits.forget(revoked)
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

    async def _process(
        self, tp: TopicPartition, record: Any, epoch: int, verdict: DeadLetterNow | None = None
    ) -> None:
        assert self._handler is not None and self._delivery is not None
        try:
            if verdict is not None:
                decision = self._handler.dead_letter(
                    record,
                    DECODE_STAGE,
                    None,
                    attempts=1,
                    error_type=verdict.kind,
                    error=verdict.reason,
                )
            else:
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
        if self._commits.epoch(tp) == epoch:
            if isinstance(record, AssembledTrace):
                assert self._traces is not None
                # A message is done once every trace it carried spans of is.
                self._commits.done(tp, self._traces.finished(tp, record), epoch)
            else:
                self._commits.done(tp, [record.offset], epoch)
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
