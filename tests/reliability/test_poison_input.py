"""Poison input: 1,000 hostile messages interleaved with valid runs. Each hostile one becomes a
dead letter with its reason and original bytes, the valid ones are processed, the service's
memory stays bounded and it never stops."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from typing import Any

import pytest

from streams.events import EventCodec, EventDecodeError
from tests.support.faults import (
    HOSTILE_KINDS,
    ServiceProcess,
    hostile_corpus,
    produce_raw,
    serve_args,
    unique_runs,
)
from tests.support.kafka_fixtures import collect, headers_of

HOSTILE_COUNT = 1000
VALID_COUNT = 200
# Three 5 MB values pass through the process (read, and copied into dead letters).
RSS_LIMIT_BYTES = 400 * 1024 * 1024


async def test_every_hostile_message_is_refused_by_the_parser_with_its_reason() -> None:
    codec = EventCodec()
    kinds: Counter[str] = Counter()
    for message in hostile_corpus(200, big_values=1, big_bytes=2 * 1024 * 1024):
        with pytest.raises(EventDecodeError) as raised:
            await codec.decode_run_event(message.value)
        assert message.reason in raised.value.reason, (message.kind, raised.value.reason)
        kinds[message.kind] += 1
    assert set(kinds) == set(HOSTILE_KINDS)  # every kind of the corpus was tried


@pytest.mark.kafka
@pytest.mark.reliability
async def test_hostile_messages_become_dead_letters_and_valid_runs_go_through(
    kafka_bootstrap: str, service_topics: Any, record_property: Any
) -> None:
    topics = await service_topics(partitions=2)
    hostile = hostile_corpus(HOSTILE_COUNT, seed=4)
    valid = unique_runs("poison-valid", VALID_COUNT)
    stream: list[tuple[bytes | None, bytes]] = [(m.key, m.value) for m in hostile]
    stream += [(v["run_id"].encode(), json.dumps(v).encode()) for v in valid]
    random.Random(4).shuffle(stream)

    service = ServiceProcess(serve_args(topics, kafka_bootstrap, "--rule-based"))
    with service:
        assert service.wait_ready(30), service.log_text()[-2000:]
        service.start_sampling()
        baseline = service.stats().rss_bytes
        started = time.monotonic()
        await produce_raw(kafka_bootstrap, topics.input, stream)
        outputs = await collect(
            kafka_bootstrap,
            [topics.output, topics.rejects, topics.dlq],
            until=len(stream),
            timeout_s=120,
        )
        elapsed = time.monotonic() - started
        assert service.running, service.log_text()[-3000:]
        assert service.http_get("/healthz")[0] == 200
        service.stop_sampling()
        peak = service.peak_rss

    letters = {r.key: r for r in outputs if r.topic == topics.dlq}
    processed = {r.key for r in outputs if r.topic in (topics.output, topics.rejects)}
    assert len(outputs) == len(stream)  # exactly one outcome each, nothing lost
    for message in hostile:
        letter = letters.get(message.key)
        assert letter is not None, message.kind
        headers = headers_of(letter)
        assert headers["agenther-stage"] == "decode", headers
        assert message.reason in headers["agenther-error"], (message.kind, headers)
        assert letter.value == message.value, message.kind  # original bytes, untouched
    assert processed == {v["run_id"].encode() for v in valid}

    record_property("rss_baseline_mb", round(baseline / 2**20))
    record_property("rss_peak_mb", round(peak / 2**20))
    record_property("seconds", round(elapsed, 1))
    print(
        f"poison: {len(stream)} messages in {elapsed:.1f}s, "
        f"RSS {baseline / 2**20:.0f} MB → peak {peak / 2**20:.0f} MB"
    )
    assert peak < RSS_LIMIT_BYTES, peak
