"""Trace assembly under ``kill -9``: traces arrive as the Collector's Kafka exporter writes
them (children first, the root later, other traces in between), the service is killed twice
while traces are half assembled and restarted. Every failed trace ends as an output keyed by
its trace id and every input offset is committed in the end: buffered spans were never
committed before their trace had its outcome."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from tests.support.faults import RecordTap, ServiceProcess, produce_raw, serve_args
from tests.support.kafka_fixtures import committed_offsets, headers_of
from tests.support.otel_traces import agent_trace, otlp_proto, trace_id

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]

FAILED = 240
SUCCEEDED = 60
ROOT_LAG = 25  # a trace's root comes this many messages after its children
KILLS = 2


async def test_kill_9_during_assembly_loses_no_trace(
    kafka_bootstrap: str, service_topics: Any
) -> None:
    rng = random.Random(20261206)
    topics = await service_topics(partitions=2)
    goals = ["Find the cheapest direct flight from Boston to Lisbon on 12 May"] * FAILED
    traces = [agent_trace(g) for g in goals] + [agent_trace(failed=False) for _ in range(SUCCEEDED)]
    rng.shuffle(traces)
    children = [
        (trace_id(t).encode(), otlp_proto([s for s in t if s.parent is not None])) for t in traces
    ]
    roots = [(trace_id(t).encode(), otlp_proto([s for s in t if s.parent is None])) for t in traces]
    stream: list[tuple[bytes, bytes]] = []
    for i, child in enumerate(children):
        stream.append(child)
        if i >= ROOT_LAG:
            stream.append(roots[i - ROOT_LAG])
    stream += roots[len(roots) - ROOT_LAG :]
    failed = {trace_id(t).encode() for t in traces if t[-1].status.status_code.name == "ERROR"}
    assert len(failed) == FAILED
    # The stream arrives in parts; each kill comes when every trace whose root has arrived is
    # relabeled, so ROOT_LAG traces are half assembled in the killed process's memory.
    cuts = [len(stream) * (k + 1) // (KILLS + 1) for k in range(KILLS)] + [len(stream)]

    service = ServiceProcess(
        serve_args(
            topics,
            kafka_bootstrap,
            "--rule-based",
            "--input-format",
            "otlp-proto",
            "--trace-grace-s",
            "0.2",
        )
    )
    async with RecordTap(kafka_bootstrap, [topics.output, topics.rejects, topics.dlq]) as tap:
        with service:
            sent = 0
            for k, cut in enumerate(cuts):
                await produce_raw(kafka_bootstrap, topics.input, stream[sent:cut])
                sent = cut
                rooted = {key for key, _ in roots if (key, _) in stream[:cut]}
                due = failed & rooted
                reached = await tap.wait_until(
                    lambda rs, d=due: {r.key for r in rs} >= d, timeout_s=60
                )
                assert reached, service.log_text()[-3000:]
                if k < KILLS:
                    assert len(due) < FAILED  # traces are half assembled right now
                    service.kill9()
                    service.start()
            # The last instance commits everything (so it is up) before it is stopped.
            committed = await _committed(kafka_bootstrap, topics, len(stream))
            assert committed, service.log_text()[-3000:]
            assert service.terminate() == 0
        outputs = list(tap.records)

    assert service.starts == KILLS + 1
    assert {r.key for r in outputs} == failed
    assert not [headers_of(r)["agenther-error"] for r in outputs if r.topic == topics.dlq]


async def _committed(bootstrap: str, topics: Any, total: int, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        committed = await committed_offsets(bootstrap, topics.group, topics.input)
        if sum(committed.values()) == total:
            return True
        await asyncio.sleep(0.5)
    return False
