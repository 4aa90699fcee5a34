"""The service on a real broker, rule-based: every event accounted for, outputs as contracted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agenther.config import PIPELINE_VERSION, PipelineConfig
from agenther.models import FailureType
from streams.broker import free_port
from streams.processor import Outcome
from streams.sample_runs import FAILED_RUNS, SUCCESS_RUN
from tests.support.kafka_fixtures import collect, committed_offsets, headers_of, produce, wait_for

pytestmark = pytest.mark.kafka

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference_example_trajectories.json"
MAX_EVENT_BYTES = 20_000


def _mixed_batch() -> tuple[list[Any], set[str], set[str]]:
    """Messages, the run ids that must become an example or a rejection, and the dead ones."""
    reference = json.loads(REFERENCE.read_text())[0]
    failures = [dict(run, run_id=f"{run['run_id']}-mix") for run in FAILED_RUNS[:5]]
    oversized = dict(FAILED_RUNS[0], run_id="too-big", final_answer="x" * (MAX_EVENT_BYTES + 1))
    messages: list[Any] = [
        *failures[:2],
        (b"broken", b'{"run_id": "broken", "steps": [tru'),
        dict(SUCCESS_RUN, run_id="ok-mix"),
        *failures[2:],
        (b"no-steps", {"run_id": "no-steps", "original_prompt": "p", "steps": []}),
        reference,
        (b"too-big", json.dumps(oversized).encode()),
        (None, b"\xff\xfe not utf-8"),
    ]
    relabel_ids = {run["run_id"] for run in failures} | {reference["trajectory_id"]}
    return messages, relabel_ids, {"broken", "no-steps", "too-big", ""}


async def test_mixed_batch_is_accounted_for_exactly(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    topics = await service_topics(partitions=2)
    messages, relabel_ids, dead_keys = _mixed_batch()
    await produce(kafka_bootstrap, topics.input, messages)
    port = free_port()
    service = await running_services(
        topics.settings(
            kafka_bootstrap,
            max_event_bytes=MAX_EVENT_BYTES,
            metrics_port=port,
            metrics_host="127.0.0.1",
        )
    )

    assert await wait_for(lambda: sum(service.counts.values()) == len(messages))
    outputs = await collect(
        kafka_bootstrap,
        [topics.output, topics.rejects, topics.dlq],
        until=lambda rs: len(rs) >= len(messages) - 1,  # the skipped success writes nothing
    )
    by_topic: dict[str, list[Any]] = {topics.output: [], topics.rejects: [], topics.dlq: []}
    for record in outputs:
        by_topic[record.topic].append(record)

    examples, rejections, letters = (
        by_topic[topics.output],
        by_topic[topics.rejects],
        by_topic[topics.dlq],
    )
    assert service.counts[Outcome.SKIPPED] == 1
    assert service.counts[Outcome.EXAMPLE] == len(examples) >= 1
    assert service.counts[Outcome.REJECTION] == len(rejections)
    assert service.counts[Outcome.DEAD_LETTER] == len(letters) == 4
    # Each relabelable run is exactly one example or one rejection, keyed by its run id.
    relabeled_keys = sorted(r.key.decode() for r in examples + rejections)
    assert relabeled_keys == sorted(relabel_ids)

    for record in examples:
        headers = headers_of(record)
        body = json.loads(record.value)
        assert headers["agenther-example-id"] == body["example_id"]
        assert headers["agenther-format"] == body["format"] == "sft"
        assert headers["agenther-pipeline-version"] == PIPELINE_VERSION
        assert body["run_id"] == record.key.decode()
        assert json.loads(body["record"])["messages"][0]["role"] in ("system", "user")
    for record in rejections:
        body = json.loads(record.value)
        assert body["run_id"] == record.key.decode() and body["stage"] and body["reason"]
        # Every rejection made after Stage 1 carries its analysis (schema v2).
        assert body["failure_type"] in {t.value for t in FailureType}, body
        assert 0 <= body["severity"] <= 1 and 0 <= body["weight"] <= 1, body
        assert isinstance(body["recoverable"], bool), body

    originals = {
        (k.decode() if isinstance(k, bytes) else ""): v
        for k, v in ((m[0], m[1]) for m in messages if isinstance(m, tuple))
    }
    for record in letters:
        headers = headers_of(record)
        key = record.key.decode() if record.key else ""
        assert key in dead_keys
        original = originals[key]
        assert record.value == (
            original if isinstance(original, bytes) else json.dumps(original).encode()
        )
        assert headers["agenther-source-topic"] == topics.input
        assert int(headers["agenther-source-offset"]) >= 0
        assert headers["agenther-stage"] == "decode"
        assert headers["agenther-attempts"] == "1"
        assert headers["agenther-failed-at"]
        expected = "EventTooLarge" if key == "too-big" else "EventDecodeError"
        assert headers["agenther-error-type"] == expected

    # Everything done is committed: the group's position is the end of each partition.
    async def all_committed() -> bool:
        committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
        return sum(committed.values()) == len(messages)

    assert await _eventually(all_committed)

    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
            assert response.status == 200
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200

        async def scrape() -> str:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                return await response.text()

        async def lag_reported() -> bool:  # the gauge is refreshed once a second
            return "agenther_consumer_lag{" in await scrape()

        assert await _eventually(lag_reported)
        text = await scrape()
    assert f"agenther_events_consumed_total {float(len(messages))}" in text
    assert f'agenther_examples_produced_total{{format="sft"}} {float(len(examples))}' in text
    assert 'agenther_dead_letters_total{reason="EventTooLarge",stage="decode"} 1.0' in text
    assert 'agenther_dead_letters_total{reason="EventDecodeError",stage="decode"} 3.0' in text
    assert "agenther_successes_skipped_total 1.0" in text
    assert "agenther_event_latency_seconds_count 11.0" in text
    assert "agenther_pipeline_duration_seconds_count" in text
    assert "agenther_in_flight 0.0" in text
    assert f'agenther_consumer_lag{{partition="0",topic="{topics.input}"}} 0.0' in text


async def _eventually(check: Any, timeout_s: float = 10.0) -> bool:
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_emit_successes_and_rejections(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    topics = await service_topics(partitions=1)
    success = dict(SUCCESS_RUN, run_id="ok-emit")
    failures = [dict(run, run_id=f"{run['run_id']}-strict") for run in FAILED_RUNS[:3]]
    await produce(kafka_bootstrap, topics.input, [success, *failures])
    # δ = 1: every failure weighs less, so the detector gate rejects all of them.
    strict = PipelineConfig(rule_based=True, severity_threshold=1.0)
    service = await running_services(
        topics.settings(kafka_bootstrap, emit_successes=True, pipeline=strict)
    )
    assert await wait_for(lambda: sum(service.counts.values()) == 4)
    assert service.counts[Outcome.EXAMPLE] == 1
    assert service.counts[Outcome.REJECTION] == 3

    records = await collect(kafka_bootstrap, [topics.output, topics.rejects], until=4)
    example = next(r for r in records if r.topic == topics.output)
    body = json.loads(example.value)
    trainer_line = json.loads(body["record"])
    assert example.key == b"ok-emit" and body["weight"] == 1.0
    assert trainer_line["agenther"]["mode"] == "success"
    assert trainer_line["messages"][0]["content"] == SUCCESS_RUN["original_prompt"] or any(
        m["role"] == "user" and m["content"] == SUCCESS_RUN["original_prompt"]
        for m in trainer_line["messages"]
    )
    stages = {json.loads(r.value)["stage"] for r in records if r.topic == topics.rejects}
    assert stages == {"failure_detection"}


async def test_avro_in_and_out_with_a_schema_registry(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    from streams import avro_codec
    from streams.events import EventCodec, trajectory_to_event
    from streams.events import event_to_trajectory as to_trajectory
    from tests.support.fake_schema_registry import FakeSchemaRegistry

    registry = FakeSchemaRegistry()
    url = await registry.start()
    try:
        topics = await service_topics(partitions=1)
        producer_codec = EventCodec(url)
        decoder = EventCodec()
        events = [
            await decoder.decode_run_event(json.dumps(run).encode()) for run in FAILED_RUNS[:3]
        ]
        framed = [
            (
                e.run_id.encode(),
                await producer_codec.encode_run_event(
                    trajectory_to_event(to_trajectory(e)), topic=topics.input
                ),
            )
            for e in events
        ]
        await producer_codec.aclose()
        # Avro and JSON events may share the input topic.
        await produce(kafka_bootstrap, topics.input, [*framed, dict(FAILED_RUNS[3])])
        service = await running_services(topics.settings(kafka_bootstrap, schema_registry_url=url))
        assert await wait_for(lambda: sum(service.counts.values()) == 4)
        assert service.counts[Outcome.DEAD_LETTER] == 0
        records = await collect(
            kafka_bootstrap, [topics.output, topics.rejects], until=4, timeout_s=10
        )
        assert len(records) == 4
        for record in records:
            schema_id, body = avro_codec.unframe(record.value)
            expected = topics.output if record.topic == topics.output else topics.rejects
            assert schema_id in registry.subjects[f"{expected}-value"]
            writer = avro_codec.parse(registry.schemas[schema_id])
            name = (
                avro_codec.TRAINING_EXAMPLE
                if record.topic == topics.output
                else avro_codec.REJECTION
            )
            decoded = avro_codec.read(body, writer, avro_codec.parsed_schema(name))
            assert decoded["run_id"] == record.key.decode()
    finally:
        await registry.stop()
