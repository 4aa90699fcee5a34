"""Broker faults: the service starts before the broker exists (it waits, says so, becomes
ready), and survives the broker being killed and restarted on the same port mid-stream
(it reconnects, processes new events, and does not spin while the broker is gone). The restarted
broker has forgotten the data and the group: the consumer's pre-crash positions must not skip the
first records of the new log."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from tests.support.faults import KillableBroker, ServiceProcess, unique_runs
from tests.support.kafka_fixtures import collect, create_topics, produce, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]

OUTAGE_S = 6.0
# A process that spins burns about one CPU second per second; a waiting one, a few percent.
MAX_CPU_SHARE_WHILE_WAITING = 0.25


async def test_service_waits_for_the_broker_and_survives_its_restart(
    record_property: Any,
) -> None:
    tag = uuid.uuid4().hex[:8]
    names = [f"{kind}-{tag}" for kind in ("runs", "examples", "rejects", "dlq")]
    broker = KillableBroker()  # a port nobody listens on yet
    service = ServiceProcess(
        [
            "--bootstrap-servers",
            broker.bootstrap,
            "--input-topic",
            names[0],
            "--output-topic",
            names[1],
            "--rejects-topic",
            names[2],
            "--dlq-topic",
            names[3],
            "--group-id",
            f"group-{tag}",
            "--topic-partitions",
            "2",
            "--session-timeout-ms",
            "2000",
            "--fetch-max-wait-ms",
            "50",
            "--shutdown-grace",
            "5",
            "--rule-based",
        ]
    )
    try:
        service.start()
        # 1. No broker yet: alive, not ready, saying why, and not spinning.
        # Measured once start-up (imports) is over: the first retry line says so.
        assert await wait_for(lambda: "not reachable" in service.log_text(), timeout_s=30)
        cpu_before = service.stats().cpu_s
        await asyncio.sleep(OUTAGE_S / 2)
        waiting_cpu = service.stats().cpu_s - cpu_before
        assert service.running
        assert service.http_get("/healthz")[0] == 200
        assert service.http_get("/readyz")[0] == 503
        log = service.log_text()
        assert f"Kafka at {broker.bootstrap} not reachable" in log, log[-2000:]
        assert waiting_cpu < MAX_CPU_SHARE_WHILE_WAITING * OUTAGE_S / 2, waiting_cpu

        # 2. The broker appears: the service creates its topics, joins and works.
        broker.start()
        assert service.wait_ready(45), service.log_text()[-3000:]
        first = unique_runs(f"before-{tag}", 20)
        await produce(broker.bootstrap, names[0], first)
        got = await collect(broker.bootstrap, names[1:], until=len(first), timeout_s=30)
        assert {r.key.decode() for r in got} == {e["run_id"] for e in first}

        # 3. kill -9 of the broker mid-stream: the service keeps waiting, quietly.
        broker.kill9()
        outage_started = time.monotonic()
        cpu_before = service.stats().cpu_s
        await asyncio.sleep(OUTAGE_S)
        outage_cpu = service.stats().cpu_s - cpu_before
        assert service.running, service.log_text()[-3000:]
        assert service.http_get("/healthz")[0] == 200
        assert outage_cpu < MAX_CPU_SHARE_WHILE_WAITING * OUTAGE_S, outage_cpu

        # 4. Same port, empty memory: the operator recreates the topics; new events flow.
        # The consumer still reads at its pre-crash positions (about len(first) / 2 per
        # partition), so the new log's first offsets are behind it: every one must still come
        # out, because the service restarts such partitions from what the broker holds.
        broker.start()
        await create_topics(broker.bootstrap, names, partitions=2)
        second = unique_runs(f"after-{tag}", 2 * len(first))
        await produce(broker.bootstrap, names[0], second)
        wanted = {e["run_id"] for e in second}
        got = await collect(
            broker.bootstrap,
            names[1:],
            until=lambda rs: {r.key.decode() for r in rs} >= wanted,
            timeout_s=60,
        )
        recovered_s = time.monotonic() - outage_started
        keys = {r.key.decode() for r in got}
        assert keys >= wanted, (sorted(wanted - keys), service.log_text()[-4000:])
        assert service.running
        code = service.terminate()
        assert code == 0, service.log_text()[-4000:]
    finally:
        service.close()
        broker.kill9()

    record_property("cpu_s_waiting_for_first_broker", round(waiting_cpu, 3))
    record_property("cpu_s_during_outage", round(outage_cpu, 3))
    record_property("seconds_outage_to_recovered", round(recovered_s, 1))
    print(
        f"broker faults: CPU {waiting_cpu:.2f}s while waiting {OUTAGE_S / 2:.0f}s, "
        f"{outage_cpu:.2f}s during a {OUTAGE_S:.0f}s outage; recovered {recovered_s:.1f}s "
        f"after the kill"
    )
