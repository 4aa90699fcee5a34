"""`agenther replay` and `agenther dlq redrive` as an operator runs them, on a real broker."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from streams import dead_letters
from streams.redrive import REDRIVEN_FROM
from tests.support.kafka_fixtures import (
    TEST_SESSION_TIMEOUT_MS,
    collect,
    committed_offsets,
    create_topics,
    headers_of,
    produce,
)

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parent.parent
HOUR_MS = 3_600_000


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


async def agenther(*args: str) -> Result:
    """Run the CLI without blocking the loop, so consumers in the test keep heartbeating."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTHER_", "OPENAI_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agenther",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())


def assert_refused(result: Result, message: str) -> None:
    assert result.returncode == 2, result
    assert f"agenther: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def consumed_topic(kafka_bootstrap: str) -> tuple[str, str]:
    """(topic, group): partition 0 holds two records from 3 h ago then two from now, partition
    1 one old then two new; the group has committed the end of both."""
    tag = uuid.uuid4().hex[:8]
    topic, group = f"replay-cli-{tag}", f"replay-cli-group-{tag}"
    await create_topics(kafka_bootstrap, [topic], partitions=2)
    now = int(time.time() * 1000)
    layout = {0: [now - 3 * HOUR_MS] * 2 + [now] * 2, 1: [now - 3 * HOUR_MS] + [now] * 2}
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for partition, stamps in layout.items():
            for i, stamp in enumerate(stamps):
                await producer.send_and_wait(
                    topic, f"run-{partition}-{i}".encode(), partition=partition, timestamp_ms=stamp
                )
    finally:
        await producer.stop()
    # The service's way of finishing: a consumer of the group commits its positions, then goes.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        ends = {TopicPartition(topic, p): len(stamps) for p, stamps in layout.items()}
        consumer.assign(list(ends))
        await consumer.commit({tp: OffsetAndMetadata(n, "") for tp, n in ends.items()})
    finally:
        await consumer.stop()
    assert await committed_offsets(kafka_bootstrap, group, topic) == {0: 4, 1: 3}
    return topic, group


async def test_replay_resets_a_stopped_group(
    kafka_bootstrap: str, consumed_topic: tuple[str, str]
) -> None:
    topic, group = consumed_topic
    base = ["replay", "--bootstrap-servers", kafka_bootstrap, "--group-id", group, "--topic", topic]

    earliest = await agenther(*base, "--to-earliest")
    assert earliest.returncode == 0, earliest.stderr
    assert f"{topic}-0: 0\n{topic}-1: 0\n" in earliest.stdout
    assert f"group {group} reset on 2 partitions" in earliest.stdout
    assert await committed_offsets(kafka_bootstrap, group, topic) == {0: 0, 1: 0}

    one = await agenther(*base, "--to-offset", "2", "--partition", "0")
    assert one.returncode == 0, one.stderr
    assert await committed_offsets(kafka_bootstrap, group, topic) == {0: 2, 1: 0}

    # An hour back skips exactly the records from three hours ago.
    recent = await agenther(*base, "--by-duration", "1h")
    assert recent.returncode == 0, recent.stderr
    assert f"{topic}-0: 2\n{topic}-1: 1\n" in recent.stdout
    assert await committed_offsets(kafka_bootstrap, group, topic) == {0: 2, 1: 1}


async def test_replay_refuses_an_active_group(
    kafka_bootstrap: str, consumed_topic: tuple[str, str]
) -> None:
    topic, group = consumed_topic
    member = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        session_timeout_ms=TEST_SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=500,
    )
    await member.start()
    try:
        deadline = time.monotonic() + 20
        while not member.assignment() and time.monotonic() < deadline:
            await member.getmany(timeout_ms=200)
        assert member.assignment(), "the member never joined"
        result = await agenther(
            "replay",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--group-id",
            group,
            "--topic",
            topic,
            "--to-earliest",
        )
    finally:
        await member.stop()
    assert_refused(result, f"group {group} is active")
    assert "stop every consumer of the group" in result.stderr
    assert await committed_offsets(kafka_bootstrap, group, topic) == {0: 4, 1: 3}


def dead_letter(key: bytes, value: bytes, error_type: str, error: str, source: str) -> Any:
    return dead_letters.build_dead_letter(
        key=key,
        value=value,
        original_headers=[("trace-id", b"t-" + key)],
        source_topic=source,
        source_partition=0,
        source_offset=7,
        stage="prompt_relabeling",
        error_type=error_type,
        error=error,
        attempts=3,
        scrubber=dead_letters.SecretScrubber(),
    )


async def test_redrive_dry_run_then_by_reason(kafka_bootstrap: str) -> None:
    tag = uuid.uuid4().hex[:8]
    source, dlq = f"runs-{tag}", f"dlq-{tag}"
    # One partition each: offsets, and so what was sent when, are in a known order.
    await create_topics(kafka_bootstrap, [source, dlq], partitions=1)
    letters = [
        dead_letter(b"r1", b'{"run_id": "r1"', "EventDecodeError", "invalid JSON", source),
        dead_letter(b"r2", b'{"run_id": "r2"}', "StageError:LLMTransientError", "429", source),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for item in letters:
            await producer.send_and_wait(dlq, item.value, key=item.key, headers=item.headers)
    finally:
        await producer.stop()
    base = ["dlq", "redrive", "--bootstrap-servers", kafka_bootstrap, "--dlq-topic", dlq]

    dry = await agenther(*base, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Unclosed" not in dry.stderr  # no producer is made for a dry run
    assert f"2 dead letters scanned, 2 matched, 2 would redrive ({source}: 2)" in dry.stdout

    chosen = await agenther(*base, "--reason", "llmtransient")
    assert chosen.returncode == 0, chosen.stderr
    assert f"2 dead letters scanned, 1 matched, 1 redriven ({source}: 1)" in chosen.stdout

    # A marker sent last: everything before it on the source is what the two runs sent.
    await produce(kafka_bootstrap, source, [(b"marker", b"marker")])
    records = await collect(
        kafka_bootstrap, source, until=lambda rs: any(r.key == b"marker" for r in rs)
    )
    assert [r.key for r in records] == [b"r2", b"marker"]
    redriven = records[0]
    assert redriven.value == b'{"run_id": "r2"}'
    headers = headers_of(redriven)
    assert headers == {"trace-id": "t-r2", REDRIVEN_FROM: f"{dlq}/0/1"}


async def test_bad_requests_exit_2_and_an_unreachable_broker_exits_1(
    kafka_bootstrap: str,
) -> None:
    missing = f"dlq-missing-{uuid.uuid4().hex[:8]}"
    no_broker = f"127.0.0.1:{unused_port()}"
    # Independent runs: in parallel, to keep the file quick.
    runs = str(ROOT / "data" / "reference_example_trajectories.json")
    partition_alone, no_dlq, unreachable, no_file, produce_to, tail_from = await asyncio.gather(
        agenther(
            "replay",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--group-id",
            "g",
            "--topic",
            "t",
            "--to-earliest",
            "--partition",
            "0",
        ),
        agenther("dlq", "redrive", "--bootstrap-servers", kafka_bootstrap, "--dlq-topic", missing),
        agenther(
            "replay",
            "--bootstrap-servers",
            no_broker,
            "--group-id",
            "g",
            "--topic",
            "t",
            "--to-earliest",
        ),
        agenther("produce", "no-such-runs.jsonl", "--bootstrap-servers", kafka_bootstrap),
        agenther("produce", runs, "--bootstrap-servers", no_broker),
        agenther("tail", "--topic", "t", "-n", "1", "--bootstrap-servers", no_broker),
    )
    assert_refused(no_file, "no-such-runs.jsonl: no such file")
    for failed in (produce_to, tail_from):
        assert failed.returncode == 1, failed
        assert f"agenther: cannot connect to Kafka at {no_broker}" in failed.stderr
        assert "Traceback" not in failed.stderr and "Unclosed" not in failed.stderr
    assert_refused(partition_alone, "--partition goes with --to-offset")
    assert_refused(no_dlq, f"topic {missing} does not exist")
    assert unreachable.returncode == 1, unreachable
    assert f"agenther: cannot connect to Kafka at {no_broker}" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
