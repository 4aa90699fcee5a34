"""The service in LLM mode against the loopback fake OpenAI server: retries, dead letters, stop."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agenther.config import PipelineConfig
from streams.processor import Outcome
from streams.sample_runs import FAILED_RUNS
from tests.support.fake_openai import FakeOpenAI, Fault
from tests.support.kafka_fixtures import collect, headers_of, produce, wait_for

pytestmark = pytest.mark.kafka

API_KEY = "sk-test-SECRET-0123456789abcdef"


def llm_pipeline(fake: FakeOpenAI) -> PipelineConfig:
    # The client's own retries are off so each fault reaches the service's retry policy.
    return PipelineConfig(base_url=fake.base_url, api_key=API_KEY, max_retries=0, request_timeout=5)


def runs(tag: str, n: int) -> list[dict[str, Any]]:
    return [dict(FAILED_RUNS[i % len(FAILED_RUNS)], run_id=f"{tag}-{i}") for i in range(n)]


async def test_llm_mode_produces_examples_and_llm_metrics(
    kafka_bootstrap: str, service_topics: Any, running_services: Any, fake_llm: FakeOpenAI
) -> None:
    topics = await service_topics(partitions=1)
    await produce(kafka_bootstrap, topics.input, runs("llm", 3))
    service = await running_services(
        topics.settings(kafka_bootstrap, pipeline=llm_pipeline(fake_llm))
    )
    assert await wait_for(lambda: sum(service.counts.values()) == 3)
    assert service.counts[Outcome.DEAD_LETTER] == 0
    registry = service.metrics.registry
    requests = registry.get_sample_value("agenther_llm_requests_total", {"model": "gpt-4o-mini"})
    assert requests is not None and requests >= 3
    prompt_tokens = registry.get_sample_value(
        "agenther_llm_tokens_total", {"model": "gpt-4o-mini", "kind": "prompt"}
    )
    assert prompt_tokens is not None and prompt_tokens > 0
    cost = registry.get_sample_value("agenther_llm_cost_usd_total", {"model": "gpt-4o-mini"})
    assert cost is not None and cost > 0


async def test_transient_errors_are_retried_then_succeed(
    kafka_bootstrap: str, service_topics: Any, running_services: Any, fake_llm: FakeOpenAI
) -> None:
    topics = await service_topics(partitions=1)
    service = await running_services(
        topics.settings(kafka_bootstrap, pipeline=llm_pipeline(fake_llm), transient_retries=5)
    )
    await service.wait_joined(30)  # past the start-up check of the endpoint
    fake_llm.script([Fault.status(503), Fault.status(429), Fault.status(500)])
    await produce(kafka_bootstrap, topics.input, runs("flaky", 1))
    assert await wait_for(lambda: sum(service.counts.values()) == 1)
    assert fake_llm.scripted_left == 0
    assert service.counts[Outcome.DEAD_LETTER] == 0
    retried = service.metrics.registry.get_sample_value("agenther_transient_retries_total")
    assert retried == 3


async def test_persistent_transient_error_becomes_a_dead_letter_with_attempts(
    kafka_bootstrap: str, service_topics: Any, running_services: Any, fake_llm: FakeOpenAI
) -> None:
    topics = await service_topics(partitions=1)
    service = await running_services(
        topics.settings(kafka_bootstrap, pipeline=llm_pipeline(fake_llm), transient_retries=2)
    )
    await service.wait_joined(30)  # past the start-up check of the endpoint
    fake_llm.fault_rate = 1.0
    fake_llm.faults = [Fault.status(503, message=f"upstream rejected key {API_KEY}")]
    events = runs("down", 2)
    await produce(kafka_bootstrap, topics.input, events)
    assert await wait_for(lambda: sum(service.counts.values()) == 2)
    letters = await collect(kafka_bootstrap, topics.dlq, until=2)
    assert len(letters) == 2
    originals = {e["run_id"]: json.dumps(e).encode() for e in events}
    for record in letters:
        headers = headers_of(record)
        assert record.value == originals[record.key.decode()]
        assert headers["agenther-attempts"] == "3"
        assert headers["agenther-error-type"] == "LLMTransientError"
        assert headers["agenther-stage"] == "failure_detection"
        assert API_KEY not in json.dumps(headers)
        assert "SECRET" not in json.dumps(headers)
    assert service.counts[Outcome.DEAD_LETTER] == 2
