"""The embedded Tansu broker: starts on a free loopback port, serves clients, stops cleanly."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from streams.broker import EmbeddedBroker, free_port
from streams.topics import ensure_topics
from tests.support.kafka_fixtures import collect, produce

pytestmark = pytest.mark.kafka


async def test_embedded_broker_creates_topics_with_explicit_partitions() -> None:
    with EmbeddedBroker() as broker:
        assert broker.running and broker.bootstrap.startswith("127.0.0.1:")
        created = await ensure_topics(broker.bootstrap, ["t-three", "t-one"], partitions=3)
        assert sorted(created) == ["t-one", "t-three"]
        # Existing topics are left alone, missing ones created.
        assert await ensure_topics(broker.bootstrap, ["t-one", "t-new"], partitions=1) == ["t-new"]
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(["t-three", "t-new"])
        finally:
            await admin.close()
        assert {d["topic"]: len(d["partitions"]) for d in described} == {"t-three": 3, "t-new": 1}

        await produce(broker.bootstrap, "t-one", [b"hello", (b"k", b"world")])
        records = await collect(broker.bootstrap, "t-one", until=2, timeout_s=10)
        # t-one has 3 partitions: Kafka orders records within a partition, not across them.
        assert sorted(r.value for r in records) == [b"hello", b"world"]
    assert not broker.running


async def test_embedded_broker_on_a_chosen_port() -> None:
    port = free_port()
    with EmbeddedBroker(port=port) as broker:
        assert broker.bootstrap == f"127.0.0.1:{port}"
        await produce(broker.bootstrap, "chosen", [b"x"])
        assert [r.value for r in await collect(broker.bootstrap, "chosen", until=1)] == [b"x"]


def test_broker_command_prints_its_address_and_stops_on_sigint() -> None:
    import signal
    import subprocess
    import sys

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agenther", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"127.0.0.1:{port}" in line
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
