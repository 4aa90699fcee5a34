"""Reading trajectories from a JSON array or a JSONL file without letting one bad record stop
the batch.

Every record becomes either a ``FailedTrajectory`` or a ``Reject`` that names its line (JSONL)
or item (array), says why in words, and keeps the original text. JSONL is read line by line in
constant memory; a JSON array has to be parsed whole.

A record without ``trajectory_id`` gets one derived from its content rather than a random one,
so replaying the same file yields the same example ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from agenther.models import FailedTrajectory

MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class Reject:
    """A record that is not a valid trajectory. ``line`` is the 1-based line of a JSONL file
    (``where == "line"``) or the 1-based item of a JSON array (``where == "item"``)."""

    line: int
    reason: str
    raw: str
    where: Literal["line", "item"] = "line"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.where} {self.line}: {self.reason}"


@dataclass(frozen=True)
class Loaded:
    """A valid trajectory and where it came from."""

    trajectory: FailedTrajectory
    line: int
    where: Literal["line", "item"] = "line"


def iter_records(path: str | Path) -> Iterator[Loaded | Reject]:
    """Trajectories and rejects in file order."""
    source = Path(path)
    with source.open("rb") as handle:
        first = _first_significant_byte(handle)
        handle.seek(0)
        if first == b"[":
            yield from _array_records(handle.read())
        else:
            yield from _jsonl_records(handle)


def load_trajectories(path: str | Path) -> tuple[list[FailedTrajectory], list[Reject]]:
    """The valid runs of a JSON array or JSONL file, and the records that are not (each names
    its line or item and why)."""
    trajectories: list[FailedTrajectory] = []
    rejects: list[Reject] = []
    for record in iter_records(path):
        if isinstance(record, Reject):
            rejects.append(record)
        else:
            trajectories.append(record.trajectory)
    return trajectories, rejects


def parse_trajectory(data: object) -> FailedTrajectory:
    """One decoded record as a trajectory; raises ``ValueError`` with a readable reason."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {_json_kind(data)}")
    if "trajectory_id" not in data:
        data = {**data, "trajectory_id": _content_id(data)}
    try:
        return FailedTrajectory.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_validation_reason(exc)) from None


def _jsonl_records(handle: Any) -> Iterator[Loaded | Reject]:
    for number, raw_line in enumerate(handle, start=1):
        raw_bytes: bytes = raw_line.rstrip(b"\r\n")
        if number == 1:
            raw_bytes = raw_bytes.removeprefix(b"\xef\xbb\xbf")
        if not raw_bytes.strip():
            continue
        try:
            text = raw_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            raw = raw_bytes.decode("utf-8", errors="backslashreplace")
            yield Reject(number, f"not UTF-8 text ({exc.reason} at byte {exc.start})", raw)
            continue
        yield _record(text, number, "line")


def _array_records(content: bytes) -> Iterator[Loaded | Reject]:
    text = content.decode("utf-8", errors="replace").removeprefix("\ufeff")
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Reject(exc.lineno, f"invalid JSON array: {exc.msg} (column {exc.colno})", text)
        return
    for number, item in enumerate(items, start=1):
        try:
            yield Loaded(parse_trajectory(item), number, "item")
        except ValueError as exc:
            raw = json.dumps(item, ensure_ascii=False, default=str)
            yield Reject(number, _short(str(exc)), raw, "item")


def _record(text: str, number: int, where: Literal["line", "item"]) -> Loaded | Reject:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Reject(number, f"invalid JSON: {exc.msg} (column {exc.colno})", text, where)
    try:
        return Loaded(parse_trajectory(data), number, where)
    except ValueError as exc:
        return Reject(number, _short(str(exc)), text, where)


def _validation_reason(exc: ValidationError) -> str:
    # Our own wording: pydantic's str() repeats each bad input value, which may be huge.
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "record"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def _content_id(data: dict[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def _first_significant_byte(handle: Any) -> bytes:
    head: bytes = handle.read(4096).removeprefix(b"\xef\xbb\xbf")
    while head:
        stripped = head.lstrip()
        if stripped:
            return stripped[:1]
        head = handle.read(4096)
    return b""


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


def _short(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"
