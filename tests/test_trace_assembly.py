"""Trace assembly without Kafka: when a trace is ready, given up or late, and which message
offsets it lets the runtime commit."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agenther.inputs import InputFormat, InputMappingError
from agenther.inputs.otlp import Span
from streams.trace_assembly import TraceAssembler, trace_spans
from tests.support.otel_traces import agent_trace, otlp_json, otlp_proto

TP = "runs-0"


@dataclass
class Record:
    offset: int
    topic: str = "runs"
    partition: int = 0
    key: bytes | None = None
    value: bytes | None = b""
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int | None = None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def span(trace: str, name: str, *, root: bool = False) -> Span:
    return Span(trace, name, "" if root else "parent", name, 0, 0, {})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def assembler(clock: Clock) -> TraceAssembler:
    return TraceAssembler(grace_s=2.0, max_wait_s=60.0, clock=clock)


def test_a_trace_is_ready_a_grace_period_after_its_root(
    assembler: TraceAssembler, clock: Clock
) -> None:
    assembler.add(TP, Record(0), [span("t1", "tool")])
    clock.now += 30
    assert assembler.due() == []  # no root yet: waits
    assembler.add(TP, Record(1), [span("t1", "root", root=True)])
    clock.now += 1.9
    assert assembler.due() == []  # stragglers may still come
    assembler.add(TP, Record(2), [span("t1", "late chat")])
    clock.now += 0.1
    [(partition, trace)] = assembler.due()
    assert partition == TP and trace.problem is None
    assert [s.span_id for s in trace.spans] == ["tool", "root", "late chat"]
    assert [r.offset for r in trace.parts] == [0, 1, 2]
    assert trace.offset == 2  # it reads like the message that completed it
    assert assembler.open == 0
    assert assembler.finished(TP, trace) == [0, 1, 2]


def test_a_trace_without_its_root_is_given_up_after_the_max_wait(
    assembler: TraceAssembler, clock: Clock
) -> None:
    assembler.add(TP, Record(5), [span("t1", "tool"), span("t1", "chat")])
    clock.now += 59.9
    assert assembler.due() == []
    clock.now += 0.1
    [(_, trace)] = assembler.due()
    assert trace.problem is not None and "no root span" in trace.problem
    assert "partition_traces_by_id" in trace.problem
    assert assembler.finished(TP, trace) == [5]


def test_a_message_of_two_traces_is_done_only_when_both_are(
    assembler: TraceAssembler, clock: Clock
) -> None:
    both = Record(3)
    assembler.add(TP, both, [span("a", "root", root=True), span("b", "tool")])
    clock.now += 2
    [(_, a)] = assembler.due()
    assert assembler.finished(TP, a) == []  # trace b still holds offset 3
    assembler.add(TP, Record(4), [span("b", "root", root=True)])
    clock.now += 2
    [(_, b)] = assembler.due()
    assert assembler.finished(TP, b) == [3, 4]


def test_spans_after_the_trace_was_relabeled_are_dead_lettered_at_once(
    assembler: TraceAssembler, clock: Clock
) -> None:
    assembler.add(TP, Record(0), [span("t1", "root", root=True)])
    clock.now += 2
    assert len(assembler.due()) == 1
    assembler.add(TP, Record(1), [span("t1", "straggler")])
    [(_, late)] = assembler.due()
    assert late.problem is not None and "after the trace was relabeled" in late.problem
    assert assembler.finished(TP, late) == [1]


def test_flush_takes_rooted_traces_without_waiting_and_leaves_the_rest(
    assembler: TraceAssembler,
) -> None:
    assembler.add(TP, Record(0), [span("a", "root", root=True)])
    assembler.add(TP, Record(1), [span("b", "tool")])
    [(_, trace)] = assembler.due(flush=True)
    assert trace.trace_id == "a"
    assert assembler.open == 1


def test_dropped_partitions_forget_their_traces_and_offsets(
    assembler: TraceAssembler, clock: Clock
) -> None:
    assembler.add(TP, Record(0), [span("a", "root", root=True)])
    assembler.add("runs-1", Record(0), [span("b", "root", root=True)])
    clock.now += 2
    due = dict(assembler.due())
    assembler.drop([TP])
    # A result for a dropped partition completes nothing: its next owner reads it again.
    assert assembler.finished(TP, due[TP]) == []
    assert assembler.finished("runs-1", due["runs-1"]) == [0]


def test_a_message_without_spans_is_not_buffered(assembler: TraceAssembler) -> None:
    assert assembler.add(TP, Record(0), []) is False
    assert assembler.open == 0


def test_trace_spans_reads_what_the_collector_writes_and_names_garbage() -> None:
    spans = agent_trace()
    proto = trace_spans(otlp_proto(spans), InputFormat.OTLP_PROTO)
    as_json = trace_spans(otlp_json(spans), InputFormat.OTLP_JSON)
    assert proto is not None and as_json is not None
    assert {s.span_id for s in proto} == {s.span_id for s in as_json}
    assert trace_spans(otlp_json(spans), InputFormat.AUTO) == as_json
    # Under auto a run event is not trace data; protobuf is only read when asked for.
    assert trace_spans(b'{"run_id": "r1", "steps": []}', InputFormat.AUTO) is None
    assert trace_spans(otlp_proto(spans), InputFormat.AUTO) is None
    assert trace_spans(otlp_json(spans), InputFormat.AGENTHER) is None
    with pytest.raises(InputMappingError, match="not OTLP/JSON"):
        trace_spans(b"\x00garbage", InputFormat.OTLP_JSON)
    with pytest.raises(InputMappingError, match="not OTLP protobuf"):
        trace_spans(b"\xff\xff\xff\xff garbage", InputFormat.OTLP_PROTO)


def test_the_commit_position_never_cuts_a_relabeled_trace_in_two(
    assembler: TraceAssembler, clock: Clock
) -> None:
    """Offsets 0..5: trace a in 0 and 3, trace b in 2 and 5, trace c open from 4. With a and
    b relabeled, the first unfinished offset is 4, which would leave b's root (5) to be read
    alone after a restart; moving back to b's first message (2) would cut a (0..3) instead, so
    the position goes back to 0."""
    assembler.add(TP, Record(0), [span("a", "tool")])
    assembler.add(TP, Record(2), [span("b", "tool")])
    assembler.add(TP, Record(3), [span("a", "root", root=True)])
    assembler.add(TP, Record(4), [span("c", "tool")])
    assembler.add(TP, Record(5), [span("b", "root", root=True)])
    clock.now += 2
    for partition, trace in assembler.due():
        assembler.finished(partition, trace)
    assert assembler.commit_floor(TP, 4) == 0
    assert assembler.commit_floor(TP, 1) == 0  # a (0..3) would be cut
    assert assembler.commit_floor(TP, 6) == 6  # past both traces: nothing to protect
