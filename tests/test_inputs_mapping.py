"""Production-shaped runs to agenther runs: OpenAI chat transcripts, and traces made by the real
OpenTelemetry SDK (GenAI conventions) or written in OpenInference's attributes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from agenther.inputs import InputFormat, InputMappingError, detect_format
from agenther.inputs.genai_trace import CAPTURE_HINT, FailurePredicate, run_from_trace
from agenther.inputs.openai_chat import run_from_chat
from agenther.inputs.otlp import spans_from_json, spans_from_proto, split_json, split_proto
from agenther.inputs.settings import InputSettings
from tests.support.otel_traces import agent_trace, otlp_json, otlp_proto, trace_id

GOAL = "Find the cheapest direct flight from Boston to Lisbon on 12 May"


def chat(**extra: Any) -> dict[str, Any]:
    return {
        "id": "run-7",
        "failure_reason": "the cheapest flight has a stop",
        "tools": [{"type": "function", "function": {"name": "search_flights"}}],
        "messages": [
            {"role": "system", "content": "You are a travel agent."},
            {"role": "user", "content": [{"type": "text", "text": GOAL}]},
            {
                "role": "assistant",
                "content": "Searching.",
                "tool_calls": [
                    {
                        "id": "a",
                        "function": {"name": "search_flights", "arguments": '{"to": "LIS"}'},
                    },
                    {"id": "b", "function": {"name": "get_fares", "arguments": "not json"}},
                ],
            },
            {"role": "tool", "tool_call_id": "b", "content": "fares: $489, $612"},
            {"role": "tool", "tool_call_id": "a", "content": "TP218 direct; SP224 1 stop"},
            {"role": "assistant", "content": "SP224 at $489 is the cheapest."},
        ],
        **extra,
    }


def test_a_chat_transcript_is_one_run() -> None:
    run = run_from_chat(chat())
    assert run["run_id"] == "run-7" and run["status"] == "failure"
    assert run["original_prompt"] == GOAL
    assert run["steps"] == [
        {
            "thought": "Searching.",
            "action_name": "search_flights",
            "action_input": {"to": "LIS"},
            "observation": "TP218 direct; SP224 1 stop",  # matched by tool_call_id, not order
        },
        {
            "thought": "",
            "action_name": "get_fares",
            "action_input": {"input": "not json"},
            "observation": "fares: $489, $612",
        },
    ]
    assert run["final_answer"] == "SP224 at $489 is the cheapest."
    assert run["failure_reason"] == "the cheapest flight has a stop"
    assert run["tools"] == [{"type": "function", "function": {"name": "search_flights"}}]


def test_a_chat_transcripts_status_and_id() -> None:
    assert run_from_chat(chat(status="succeeded", failure_reason=""))["status"] == "success"
    assert run_from_chat(chat(failure_reason="", status=None))["status"] == "unknown"
    no_id = {k: v for k, v in chat().items() if k != "id"}
    # Without an id, one derived from the content: the same transcript, the same run id.
    assert run_from_chat(no_id)["run_id"] == run_from_chat(dict(no_id))["run_id"]
    assert run_from_chat(no_id)["run_id"].startswith("chat-")


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([{"role": "assistant", "content": "hi"}], "no user message"),
        ([{"role": "user", "content": "hi"}], "no tool calls"),
    ],
)
def test_a_chat_transcript_that_is_no_run_says_why(messages: list[Any], reason: str) -> None:
    with pytest.raises(InputMappingError, match=reason):
        run_from_chat({"messages": messages})


def test_proto_and_json_of_the_same_trace_are_the_same_run() -> None:
    spans = agent_trace(GOAL)
    from_proto = run_from_trace(spans_from_proto(otlp_proto(spans)), FailurePredicate())
    from_json = run_from_trace(spans_from_json(json.loads(otlp_json(spans))), FailurePredicate())
    assert from_proto == from_json
    assert from_proto["run_id"] == trace_id(spans)
    assert from_proto["original_prompt"] == GOAL
    assert from_proto["status"] == "failure"
    assert from_proto["failure_reason"] == "the answer is not a direct flight"
    [step] = from_proto["steps"]
    assert step["action_name"] == "search_flights"
    assert step["action_input"] == {"from": "BOS", "to": "LIS"}
    assert step["observation"].startswith("TAP TP218 direct")
    assert step["thought"] == "I will search the flights."
    assert from_proto["final_answer"] == "The cheapest flight is Azores SP224 at $489."


def test_children_before_the_root_change_nothing() -> None:
    spans = agent_trace(GOAL)
    reordered = [s for s in spans if s.parent is not None] + [s for s in spans if s.parent is None]
    assert run_from_trace(spans_from_proto(otlp_proto(reordered)), FailurePredicate()) == (
        run_from_trace(spans_from_proto(otlp_proto(spans)), FailurePredicate())
    )


def test_a_trace_without_message_content_names_the_capture_switch() -> None:
    spans = spans_from_proto(otlp_proto(agent_trace(content=False)))
    with pytest.raises(InputMappingError) as caught:
        run_from_trace(spans, FailurePredicate())
    assert caught.value.reason == CAPTURE_HINT


def test_a_trace_without_its_root_is_not_a_run() -> None:
    spans = spans_from_proto(otlp_proto(agent_trace(with_root=False)))
    with pytest.raises(InputMappingError, match="no root span"):
        run_from_trace(spans, FailurePredicate())


def test_the_failure_predicate() -> None:
    ok = spans_from_proto(otlp_proto(agent_trace(failed=False)))
    assert run_from_trace(ok, FailurePredicate())["status"] == "success"
    judged = _evaluated_trace("fail")
    by_status = run_from_trace(judged, FailurePredicate.parse("status"))
    by_label = run_from_trace(judged, FailurePredicate.parse("gen_ai.evaluation.score.label=FAIL"))
    assert by_status["status"] == "success"
    assert by_label["status"] == "failure"
    assert by_label["failure_reason"] == "gen_ai.evaluation.score.label = fail"
    passed = _evaluated_trace("pass")
    assert (
        run_from_trace(
            passed, FailurePredicate.parse("gen_ai.evaluation.score.label=fail|incorrect")
        )["status"]
        == "success"
    )


@pytest.mark.parametrize("text", ["label=", "=fail", "no-equals-sign"])
def test_a_malformed_predicate_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ATTRIBUTE=V1"):
        FailurePredicate.parse(text)


def _evaluated_trace(label: str) -> list[Any]:
    """A trace whose root succeeded but whose evaluation event says ``label``."""
    spans = agent_trace(GOAL, failed=False)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("eval").start_as_current_span("evaluate") as span:
        span.add_event("gen_ai.evaluation.result", {"gen_ai.evaluation.score.label": label})
    # The evaluation span joins the agent's trace as a child of its root.
    raw = json.loads(otlp_json([*spans, *exporter.get_finished_spans()]))
    root = next(s for s in spans if s.parent is None)
    evaluation = raw["resourceSpans"][-1]["scopeSpans"][-1]["spans"][-1]
    evaluation["traceId"] = trace_id(spans)
    evaluation["parentSpanId"] = f"{root.context.span_id:016x}"
    return spans_from_json(raw)


def test_openinference_spans_map_the_same_way() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("openinference")
    with tracer.start_as_current_span("agent") as root:
        root.set_attribute("openinference.span.kind", "AGENT")
        root.set_attribute("input.value", GOAL)
        root.set_attribute("output.value", "SP224 at $489.")
        with tracer.start_as_current_span("llm") as llm:
            llm.set_attribute("openinference.span.kind", "LLM")
            llm.set_attribute("llm.input_messages.0.message.role", "user")
            llm.set_attribute("llm.input_messages.0.message.content", GOAL)
            llm.set_attribute("llm.output_messages.0.message.role", "assistant")
            llm.set_attribute("llm.output_messages.0.message.content", "Let me search.")
        with tracer.start_as_current_span("tool") as tool:
            tool.set_attribute("openinference.span.kind", "TOOL")
            tool.set_attribute("tool.name", "search_flights")
            tool.set_attribute("tool.parameters", '{"to": "LIS"}')
            tool.set_attribute("output.value", "TP218 direct; SP224 1 stop")
        root.set_status(Status(StatusCode.ERROR, "not direct"))
    spans = list(exporter.get_finished_spans())
    run = run_from_trace(spans_from_proto(otlp_proto(spans)), FailurePredicate())
    assert run["original_prompt"] == GOAL
    assert run["steps"] == [
        {
            "thought": "Let me search.",
            "action_name": "search_flights",
            "action_input": {"to": "LIS"},
            "observation": "TP218 direct; SP224 1 stop",
        }
    ]
    assert run["final_answer"] == "SP224 at $489."
    assert (run["status"], run["failure_reason"]) == ("failure", "not direct")


def test_formats_are_told_by_shape() -> None:
    assert detect_format(chat()) is InputFormat.OPENAI_CHAT
    assert detect_format(json.loads(otlp_json(agent_trace()))) is InputFormat.OTLP_JSON
    assert detect_format({"run_id": "r", "steps": [], "messages": []}) is InputFormat.AGENTHER
    assert detect_format({"trajectory_id": "t", "steps": [{}]}) is InputFormat.AGENTHER


def test_garbage_is_not_trace_data() -> None:
    with pytest.raises(InputMappingError, match="not OTLP protobuf"):
        spans_from_proto(b"\xff\xff\xff\xff garbage")
    with pytest.raises(InputMappingError, match="not OTLP/JSON"):
        spans_from_json(
            {"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "x"}]}]}]}
        )


def test_a_document_of_several_traces_splits_as_the_exporter_does() -> None:
    first, second = agent_trace(GOAL), agent_trace(failed=False)
    pieces = split_proto(otlp_proto([*first, *second]))
    assert [key for key, _ in pieces] == [trace_id(first), trace_id(second)]
    assert {s.trace_id for s in spans_from_proto(pieces[0][1])} == {trace_id(first)}
    assert len(spans_from_proto(pieces[1][1])) == len(second)
    as_json = split_json(json.loads(otlp_json([*first, *second])))
    assert [key for key, _ in as_json] == [trace_id(first), trace_id(second)]
    assert spans_from_json(as_json[0][1]) == spans_from_proto(pieces[0][1])


def test_input_settings_from_env_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTHER_INPUT_FORMAT", "otlp-json")
    monkeypatch.setenv("AGENTHER_TRACE_FAILURE", "gen_ai.evaluation.score.label=fail")
    settings = InputSettings.load(None)
    assert settings.input_format is InputFormat.OTLP_JSON
    assert settings.failure_predicate() == FailurePredicate(
        "gen_ai.evaluation.score.label", frozenset({"fail"})
    )
    assert (
        InputSettings.load(None, input_format="openai-chat").input_format is InputFormat.OPENAI_CHAT
    )
    with pytest.raises(ValueError, match="ATTRIBUTE=V1"):
        InputSettings.load(None, trace_failure="broken")
