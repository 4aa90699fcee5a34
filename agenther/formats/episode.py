"""A run as a format-neutral conversation, built once and rendered by every trainer format.

Building it in one place is what keeps the formats consistent: the same observation cap, the
same tool definitions, the same call ids and the same ending in SFT, DPO, ShareGPT and OpenAI.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from agenther.models import FailedTrajectory
from agenther.run_text import truncate_text

# Observations are training context, kept whole unless a single one exceeds this (≈32k chars):
# trainers cut over-long sequences at the end, which would drop the final answer instead.
DEFAULT_MAX_OBSERVATION_TOKENS = 8000


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class AssistantStep:
    thought: str
    call: ToolCall


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    content: str


Turn = AssistantStep | ToolResult


@dataclass(frozen=True)
class Episode:
    """``turns`` alternate assistant call / tool result and always end on an assistant turn:
    either ``final_answer`` follows, or (no final answer) the last tool result is left out, so
    no format ends on an observation nobody answers."""

    turns: tuple[Turn, ...]
    final_answer: str
    functions: tuple[dict[str, Any], ...]  # bare JSON-schema functions: name, parameters, ...


def build_episode(
    trajectory: FailedTrajectory,
    max_observation_tokens: int | None = DEFAULT_MAX_OBSERVATION_TOKENS,
) -> Episode:
    turns: list[Turn] = []
    for index, step in enumerate(trajectory.steps, start=1):
        call = ToolCall(f"call_{index}", step.action_name, jsonable_dict(step.action_input))
        turns.append(AssistantStep(step.thought, call))
        observation = step.observation
        if max_observation_tokens is not None:
            observation = truncate_text(observation, max_observation_tokens)
        turns.append(ToolResult(call.call_id, call.name, observation))
    final = trajectory.final_answer.strip()
    if not final:
        turns.pop()
    return Episode(tuple(turns), final, tuple(tool_functions(trajectory)))


def tool_functions(trajectory: FailedTrajectory) -> list[dict[str, Any]]:
    """The run's declared tools, plus a derived stub for every called tool it did not declare,
    so that a chat template always sees a definition for each call."""
    declared: dict[str, dict[str, Any]] = {}
    for tool in trajectory.tools or []:
        function = tool.get("function") if tool.get("type") == "function" else tool
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            declared.setdefault(function["name"], jsonable_dict(function))
    calls: dict[str, list[dict[str, Any]]] = {}
    for step in trajectory.steps:
        calls.setdefault(step.action_name, []).append(jsonable_dict(step.action_input))
    for name, inputs in calls.items():
        if name not in declared:
            declared[name] = {"name": name, "parameters": _parameters_schema(inputs)}
    return list(declared.values())


def _parameters_schema(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    seen: dict[str, set[str]] = {}
    for arguments in inputs:
        for key, value in arguments.items():
            seen.setdefault(key, set()).add(_json_type(value))
    properties = {
        key: ({"type": next(iter(types))} if len(types) == 1 else {"type": sorted(types)})
        for key, types in seen.items()
    }
    required = [key for key in seen if all(key in arguments for arguments in inputs)]
    return {"type": "object", "properties": properties, "required": required}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def jsonable_dict(value: dict[str, Any]) -> dict[str, Any]:
    result = jsonable(value)
    assert isinstance(result, dict)
    return result


def jsonable(value: Any) -> Any:
    """``value`` as strict JSON data: string keys, lists for tuples, no NaN/Infinity (which
    Python's json writes but trainers' JSON readers reject), anything else as its string."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return str(value)


def dumps(value: Any) -> str:
    """Compact JSON that keeps non-ASCII text readable."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)
