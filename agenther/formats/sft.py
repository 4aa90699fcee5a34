"""TRL conversational SFT: ``{"messages": [...], "tools": [...]}``.

Assistant calls carry ``arguments`` as a dict and results are ``tool`` messages with the tool's
name, as TRL's chat-template rendering expects.
"""

from __future__ import annotations

from typing import Any

from agenther.formats.episode import AssistantStep, Episode


def messages(episode: Episode, user_prompt: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "user", "content": user_prompt}]
    for turn in episode.turns:
        if isinstance(turn, AssistantStep):
            call = {
                "type": "function",
                "function": {"name": turn.call.name, "arguments": turn.call.arguments},
            }
            out.append({"role": "assistant", "content": turn.thought, "tool_calls": [call]})
        else:
            out.append({"role": "tool", "name": turn.name, "content": turn.content})
    if episode.final_answer:
        out.append({"role": "assistant", "content": episode.final_answer})
    return out


def tools(episode: Episode) -> list[dict[str, Any]]:
    return [{"type": "function", "function": function} for function in episode.functions]


def record(episode: Episode, hindsight_prompt: str) -> dict[str, Any]:
    return {"messages": messages(episode, hindsight_prompt), "tools": tools(episode)}
