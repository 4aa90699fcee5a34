"""Reading trajectories from a JSON array or a JSONL file without letting one bad record stop
the batch.

Every record becomes either a ``FailedTrajectory`` or a ``Reject`` that names its line (JSONL)
or item (array), says why in words, and keeps the original text. JSONL is read line by line in
constant memory; a JSON array has to be parsed whole. Records may also be OpenAI chat
transcripts or OTLP/JSON trace documents (``agenther.inputs``); their successful runs are
``Skipped``. A file of ``otlp-proto`` is one serialized ``TracesData``.

A record without ``trajectory_id`` gets one derived from its content rather than a random one,
so replaying the same file yields the same example ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from agenther.inputs import InputFormat, InputMappingError
from agenther.inputs.genai_trace import run_from_trace
from agenther.inputs.openai_chat import run_from_chat
from agenther.inputs.otlp import Span, spans_from_json, spans_from_proto
from agenther.inputs.records import by_trace, record_format
from agenther.inputs.settings import InputSettings
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
class Skipped:
    """A successful run (a chat transcript or a trace whose status says so): nothing to
    relabel."""

    run_id: str
    line: int
    where: Literal["line", "item"] = "line"


@dataclass(frozen=True)
class Loaded:
    """A valid trajectory and where it came from."""

    trajectory: FailedTrajectory
    line: int
    where: Literal["line", "item"] = "line"


Record = Loaded | Reject | Skipped


@dataclass(frozen=True)
class RawLine:
    """A JSONL line not yet decoded: what ``iter_pieces`` hands on so that decoding and
    validation can happen in a worker process (``RecordReader.records`` reads it)."""

    number: int
    data: bytes


def iter_records(path: str | Path, inputs: InputSettings | None = None) -> Iterator[Record]:
    """Trajectories, rejects and skipped successes in file order."""
    reader = RecordReader(inputs or InputSettings())
    for piece in iter_pieces(path, reader):
        yield from reader.records(piece)


def iter_pieces(path: str | Path, reader: RecordReader) -> Iterator[RawLine | Record]:
    """The file's JSONL lines as they are (blank lines left out), or the records of a JSON
    array or an OTLP protobuf file, which ``reader`` has to parse whole."""
    with Path(path).open("rb") as handle:
        if reader.format is InputFormat.OTLP_PROTO:
            yield from reader.proto_records(handle.read())
            return
        first = _first_significant_byte(handle)
        handle.seek(0)
        if first == b"[":
            yield from reader.array_records(handle.read())
            return
        for number, raw_line in enumerate(handle, start=1):
            data: bytes = raw_line.rstrip(b"\r\n")
            if number == 1:
                data = data.removeprefix(b"\xef\xbb\xbf")
            if data.strip():
                yield RawLine(number, data)


def load_trajectories(path: str | Path) -> tuple[list[FailedTrajectory], list[Reject]]:
    """The valid runs of a JSON array or JSONL file, and the records that are not (each names
    its line or item and why)."""
    trajectories: list[FailedTrajectory] = []
    rejects: list[Reject] = []
    for record in iter_records(path):
        if isinstance(record, Reject):
            rejects.append(record)
        elif isinstance(record, Loaded):
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


class RecordReader:
    """Turns input pieces into records under one ``InputSettings``."""

    def __init__(self, inputs: InputSettings) -> None:
        self.settings = inputs
        self.format = inputs.input_format
        self.predicate = inputs.failure_predicate()

    def records(self, piece: RawLine | Record) -> Iterator[Record]:
        if isinstance(piece, RawLine):
            yield from self.line_records(piece)
        else:
            yield piece

    def line_records(self, line: RawLine) -> Iterator[Record]:
        number = line.number
        try:
            text = line.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raw = line.data.decode("utf-8", errors="backslashreplace")
            yield Reject(number, f"not UTF-8 text ({exc.reason} at byte {exc.start})", raw)
            return
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Reject(number, f"invalid JSON: {exc.msg} (column {exc.colno})", text)
            return
        yield from self._runs(data, text, number, "line")

    def array_records(self, content: bytes) -> Iterator[Record]:
        text = content.decode("utf-8", errors="replace").removeprefix("\ufeff")
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Reject(exc.lineno, f"invalid JSON array: {exc.msg} (column {exc.colno})", text)
            return
        for number, item in enumerate(items, start=1):
            yield from self._runs(item, None, number, "item")

    def proto_records(self, content: bytes) -> Iterator[Record]:
        try:
            spans = spans_from_proto(content)
        except InputMappingError as exc:
            yield Reject(1, exc.reason, content[:2000].decode("utf-8", "backslashreplace"))
            return
        for number, trace in enumerate(by_trace(spans), start=1):
            # A binary file has no text to keep: the reject names the trace instead.
            yield from self._mapped(
                partial(self._trace_run, trace), f"trace {trace[0].trace_id}", number, "item"
            )

    def _trace_run(self, spans: list[Span]) -> dict[str, Any]:
        return run_from_trace(spans, self.predicate)

    def _runs(
        self, data: Any, text: str | None, number: int, where: Literal["line", "item"]
    ) -> Iterator[Record]:
        original = text if text is not None else json.dumps(data, ensure_ascii=False, default=str)
        try:
            fmt = record_format(data, self.format)
            if fmt is InputFormat.OTLP_JSON:
                traces = by_trace(spans_from_json(data))
        except InputMappingError as exc:
            yield Reject(number, exc.reason, original, where)
            return
        if fmt is InputFormat.AGENTHER:
            try:
                yield Loaded(parse_trajectory(data), number, where)
            except ValueError as exc:
                yield Reject(number, _short(str(exc)), original, where)
        elif fmt is InputFormat.OPENAI_CHAT:
            yield from self._mapped(partial(run_from_chat, data), original, number, where)
        else:
            # One line may hold several traces; each is a run (or a reject) of its own.
            for trace in traces:
                yield from self._mapped(partial(self._trace_run, trace), original, number, where)

    def _mapped(
        self,
        run: Callable[[], dict[str, Any]],
        original: str,
        number: int,
        where: Literal["line", "item"],
    ) -> Iterator[Record]:
        try:
            mapped = run()
        except InputMappingError as exc:
            yield Reject(number, exc.reason, original, where)
            return
        if mapped["status"] == "success":
            yield Skipped(str(mapped["run_id"]), number, where)
            return
        try:
            yield Loaded(parse_trajectory(_trajectory_fields(mapped)), number, where)
        except ValueError as exc:
            yield Reject(number, _short(str(exc)), original, where)


def _trajectory_fields(run: dict[str, Any]) -> dict[str, Any]:
    """A mapped run (in the agent-run-event shape) as ``FailedTrajectory`` fields."""
    return {
        "trajectory_id": run["run_id"],
        "original_prompt": run["original_prompt"],
        "steps": run["steps"],
        "final_answer": run["final_answer"],
        "failure_reason": run["failure_reason"],
        "metadata": run.get("metadata") or {},
        "tools": run.get("tools"),
    }


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
