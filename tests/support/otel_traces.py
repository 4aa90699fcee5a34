"""Agent traces made by the real OpenTelemetry SDK and encoded as the Collector's Kafka exporter
publishes them (``otlp_proto`` / ``otlp_json``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode


def agent_trace(
    goal: str = "Find the cheapest direct flight from Boston to Lisbon on 12 May",
    *,
    failed: bool = True,
    content: bool = True,
    with_root: bool = True,
) -> list[ReadableSpan]:
    """One GenAI agent run: invoke_agent > chat (tool call) > execute_tool > chat (answer)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent travel") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        if content:
            root.set_attribute(
                "gen_ai.input.messages",
                json.dumps([{"role": "user", "parts": [{"type": "text", "content": goal}]}]),
            )
        with tracer.start_as_current_span("chat gpt-4o") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            if content:
                chat.set_attribute(
                    "gen_ai.output.messages",
                    json.dumps(
                        [
                            {
                                "role": "assistant",
                                "parts": [
                                    {"type": "text", "content": "I will search the flights."},
                                    {
                                        "type": "tool_call",
                                        "id": "call_1",
                                        "name": "search_flights",
                                        "arguments": {"from": "BOS", "to": "LIS"},
                                    },
                                ],
                            }
                        ]
                    ),
                )
        with tracer.start_as_current_span("execute_tool search_flights") as tool:
            tool.set_attribute("gen_ai.operation.name", "execute_tool")
            tool.set_attribute("gen_ai.tool.name", "search_flights")
            if content:
                tool.set_attribute(
                    "gen_ai.tool.call.arguments", json.dumps({"from": "BOS", "to": "LIS"})
                )
                tool.set_attribute(
                    "gen_ai.tool.call.result",
                    "TAP TP218 direct, 12 May, $612; Azores SP224 1 stop, 12 May, $489",
                )
        with tracer.start_as_current_span("chat gpt-4o") as answer:
            answer.set_attribute("gen_ai.operation.name", "chat")
            if content:
                answer.set_attribute(
                    "gen_ai.output.messages",
                    json.dumps(
                        [
                            {
                                "role": "assistant",
                                "parts": [
                                    {
                                        "type": "text",
                                        "content": "The cheapest flight is Azores SP224 at $489.",
                                    }
                                ],
                            }
                        ]
                    ),
                )
        if failed:
            root.set_status(Status(StatusCode.ERROR, "the answer is not a direct flight"))
    spans = list(exporter.get_finished_spans())
    return spans if with_root else [s for s in spans if s.parent is not None]


def otlp_proto(spans: list[ReadableSpan]) -> bytes:
    return bytes(encode_spans(spans).SerializeToString())


def otlp_json(spans: list[ReadableSpan]) -> bytes:
    """OTLP/JSON as the Collector writes it: hex ids, integer enums (protobuf's own JSON mapping
    spells ids in base64)."""
    data = MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    for resource_spans in data.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(data).encode()


def trace_id(spans: list[ReadableSpan]) -> str:
    context: Any = spans[0].context
    return f"{context.trace_id:032x}"
