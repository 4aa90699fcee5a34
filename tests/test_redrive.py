"""Dead-letter redrive on a real broker (Tansu unless one is configured)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from streams import dead_letters
from streams.redrive import REDRIVEN_FROM, RedriveError, redrive_dead_letters
from tests.support.kafka_fixtures import collect, create_topics, headers_of

pytestmark = pytest.mark.kafka

SCRUBBER = dead_letters.SecretScrubber()


def letter(
    key: bytes | None, value: bytes, error_type: str, error: str, source: str, offset: int
) -> dead_letters.DeadLetter:
    return dead_letters.build_dead_letter(
        key=key,
        value=value,
        original_headers=[("trace-id", b"t-" + value)],
        source_topic=source,
        source_partition=0,
        source_offset=offset,
        stage="decode" if error_type == "EventDecodeError" else "prompt_relabeling",
        error_type=error_type,
        error=error,
        attempts=1,
        scrubber=SCRUBBER,
    )


async def publish(bootstrap: str, topic: str, letters: Sequence[dead_letters.DeadLetter]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for item in letters:
            await producer.send_and_wait(topic, item.value, key=item.key, headers=item.headers)
    finally:
        await producer.stop()


@pytest.fixture
async def dlq(kafka_bootstrap: str) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    names = {"source": f"runs-{tag}", "dlq": f"dlq-{tag}", "other": f"other-{tag}"}
    await create_topics(kafka_bootstrap, list(names.values()), partitions=2)
    source = names["source"]
    letters = [
        letter(b"r1", b'{"run_id": "r1"', "EventDecodeError", "message: invalid JSON", source, 1),
        letter(b"r2", b"\xff", "EventDecodeError", "message: invalid UTF-8 at byte 0", source, 2),
        letter(b"r3", b'{"run_id": "r3"}', "StageError:LLMTransientError", "429 rate", source, 3),
        letter(None, b'{"run_id": "r4"}', "StageError:LLMTransientError", "timeout", source, 4),
    ]
    # A letter without its source (written by something else): redrivable only to a target.
    orphan = dead_letters.DeadLetter(
        key=b"r5", value=b"orphan", headers=[(dead_letters.ERROR, b"lost")]
    )
    # A letter that was redriven before and failed again: it keeps one, updated origin.
    again = letter(b"r6", b"again", "StageError:LLMTransientError", "503", source, 6)
    again.headers.append((REDRIVEN_FROM, b"old/0/0"))
    await publish(kafka_bootstrap, names["dlq"], [*letters, orphan, again])
    return names


async def test_redrive_by_reason_sends_originals_back_to_their_source(
    kafka_bootstrap: str, dlq: dict[str, Any]
) -> None:
    report = await redrive_dead_letters(
        kafka_bootstrap, dlq["dlq"], reason_substring="llmtransient"
    )
    assert (report.scanned, report.matched, report.redriven, report.without_target) == (6, 3, 3, 0)
    assert report.by_topic == {dlq["source"]: 3}

    records = await collect(kafka_bootstrap, dlq["source"], until=3)
    assert sorted((r.key, r.value) for r in records if r.key) == [
        (b"r3", b'{"run_id": "r3"}'),
        (b"r6", b"again"),
    ]
    assert [r.value for r in records if r.key is None] == [b'{"run_id": "r4"}']
    for record in records:
        headers = headers_of(record)
        assert not set(headers) & set(dead_letters.DEAD_LETTER_HEADERS)
        assert headers["trace-id"] == "t-" + record.value.decode()
        topic, partition, offset = headers[REDRIVEN_FROM].split("/")
        assert topic == dlq["dlq"] and partition.isdigit() and offset.isdigit()
        assert [name for name, _ in record.headers].count(REDRIVEN_FROM) == 1


async def test_redrive_everything_to_a_chosen_topic(
    kafka_bootstrap: str, dlq: dict[str, Any]
) -> None:
    report = await redrive_dead_letters(kafka_bootstrap, dlq["dlq"], dlq["other"])
    assert (report.scanned, report.matched, report.redriven) == (6, 6, 6)
    records = await collect(kafka_bootstrap, dlq["other"], until=6)
    assert sorted(r.value for r in records) == sorted(
        [b'{"run_id": "r1"', b"\xff", b'{"run_id": "r3"}', b'{"run_id": "r4"}', b"orphan", b"again"]
    )


async def test_letters_without_a_source_are_counted_not_sent(
    kafka_bootstrap: str, dlq: dict[str, Any]
) -> None:
    report = await redrive_dead_letters(kafka_bootstrap, dlq["dlq"], reason_substring="LOST")
    assert (report.matched, report.redriven, report.without_target) == (1, 0, 1)
    assert "1 without a source topic" in str(report)


async def test_dry_run_sends_nothing(kafka_bootstrap: str, dlq: dict[str, Any]) -> None:
    report = await redrive_dead_letters(
        kafka_bootstrap, dlq["dlq"], reason_substring="EventDecodeError", dry_run=True
    )
    assert (report.matched, report.redriven) == (2, 2)
    assert "would redrive" in str(report)
    assert await collect(kafka_bootstrap, dlq["source"], until=1, timeout_s=2) == []


async def test_empty_and_missing_dead_letter_topics(kafka_bootstrap: str) -> None:
    empty = f"dlq-empty-{uuid.uuid4().hex[:8]}"
    await create_topics(kafka_bootstrap, [empty], partitions=2)
    report = await redrive_dead_letters(kafka_bootstrap, empty)
    assert (report.scanned, report.redriven) == (0, 0)
    with pytest.raises(RedriveError, match="does not exist"):
        await redrive_dead_letters(kafka_bootstrap, f"missing-{uuid.uuid4().hex}")
