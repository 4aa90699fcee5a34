"""Trace assembly: OTLP messages in, whole traces out, with no Kafka calls.

The Collector's Kafka exporter (``partition_traces_by_id: true``) writes each batch of a
trace's spans as its own message, keyed by the trace id; child spans usually come before the
root, and stragglers may follow it. A trace is ready once its root span (no parent) has been
seen for ``grace_s``; one whose root has not come after ``max_wait_s`` is given up, so its
messages can be dead-lettered instead of holding the partition's commit back forever.

At-least-once is the runtime's (``streams.processor``): a message's offset may be committed
only when every trace it carried spans of has its outcome, which ``finished`` reports.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agenther.inputs import InputFormat, InputMappingError, detect_format
from agenther.inputs.otlp import Span, spans_from_json, spans_from_proto

# Trace ids relabeled lately, per partition: their late spans are dead-lettered at once instead
# of waiting max_wait_s for a root that already came.
_RECENTLY_CLOSED = 10_000


@dataclass
class AssembledTrace:
    """A trace's spans and the messages that carried them.

    It reads like the consumer record of the message that completed it (topic, partition,
    offset, key, value, headers, timestamp), so the handler logs it and dates its outputs like
    any event; a dead letter is written for each of ``parts``, so no message's bytes are lost.
    ``problem`` says why the trace cannot be relabeled (no root span in time, late spans).
    """

    trace_id: str
    spans: list[Span]
    parts: list[Any]
    problem: str | None = None

    @property
    def _primary(self) -> Any:
        return self.parts[-1]

    @property
    def topic(self) -> str:
        return str(self._primary.topic)

    @property
    def partition(self) -> int:
        return int(self._primary.partition)

    @property
    def offset(self) -> int:
        return int(self._primary.offset)

    @property
    def key(self) -> bytes | None:
        return self._primary.key  # type: ignore[no-any-return]

    @property
    def value(self) -> bytes | None:
        return self._primary.value  # type: ignore[no-any-return]

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]:
        return self._primary.headers or ()

    @property
    def timestamp(self) -> int | None:
        return getattr(self._primary, "timestamp", None)


@dataclass(frozen=True)
class DeadLetterNow:
    """A message known to be poison before any handling (bytes that are not trace data)."""

    kind: str
    reason: str


@dataclass
class _Open:
    first_seen: float
    spans: list[Span] = field(default_factory=list)
    parts: list[Any] = field(default_factory=list)
    root_seen: float | None = None


class TraceAssembler:
    """Open traces per (partition, trace id); ``clock`` is monotonic seconds."""

    def __init__(
        self,
        grace_s: float,
        max_wait_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.grace_s = grace_s
        self.max_wait_s = max_wait_s
        self._clock = clock
        self._open: dict[tuple[Hashable, str], _Open] = {}
        # (partition, offset) -> traces of that message still without an outcome
        self._waiting: dict[tuple[Hashable, int], int] = {}
        self._closed: OrderedDict[tuple[Hashable, str], None] = OrderedDict()
        self._late: list[tuple[Hashable, AssembledTrace]] = []
        # Per partition, the (first, last) offsets of traces with an outcome: see commit_floor.
        self._settled: dict[Hashable, list[tuple[int, int]]] = {}

    @property
    def open(self) -> int:
        return len(self._open)

    def add(self, partition: Hashable, record: Any, spans: Sequence[Span]) -> bool:
        """Buffer one message's spans; False if it held none (its offset is done at once)."""
        by_trace: dict[str, list[Span]] = {}
        for span in spans:
            by_trace.setdefault(span.trace_id, []).append(span)
        if not by_trace:
            return False
        now = self._clock()
        self._waiting[(partition, record.offset)] = len(by_trace)
        for trace_id, trace_spans in by_trace.items():
            key = (partition, trace_id)
            if key in self._closed and key not in self._open:
                self._late.append(
                    (
                        partition,
                        AssembledTrace(
                            trace_id,
                            trace_spans,
                            [record],
                            problem=f"trace {trace_id}: {len(trace_spans)} span(s) arrived after "
                            "the trace was relabeled (raise trace_grace_s if this is common)",
                        ),
                    )
                )
                continue
            state = self._open.setdefault(key, _Open(first_seen=now))
            state.spans.extend(trace_spans)
            state.parts.append(record)
            if state.root_seen is None and any(s.is_root for s in trace_spans):
                state.root_seen = now
        return True

    def due(self, *, flush: bool = False) -> list[tuple[Hashable, AssembledTrace]]:
        """Traces to relabel or dead-letter now, taken out of the buffer. ``flush`` (a stop)
        also takes every trace whose root has come, without waiting out its grace."""
        now = self._clock()
        ready, self._late = self._late, []
        for key, state in list(self._open.items()):
            rooted = state.root_seen is not None
            if rooted and (flush or now - state.root_seen >= self.grace_s):  # type: ignore[operator]
                problem = None
            elif not rooted and now - state.first_seen >= self.max_wait_s:
                problem = (
                    f"trace {key[1]}: no root span after trace_max_wait_s={self.max_wait_s:g}s "
                    f"({len(state.spans)} span(s) in {len(state.parts)} message(s)); the "
                    "Collector's Kafka exporter keeps a trace in one partition only with "
                    "partition_traces_by_id: true"
                )
            else:
                continue
            del self._open[key]
            self._remember(key)
            ready.append((key[0], AssembledTrace(key[1], state.spans, state.parts, problem)))
        return ready

    def finished(self, partition: Hashable, trace: AssembledTrace) -> list[int]:
        """The offsets of ``trace``'s messages that now have every outcome they wait for."""
        offsets = [record.offset for record in trace.parts]
        if min(offsets) != max(offsets):  # a trace in one message cannot be cut in two
            self._settled.setdefault(partition, []).append((min(offsets), max(offsets)))
        done = []
        for record in trace.parts:
            key = (partition, record.offset)
            left = self._waiting.get(key)
            if left is None:
                continue  # the partition was dropped meanwhile
            if left <= 1:
                del self._waiting[key]
                done.append(record.offset)
            else:
                self._waiting[key] = left - 1
        return done

    def commit_floor(self, partition: Hashable, position: int) -> int:
        """The position to commit instead of ``position``, so that no trace is cut in two.

        Offsets are committed as one position per partition. Were it to fall between the first
        and the last message of a trace that already has its outcome, a restart would read only
        the trace's tail and take it for a whole trace; so the position stays at the trace's
        first message, and a restart reads the trace again whole (a duplicate, not a fragment).
        """
        settled = self._settled.get(partition, [])
        floor = position
        # Moving back below one trace may cut another that ended inside it.
        while cut := [first for first, last in settled if first < floor <= last]:
            floor = min(cut)
        kept = [(first, last) for first, last in settled if last >= floor]
        if kept:
            self._settled[partition] = kept
        else:
            self._settled.pop(partition, None)
        return floor

    def drop(self, partitions: Iterable[Hashable]) -> None:
        """Forget the partitions' open traces: they are read again from the committed offset."""
        gone = set(partitions)
        self._open = {k: v for k, v in self._open.items() if k[0] not in gone}
        self._waiting = {k: v for k, v in self._waiting.items() if k[0] not in gone}
        self._closed = OrderedDict((k, None) for k in self._closed if k[0] not in gone)
        self._settled = {p: v for p, v in self._settled.items() if p not in gone}
        self._late = [(p, t) for p, t in self._late if p not in gone]

    def _remember(self, key: tuple[Hashable, str]) -> None:
        self._closed[key] = None
        self._closed.move_to_end(key)
        while len(self._closed) > _RECENTLY_CLOSED:
            self._closed.popitem(last=False)


def trace_spans(value: bytes | None, input_format: InputFormat) -> list[Span] | None:
    """The spans of one message if it is trace data, None if it is not (a run event under
    ``auto``); raises ``InputMappingError`` for a message that should be trace data and is not.
    Under ``auto`` a message is only parsed as OTLP/JSON when it names ``resourceSpans``."""
    if not value or input_format not in TRACE_FORMATS:
        return None
    if input_format is InputFormat.OTLP_PROTO:
        return spans_from_proto(value)
    if input_format is InputFormat.AUTO and not any(mark in value for mark in _OTLP_JSON_MARKS):
        return None
    try:
        # Decoded first: given bytes, json guesses UTF-16 or 32 and names that codec instead.
        data = json.loads(value.decode("utf-8"))
    except ValueError as exc:
        if input_format is InputFormat.AUTO:
            return None
        raise InputMappingError(f"not OTLP/JSON trace data: {exc}") from None
    if input_format is InputFormat.AUTO and detect_format(data) is not InputFormat.OTLP_JSON:
        return None
    return spans_from_json(data)


# The formats whose messages may hold trace data: ``auto`` tells OTLP/JSON by shape.
TRACE_FORMATS = (InputFormat.AUTO, InputFormat.OTLP_PROTO, InputFormat.OTLP_JSON)
_OTLP_JSON_MARKS = (b'"resourceSpans"', b'"resource_spans"')
