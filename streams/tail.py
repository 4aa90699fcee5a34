"""Print a topic's records as JSON lines until a count, an idle spell or a signal."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.settings import ServiceSettings


async def tail(
    settings: ServiceSettings,
    bootstrap: str,
    topic: str,
    limit: int | None,
    from_beginning: bool,
    idle_timeout: float | None,
) -> int:
    """Print records of ``topic`` (by timestamp within each fetch) on stdout; returns 0."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **settings.kafka_client_kwargs(),
    )
    printed = 0
    last = time.monotonic()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await consumer.start()
        while not stop.is_set() and (limit is None or printed < limit):
            batch = await consumer.getmany(timeout_ms=200)
            records = sorted(
                (r for rs in batch.values() for r in rs), key=lambda r: (r.timestamp, r.offset)
            )
            for record in records[: None if limit is None else limit - printed]:
                print(json.dumps(record_as_json(record), ensure_ascii=False), flush=True)
                printed += 1
            if records:
                last = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - last > idle_timeout:
                break
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await consumer.stop()
    return 0


def record_as_json(record: Any) -> dict[str, Any]:
    """A consumed record as JSON: text where it is UTF-8, base64 otherwise."""

    def text(data: bytes | None) -> Any:
        if data is None:
            return None
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(data).decode()}
        try:
            return json.loads(decoded)
        except ValueError:
            return decoded

    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": text(record.key),
        "headers": {name: text(value) for name, value in (record.headers or ())},
        "value": text(record.value),
    }
