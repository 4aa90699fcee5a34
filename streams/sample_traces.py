"""The demo's sample runs as an instrumented agent would have traced them (GenAI semantic
conventions), in the messages the Collector's Kafka exporter writes: per trace, one message
of its child spans, then one of its root, keyed by the trace id in hex.

Built with ``opentelemetry-proto``'s message classes (the ``otlp`` extra), so the bytes are
real OTLP; the demo needs no OpenTelemetry SDK.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from agenther.inputs import InputFormat

_START_NS = 1_780_000_000_000_000_000
_STEP_NS = 1_000_000


def trace_messages(
    runs: list[dict[str, Any]], encoding: InputFormat
) -> list[tuple[bytes | None, bytes]]:
    """(key, value) pairs in publishing order: every trace's children, then the roots."""
    children, roots = [], []
    for trace_id, spans in map(_spans, runs):
        key = trace_id.hex().encode()
        children.append((key, _encode([s for s in spans if s.parent_span_id], encoding)))
        roots.append((key, _encode([s for s in spans if not s.parent_span_id], encoding)))
    return [*children, *roots]


def _spans(run: dict[str, Any]) -> tuple[bytes, list[Any]]:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    trace_id = hashlib.sha256(run["run_id"].encode()).digest()[:16]
    ids = iter(hashlib.sha256(f"{run['run_id']}/{n}".encode()).digest()[:8] for n in range(10_000))
    root_id = next(ids)
    clock = iter(range(_START_NS, _START_NS + 10_000 * _STEP_NS, _STEP_NS))
    spans = []
    for step in run["steps"]:
        chat = Span(trace_id=trace_id, span_id=next(ids), parent_span_id=root_id, name="chat")
        chat.start_time_unix_nano, chat.end_time_unix_nano = next(clock), next(clock)
        _attributes(
            chat,
            {"gen_ai.operation.name": "chat", "gen_ai.output.messages": _said(step["thought"])},
        )
        tool = Span(
            trace_id=trace_id,
            span_id=next(ids),
            parent_span_id=root_id,
            name=f"execute_tool {step['action_name']}",
        )
        tool.start_time_unix_nano, tool.end_time_unix_nano = next(clock), next(clock)
        _attributes(
            tool,
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": step["action_name"],
                "gen_ai.tool.call.arguments": json.dumps(step["action_input"]),
                "gen_ai.tool.call.result": step["observation"],
            },
        )
        spans += [chat, tool]
    root = Span(trace_id=trace_id, span_id=root_id, name="invoke_agent demo")
    root.start_time_unix_nano, root.end_time_unix_nano = _START_NS - 1, next(clock)
    _attributes(
        root,
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": run["original_prompt"]}]}]
            ),
            "gen_ai.output.messages": _said(run["final_answer"]),
        },
    )
    failed = run.get("status") != "success"
    root.status.code = Status.STATUS_CODE_ERROR if failed else Status.STATUS_CODE_OK
    if failed:
        root.status.message = run.get("failure_reason") or ""
    return trace_id, [*spans, root]


def _said(text: str) -> str:
    return json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": text}]}])


def _attributes(span: Any, values: dict[str, str]) -> None:
    for key, value in values.items():
        attribute = span.attributes.add()
        attribute.key = key
        attribute.value.string_value = value


def _encode(spans: list[Any], encoding: InputFormat) -> bytes:
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

    data = TracesData()
    scope = data.resource_spans.add().scope_spans.add()
    scope.spans.extend(spans)
    if encoding is InputFormat.OTLP_PROTO:
        return bytes(data.SerializeToString())
    # OTLP/JSON spells ids in hex where protobuf's JSON mapping uses base64.
    body = MessageToDict(data, use_integers_for_enums=True)
    for span in body["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(body).encode()
