"""Publish the runs of a JSON array or JSONL file to the input topic, as run events."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.settings import ServiceSettings


class InputFileError(Exception):
    """The file cannot be read as a JSON array or JSONL."""


async def publish_file(settings: ServiceSettings, bootstrap: str, path: str) -> tuple[int, int]:
    """Send each valid record of ``path`` to ``settings.input_topic``, keyed by run id.

    Returns (sent, skipped); each skipped record is reported on stderr with its reason.
    """
    from aiokafka import AIOKafkaProducer

    from streams.events import EventCodec, EventDecodeError

    records = raw_records(path)  # a bad file is found before any connection
    codec = EventCodec(settings.schema_registry_url, settings.max_event_bytes)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", **settings.kafka_client_kwargs()
    )
    sent = bad = 0
    try:
        await producer.start()
        for where, raw in records:
            try:
                # Decoding validates and turns the reference's trajectory shape into an event.
                event = await codec.decode_run_event(raw)
            except EventDecodeError as exc:
                bad += 1
                print(f"skipped {where}: {exc.reason}", file=sys.stderr)
                continue
            value = await codec.encode_run_event(event, topic=settings.input_topic)
            await producer.send_and_wait(
                settings.input_topic, value=value, key=event.run_id.encode()
            )
            sent += 1
    finally:
        await producer.stop()
        await codec.aclose()
    return sent, bad


def raw_records(path: str) -> list[tuple[str, bytes]]:
    """Each record of a JSON array or JSONL file as bytes, with where it came from."""
    content = Path(path).read_bytes()
    if content.lstrip()[:1] == b"[":
        try:
            items = json.loads(content)
        except ValueError as exc:
            raise InputFileError(f"{path}: not a JSON array: {exc}") from None
        return [(f"item {i}", json.dumps(item).encode()) for i, item in enumerate(items, 1)]
    return [(f"line {i}", line) for i, line in enumerate(content.splitlines(), 1) if line.strip()]
