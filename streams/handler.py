"""One input record in, one decision out: example, rejection, dead letter or skipped success.

No Kafka calls here: the handler decodes, relabels (retrying, pausing or stopping as
``streams.error_policy`` says) and encodes what should be written. The runtime
(``streams.processor``) writes the decision with ``streams.delivery`` and commits.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from agenther.config import PIPELINE_VERSION
from agenther.errors import LLMQuotaError, StageError
from agenther.inputs import InputMappingError
from agenther.inputs.genai_trace import run_from_trace
from agenther.models import FailedTrajectory
from agenther.pipeline import AgentHERPipeline, PipelineResult
from streams.dead_letters import Headers, SecretScrubber, build_dead_letter
from streams.error_policy import Action, action_for
from streams.events import (
    AgentRunEvent,
    EventCodec,
    EventDecodeError,
    Rejection,
    event_to_trajectory,
    training_example_from_sample,
)
from streams.metrics import ServiceMetrics
from streams.quota_pause import QuotaPause
from streams.retry import Backoff
from streams.schema_registry import SchemaRegistryUnavailableError
from streams.settings import ServiceSettings
from streams.stopping import StopSignal
from streams.trace_assembly import AssembledTrace
from streams.workers import RulePool

logger = logging.getLogger(__name__)

DECODE_STAGE = "decode"
SERVICE_STAGE = "service"
PRODUCE_STAGE = "produce"


class Outcome(StrEnum):
    EXAMPLE = "example"
    REJECTION = "rejection"
    DEAD_LETTER = "dead_letter"
    SKIPPED = "skipped_success"


@dataclass
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)


@dataclass
class Decision:
    """What one input event turned into, before it is written."""

    outcome: Outcome
    records: list[Outgoing]
    label: str = ""  # format, rejection stage, or dead-letter stage
    reason: str = ""  # dead-letter error class
    origin_s: float | None = None  # event time, for the latency histogram


class Fatal(Exception):
    """The configuration is wrong (``LLMFatalError``) or the rule worker pool died: the event
    stays uncommitted and the service stops. ``__cause__`` is the error."""


class Abandoned(Exception):
    """The service is stopping: leave the event uncommitted for redelivery."""


class EventHandler:
    def __init__(
        self,
        settings: ServiceSettings,
        pipeline: AgentHERPipeline,
        codec: EventCodec,
        *,
        pool: RulePool | None,
        scrubber: SecretScrubber,
        metrics: ServiceMetrics,
        stop: StopSignal,
        quota: QuotaPause,
    ) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.codec = codec
        self._pool = pool
        self._scrubber = scrubber
        self._metrics = metrics
        self._stop = stop
        self._quota = quota
        self._backoff = Backoff.from_ms(settings.retry_backoff_ms, settings.retry_backoff_max_ms)
        self._predicate = settings.failure_predicate()

    async def decide(self, record: Any) -> Decision:
        """Raises only ``Fatal`` and ``Abandoned``; any other error becomes a dead letter, so
        a bug of ours cannot stall the partition either."""
        try:
            return await self._decide(record)
        except (Fatal, Abandoned):
            raise
        except Exception as exc:
            logger.exception(
                "unexpected error on %s-%d@%d", record.topic, record.partition, record.offset
            )
            return self.dead_letter(record, SERVICE_STAGE, exc, attempts=1)

    async def _decide(self, record: Any) -> Decision:
        s = self.settings
        value: bytes | None = record.value
        if value is not None and len(value) > s.max_event_bytes:
            return self.dead_letter(
                record,
                DECODE_STAGE,
                None,
                attempts=1,
                error_type="EventTooLarge",
                error=f"value of {len(value)} bytes exceeds max_event_bytes={s.max_event_bytes}",
            )
        if isinstance(record, AssembledTrace) and not s.emit_successes and self._succeeded(record):
            # Told before mapping: a success needs no message content to be skipped.
            return Decision(Outcome.SKIPPED, [], origin_s=_record_time(record))
        try:
            event = await self._decode(record, value)
            if event.status == "success" and not s.emit_successes:
                return Decision(Outcome.SKIPPED, [], origin_s=_origin(record, event))
            trajectory = event_to_trajectory(event)
        except EventDecodeError as exc:
            return self.dead_letter(
                record, DECODE_STAGE, exc, attempts=1, error=exc.reason or str(exc)
            )
        origin = _origin(record, event)
        made_at = _made_at(record, event)
        if event.status == "success":
            sample = self.pipeline.positive_example(trajectory)
            example = training_example_from_sample(sample, event.run_id, created_at=made_at)
            return await self._example(example, origin)

        result, attempts = await self._relabel(record, trajectory)
        if isinstance(result, StageError):
            return self.dead_letter(
                record, result.stage, result.cause, attempts=attempts, origin_s=origin
            )
        if result.success and result.sample is not None:
            example = training_example_from_sample(result.sample, event.run_id, created_at=made_at)
            return await self._example(example, origin)
        return await self._rejection(event, result, origin)

    async def _decode(self, record: Any, value: bytes | None) -> AgentRunEvent:
        """Decode, waiting out a schema registry outage: an Avro event is not poison just
        because its writer schema could not be fetched right now."""
        if isinstance(record, AssembledTrace):
            return self._trace_event(record)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.codec.decode_run_event(value)
            except SchemaRegistryUnavailableError as exc:
                if attempt > self.settings.transient_retries:
                    raise
                delay = self._backoff.delay(attempt)
                self._metrics.transient_retries.inc()
                logger.info(
                    "schema registry unavailable for %s-%d@%d, retrying in %.2fs",
                    record.topic,
                    record.partition,
                    record.offset,
                    delay,
                )
                if await self._stop.sleep(delay):
                    raise Abandoned() from exc

    def _succeeded(self, trace: AssembledTrace) -> bool:
        root = next((span for span in trace.spans if span.is_root), None)
        if trace.problem is not None or root is None:
            return False
        return self._predicate.failure_reason(trace.spans, root) is None

    def _trace_event(self, trace: AssembledTrace) -> AgentRunEvent:
        if trace.problem is not None:
            raise EventDecodeError(trace.problem)
        try:
            data = run_from_trace(trace.spans, self._predicate)
        except InputMappingError as exc:
            raise EventDecodeError(f"trace {trace.trace_id}: {exc.reason}") from None
        return self.codec.validate_event(data)

    async def _relabel(
        self, record: Any, trajectory: FailedTrajectory
    ) -> tuple[PipelineResult | StageError, int]:
        """The pipeline's result, or the ``StageError`` to dead-letter, and the attempts made.

        A quota pause is not an attempt: the event waits with everyone else and tries again.
        """
        retries = self.settings.transient_retries
        attempt = 0
        while True:
            if await self._quota.wait_open():
                raise Abandoned()
            attempt += 1
            started = time.perf_counter()
            try:
                if self._pool is not None:
                    result = await self._pool.relabel(trajectory)
                else:
                    result = await self.pipeline.arelabel(trajectory)
            except StageError as exc:
                self._metrics.pipeline_duration.labels(exc.stage).observe(
                    time.perf_counter() - started
                )
                action = action_for(exc.cause)
                if action is Action.STOP:
                    raise Fatal() from exc.cause
                if action is Action.PAUSE:
                    assert isinstance(exc.cause, LLMQuotaError)
                    if self._quota.close(exc.cause.retry_after):
                        logger.warning(
                            "LLM quota exhausted (%s); all work paused for %.1fs, nothing is "
                            "dead-lettered",
                            self._scrubber.scrub(str(exc.cause), 300),
                            self._quota.seconds_left,
                        )
                    attempt -= 1
                    continue
                if action is not Action.RETRY or attempt > retries:
                    return exc, attempt
                # Never sooner than the endpoint asked (a 429's retry-after).
                retry_after = getattr(exc.cause, "retry_after", None) or 0.0
                delay = max(self._backoff.delay(attempt), retry_after)
                self._metrics.transient_retries.inc()
                logger.info(
                    "transient LLM error on %s-%d@%d (attempt %d of %d), retrying in %.2fs",
                    record.topic,
                    record.partition,
                    record.offset,
                    attempt,
                    retries + 1,
                    delay,
                )
                if await self._stop.sleep(delay):
                    raise Abandoned() from exc
                continue
            except Exception as exc:
                if action_for(exc) is Action.STOP:  # the rule worker pool died
                    raise Fatal() from exc
                raise
            self._metrics.pipeline_duration.labels(result.stage_reached).observe(
                time.perf_counter() - started
            )
            self._quota.succeeded()
            return result, attempt

    async def _rejection(
        self, event: AgentRunEvent, result: PipelineResult, origin: float | None
    ) -> Decision:
        rejection = Rejection(
            run_id=event.run_id,
            stage=result.stage_reached,
            reason=self._scrubber.scrub(result.error or "rejected"),
            **result.analysis_fields(),
        )
        topic = self.settings.rejects_topic
        value = await self.codec.encode_rejection(rejection, topic=topic)
        return Decision(
            Outcome.REJECTION,
            [Outgoing(topic, event.run_id.encode(), value)],
            label=result.stage_reached,
            origin_s=origin,
        )

    async def _example(self, example: Any, origin: float | None) -> Decision:
        topic = self.settings.output_topic
        value = await self.codec.encode_training_example(example, topic=topic)
        headers: Headers = [
            ("agenther-example-id", example.example_id.encode()),
            ("agenther-format", str(example.format).encode()),
            ("agenther-pipeline-version", PIPELINE_VERSION.encode()),
        ]
        return Decision(
            Outcome.EXAMPLE,
            [Outgoing(topic, example.run_id.encode(), value, headers)],
            label=str(example.format),
            origin_s=origin,
        )

    def dead_letter(
        self,
        record: Any,
        stage: str,
        exc: BaseException | None,
        *,
        attempts: int,
        error_type: str | None = None,
        error: str | None = None,
        origin_s: float | None = None,
    ) -> Decision:
        """The record's original key, value and headers for the dead-letter topic, with the
        reason in headers; for an assembled trace, one letter per message that carried it."""
        kind = error_type or (type(exc).__name__ if exc is not None else "Error")
        text = error if error is not None else (self._scrubber.describe(exc) if exc else kind)
        parts = record.parts if isinstance(record, AssembledTrace) else [record]
        letters = [
            build_dead_letter(
                key=part.key,
                value=part.value,
                original_headers=list(part.headers or ()),
                source_topic=part.topic,
                source_partition=part.partition,
                source_offset=part.offset,
                stage=stage,
                error_type=kind,
                error=text,
                attempts=attempts,
                scrubber=self._scrubber,
            )
            for part in parts
        ]
        logger.warning(
            "dead letter for %s-%d@%d at %s: %s",
            record.topic,
            record.partition,
            record.offset,
            stage,
            self._scrubber.scrub(f"{kind}: {text}", 300),
        )
        return Decision(
            Outcome.DEAD_LETTER,
            [
                Outgoing(self.settings.dlq_topic, letter.key, letter.value, list(letter.headers))
                for letter in letters
            ],
            label=stage,
            reason=kind,
            origin_s=origin_s if origin_s is not None else _record_time(record),
        )


def _made_at(record: Any, event: AgentRunEvent) -> datetime | None:
    """A time stamp that a redelivery repeats: the event's time, else the input record's."""
    if "event_time" in event.model_fields_set:  # else it defaults to the decoding time
        return event.event_time
    seconds = _record_time(record)
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _record_time(record: Any) -> float | None:
    timestamp = getattr(record, "timestamp", None)
    return timestamp / 1000.0 if isinstance(timestamp, int) and timestamp > 0 else None


def _origin(record: Any, event: AgentRunEvent) -> float | None:
    event_time = getattr(event, "event_time", None)
    if isinstance(event_time, datetime) and event_time.tzinfo is not None:
        return event_time.timestamp()
    return _record_time(record)
