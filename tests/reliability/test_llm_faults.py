"""LLM faults, forced and checked exactly.

Every fault kind an endpoint produces is pinned to one event (the fake fails every request
that carries that event's unique marker), so each event's fate is deterministic while all of
them run concurrently through one service:

- transient faults (429, 500, 503, timeouts, cut-off and non-JSON bodies) exhaust the client's
  retries and the service's, then dead-letter with ``LLMTransientError`` and the exact attempt
  count;
- unusable replies (broken JSON, the wrong shape, a reply cut off at max_tokens, a refusal)
  dead-letter with ``LLMResponseError`` after one attempt;
- requests refused for their content (context length, content filter, another 400) dead-letter
  with ``LLMRequestError`` after one attempt, and the service goes on (a per-event 400 used to
  stop it for good);
- an exhausted quota pauses everything and dead-letters nothing; a wrong key stops the service
  before it is ever ready, or mid-stream without committing the event.

Each dead letter keeps the original key and value byte for byte.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

from agenther.config import PipelineConfig
from streams.processor import EXIT_FATAL, Outcome, RelabelService
from tests.support.fake_openai import FakeOpenAI, Fault
from tests.support.faults import unique_runs
from tests.support.kafka_fixtures import collect, committed_offsets, headers_of, produce, wait_for
from tests.support.llm_replies import install_default_replies

pytestmark = [pytest.mark.kafka, pytest.mark.reliability]

API_KEY = "sk-test-llm-faults-0123456789"
CLIENT_RETRIES = 1  # the client's own retries per call
SERVICE_RETRIES = 1  # the service's retries per event after a transient error
RETRY_AFTER_S = 0.3
# By default Stages 1 and 2 are one LLM call, charged to Stage 1.
FIRST_LLM_STAGE = "failure_detection"

TRANSIENT = {
    "429-retry-after": Fault.status(429, retry_after=RETRY_AFTER_S),
    "500": Fault.status(500),
    "503": Fault.status(503),
    "timeout": Fault.delay(30.0),
    "truncated-body": Fault.truncated_body(),
    "html-body": Fault.non_json_body(),
}
UNUSABLE = {  # (fault, requests one attempt makes: a repair retry doubles it)
    "broken-json": (Fault.broken_json(), 2),
    "wrong-shape": (Fault.schema_violation(), 2),
    "cut-off": (Fault.length_cutoff(), 1),
    "refusal": (Fault.refusal(), 1),
}
REFUSED_REQUEST = {
    "context-length": (Fault.context_length_exceeded(), "maximum context length"),
    "content-filter": (Fault.content_filter(), "content management policy"),
    "bad-request": (Fault.status(400, message="messages[1]: invalid UTF-8"), "invalid UTF-8"),
}


def pipeline(fake: FakeOpenAI) -> PipelineConfig:
    return PipelineConfig(
        base_url=fake.base_url,
        api_key=API_KEY,
        max_retries=CLIENT_RETRIES,
        request_timeout=0.5,
    )


def marker(run: dict[str, Any]) -> str:
    """The unique text ``unique_runs`` puts in each run's last observation."""
    return "Reference R" + run["run_id"].rsplit("-", 1)[1]


async def test_each_fault_kind_ends_its_event_exactly_as_specified(
    kafka_bootstrap: str, service_topics: Any, running_services: Any, fake_llm: FakeOpenAI
) -> None:
    install_default_replies(fake_llm)
    names = [*TRANSIENT, *UNUSABLE, *REFUSED_REQUEST, "healthy"]
    events = dict(zip(names, unique_runs("fault", len(names)), strict=True))
    for name, fault in TRANSIENT.items():
        fake_llm.fail_matching(marker(events[name]), fault)
    for name, (fault, _) in UNUSABLE.items():
        fake_llm.fail_matching(marker(events[name]), fault)
    for name, (fault, _) in REFUSED_REQUEST.items():
        fake_llm.fail_matching(marker(events[name]), fault)
    produced = {name: json.dumps(event).encode() for name, event in events.items()}

    topics = await service_topics(partitions=2)
    await produce(
        kafka_bootstrap,
        topics.input,
        [(e["run_id"].encode(), produced[n]) for n, e in events.items()],
    )
    service = await running_services(
        topics.settings(
            kafka_bootstrap,
            pipeline=pipeline(fake_llm),
            transient_retries=SERVICE_RETRIES,
            retry_backoff_ms=10,
            retry_backoff_max_ms=20,
        )
    )
    assert await wait_for(
        lambda: sum(service.counts.values()) == len(names) or not service.live, timeout_s=60
    )
    assert service.live, "a per-event fault stopped the service"

    letters = await collect(kafka_bootstrap, topics.dlq, until=len(names) - 1)
    by_key = {record.key: record for record in letters}
    assert len(letters) == len(by_key) == len(names) - 1
    examples = await collect(kafka_bootstrap, topics.output, until=1)
    assert [r.key for r in examples] == [events["healthy"]["run_id"].encode()]

    def letter(name: str) -> tuple[Any, dict[str, str]]:
        record = by_key[events[name]["run_id"].encode()]
        assert record.value == produced[name], name  # the original bytes, byte for byte
        headers = headers_of(record)
        assert headers["agenther-stage"] == FIRST_LLM_STAGE, (name, headers)
        return record, headers

    def transient_calls(name: str) -> int:
        if name == "timeout":
            return SERVICE_RETRIES + 1  # a loopback server cannot cancel: no client retry
        per_event = CLIENT_RETRIES + 1
        if name in ("500", "503"):
            # After the second 5xx the same messages go once without response_format, to
            # tell a refused format from a failing server; the fault fails that one too.
            per_event += 1
        return per_event * (SERVICE_RETRIES + 1)

    for name in TRANSIENT:
        _, headers = letter(name)
        assert headers["agenther-error-type"] == "LLMTransientError", (name, headers)
        assert headers["agenther-attempts"] == str(SERVICE_RETRIES + 1), (name, headers)
        assert len(fake_llm.requests_matching(marker(events[name]))) == transient_calls(name), name
    for name, (_, calls) in UNUSABLE.items():
        _, headers = letter(name)
        assert headers["agenther-error-type"] == "LLMResponseError", (name, headers)
        assert headers["agenther-attempts"] == "1", (name, headers)
        assert len(fake_llm.requests_matching(marker(events[name]))) == calls, name
    for name, (_, endpoint_words) in REFUSED_REQUEST.items():
        _, headers = letter(name)
        assert headers["agenther-error-type"] == "LLMRequestError", (name, headers)
        assert headers["agenther-attempts"] == "1", (name, headers)
        assert endpoint_words in headers["agenther-error"], (name, headers)
        # A prompt too long for the context is asked once more with half the run data.
        asked = 2 if name == "context-length" else 1
        assert len(fake_llm.requests_matching(marker(events[name]))) == asked, name

    # retry-after: every retry of that event came at least RETRY_AFTER_S after the last try,
    # the client's retries and the service's alike.
    arrivals = [
        r.received_at for r in fake_llm.requests_matching(marker(events["429-retry-after"]))
    ]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == transient_calls("429-retry-after") - 1 and min(gaps) >= RETRY_AFTER_S, gaps

    registry = service.metrics.registry
    failures = {
        error: registry.get_sample_value(
            "agenther_llm_failures_total", {"model": "gpt-4o-mini", "error": error}
        )
        for error in ("LLMTransientError", "LLMRequestError")
    }
    assert failures == {
        "LLMTransientError": len(TRANSIENT) * (SERVICE_RETRIES + 1),
        "LLMRequestError": len(REFUSED_REQUEST) + 1,  # the context-length event asks twice
    }
    service.stop()
    assert await wait_for(lambda: service._consumer is None, timeout_s=20)
    committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
    assert sum(committed.values()) == len(names)


async def test_an_exhausted_quota_pauses_everything_and_dead_letters_nothing(
    kafka_bootstrap: str, service_topics: Any, running_services: Any, fake_llm: FakeOpenAI
) -> None:
    install_default_replies(fake_llm)
    events = unique_runs("quota", 4)
    fake_llm.fail_matching("Reference R", Fault.insufficient_quota())
    topics = await service_topics(partitions=1)
    service = await running_services(
        topics.settings(
            kafka_bootstrap,
            pipeline=pipeline(fake_llm),
            quota_pause_s=0.2,
            quota_pause_max_s=0.5,
        )
    )
    await service.wait_joined(30)
    await produce(kafka_bootstrap, topics.input, events)
    registry = service.metrics.registry

    # Paused: not ready, says why, nothing written and nothing committed, however long it lasts.
    assert await wait_for(
        lambda: (
            registry.get_sample_value("agenther_llm_paused") == 1
            or sum(service.counts.values()) > 0
        )
    )
    assert sum(service.counts.values()) == 0, service.counts
    assert not service.ready and "quota" in service.not_ready_reason()
    assert await wait_for(
        lambda: (registry.get_sample_value("agenther_llm_quota_errors_total") or 0) >= 6
    )  # several pauses came and went, each tried one event again
    assert sum(service.counts.values()) == 0
    committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
    assert all(offset <= 0 for offset in committed.values()), committed

    fake_llm.fail_matching("Reference R", None)  # someone paid
    assert await wait_for(lambda: service.counts[Outcome.EXAMPLE] == len(events), timeout_s=30)
    assert service.counts[Outcome.DEAD_LETTER] == 0
    assert await wait_for(lambda: registry.get_sample_value("agenther_llm_paused") == 0)
    assert service.ready


async def test_a_bad_key_stops_the_service_before_it_is_ever_ready(
    kafka_bootstrap: str, service_topics: Any, fake_llm: FakeOpenAI
) -> None:
    fake_llm.fault_rate = 1.0
    fake_llm.faults = [Fault.status(401)]
    topics = await service_topics(partitions=1)
    await produce(kafka_bootstrap, topics.input, unique_runs("badkey", 2))
    service = RelabelService(topics.settings(kafka_bootstrap, pipeline=pipeline(fake_llm)))
    assert await asyncio.wait_for(service.run(), 30) == EXIT_FATAL
    assert not service._joined.is_set()  # never joined the group, never ready
    assert len(fake_llm.requests) == 1  # one check, not one failure per event
    committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
    assert all(offset <= 0 for offset in committed.values()), committed


async def test_a_key_revoked_mid_stream_stops_without_committing_that_event(
    kafka_bootstrap: str, service_topics: Any, fake_llm: FakeOpenAI
) -> None:
    install_default_replies(fake_llm)
    fake_llm.fail_matching("Reference R", Fault.status(401))  # the start-up check passes
    topics = await service_topics(partitions=1)
    # Two events that need no LLM (dead letters), then one that does.
    await produce(
        kafka_bootstrap,
        topics.input,
        [(b"bad-1", b"{"), (b"bad-2", b"[]"), *unique_runs("revoked", 1)],
    )
    service = RelabelService(topics.settings(kafka_bootstrap, pipeline=pipeline(fake_llm)))
    assert await asyncio.wait_for(service.run(), 30) == EXIT_FATAL
    assert not service.live
    assert service.counts == {Outcome.DEAD_LETTER: 2}
    # Offsets 0 and 1 are done and committed; offset 2 is left for after the key is fixed.
    assert await committed_offsets(kafka_bootstrap, topics.group, topics.input) == {0: 2}
