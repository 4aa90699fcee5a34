"""Checkers for the four trainer formats, written from the trainers' documented rules.

Each raises ``AssertionError`` naming the first rule a record breaks. They check the record
as a trainer reads it: after a strict JSON round trip (no NaN, string keys only).
"""

from __future__ import annotations

import json
import re
from typing import Any

_OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# LLaMA-Factory's default thought words, as its FunctionFormatter strips them.
_THINK = re.compile(r"<think>\n(.*?)\n</think>\n\n", re.DOTALL)


def as_trainer_reads(record: dict[str, Any]) -> dict[str, Any]:
    line = json.dumps(record, ensure_ascii=False, allow_nan=False)
    assert "\n" not in line, "a JSONL record must be one line"
    loaded = json.loads(line)
    assert loaded == record, "record does not survive a JSON round trip unchanged"
    return loaded  # type: ignore[no-any-return]


def _check_functions(functions: list[Any]) -> set[str]:
    names = set()
    for function in functions:
        assert isinstance(function, dict) and isinstance(function.get("name"), str), function
        params = function.get("parameters", {"type": "object"})
        assert isinstance(params, dict) and params.get("type") == "object", function
        names.add(function["name"])
    return names


def _check_trl_messages(messages: list[Any], tool_names: set[str]) -> None:
    assert isinstance(messages, list) and messages, "messages must be a non-empty list"
    first = messages[0]
    assert first["role"] == "user" and isinstance(first["content"], str) and first["content"]
    open_calls: list[str] = []
    for message in messages[1:]:
        role = message["role"]
        assert role in {"assistant", "tool"}, f"unexpected role {role}"
        assert isinstance(message["content"], str), "content must be a string"
        if role == "assistant":
            assert not open_calls, "assistant spoke before every call had its result"
            for call in message.get("tool_calls", []):
                assert call["type"] == "function"
                function = call["function"]
                assert function["name"] in tool_names, f"undeclared tool {function['name']}"
                assert isinstance(function["arguments"], dict), "TRL wants arguments as a dict"
                open_calls.append(function["name"])
        else:
            assert open_calls, "tool message without a call"
            assert message["name"] == open_calls.pop(0), "tool result names another tool"
    assert messages[-1]["role"] == "assistant", "conversation must end on the assistant"


def check_sft(record: dict[str, Any]) -> None:
    record = as_trainer_reads(record)
    assert set(record) == {"messages", "tools", "agenther"}, set(record)
    tools = record["tools"]
    assert all(tool["type"] == "function" for tool in tools)
    names = _check_functions([tool["function"] for tool in tools])
    _check_trl_messages(record["messages"], names)


def check_dpo(record: dict[str, Any]) -> None:
    record = as_trainer_reads(record)
    assert set(record) == {"chosen", "rejected", "tools", "agenther"}, set(record)
    names = _check_functions([tool["function"] for tool in record["tools"]])
    chosen, rejected = record["chosen"], record["rejected"]
    # TRL extracts the shared prefix as the prompt and fails when it is empty.
    assert chosen[0] == rejected[0] and chosen[0]["role"] == "system", "no shared prefix"
    chosen, rejected = chosen[1:], rejected[1:]
    _check_trl_messages(chosen, names)
    _check_trl_messages(rejected, names)
    assert chosen[1:] == rejected[1:], "goal-contrastive pair: the same run on both sides"
    assert chosen[0]["content"] == record["agenther"]["hindsight_prompt"]
    assert rejected[0]["content"] == record["agenther"]["original_prompt"]


def check_sharegpt(record: dict[str, Any]) -> None:
    record = as_trainer_reads(record)
    assert set(record) == {"conversations", "system", "tools", "agenther"}, set(record)
    assert isinstance(record["system"], str)
    assert isinstance(record["tools"], str), "LLaMA-Factory wants tools as a JSON string"
    names = _check_functions(json.loads(record["tools"]))
    turns = record["conversations"]
    assert turns and len(turns) % 2 == 0, "LLaMA-Factory skips an odd number of turns"
    for position, turn in enumerate(turns):
        assert set(turn) == {"from", "value"} and isinstance(turn["value"], str)
        allowed = ("human", "observation") if position % 2 == 0 else ("gpt", "function_call")
        assert turn["from"] in allowed, f"turn {position + 1}: {turn['from']} not in {allowed}"
        if turn["from"] == "function_call":
            value = _THINK.sub("", turn["value"], count=1)
            call = json.loads(value)
            assert set(call) == {"name", "arguments"} and isinstance(call["arguments"], dict)
            assert call["name"] in names, f"undeclared tool {call['name']}"
    assert turns[0]["from"] == "human"


def check_openai(record: dict[str, Any]) -> None:
    record = as_trainer_reads(record)
    assert set(record) <= {"messages", "tools", "parallel_tool_calls"}, set(record)
    names = set()
    for tool in record["tools"]:
        assert set(tool) == {"type", "function"} and tool["type"] == "function"
        assert _OPENAI_NAME.match(tool["function"]["name"]), tool["function"]["name"]
        names.add(tool["function"]["name"])
    messages = record["messages"]
    assert messages[0] == {"role": "user", "content": messages[0]["content"]}
    assert isinstance(messages[0]["content"], str) and messages[0]["content"]
    pending: list[str] = []
    seen_ids: set[str] = set()
    for message in messages[1:]:
        role = message["role"]
        if role == "assistant":
            assert set(message) <= {"role", "content", "tool_calls", "weight"}, set(message)
            assert not pending, "every call needs its result before the assistant speaks"
            assert "content" in message or "tool_calls" in message
            if "content" in message:
                assert isinstance(message["content"], str) and message["content"]
            for call in message.get("tool_calls", []):
                assert set(call) == {"id", "type", "function"} and call["type"] == "function"
                assert call["id"] not in seen_ids, "call ids must be unique"
                seen_ids.add(call["id"])
                assert call["function"]["name"] in names
                arguments = call["function"]["arguments"]
                assert isinstance(arguments, str), "OpenAI wants arguments as a JSON string"
                assert isinstance(json.loads(arguments), dict)
                pending.append(call["id"])
        else:
            assert role == "tool", f"unexpected role {role}"
            assert set(message) == {"role", "tool_call_id", "content"}, set(message)
            assert isinstance(message["content"], str)
            assert pending and message["tool_call_id"] == pending.pop(0)
    assert messages[-1]["role"] == "assistant"


CHECKS = {"sft": check_sft, "dpo": check_dpo, "sharegpt": check_sharegpt, "openai": check_openai}
