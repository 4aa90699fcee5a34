"""``agenther demo``: the live service end to end on an embedded broker, rule-based, no key.

Publishes the sample runs, runs the service until every event is accounted for, prints the
examples it produced and the counts, and shuts everything down.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from agenther.config import PipelineConfig
from agenther.inputs import InputFormat
from agenther.models import OutputFormat
from streams.broker import EmbeddedBroker
from streams.processor import Outcome, RelabelService
from streams.sample_runs import FAILED_RUNS, MALFORMED_VALUES, SUCCESS_RUN, demo_messages
from streams.sample_traces import trace_messages
from streams.settings import ServiceSettings
from streams.topics import ensure_topics

INPUT, OUTPUT, REJECTS, DLQ = "agent-runs", "her-examples", "her-rejects", "her-dlq"


async def run_demo(
    output_format: str = "sft",
    timeout_s: float = 25.0,
    input_format: InputFormat = InputFormat.AUTO,
) -> int:
    started = time.monotonic()
    broker = EmbeddedBroker()
    address = broker.start()  # main thread: see broker._detach_and_die_with_parent
    print(f"embedded broker at {address}")
    try:
        await ensure_topics(address, [INPUT, OUTPUT, REJECTS, DLQ], partitions=2)
        if input_format in (InputFormat.OTLP_PROTO, InputFormat.OTLP_JSON):
            # Each sample run as a trace in two messages (children, then the root), and the
            # demo's first bad record: one outcome per trace, one for the bad record.
            messages = trace_messages([*FAILED_RUNS, SUCCESS_RUN], input_format)
            messages.append((b"demo-broken", MALFORMED_VALUES[0]))
            events = len(FAILED_RUNS) + 2
        else:
            messages = demo_messages()
            events = len(messages)
        await _publish(address, messages)
        print(f"published {len(messages)} {input_format.value} messages to {INPUT}")

        settings = ServiceSettings(
            bootstrap_servers=address,
            output_format=OutputFormat(output_format),
            input_format=input_format,
            trace_grace_s=0.2,
            metrics_port=0,
            create_topics=False,
            session_timeout_ms=2000,
            shutdown_grace_s=5,
            pipeline=PipelineConfig(rule_based=True),
        )
        service = RelabelService(settings)
        runner = asyncio.create_task(service.run())
        deadline = started + timeout_s
        while sum(service.counts.values()) < events and time.monotonic() < deadline:
            if runner.done():
                break
            await asyncio.sleep(0.05)
        service.stop()
        code = await runner
        accounted = sum(service.counts.values())
        examples = await _read(address, OUTPUT, service.counts[Outcome.EXAMPLE])
        rejections = await _read(address, REJECTS, service.counts[Outcome.REJECTION])
        letters = await _read(address, DLQ, service.counts[Outcome.DEAD_LETTER])
    finally:
        broker.stop()

    _print_examples(examples)
    for record in rejections:
        body = json.loads(record.value)
        print(f"rejected  {body['run_id']:<16} at {body['stage']}: {body['reason']}")
    for record in letters:
        headers = {k: v.decode() for k, v in record.headers}
        key = record.key.decode() if record.key else "-"
        print(f"dead      {key:<16} {headers['agenther-error-type']}: {headers['agenther-error']}")
    counts = ", ".join(f"{o.value}={service.counts[o]}" for o in Outcome)
    print(f"\n{accounted} of {events} events accounted for: {counts}")
    print(f"done in {time.monotonic() - started:.1f}s")
    if code != 0 or accounted != events:
        return 1
    return 0


async def _publish(address: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=address, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(INPUT, value=v, key=k) for k, v in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _read(address: str, topic: str, count: int, timeout_s: float = 5.0) -> list[Any]:
    if count == 0:
        return []
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=address, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            records.extend(r for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    return records


def _print_examples(records: list[Any]) -> None:
    print()
    for record in records:
        example = json.loads(record.value)
        trainer_line = json.loads(example["record"])
        origin = trainer_line.get("agenther", {})
        print(f"example   {example['run_id']:<16} weight={example['weight']:.2f}")
        print(f"  original:  {origin.get('original_prompt', '')}")
        print(f"  hindsight: {origin.get('hindsight_prompt', '')}")
    print()
