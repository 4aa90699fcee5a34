"""The Avro contracts in ``schemas/`` and the Confluent wire format.

A framed message is magic byte 0, the 4-byte big-endian schema id, then the Avro binary body
without a container header. The schema files are the source of truth; this module only loads,
writes and reads them, and knows nothing of the pydantic models.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
from functools import cache
from pathlib import Path
from typing import Any

import fastavro

MAGIC_BYTE = 0
HEADER_SIZE = 5
_HEADER = struct.Struct(">bI")

AGENT_RUN_EVENT = "AgentRunEvent"
TRAINING_EXAMPLE = "TrainingExample"
REJECTION = "Rejection"
DEAD_LETTER = "DeadLetter"
NAMESPACE = "ai.agenther.v1"


def schema_dir() -> Path:
    """Where the .avsc files are: ``$AGENTHER_SCHEMA_DIR``, the source tree, or the install."""
    override = os.environ.get("AGENTHER_SCHEMA_DIR")
    candidates = [Path(override)] if override else []
    candidates += [
        Path(__file__).resolve().parent.parent / "schemas",
        Path(sys.prefix) / "share" / "agenther" / "schemas",
    ]
    for candidate in candidates:
        if (candidate / f"{AGENT_RUN_EVENT}.avsc").is_file():
            return candidate
    raise FileNotFoundError(
        "Avro schemas not found; set AGENTHER_SCHEMA_DIR to the directory with the .avsc files"
    )


@cache
def schema_text(name: str) -> str:
    """The current schema ``name`` as compact JSON, the form registered with the registry."""
    raw = json.loads((schema_dir() / f"{name}.avsc").read_text(encoding="utf-8"))
    return json.dumps(raw, separators=(",", ":"))


@cache
def parsed_schema(name: str) -> Any:
    return parse(schema_text(name))


def parse(schema_json: str) -> Any:
    """A fastavro-parsed schema from its JSON text; raises ValueError if it is not a schema."""
    try:
        return fastavro.parse_schema(json.loads(schema_json))
    except Exception as exc:  # fastavro raises several unrelated types for a bad schema
        raise ValueError(f"invalid Avro schema: {type(exc).__name__}") from exc


def frame(schema_id: int, schema: Any, record: dict[str, Any]) -> bytes:
    """``record`` written with ``schema``, in the Confluent wire format under ``schema_id``."""
    buffer = io.BytesIO()
    buffer.write(_HEADER.pack(MAGIC_BYTE, schema_id))
    fastavro.schemaless_writer(buffer, schema, record)
    return buffer.getvalue()


def is_framed(value: bytes) -> bool:
    # JSON never starts with a NUL byte, so the magic byte alone tells the two apart.
    return value[:1] == b"\x00"


def unframe(value: bytes) -> tuple[int, bytes]:
    """(schema id, Avro body); raises ValueError on a short or foreign header."""
    if len(value) < HEADER_SIZE:
        raise ValueError("truncated Confluent Avro header")
    magic, schema_id = _HEADER.unpack_from(value)
    if magic != MAGIC_BYTE:
        raise ValueError("not a Confluent Avro message")
    return schema_id, value[HEADER_SIZE:]


def read(body: bytes, writer_schema: Any, reader_schema: Any) -> dict[str, Any]:
    """Decode ``body`` written with ``writer_schema`` into ``reader_schema`` (schema resolution).

    Raises ValueError for any body that does not decode cleanly or leaves bytes unread.
    """
    buffer = io.BytesIO(body)
    try:
        record = fastavro.schemaless_reader(buffer, writer_schema, reader_schema)
    except Exception as exc:  # truncated bodies raise EOFError, bad unions IndexError, ...
        raise ValueError(f"undecodable Avro body ({type(exc).__name__})") from exc
    if buffer.tell() != len(body):
        raise ValueError("trailing bytes after the Avro record")
    if not isinstance(record, dict):
        raise ValueError("Avro body is not a record")
    return record


def record_name(schema: Any) -> str | None:
    """Full name of a parsed record schema (``namespace.name``), None for other types."""
    if isinstance(schema, dict) and schema.get("type") == "record":
        name = schema.get("name")
        return str(name) if name is not None else None
    return None
