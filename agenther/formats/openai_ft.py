"""OpenAI fine-tuning chat JSONL: ``{"messages": [...], "tools": [...]}``.

Differences from TRL's shape: call ``arguments`` are a JSON string, each call has an ``id`` that
its ``tool`` result names in ``tool_call_id``, and function names are restricted to
``[a-zA-Z0-9_-]{1,64}``. OpenAI rejects unknown keys, so this record carries no provenance;
it is written to a side file instead (see ``agenther.formats.output``).
OpenAI's own DPO format needs one shared ``input``, which goal-contrastive pairs do not have,
so this module writes chat SFT only.
"""

from __future__ import annotations

import re
from typing import Any

from agenther.formats.episode import AssistantStep, Episode, dumps

_NAME_OK = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NAME_BAD_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")


def record(episode: Episode, hindsight_prompt: str) -> dict[str, Any]:
    names = _safe_names([function["name"] for function in episode.functions])
    messages: list[dict[str, Any]] = [{"role": "user", "content": hindsight_prompt}]
    for turn in episode.turns:
        if isinstance(turn, AssistantStep):
            call = {
                "id": turn.call.call_id,
                "type": "function",
                "function": {
                    "name": names[turn.call.name],
                    "arguments": dumps(turn.call.arguments),
                },
            }
            message: dict[str, Any] = {"role": "assistant"}
            if turn.thought.strip():
                message["content"] = turn.thought
            message["tool_calls"] = [call]
            messages.append(message)
        else:
            messages.append({"role": "tool", "tool_call_id": turn.call_id, "content": turn.content})
    if episode.final_answer:
        messages.append({"role": "assistant", "content": episode.final_answer})
    tools = [
        {"type": "function", "function": {**function, "name": names[function["name"]]}}
        for function in episode.functions
    ]
    return {"messages": messages, "tools": tools}


def _safe_names(names: list[str]) -> dict[str, str]:
    """Each name mapped to an OpenAI-valid one, distinct names kept distinct."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        if _NAME_OK.match(name) and name not in taken:
            mapping[name] = name
            taken.add(name)
    for name in names:
        if name in mapping:
            continue
        base = _NAME_BAD_CHARS.sub("_", name).strip("_")[:56] or "tool"
        candidate, suffix = base, 1
        while candidate in taken:
            suffix += 1
            candidate = f"{base}_{suffix}"
        mapping[name] = candidate
        taken.add(candidate)
    return mapping
