"""OpenAI Chat Completions transcripts as runs.

``{"messages": [...], "tools": [...], "metadata": {...}, "status" or "failure_reason": ...}``:
the goal is the first user message; each assistant tool call is a step whose observation is the
``tool`` message answering its ``tool_call_id`` (the assistant's text before the calls is the
step's thought); the final answer is the last assistant text without tool calls.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agenther.inputs import InputMappingError


def run_from_chat(record: dict[str, Any]) -> dict[str, Any]:
    messages = [m for m in record.get("messages") or [] if isinstance(m, dict)]
    goal = next((_text(m) for m in messages if m.get("role") == "user" and _text(m)), "")
    if not goal:
        raise InputMappingError("the transcript has no user message with text")
    results = {
        str(m.get("tool_call_id")): _text(m)
        for m in messages
        if m.get("role") in ("tool", "function")
    }
    steps: list[dict[str, Any]] = []
    final_answer = ""
    for message in messages:
        if message.get("role") != "assistant":
            continue
        calls = message.get("tool_calls") or []
        if not calls:
            final_answer = _text(message) or final_answer
            continue
        thought = _text(message)
        for call in calls:
            function = call.get("function") or {}
            name = function.get("name") or ""
            if not name:
                continue
            steps.append(
                {
                    "thought": thought,
                    "action_name": name,
                    "action_input": _arguments(function.get("arguments")),
                    "observation": results.get(str(call.get("id")), ""),
                }
            )
            thought = ""  # said once, before the first of its calls
    if not steps:
        raise InputMappingError("the transcript has no tool calls: nothing to learn a run from")
    raw_metadata = record.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    failure_reason = str(record.get("failure_reason") or metadata.get("failure_reason") or "")
    return {
        "run_id": str(record.get("id") or metadata.get("run_id") or _content_id(record)),
        "status": _status(record.get("status") or metadata.get("status"), failure_reason),
        "source": "openai-chat",
        "original_prompt": goal,
        "steps": steps,
        "final_answer": final_answer,
        "failure_reason": failure_reason,
        "tools": [t for t in record.get("tools") or [] if isinstance(t, dict)] or None,
        "metadata": metadata,
    }


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):  # content parts
        return "\n".join(
            str(part.get("text", "")).strip()
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        ).strip()
    return ""


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            value = json.loads(raw)
        except ValueError:
            return {"input": raw}
        return value if isinstance(value, dict) else {"input": value}
    return {}


def _status(raw: Any, failure_reason: str) -> str:
    text = str(raw or "").lower()
    if text in ("success", "succeeded", "ok", "passed", "pass"):
        return "success"
    if text in ("failure", "failed", "error", "fail") or failure_reason:
        return "failure"
    return "unknown"


def _content_id(record: dict[str, Any]) -> str:
    blob = json.dumps(record, sort_keys=True, ensure_ascii=False, default=str)
    return "chat-" + hashlib.sha256(blob.encode()).hexdigest()[:16]
