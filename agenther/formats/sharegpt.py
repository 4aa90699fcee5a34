"""LLaMA-Factory ShareGPT: ``conversations`` of ``human``/``gpt``/``function_call``/``observation``.

LLaMA-Factory skips any example whose turns break its alternation (human/observation at odd
positions, gpt/function_call at even ones, an even count in all). A step's thought therefore
cannot be a ``gpt`` turn of its own: it is merged into the ``function_call`` turn inside the
template's thought words (``<think>\\n … \\n</think>\\n\\n``), which LLaMA-Factory's function
formatter strips before parsing the call and renders back as reasoning. ``thoughts="drop"``
writes pure-JSON calls instead, for LLaMA-Factory releases older than that support.
"""

from __future__ import annotations

from typing import Any, Literal

from agenther.formats.episode import AssistantStep, Episode, dumps

ThoughtPolicy = Literal["think", "drop"]

THINK_OPEN = "<think>\n"
THINK_CLOSE = "\n</think>\n\n"

COLUMNS = {"messages": "conversations", "system": "system", "tools": "tools"}
TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


def record(
    episode: Episode, hindsight_prompt: str, thoughts: ThoughtPolicy = "think"
) -> dict[str, Any]:
    turns: list[dict[str, str]] = [{"from": "human", "value": hindsight_prompt}]
    for turn in episode.turns:
        if isinstance(turn, AssistantStep):
            call = dumps({"name": turn.call.name, "arguments": turn.call.arguments})
            thought = turn.thought.strip()
            if thought and thoughts == "think":
                call = THINK_OPEN + _close_tags_escaped(thought) + THINK_CLOSE + call
            turns.append({"from": "function_call", "value": call})
        else:
            turns.append({"from": "observation", "value": turn.content})
    if episode.final_answer:
        turns.append({"from": "gpt", "value": episode.final_answer})
    return {"conversations": turns, "system": "", "tools": dumps(list(episode.functions))}


def dataset_info_entry(file_name: str) -> dict[str, Any]:
    """The ``dataset_info.json`` entry that makes LLaMA-Factory read ``file_name`` as above."""
    return {"file_name": file_name, "formatting": "sharegpt", "columns": COLUMNS, "tags": TAGS}


def _close_tags_escaped(thought: str) -> str:
    # A literal close tag inside the thought would end the block early and break the JSON parse.
    return thought.replace("</think>", "</ think>")
