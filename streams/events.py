"""What goes over the topics: run events in, training examples and rejections out.

Input is detected per message: a first byte 0 means Confluent-framed Avro (the writer schema
comes from the registry by id), anything else is UTF-8 JSON, either in the ``AgentRunEvent``
shape or in the reference trajectory shape (``trajectory_id``, no ``status``: a failure).
Every kind of bad input ends as ``EventDecodeError`` with a short reason that is safe to put
in a dead-letter header: it names what is wrong, never echoes the payload.

Output is JSON by default, Confluent-framed Avro when a registry is configured, with schemas
registered under ``<topic>-value`` (TopicNameStrategy).
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agenther.config import PIPELINE_VERSION
from agenther.errors import InvalidTrajectoryError
from agenther.inputs import InputFormat, InputMappingError
from agenther.inputs.openai_chat import run_from_chat
from agenther.inputs.records import record_format
from agenther.models import AgentStep, AugmentedSample, FailedTrajectory
from streams import avro_codec
from streams.schema_registry import SchemaNotFoundError, SchemaRegistryClient

DEFAULT_MAX_EVENT_BYTES = 1_048_576
DEFAULT_MAX_STEPS = 2000
MAX_JSON_DEPTH = 64
MAX_REASON_CHARS = 200
# Avro long range: a larger integer cannot be written to the Avro contracts or most sinks.
_INT_LIMIT = 2**63

DEFAULT_INPUT_TOPIC = "agent-runs"
DEFAULT_OUTPUT_TOPIC = "her-examples"
DEFAULT_REJECTS_TOPIC = "her-rejects"

RunStatus = Literal["failure", "success", "unknown"]


M = TypeVar("M", bound=BaseModel)


class EventDecodeError(InvalidTrajectoryError):
    """A message that is not a usable run event. ``reason`` is safe for a dead-letter header."""

    def __init__(self, reason: str) -> None:
        self.reason = (
            reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"
        )
        super().__init__(self.reason)


class RunStep(BaseModel):
    """One step of a run, as on the wire (mirrors ``agenther.models.AgentStep``)."""

    model_config = ConfigDict(extra="ignore")

    thought: str = ""
    action_name: str = Field(..., min_length=1)
    action_input: dict[str, Any] = Field(default_factory=dict)
    observation: str

    @field_validator("action_input", mode="before")
    @classmethod
    def _arguments_may_be_json_text(cls, value: Any) -> Any:
        # OpenAI-style tool calls carry arguments as a JSON string; accept both spellings.
        if isinstance(value, str):
            return _loads_object(value.encode("utf-8"), what="action_input")
        return value


class AgentRunEvent(BaseModel):
    """One finished agent run on the input topic (schema ``schemas/AgentRunEvent.avsc``)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str = Field(..., min_length=1, max_length=256)
    source: str = "unknown"
    event_time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    status: RunStatus = "unknown"
    original_prompt: str = Field(..., min_length=1)
    steps: list[RunStep] = Field(..., min_length=1)
    final_answer: str = ""
    failure_reason: str = ""
    tools: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    agent_version: str | None = None  # schema v2

    @field_validator("event_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class TrainingExample(BaseModel):
    """One training example on the output topic (schema ``schemas/TrainingExample.avsc``)."""

    example_id: str
    run_id: str
    format: str
    record: str  # the trainer's line as JSON text
    weight: float = Field(..., ge=0.0, le=1.0)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    failure_type: str | None = None
    pipeline_version: str = PIPELINE_VERSION
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Rejection(BaseModel):
    """A run the pipeline declined, on the rejects topic (schema ``schemas/Rejection.avsc``)."""

    run_id: str
    stage: str
    reason: str
    failure_type: str | None = None
    # Stage 1's analysis, so what was turned down can be counted by failure type and weight.
    severity: float | None = None
    weight: float | None = None
    recoverable: bool | None = None


def event_to_trajectory(event: AgentRunEvent) -> FailedTrajectory:
    """The library's view of a run; EventDecodeError if the library would not accept it."""
    if not event.steps:
        raise EventDecodeError("steps: the run has no steps")
    try:
        return FailedTrajectory(
            trajectory_id=event.run_id,
            original_prompt=event.original_prompt,
            steps=[AgentStep(**step.model_dump()) for step in event.steps],
            final_answer=event.final_answer,
            failure_reason=event.failure_reason,
            metadata=event.metadata,
            tools=event.tools,
        )
    except ValidationError as exc:
        raise EventDecodeError(_validation_reason(exc)) from None


def trajectory_to_event(
    t: FailedTrajectory, status: RunStatus = "failure", source: str = "file"
) -> AgentRunEvent:
    return AgentRunEvent(
        run_id=t.trajectory_id,
        source=source,
        status=status,
        original_prompt=t.original_prompt,
        steps=[RunStep(**step.model_dump()) for step in t.steps],
        final_answer=t.final_answer,
        failure_reason=t.failure_reason,
        tools=t.tools,
        metadata=t.metadata,
    )


def training_example_from_sample(
    sample: AugmentedSample, run_id: str, *, created_at: datetime | None = None
) -> TrainingExample:
    """The output record for ``sample``; confidence and failure type come from the record's
    ``agenther`` block when the augmenter wrote one, else from the sample's metadata."""
    provenance = sample.record.get("agenther")
    info: dict[str, Any] = provenance if isinstance(provenance, dict) else sample.metadata
    record = json.dumps(sample.record, ensure_ascii=False, separators=(",", ":"))
    example_id = (
        sample.example_id
        or hashlib.sha256(f"{run_id}\n{sample.format.value}\n{record}".encode()).hexdigest()[:24]
    )
    confidence = info.get("confidence")
    failure_type = info.get("failure_type")
    return TrainingExample(
        example_id=example_id,
        run_id=run_id,
        format=sample.format.value,
        record=record,
        weight=sample.weight,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        failure_type=str(failure_type) if failure_type else None,
        pipeline_version=str(info.get("pipeline_version") or PIPELINE_VERSION),
        **({"created_at": created_at} if created_at is not None else {}),
    )


class EventCodec:
    """Decodes run events and encodes outputs; one per service (it owns the registry client).

    ``topic`` on the encoders picks the registry subject ``<topic>-value`` in Avro mode; it
    defaults to the service's default topic names and is ignored in JSON mode.
    """

    def __init__(
        self,
        schema_registry_url: str | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
        registry_auth: tuple[str, str] | None = None,
        input_format: InputFormat = InputFormat.AUTO,
    ) -> None:
        self.max_event_bytes = max_event_bytes
        self.input_format = input_format
        self.max_steps = max_steps
        self.registry = (
            SchemaRegistryClient(schema_registry_url, auth=registry_auth)
            if schema_registry_url
            else None
        )
        self._writer_schemas: dict[tuple[int, str], Any] = {}

    @property
    def avro_output(self) -> bool:
        return self.registry is not None

    async def decode_run_event(self, value: bytes | None) -> AgentRunEvent:
        if value is None or len(value) == 0:
            raise EventDecodeError("empty message value")
        if len(value) > self.max_event_bytes:
            raise EventDecodeError(
                f"message of {len(value)} bytes exceeds max_event_bytes={self.max_event_bytes}"
            )
        if avro_codec.is_framed(value):
            data = await self._read_avro_event(value)
        else:
            data = self._as_run(_loads_object(value, what="message"))
            if "run_id" not in data and "trajectory_id" in data:
                # The reference's trajectory files hold failures only.
                data = {"status": "failure", **data, "run_id": data["trajectory_id"]}
        return self.validate_event(data)

    async def decode_training_example(self, value: bytes | None) -> TrainingExample:
        """An output record as written by ``encode_training_example`` (JSON or Avro)."""
        return await self._decode_output(value, avro_codec.TRAINING_EXAMPLE, TrainingExample)

    async def decode_rejection(self, value: bytes | None) -> Rejection:
        """A record of the rejections topic as written by ``encode_rejection``."""
        return await self._decode_output(value, avro_codec.REJECTION, Rejection)

    async def _decode_output(self, value: bytes | None, name: str, model: type[M]) -> M:
        if not value:
            raise EventDecodeError("empty message value")
        if avro_codec.is_framed(value):
            data = await self._read_avro(value, name)
        else:
            data = _loads_object(value, what="message")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise EventDecodeError(_validation_reason(exc)) from None

    async def encode_run_event(self, event: AgentRunEvent, *, topic: str | None = None) -> bytes:
        if self.registry is None:
            return event.model_dump_json().encode()
        return await self._write_avro(
            avro_codec.AGENT_RUN_EVENT, topic or DEFAULT_INPUT_TOPIC, run_event_to_avro(event)
        )

    async def encode_training_example(
        self, example: TrainingExample, *, topic: str | None = None
    ) -> bytes:
        if self.registry is None:
            return example.model_dump_json().encode()
        return await self._write_avro(
            avro_codec.TRAINING_EXAMPLE, topic or DEFAULT_OUTPUT_TOPIC, example.model_dump()
        )

    async def encode_rejection(self, rejection: Rejection, *, topic: str | None = None) -> bytes:
        if self.registry is None:
            return rejection.model_dump_json().encode()
        return await self._write_avro(
            avro_codec.REJECTION, topic or DEFAULT_REJECTS_TOPIC, rejection.model_dump()
        )

    async def aclose(self) -> None:
        if self.registry is not None:
            await self.registry.aclose()

    async def _write_avro(self, name: str, topic: str, record: dict[str, Any]) -> bytes:
        assert self.registry is not None
        schema_id = await self.registry.register(f"{topic}-value", avro_codec.schema_text(name))
        return avro_codec.frame(schema_id, avro_codec.parsed_schema(name), record)

    async def _read_avro_event(self, value: bytes) -> dict[str, Any]:
        return run_event_from_avro(await self._read_avro(value, avro_codec.AGENT_RUN_EVENT))

    async def _read_avro(self, value: bytes, name: str) -> dict[str, Any]:
        try:
            schema_id, body = avro_codec.unframe(value)
        except ValueError as exc:
            raise EventDecodeError(str(exc)) from None
        if self.registry is None:
            raise EventDecodeError(
                f"Confluent Avro message (schema id {schema_id}) but no schema registry is "
                "configured (set schema_registry_url)"
            )
        writer = await self._writer_schema(schema_id, name)
        try:
            return avro_codec.read(body, writer, avro_codec.parsed_schema(name))
        except ValueError as exc:
            raise EventDecodeError(f"schema id {schema_id}: {exc}") from None

    async def _writer_schema(self, schema_id: int, name: str) -> Any:
        if (schema_id, name) not in self._writer_schemas:
            assert self.registry is not None
            try:
                text = await self.registry.schema_by_id(schema_id)
            except SchemaNotFoundError:
                raise EventDecodeError(f"unknown schema id {schema_id}") from None
            try:
                schema = avro_codec.parse(text)
            except ValueError:
                raise EventDecodeError(
                    f"schema id {schema_id} is not a valid Avro schema"
                ) from None
            expected = f"{avro_codec.NAMESPACE}.{name}"
            # Reading an unrelated record (or a hostile array of nulls) must not even start.
            if avro_codec.record_name(schema) != expected:
                raise EventDecodeError(f"schema id {schema_id} is not {expected}")
            self._writer_schemas[(schema_id, name)] = schema
        return self._writer_schemas[(schema_id, name)]

    def _as_run(self, data: dict[str, Any]) -> dict[str, Any]:
        """An OpenAI chat transcript as the run it records; other shapes as they are. Trace
        data never gets here: its spans are assembled into runs first."""
        try:
            fmt = record_format(data, self.input_format)
            if fmt is InputFormat.OPENAI_CHAT:
                return run_from_chat(data)
        except InputMappingError as exc:
            raise EventDecodeError(exc.reason) from None
        if fmt is InputFormat.OTLP_JSON:
            raise EventDecodeError("OTLP trace data where a run event was expected")
        return data

    def validate_event(self, data: dict[str, Any]) -> AgentRunEvent:
        steps = data.get("steps")
        if isinstance(steps, list) and len(steps) > self.max_steps:
            raise EventDecodeError(f"steps: {len(steps)} steps exceed max_steps={self.max_steps}")
        try:
            return AgentRunEvent.model_validate(data)
        except ValidationError as exc:
            raise EventDecodeError(_validation_reason(exc)) from None


def run_event_to_avro(event: AgentRunEvent) -> dict[str, Any]:
    """The Avro record of ``event``: nested JSON values travel as JSON text."""
    record = event.model_dump()
    record["steps"] = [
        {**step, "action_input": _dumps(step["action_input"])} for step in record["steps"]
    ]
    record["metadata"] = _dumps(record["metadata"])
    record["tools"] = None if event.tools is None else _dumps(record["tools"])
    return record


def run_event_from_avro(record: dict[str, Any]) -> dict[str, Any]:
    """The model input for an Avro-decoded run event (JSON text fields parsed and checked)."""
    _check_tree(record, what="message")
    data = dict(record)
    data["metadata"] = _loads_object(str(data.get("metadata") or "{}").encode(), what="metadata")
    tools = data.get("tools")
    if tools is not None:
        parsed = _loads(str(tools).encode(), what="tools")
        if not isinstance(parsed, list):
            raise EventDecodeError("tools: expected a JSON array")
        data["tools"] = parsed
    return data


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _loads_object(raw: bytes, *, what: str) -> dict[str, Any]:
    value = _loads(raw, what=what)
    if not isinstance(value, dict):
        raise EventDecodeError(f"{what}: expected a JSON object, got {_json_type(value)}")
    return value


def _loads(raw: bytes, *, what: str) -> Any:
    """Strict JSON: UTF-8, finite numbers within Avro's long, no NUL, bounded nesting.

    orjson reads an ordinary event about four times faster than ``json`` with the number
    hooks. Whatever it refuses, and any tree with a NUL, deep nesting or a number it may have
    read differently (an integer past 64 bits comes back as a float), goes to the strict
    parser, so the value or the refusal and its reason are always the strict parser's.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _strict_loads(raw, what=what)
    if _tree_problem(value, what=what, wide_numbers=True) is not None:
        return _strict_loads(raw, what=what)
    return value


def _strict_loads(raw: bytes, *, what: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventDecodeError(f"{what}: invalid UTF-8 at byte {exc.start}") from None
    try:
        value = json.loads(
            text,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        raise EventDecodeError(
            f"{what}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise EventDecodeError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH}") from None
    except _NumberError as exc:
        raise EventDecodeError(f"{what}: {exc}") from None
    _check_tree(value, what=what)
    return value


class _NumberError(ValueError):
    pass


def _bounded_int(digits: str) -> int:
    # Checked on the digit string first: converting a 100k-digit literal is slow by itself.
    if len(digits.lstrip("-")) > 19 or not -_INT_LIMIT <= int(digits) < _INT_LIMIT:
        raise _NumberError("integer out of the 64-bit range")
    return int(digits)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberError("number out of the double range")
    return value


def _reject_constant(name: str) -> float:
    raise _NumberError(f"{name} is not valid JSON")


def _check_tree(value: Any, *, what: str) -> None:
    problem = _tree_problem(value, what=what)
    if problem is not None:
        raise EventDecodeError(problem)


def _tree_problem(value: Any, *, what: str, wide_numbers: bool = False) -> str | None:
    """What makes ``value`` unacceptable, or None. ``wide_numbers`` also flags an integer
    outside Avro's long and an integral float beyond it (how orjson reads a wider integer)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        kind = type(node)
        if kind is str:
            if "\x00" in node:
                return f"{what}: NUL character in a string"
        elif kind is dict or kind is list:
            if depth > MAX_JSON_DEPTH:
                return f"{what}: JSON nested deeper than {MAX_JSON_DEPTH}"
            if kind is dict:
                for key, item in node.items():
                    if "\x00" in key:
                        return f"{what}: NUL character in a key"
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in node)
        elif wide_numbers and (
            (kind is int and not -_INT_LIMIT <= node < _INT_LIMIT)
            or (kind is float and abs(node) >= _INT_LIMIT and node.is_integer())
        ):
            return f"{what}: a number orjson may have read differently"
    return None


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _validation_reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0]
    location = ".".join(str(part) for part in first["loc"]) or "event"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{location}: {first['msg']}{more}"
