"""Pieces of the service that need no broker: backoff, secret scrubbing, dead-letter headers."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from streams.dead_letters import (
    DEAD_LETTER_HEADERS,
    ScrubbingFilter,
    SecretScrubber,
    build_dead_letter,
)
from streams.retry import Backoff


def test_backoff_doubles_to_a_cap_with_full_jitter() -> None:
    backoff = Backoff(initial_s=0.5, max_s=4.0, rng=random.Random(1))
    assert [backoff.ceiling(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    delays = [backoff.delay(5) for _ in range(200)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert min(delays) < 1.0 < 3.0 < max(delays)  # spread over the whole range
    assert Backoff.from_ms(500, 100).max_s == 0.5  # a cap below the start is the start


def test_scrubber_removes_known_secrets_and_credential_shapes() -> None:
    scrubber = SecretScrubber(["hunter2-password", "sk-live-abcdef123456"])
    text = (
        "401 for key sk-live-abcdef123456 (login hunter2-password); "
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.x; url http://bob:pa55word@proxy:8080/v1; "
        "api_key=zzz-top-secret other sk-proj-unknownKEY999"
    )
    clean = scrubber.scrub(text)
    for secret in ("hunter2", "sk-live", "eyJhbGci", "pa55word", "zzz-top-secret", "unknownKEY"):
        assert secret not in clean
    assert "401 for key" in clean and "proxy:8080" in clean
    assert len(scrubber.scrub("x" * 5000)) == 1000


def test_scrubber_reaches_into_exception_causes() -> None:
    scrubber = SecretScrubber(["s3cr3t-value"])
    try:
        try:
            raise ConnectionError("auth failed for s3cr3t-value")
        except ConnectionError as inner:
            raise RuntimeError("request failed") from inner
    except RuntimeError as exc:
        described = scrubber.describe(exc)
    assert "RuntimeError: request failed" in described
    assert "ConnectionError" in described and "s3cr3t-value" not in described


def test_log_filter_scrubs_arguments_and_tracebacks() -> None:
    logger = logging.getLogger("test.scrub")
    record = logger.makeRecord(
        "test.scrub", logging.ERROR, __file__, 1, "key %s", ("sk-abcdef0123456789",), None
    )
    assert ScrubbingFilter(SecretScrubber()).filter(record)
    assert "sk-abcdef" not in record.getMessage()


def test_dead_letter_keeps_original_bytes_and_replaces_old_failure_headers() -> None:
    letter = build_dead_letter(
        key=b"run-1",
        value=b"\x00raw bytes",
        original_headers=[("trace-id", b"abc"), ("agenther-error", b"old failure")],
        source_topic="agent-runs",
        source_partition=3,
        source_offset=42,
        stage="outcome_extraction",
        error_type="LLMTransientError",
        error="HTTP 503 with key sk-zzzzzzzzzzzz",
        attempts=6,
        scrubber=SecretScrubber(),
    )
    headers = dict(letter.headers)
    assert letter.key == b"run-1" and letter.value == b"\x00raw bytes"
    assert set(DEAD_LETTER_HEADERS) <= set(headers)
    assert [name for name, _ in letter.headers].count("agenther-error") == 1
    assert headers["trace-id"] == b"abc"
    assert headers["agenther-attempts"] == b"6"
    assert headers["agenther-source-partition"] == b"3"
    assert headers["agenther-source-offset"] == b"42"
    assert b"sk-zzzz" not in headers["agenther-error"]


async def test_the_lag_gauge_survives_a_partition_taken_away_mid_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aiokafka asserts in ``highwater`` for a partition a rebalance just took away; the lag
    task must skip it. A dead lag task used to turn the next SIGTERM into exit 1."""

    from aiokafka import TopicPartition

    from agenther.config import PipelineConfig
    from streams import processor
    from streams.processor import RelabelService
    from streams.settings import ServiceSettings

    kept, taken = TopicPartition("runs", 0), TopicPartition("runs", 1)

    class Rebalancing:
        def assignment(self) -> set[TopicPartition]:
            return {kept, taken}

        def highwater(self, tp: TopicPartition) -> int:
            assert tp == kept, "Partition is not assigned"
            return 10

        async def position(self, tp: TopicPartition) -> int:
            return 7

    monkeypatch.setattr(processor, "_LAG_INTERVAL_S", 0.01)
    service = RelabelService(
        ServiceSettings(
            bootstrap_servers="127.0.0.1:1",
            metrics_port=0,
            pipeline=PipelineConfig(rule_based=True),
        )
    )
    service._consumer = Rebalancing()  # type: ignore[assignment]
    task = asyncio.create_task(service._lag_loop())
    await asyncio.sleep(0.1)
    assert not task.done(), task.exception()
    task.cancel()
    lag = service.metrics.registry.get_sample_value(
        "agenther_consumer_lag", {"topic": "runs", "partition": "0"}
    )
    assert lag == 3


async def test_a_leave_the_broker_never_answers_does_not_hold_the_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from streams.group_leave import leave_generation_zero

    class SilentCoordinator:
        group_id, member_id, generation = "g", "member-1", 0

        async def _send_req(self, request: object) -> None:
            await asyncio.Event().wait()  # a broker that never answers

    class Consumer:
        _coordinator = SilentCoordinator()

    with caplog.at_level(logging.WARNING, logger="streams.group_leave"):
        await asyncio.wait_for(leave_generation_zero(Consumer(), timeout_s=0.05), 2)
    assert "did not answer LeaveGroup" in caplog.text
