"""Publish the runs of a file to the input topic: run events, or trace messages as the
OpenTelemetry Collector's Kafka exporter writes them (one message per trace, keyed by its id)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agenther.inputs import InputFormat, InputMappingError, detect_format
from agenther.inputs.otlp import split_json, split_proto

if TYPE_CHECKING:
    from streams.settings import ServiceSettings


class InputFileError(Exception):
    """The file cannot be read as a JSON array, JSONL or (asked for) OTLP protobuf."""


Message = tuple[bytes, bytes]


async def publish_file(settings: ServiceSettings, bootstrap: str, path: str) -> tuple[int, int]:
    """Send each valid record of ``path`` to ``settings.input_topic``, keyed by run id (trace
    id for traces).

    Returns (sent, skipped); each skipped record is reported on stderr with its reason.
    """
    from aiokafka import AIOKafkaProducer

    from streams.events import EventCodec, EventDecodeError

    fmt = settings.input_format
    if fmt is InputFormat.OTLP_PROTO:
        pieces = proto_messages(path)
        records: list[tuple[str, bytes]] = []
    else:
        pieces = []
        records = raw_records(path)  # a bad file is found before any connection
    codec = EventCodec(settings.schema_registry_url, settings.max_event_bytes, input_format=fmt)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", **settings.kafka_client_kwargs()
    )
    sent = bad = 0

    async def send(key: bytes, value: bytes) -> None:
        nonlocal sent
        await producer.send_and_wait(settings.input_topic, value=value, key=key)
        sent += 1

    try:
        await producer.start()
        for trace_id, value in pieces:
            await send(trace_id.encode(), value)
        for where, raw in records:
            try:
                if (traces := _otlp_json(raw, fmt)) is not None:
                    for trace_id, piece in traces:
                        await send(trace_id.encode(), json.dumps(piece).encode())
                    continue
                # Decoding validates and turns trajectories and chat transcripts into events.
                event = await codec.decode_run_event(raw)
            except (EventDecodeError, InputMappingError) as exc:
                bad += 1
                print(f"skipped {where}: {exc.reason}", file=sys.stderr)
                continue
            value = await codec.encode_run_event(event, topic=settings.input_topic)
            await send(event.run_id.encode(), value)
    finally:
        await producer.stop()
        await codec.aclose()
    return sent, bad


def _otlp_json(raw: bytes, fmt: InputFormat) -> list[tuple[str, dict[str, object]]] | None:
    """The record split into one OTLP/JSON document per trace, or None if it is not trace data
    (a run event under ``auto``)."""
    if fmt not in (InputFormat.AUTO, InputFormat.OTLP_JSON):
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        if fmt is InputFormat.AUTO:
            return None  # the codec names what is wrong with it
        raise InputMappingError(f"not OTLP/JSON: {exc}") from None
    if fmt is InputFormat.AUTO and detect_format(data) is not InputFormat.OTLP_JSON:
        return None
    return split_json(data)


def proto_messages(path: str) -> list[tuple[str, bytes]]:
    """(trace id, one serialized TracesData) per trace of a file holding one TracesData."""
    try:
        return split_proto(Path(path).read_bytes())
    except InputMappingError as exc:
        raise InputFileError(f"{path}: {exc.reason}") from None


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
