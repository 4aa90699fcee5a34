"""One agent trace as one run: the OpenTelemetry GenAI semantic conventions (``invoke_agent``,
``chat``, ``execute_tool`` spans) and OpenInference (AGENT, LLM, TOOL spans).

Run id: the trace id (hex). Goal: the first user message of ``gen_ai.input.messages`` on the
root, else on the first chat span (OpenInference: ``llm.input_messages.N``, else the root's
``input.value``). Steps: each ``execute_tool`` span (``gen_ai.tool.name``,
``gen_ai.tool.call.arguments``, ``gen_ai.tool.call.result``; OpenInference TOOL spans:
``tool.name``, ``tool.parameters`` or ``input.value``, ``output.value``), in start order, with the
text of the chat output before it as the thought. Final answer: the root's output text, else the
last chat span's. Tools: ``gen_ai.tool.definitions``.

Message content capture is opt-in in both conventions; a trace without it is refused with a
reason that says how to turn it on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agenther.inputs import InputMappingError
from agenther.inputs.otlp import STATUS_ERROR, Span

CAPTURE_HINT = (
    "the trace carries no message content: turn capture on "
    "(GenAI instrumentations: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true; "
    "OpenInference: leave OPENINFERENCE_HIDE_INPUTS/OUTPUTS unset)"
)


@dataclass(frozen=True)
class FailurePredicate:
    """When a trace counts as failed. ``status``: the root span's status is ERROR, or it has
    ``error.type``. ``attribute``: the named attribute (on any span or span event) has one of
    ``failing`` values, e.g. ``gen_ai.evaluation.score.label`` in {fail, incorrect}."""

    attribute: str | None = None
    failing: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str) -> FailurePredicate:
        """``status`` or ``ATTRIBUTE=VALUE[|VALUE...]``."""
        if text.strip() in ("", "status"):
            return cls()
        name, sep, values = text.partition("=")
        failing = frozenset(v.strip().lower() for v in values.split("|") if v.strip())
        if not sep or not name.strip() or not failing:
            raise ValueError(
                f"trace failure predicate: 'status' or 'ATTRIBUTE=V1|V2', not {text!r}"
            )
        return cls(name.strip(), failing)

    def failure_reason(self, spans: Sequence[Span], root: Span) -> str | None:
        """The reason the trace failed, or None if it did not."""
        if self.attribute is None:
            if root.status == STATUS_ERROR:
                return root.status_message or "the agent's root span ended in error"
            error_type = root.attributes.get("error.type")
            return f"error.type {error_type}" if error_type else None
        for span in spans:
            for attributes in (span.attributes, *(attrs for _, attrs in span.events)):
                value = attributes.get(self.attribute)
                if value is not None and str(value).lower() in self.failing:
                    return f"{self.attribute} = {value}"
        return None


def run_from_trace(spans: Sequence[Span], predicate: FailurePredicate) -> dict[str, Any]:
    if not spans:
        raise InputMappingError("the trace has no spans")
    ordered = sorted(spans, key=lambda s: (s.start_ns, s.end_ns))
    roots = [s for s in ordered if s.is_root]
    if not roots:
        raise InputMappingError("the trace has no root span")
    root = roots[0]
    chats = [s for s in ordered if _kind(s) == "chat"]
    goal = _goal(root, chats)
    steps = [_step(tool, chats) for tool in ordered if _kind(tool) == "tool"]
    if not goal:
        has_content = any(s["action_input"] or s["observation"] for s in steps)
        raise InputMappingError(CAPTURE_HINT if not has_content else "the trace has no user goal")
    if not steps:
        raise InputMappingError("the trace has no tool call spans: nothing to learn a run from")
    reason = predicate.failure_reason(ordered, root)
    return {
        "run_id": root.trace_id,
        "status": "failure" if reason is not None else "success",
        "source": "otlp",
        "original_prompt": goal,
        "steps": steps,
        "final_answer": _output_text(root) or (_output_text(chats[-1]) if chats else ""),
        "failure_reason": reason or "",
        "tools": _tools(root, chats),
        "metadata": {"trace_id": root.trace_id, "root_span": root.name},
    }


def _kind(span: Span) -> str:
    operation = span.attributes.get("gen_ai.operation.name")
    kind = str(span.attributes.get("openinference.span.kind") or "").upper()
    if operation == "execute_tool" or kind == "TOOL":
        return "tool"
    if operation in ("chat", "text_completion", "generate_content") or kind == "LLM":
        return "chat"
    return "other"


def _goal(root: Span, chats: Sequence[Span]) -> str:
    for span in (root, *chats):
        for message in _messages(span.attributes.get("gen_ai.input.messages")):
            if message.get("role") == "user" and (text := _parts_text(message)):
                return text
        for message in _openinference_messages(span.attributes, "llm.input_messages"):
            if message.get("role") == "user" and message.get("content"):
                return str(message["content"]).strip()
    value = root.attributes.get("input.value")
    return _plain(value)


def _step(tool: Span, chats: Sequence[Span]) -> dict[str, Any]:
    a = tool.attributes
    name = a.get("gen_ai.tool.name") or a.get("tool.name") or tool.name
    arguments = a.get("gen_ai.tool.call.arguments", a.get("tool.parameters", a.get("input.value")))
    result = a.get("gen_ai.tool.call.result", a.get("output.value"))
    observation = _plain(result)
    if not observation and tool.status == STATUS_ERROR:
        observation = f"Error: {tool.status_message or 'the tool call failed'}"
    before = [c for c in chats if c.end_ns <= tool.start_ns]
    return {
        "thought": _output_text(before[-1]) if before else "",
        "action_name": str(name),
        "action_input": _object(arguments),
        "observation": observation,
    }


def _output_text(span: Span) -> str:
    texts = [
        _parts_text(m)
        for m in _messages(span.attributes.get("gen_ai.output.messages"))
        if m.get("role") in (None, "assistant")
    ]
    text = "\n".join(t for t in texts if t)
    if text:
        return text
    outputs = _openinference_messages(span.attributes, "llm.output_messages")
    text = "\n".join(str(m.get("content") or "") for m in outputs).strip()
    return text or (_plain(span.attributes.get("output.value")) if _kind(span) != "tool" else "")


def _tools(root: Span, chats: Sequence[Span]) -> list[dict[str, Any]] | None:
    for span in (root, *chats):
        raw = span.attributes.get("gen_ai.tool.definitions")
        definitions = _json(raw) if isinstance(raw, str) else raw
        if isinstance(definitions, list) and definitions:
            return [d for d in definitions if isinstance(d, dict)] or None
    return None


def _messages(raw: Any) -> list[dict[str, Any]]:
    value = _json(raw) if isinstance(raw, str) else raw
    return [m for m in value if isinstance(m, dict)] if isinstance(value, list) else []


def _parts_text(message: dict[str, Any]) -> str:
    parts = message.get("parts")
    if isinstance(parts, list):
        return "\n".join(
            str(p.get("content") or "").strip()
            for p in parts
            if isinstance(p, dict) and p.get("type") == "text"
        ).strip()
    content = message.get("content")
    return content.strip() if isinstance(content, str) else ""


def _openinference_messages(attributes: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``llm.input_messages.0.message.role`` style flattened attributes, in index order."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix + "."):
            continue
        index, _, rest = key[len(prefix) + 1 :].partition(".message.")
        if index.isdigit() and rest in ("role", "content"):
            found.setdefault(int(index), {})[rest] = value
    return [found[i] for i in sorted(found)]


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _object(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip():
        value = _json(raw)
        if isinstance(value, dict):
            return value
        return {"input": value if value is not None else raw}
    return {}


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return json.dumps(value, ensure_ascii=False)
