"""Run-event decoding (JSON, reference shape, Confluent Avro) and output encoding."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agenther.models import AugmentedSample, OutputFormat
from streams import avro_codec
from streams.events import (
    AgentRunEvent,
    EventCodec,
    EventDecodeError,
    Rejection,
    RunStep,
    TrainingExample,
    event_to_trajectory,
    run_event_to_avro,
    training_example_from_sample,
    trajectory_to_event,
)
from streams.schema_registry import SchemaRegistryUnavailableError
from tests.support.fake_schema_registry import FakeSchemaRegistry

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference_example_trajectories.json"
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
MARKER = "PAYLOAD-MARKER-7f3a"


def run(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "run_id": "run-1",
        "source": "webshop-agent",
        "event_time": "2026-03-01T12:00:00Z",
        "status": "failure",
        "original_prompt": "Find a blue kettle under $20",
        "steps": [
            {
                "thought": "search first",
                "action_name": "search",
                "action_input": {"q": "blue kettle"},
                "observation": "Kettle A $25, Kettle B $31",
            }
        ],
        "final_answer": "none found",
        "failure_reason": "no kettle under $20",
        "metadata": {"tenant": "t1", "nested": {"k": [1, 2]}},
    }
    event.update(overrides)
    return event


def encoded(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


@pytest.fixture
def codec() -> EventCodec:
    return EventCodec(max_event_bytes=64 * 1024, max_steps=50)


@pytest.fixture
async def registry() -> AsyncIterator[FakeSchemaRegistry]:
    fake = FakeSchemaRegistry()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def avro_codec_client(registry: FakeSchemaRegistry) -> AsyncIterator[EventCodec]:
    codec = EventCodec(registry.url)
    yield codec
    await codec.aclose()


async def test_agent_run_event_json_round_trip(codec: EventCodec) -> None:
    event = await codec.decode_run_event(encoded(run(tools=[{"type": "function"}])))
    assert event.run_id == "run-1"
    assert event.metadata["nested"] == {"k": [1, 2]}
    assert event.event_time.tzinfo is not None
    assert await codec.decode_run_event(await codec.encode_run_event(event)) == event


async def test_missing_status_defaults_to_unknown(codec: EventCodec) -> None:
    data = run()
    del data["status"]
    assert (await codec.decode_run_event(encoded(data))).status == "unknown"


async def test_reference_trajectory_shape_is_a_failure(codec: EventCodec) -> None:
    trajectories = json.loads(REFERENCE.read_text())
    for trajectory in trajectories:
        event = await EventCodec().decode_run_event(json.dumps(trajectory).encode())
        assert event.run_id == trajectory["trajectory_id"]
        assert event.status == "failure"
        assert len(event.steps) == len(trajectory["steps"])
        converted = event_to_trajectory(event)
        assert converted.trajectory_id == trajectory["trajectory_id"]
        assert converted.steps[0].action_input == trajectory["steps"][0]["action_input"]


async def test_arguments_given_as_json_text_are_parsed(codec: EventCodec) -> None:
    step = {"action_name": "search", "action_input": '{"q": "x"}', "observation": "ok"}
    event = await codec.decode_run_event(encoded(run(steps=[step])))
    assert event.steps[0].action_input == {"q": "x"}


def test_trajectory_and_event_convert_both_ways() -> None:
    event = AgentRunEvent.model_validate(run(tools=[{"type": "function", "name": "search"}]))
    trajectory = event_to_trajectory(event)
    back = trajectory_to_event(trajectory, status="failure", source="webshop-agent")
    assert back.model_dump(exclude={"event_time"}) == event.model_dump(exclude={"event_time"})


def test_event_without_steps_is_not_a_trajectory() -> None:
    event = AgentRunEvent.model_construct(**{**run(), "steps": []})
    with pytest.raises(EventDecodeError, match="steps"):
        event_to_trajectory(event)


def test_invalid_step_built_without_validation_is_a_decode_error() -> None:
    bad_step = RunStep.model_construct(action_name="", observation="x", thought="", action_input={})
    event = AgentRunEvent.model_construct(**{**run(), "steps": [bad_step]})
    with pytest.raises(EventDecodeError, match="action_name"):
        event_to_trajectory(event)


HOSTILE: dict[str, tuple[bytes, str]] = {
    "none": (b"", "empty"),
    "invalid utf-8": (b'{"run_id": "\xff\xfe' + MARKER.encode() + b'"}', "invalid UTF-8"),
    "invalid json": (b'{"run_id": "' + MARKER.encode() + b'",', "invalid JSON"),
    "not an object": (b'["' + MARKER.encode() + b'"]', "got array"),
    "wrong type": (
        encoded(run(run_id=12345, original_prompt=MARKER)),
        "run_id: Input should be a valid string",
    ),
    "steps not a list": (encoded(run(steps=MARKER)), "steps: Input should be a valid list"),
    "step missing observation": (
        encoded(run(steps=[{"action_name": "a", "thought": MARKER}])),
        "steps.0.observation: Field required",
    ),
    "missing prompt": (
        encoded({k: v for k, v in run(source=MARKER).items() if k != "original_prompt"}),
        "original_prompt: Field required",
    ),
    "empty prompt": (
        encoded(run(original_prompt="")),
        "original_prompt: String should have at least 1",
    ),
    "empty steps": (encoded(run(steps=[], source=MARKER)), "steps: List should have at least 1"),
    "bad status": (encoded(run(status=MARKER)), "status: Input should be"),
    "too many steps": (
        encoded(run(steps=[{"action_name": "a", "observation": MARKER}] * 10_000)),
        "exceed max_steps=2000",
    ),
    "deep nesting": (
        b'{"run_id": "r", "metadata": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        "nested deeper",
    ),
    "moderate nesting": (
        encoded(run(metadata={"a": json.loads("[" * 80 + "]" * 80)})),
        "nested deeper than 64",
    ),
    "NUL escape": (
        encoded(run(original_prompt="find\u0000" + MARKER)),
        "NUL character in a string",
    ),
    "NUL in key": (encoded(run(metadata={"a\u0000b": 1})), "NUL character in a key"),
    "raw NUL byte": (b'{"run_id": "r\x00' + MARKER.encode() + b'"}', "Invalid control character"),
    "huge int": (encoded(run(metadata={"n": 2**64})), "64-bit range"),
    "huge int literal": (
        b'{"run_id": "r", "metadata": {"n": ' + b"9" * 20_000 + b"}}",
        "64-bit range",
    ),
    "overflowing float": (b'{"run_id": "r", "metadata": {"n": 1e999}}', "double range"),
    "NaN": (b'{"run_id": "r", "metadata": {"n": NaN}}', "NaN is not valid JSON"),
    "bad arguments text": (
        encoded(
            run(steps=[{"action_name": "a", "action_input": "[" + MARKER, "observation": "o"}])
        ),
        "steps.0.action_input: Value error",
    ),
    "arguments not an object": (
        encoded(run(steps=[{"action_name": "a", "action_input": [MARKER], "observation": "o"}])),
        "steps.0.action_input: Input should be a valid dictionary",
    ),
    "short avro header": (b"\x00\x00\x01", "truncated Confluent Avro header"),
    "avro without registry": (
        b"\x00\x00\x00\x00\x07" + MARKER.encode(),
        "no schema registry is configured",
    ),
}


@pytest.mark.parametrize(("payload", "expected"), HOSTILE.values(), ids=HOSTILE.keys())
async def test_hostile_input_is_a_short_safe_decode_error(payload: bytes, expected: str) -> None:
    codec = EventCodec(max_event_bytes=4 * 1024 * 1024)
    with pytest.raises(EventDecodeError) as raised:
        await codec.decode_run_event(payload)
    reason = raised.value.reason
    assert expected in reason
    assert 0 < len(reason) <= 200
    assert MARKER not in reason
    assert str(raised.value) == reason


async def test_none_value_is_a_decode_error(codec: EventCodec) -> None:
    with pytest.raises(EventDecodeError, match="empty"):
        await codec.decode_run_event(None)


async def test_oversized_value_is_rejected_before_parsing() -> None:
    codec = EventCodec(max_event_bytes=100)
    with pytest.raises(EventDecodeError, match="exceeds max_event_bytes=100"):
        await codec.decode_run_event(b"{" * 101)  # invalid JSON: parsing would say so instead


async def test_step_cap_is_configurable() -> None:
    steps = [{"action_name": "a", "observation": "o"}] * 3
    assert len((await EventCodec(max_steps=3).decode_run_event(encoded(run(steps=steps)))).steps)
    with pytest.raises(EventDecodeError, match="max_steps=2"):
        await EventCodec(max_steps=2).decode_run_event(encoded(run(steps=steps)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
async def test_arbitrary_bytes_never_raise_anything_else(payload: bytes) -> None:
    try:
        await EventCodec().decode_run_event(payload)
    except EventDecodeError as exc:
        assert len(exc.reason) <= 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(list(run())), value=json_values)
async def test_any_json_value_in_any_field_is_accepted_or_a_decode_error(
    field: str, value: Any
) -> None:
    payload = json.dumps(run(**{field: value})).encode()
    try:
        await EventCodec().decode_run_event(payload)
    except EventDecodeError as exc:
        assert len(exc.reason) <= 200


def sample(record: dict[str, Any], **extra: Any) -> AugmentedSample:
    return AugmentedSample(
        source_trajectory_id="run-1",
        format=OutputFormat.SFT,
        hindsight_prompt="List kettles and prices",
        weight=0.7,
        record=record,
        **extra,
    )


def test_training_example_takes_provenance_from_the_record() -> None:
    record = {
        "messages": [{"role": "user", "content": "List kettles"}],
        "agenther": {"confidence": 0.9, "failure_type": "constraint_violation"},
    }
    example = training_example_from_sample(sample(record, example_id="ex-1"), "run-1")
    assert (example.example_id, example.run_id, example.format) == ("ex-1", "run-1", "sft")
    assert json.loads(example.record) == record
    assert (example.weight, example.confidence) == (0.7, 0.9)
    assert example.failure_type == "constraint_violation"


def test_training_example_falls_back_to_metadata_and_a_stable_id() -> None:
    record = {"messages": [{"role": "user", "content": "x"}]}
    metadata = {"confidence": 0.6, "failure_type": "incomplete"}
    first = training_example_from_sample(sample(record, metadata=metadata), "run-1")
    second = training_example_from_sample(sample(record, metadata=metadata), "run-1")
    assert first.example_id and first.example_id == second.example_id
    assert (first.confidence, first.failure_type) == (0.6, "incomplete")


async def test_json_outputs_are_the_models_as_json(codec: EventCodec) -> None:
    example = TrainingExample(
        example_id="e", run_id="r", format="dpo", record="{}", weight=0.5, confidence=None
    )
    assert TrainingExample.model_validate_json(await codec.encode_training_example(example)) == (
        example
    )
    rejection = Rejection(run_id="r", stage="prompt_relabeling", reason="low confidence")
    assert json.loads(await codec.encode_rejection(rejection)) == rejection.model_dump()


# --- Avro through a real HTTP registry -------------------------------------------------


def read_framed(registry: FakeSchemaRegistry, value: bytes, name: str) -> dict[str, Any]:
    schema_id, body = avro_codec.unframe(value)
    writer = fastavro.parse_schema(json.loads(registry.schemas[schema_id]))
    return avro_codec.read(body, writer, avro_codec.parsed_schema(name))


async def test_avro_run_event_round_trip(
    registry: FakeSchemaRegistry, avro_codec_client: EventCodec
) -> None:
    event = AgentRunEvent.model_validate(run(tools=[{"type": "function"}], agent_version="1.4"))
    value = await avro_codec_client.encode_run_event(event)
    assert value[0] == 0
    assert list(registry.subjects) == ["agent-runs-value"]
    assert await avro_codec_client.decode_run_event(value) == event


async def test_avro_outputs_register_under_topic_subjects(
    registry: FakeSchemaRegistry, avro_codec_client: EventCodec
) -> None:
    example = TrainingExample(
        example_id="e",
        run_id="r",
        format="sft",
        record='{"messages":[]}',
        weight=0.4,
        created_at=datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC),  # Avro keeps millis
    )
    value = await avro_codec_client.encode_training_example(example, topic="team-a-examples")
    assert TrainingExample.model_validate(read_framed(registry, value, "TrainingExample")) == (
        example
    )
    rejection = Rejection(run_id="r", stage="failure_detection", reason="w 0.2 < 0.3")
    value = await avro_codec_client.encode_rejection(rejection)
    assert read_framed(registry, value, "Rejection") == rejection.model_dump()
    assert sorted(registry.subjects) == ["her-rejects-value", "team-a-examples-value"]


async def test_avro_written_with_schema_v1_is_read(
    registry: FakeSchemaRegistry, avro_codec_client: EventCodec
) -> None:
    v1_text = (SCHEMAS / "history" / "AgentRunEvent.v1.avsc").read_text()
    v1 = fastavro.parse_schema(json.loads(v1_text))
    schema_id = registry.add_schema("agent-runs-value", v1_text)
    record = run_event_to_avro(AgentRunEvent.model_validate(run()))
    del record["tools"], record["agent_version"]
    event = await avro_codec_client.decode_run_event(avro_codec.frame(schema_id, v1, record))
    assert event.tools is None and event.agent_version is None
    assert event.steps[0].action_input == {"q": "blue kettle"}


async def test_writer_schemas_are_fetched_once(
    registry: FakeSchemaRegistry, avro_codec_client: EventCodec
) -> None:
    value = await EventCodec(registry.url).encode_run_event(AgentRunEvent.model_validate(run()))
    for _ in range(3):
        await avro_codec_client.decode_run_event(value)
    assert registry.requests.count(("GET", f"/schemas/ids/{value[4]}")) == 1


def v2_body(**overrides: Any) -> bytes:
    record = run_event_to_avro(AgentRunEvent.model_validate(run()))
    record.update(overrides)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, avro_codec.parsed_schema("AgentRunEvent"), record)
    return buffer.getvalue()


async def test_hostile_avro_is_a_decode_error(
    registry: FakeSchemaRegistry, avro_codec_client: EventCodec
) -> None:
    current = registry.add_schema("agent-runs-value", avro_codec.schema_text("AgentRunEvent"))
    other = registry.add_schema("x-value", avro_codec.schema_text("Rejection"))
    nulls = registry.add_schema("y-value", '{"type": "array", "items": "null"}')
    framed = b"\x00" + current.to_bytes(4, "big")
    rejection = {"run_id": "r", "stage": "s", "reason": "x", "failure_type": None}
    cases = {
        "unknown schema id": (
            avro_codec.frame(999, avro_codec.parsed_schema("Rejection"), rejection),
            "unknown schema id 999",
        ),
        "other record": (b"\x00" + other.to_bytes(4, "big") + b"\x02r", "is not ai.agenther"),
        "not a record": (b"\x00" + nulls.to_bytes(4, "big") + b"\xfe\xff\xff\x0f", "is not ai."),
        "truncated body": (framed + v2_body()[:-7], "undecodable Avro body"),
        "trailing bytes": (framed + v2_body() + b"\x00", "trailing bytes"),
        "NUL in string": (framed + v2_body(original_prompt="a\x00b"), "NUL character"),
        "bad metadata": (framed + v2_body(metadata="[1]"), "metadata: expected a JSON object"),
        "bad tools": (framed + v2_body(tools="{}"), "tools: expected a JSON array"),
        "empty steps": (framed + v2_body(steps=[]), "steps: List should have at least 1"),
    }
    for name, (payload, expected) in cases.items():
        with pytest.raises(EventDecodeError) as raised:
            await avro_codec_client.decode_run_event(payload)
        assert expected in raised.value.reason, name
        assert len(raised.value.reason) <= 200, name


async def test_unreachable_registry_is_transient_not_a_bad_event(
    registry: FakeSchemaRegistry, avro_codec_client: EventCodec
) -> None:
    registry.unavailable = True
    with pytest.raises(SchemaRegistryUnavailableError):
        await avro_codec_client.decode_run_event(b"\x00\x00\x00\x00\x01\x02")


async def test_registry_credentials_are_sent_but_never_shown() -> None:
    fake = FakeSchemaRegistry(username="svc", password="s3cret-pw")
    url = await fake.start()
    codec = EventCodec(url.replace("http://", "http://svc:s3cret-pw@"))
    try:
        value = await codec.encode_run_event(AgentRunEvent.model_validate(run()))
        assert (await codec.decode_run_event(value)).run_id == "run-1"
        assert all(a and a.startswith("Basic ") for a in fake.authorizations)
        assert codec.registry is not None and "s3cret" not in repr(codec.registry)
        fake.unavailable = True
        with pytest.raises(SchemaRegistryUnavailableError) as raised:
            await codec.encode_rejection(Rejection(run_id="r", stage="s", reason="x"))
        assert "s3cret" not in str(raised.value)
    finally:
        await codec.aclose()
        await fake.stop()
