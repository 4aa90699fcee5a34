"""LLM faults: 429 with retry-after, 500, timeouts, truncated and non-JSON bodies, broken and
schema-violating JSON on 20% of calls. Every event still ends as an example, a rejection or a
dead letter that names the failing stage and error class; retry-after is honoured."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.support.fake_openai import FakeOpenAI, Fault
from tests.support.faults import ServiceProcess, serve_args, unique_runs
from tests.support.kafka_fixtures import collect, committed_offsets, headers_of, produce
from tests.support.llm_replies import install_default_replies

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]

RETRY_AFTER_S = 0.6
FAULTS = [
    Fault.status(429, retry_after=0.2),
    Fault.status(500),
    Fault.status(503),
    Fault.delay(1.5),  # longer than the request timeout below
    Fault.truncated_body(),
    Fault.non_json_body(),
    Fault.broken_json(),
    Fault.schema_violation(),
]
PIPELINE_STAGES = {"failure_detection", "outcome_extraction", "prompt_relabeling"}
# What an LLM fault may legitimately end as, when retries and repairs ran out.
LLM_ERRORS = {"LLMTransientError", "LLMResponseError"}


async def test_llm_faults_end_every_event_with_the_right_outcome(
    kafka_bootstrap: str, service_topics: Any, fake_llm: FakeOpenAI, record_property: Any
) -> None:
    install_default_replies(fake_llm)
    topics = await service_topics(partitions=2)
    service = ServiceProcess(
        serve_args(
            topics,
            kafka_bootstrap,
            "--base-url",
            fake_llm.base_url,
            "--transient-retries",
            "1",
            "--retry-backoff-ms",
            "50",
            "--retry-backoff-max-ms",
            "200",
            "--max-in-flight",
            "16",
        ),
        env={
            "OPENAI_API_KEY": "sk-test-llm-faults",
            "AGENTHER_PIPELINE__REQUEST_TIMEOUT": "1.0",
            "AGENTHER_PIPELINE__MAX_RETRIES": "1",
        },
    )
    with service:
        assert service.wait_ready(30), service.log_text()[-2000:]

        # 1. retry-after: one run, its first two calls answered 429 with retry-after.
        fake_llm.script([Fault.status(429, retry_after=RETRY_AFTER_S)] * 2)
        probe = unique_runs("probe", 1)
        await produce(kafka_bootstrap, topics.input, probe)
        got = await collect(kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=1)
        assert [r.key.decode() for r in got] == ["probe-00000"], service.log_text()[-2000:]
        first, second, third = fake_llm.requests[:3]
        assert first.body == second.body == third.body  # the same call, retried
        assert second.received_at - first.received_at >= RETRY_AFTER_S
        assert third.received_at - second.received_at >= RETRY_AFTER_S

        # 2. a fifth of all calls fail, in every way an endpoint fails.
        fake_llm.fault_rate = 0.2
        fake_llm.faults = list(FAULTS)
        before = len(fake_llm.requests)
        events = unique_runs("llmfault", 80)
        ids = {e["run_id"] for e in events}
        await produce(kafka_bootstrap, topics.input, events)
        outputs = await collect(
            kafka_bootstrap,
            [topics.output, topics.rejects, topics.dlq],
            until=lambda rs: {r.key.decode() for r in rs} >= ids | {"probe-00000"},
            timeout_s=90,
        )
        calls = len(fake_llm.requests) - before
        log = service.log_text()
        assert service.running, log[-3000:]

    by_run: dict[str, list[Any]] = {}
    for record in outputs:
        by_run.setdefault(record.key.decode(), []).append(record)
    assert set(by_run) == ids | {"probe-00000"}, ids - set(by_run)  # nothing lost
    outcome: Counter[str] = Counter()
    for run_id in ids:
        records = by_run[run_id]
        # One outcome per event (a duplicate would repeat the same topic).
        assert len({r.topic for r in records}) == 1, run_id
        record = records[0]
        if record.topic == topics.output:
            outcome["example"] += 1
        elif record.topic == topics.rejects:
            rejection = json.loads(record.value)
            assert rejection["run_id"] == run_id and rejection["stage"] and rejection["reason"]
            outcome["rejection"] += 1
        else:
            headers = headers_of(record)
            assert headers["agenther-stage"] in PIPELINE_STAGES, headers
            assert headers["agenther-error-type"] in LLM_ERRORS, headers
            assert headers["agenther-error"], headers
            assert int(headers["agenther-attempts"]) >= 1
            assert json.loads(record.value)["run_id"] == run_id  # original bytes kept
            outcome["dead_letter"] += 1
    # Retries absorb most faults: the bulk still becomes training data.
    assert outcome["example"] >= len(ids) // 2, outcome
    assert "transient LLM error" in log or outcome["dead_letter"] == 0

    # Stopped gracefully (SIGTERM): every input offset is committed.
    committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
    assert sum(committed.values()) == len(ids) + 1, committed
    record_property("llm_calls", calls)
    record_property("outcomes", dict(outcome))
    print(f"LLM faults: {calls} calls for {len(ids)} events, outcomes {dict(outcome)}")
