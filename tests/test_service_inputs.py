"""The service's input formats on a real broker: OpenAI chat transcripts told by shape, and
``--input-format otlp-proto|otlp-json`` fed as the Collector's Kafka exporter feeds it: spans
made by the OpenTelemetry SDK, encoded with its OTLP encoder, one trace in several messages
keyed by the trace id, child spans before the root."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from agenther.inputs import InputFormat
from streams.processor import Outcome, RelabelService
from tests.support.kafka_fixtures import collect, committed_offsets, headers_of, produce, wait_for
from tests.support.otel_traces import agent_trace, otlp_json, otlp_proto, trace_id

pytestmark = pytest.mark.kafka

ENCODERS: dict[InputFormat, Callable[[list[ReadableSpan]], bytes]] = {
    InputFormat.OTLP_PROTO: otlp_proto,
    InputFormat.OTLP_JSON: otlp_json,
}


def _split(spans: list[ReadableSpan]) -> tuple[list[ReadableSpan], list[ReadableSpan]]:
    """(children, root): the exporter's batches usually end a trace with its root."""
    return [s for s in spans if s.parent is not None], [s for s in spans if s.parent is None]


def _goals() -> list[str]:
    return [
        "Find the cheapest direct flight from Boston to Lisbon on 12 May",
        "Find a direct flight from Boston to Lisbon on 12 May under $400",
        "Book the cheapest direct flight from Boston to Lisbon on 12 May",
    ]


@pytest.mark.parametrize("fmt", [InputFormat.OTLP_PROTO, InputFormat.OTLP_JSON])
async def test_each_failed_trace_ends_once_keyed_by_its_trace_id(
    fmt: InputFormat, kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    encode = ENCODERS[fmt]
    topics = await service_topics(partitions=2)
    failed = [agent_trace(goal) for goal in _goals()]
    success = agent_trace(failed=False)
    no_content = agent_trace(content=False)
    messages: list[Any] = []
    # Every trace's children first, then the roots: traces interleave in each partition.
    for spans in [*failed, success, no_content]:
        messages.append((trace_id(spans), encode(_split(spans)[0])))
    for spans in [*failed, success, no_content]:
        messages.append((trace_id(spans), encode(_split(spans)[1])))
    messages.append((b"garbage", b"\x00\x01 not trace data"))
    await produce(kafka_bootstrap, topics.input, messages)

    service = await running_services(
        topics.settings(kafka_bootstrap, input_format=fmt, trace_grace_s=0.2)
    )
    # 3 failed traces, 1 success, 1 without content, 1 garbage message
    assert await wait_for(lambda: sum(service.counts.values()) == 6)
    outputs = await collect(
        kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=3 + 2 + 1
    )
    relabeled = sorted(r.key.decode() for r in outputs if r.topic != topics.dlq)
    assert relabeled == sorted(trace_id(spans) for spans in failed)
    assert service.counts[Outcome.SKIPPED] == 1

    letters = [r for r in outputs if r.topic == topics.dlq]
    # The trace without message content: a letter per message that carried it, saying how to
    # turn capture on; the garbage: its own bytes, unchanged.
    by_key: dict[bytes, list[Any]] = {}
    for letter in letters:
        by_key.setdefault(letter.key, []).append(letter)
    assert sorted(by_key) == sorted([b"garbage", trace_id(no_content).encode()])
    assert by_key[b"garbage"][0].value == b"\x00\x01 not trace data"
    capture = by_key[trace_id(no_content).encode()]
    assert sorted(r.value for r in capture) == sorted(encode(part) for part in _split(no_content))
    assert all("CAPTURE_MESSAGE_CONTENT" in headers_of(r)["agenther-error"] for r in capture)

    # Every message is accounted for, so every offset is committed.
    assert await wait_for(lambda: service.in_flight == 0)
    await service.commit_now()
    committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
    # -1: a partition the keys did not reach.
    assert sum(max(offset, 0) for offset in committed.values()) == len(messages)


async def test_a_trace_whose_root_never_comes_is_dead_lettered_after_the_max_wait(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    topics = await service_topics(partitions=1)
    spans = agent_trace()
    children = otlp_proto(_split(spans)[0])
    await produce(kafka_bootstrap, topics.input, [(trace_id(spans), children)])
    service = await running_services(
        topics.settings(kafka_bootstrap, input_format=InputFormat.OTLP_PROTO, trace_max_wait_s=1.0)
    )
    [letter] = await collect(kafka_bootstrap, topics.dlq, until=1)
    assert letter.value == children
    assert "no root span after trace_max_wait_s=1s" in headers_of(letter)["agenther-error"]
    assert service.counts[Outcome.DEAD_LETTER] == 1


async def test_a_buffered_trace_holds_its_offset_back_until_it_has_an_outcome(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    """At-least-once across assembly: a stop while a trace waits for its root commits nothing
    at or after its first message; the next run reads it again and relabels it whole."""
    topics = await service_topics(partitions=1)
    waiting, complete = agent_trace(_goals()[0]), agent_trace(_goals()[1])
    await produce(
        kafka_bootstrap,
        topics.input,
        [
            (trace_id(waiting), otlp_proto(_split(waiting)[0])),  # offset 0: its root is late
            (trace_id(complete), otlp_proto(complete)),  # offset 1: a whole trace
        ],
    )
    settings = topics.settings(
        kafka_bootstrap, input_format=InputFormat.OTLP_PROTO, trace_grace_s=0.1
    )
    first = RelabelService(settings)
    task = asyncio.create_task(first.run())
    try:
        assert await wait_for(lambda: sum(first.counts.values()) == 1)  # the complete trace
        await first.commit_now()
        first.stop()
        assert await asyncio.wait_for(task, 20) == 0
    finally:
        task.cancel()
    # Offset 1 is done, but offset 0 is not: nothing may be committed.
    assert await committed_offsets(kafka_bootstrap, topics.group, topics.input) == {0: -1}

    await produce(
        kafka_bootstrap, topics.input, [(trace_id(waiting), otlp_proto(_split(waiting)[1]))]
    )
    second = await running_services(settings)
    # Read again from offset 0: the waiting trace is relabeled whole (the complete one again,
    # at least once).
    assert await wait_for(lambda: sum(second.counts.values()) == 2)
    outputs = await collect(kafka_bootstrap, [topics.output, topics.rejects], until=3)
    keys = [r.key.decode() for r in outputs]
    assert keys.count(trace_id(waiting)) == 1
    assert keys.count(trace_id(complete)) == 2
    await second.commit_now()
    assert await committed_offsets(kafka_bootstrap, topics.group, topics.input) == {0: 3}


def _chat(run_id: str) -> dict[str, Any]:
    return {
        "id": run_id,
        "status": "failed",
        "failure_reason": "the user asked for a direct flight; the cheapest has one stop",
        "messages": [
            {"role": "user", "content": "Find the cheapest direct flight from Boston to Lisbon"},
            {
                "role": "assistant",
                "content": "I will search the flights.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "search_flights",
                            "arguments": '{"from": "BOS", "to": "LIS"}',
                        },
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": "TAP TP218 direct, $612; Azores SP224 1 stop, $489",
            },
            {"role": "assistant", "content": "The cheapest flight is Azores SP224 at $489."},
        ],
    }


async def test_chat_transcripts_are_runs_under_auto(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    topics = await service_topics(partitions=1)
    broken = {"messages": [{"role": "user", "content": "hi"}]}  # no tool calls: no run
    await produce(
        kafka_bootstrap,
        topics.input,
        [("chat-1", _chat("chat-1")), ("chat-2", _chat("chat-2")), (b"broken", broken)],
    )
    service = await running_services(topics.settings(kafka_bootstrap))
    assert await wait_for(lambda: sum(service.counts.values()) == 3)
    outputs = await collect(kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=3)
    relabeled = sorted(r.key for r in outputs if r.topic != topics.dlq)
    assert relabeled == [b"chat-1", b"chat-2"]
    [letter] = [r for r in outputs if r.topic == topics.dlq]
    assert "no tool calls" in headers_of(letter)["agenther-error"]


async def test_a_rebalance_drops_half_assembled_traces_without_committing_them(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    """Member A buffers children of traces in both partitions; member B joins and takes one
    partition. A drops that partition's open traces uncommitted, so B reads them again from
    their first message and, once the roots arrive, every trace is relabeled whole."""
    topics = await service_topics(partitions=2)
    traces = [agent_trace(goal) for goal in _goals() * 4]
    await produce(
        kafka_bootstrap,
        topics.input,
        [(trace_id(t), otlp_proto(_split(t)[0])) for t in traces],
    )
    settings = topics.settings(
        kafka_bootstrap, input_format=InputFormat.OTLP_PROTO, trace_grace_s=0.1
    )
    first = await running_services(settings)
    assert await wait_for(lambda: len(first.assignment) == 2)
    assert await wait_for(lambda: first._traces is not None and first._traces.open == 12)
    second = await running_services(settings)
    assert await wait_for(lambda: len(first.assignment) == 1 and len(second.assignment) == 1)
    # The revoked partition's traces are gone from A (12 keys over 2 partitions: some in each).
    assert first._traces is not None and 0 < first._traces.open < 12
    assert await committed_offsets(kafka_bootstrap, topics.group, topics.input) in ({0: -1, 1: -1},)

    await produce(
        kafka_bootstrap,
        topics.input,
        [(trace_id(t), otlp_proto(_split(t)[1])) for t in traces],
    )
    outputs = await collect(
        kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=len(traces)
    )
    assert not [headers_of(r)["agenther-error"] for r in outputs if r.topic == topics.dlq]
    assert sorted(r.key.decode() for r in outputs) == sorted(trace_id(t) for t in traces)


async def test_an_oversized_trace_message_is_dead_lettered_unread(
    kafka_bootstrap: str, service_topics: Any, running_services: Any
) -> None:
    topics = await service_topics(partitions=1)
    spans = agent_trace("Find the cheapest direct flight " + "x" * 5000)
    value = otlp_proto(spans)
    await produce(kafka_bootstrap, topics.input, [(trace_id(spans), value)])
    service = await running_services(
        topics.settings(
            kafka_bootstrap, input_format=InputFormat.OTLP_PROTO, max_event_bytes=len(value) - 1
        )
    )
    [letter] = await collect(kafka_bootstrap, topics.dlq, until=1)
    assert headers_of(letter)["agenther-error-type"] == "EventTooLarge"
    assert letter.value == value
    assert service.counts[Outcome.DEAD_LETTER] == 1
