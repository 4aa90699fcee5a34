"""TRL preference pairs in the implicit form: full conversations in ``chosen`` and ``rejected``.

The pair is goal-contrastive (same run; hindsight goal chosen, original goal rejected), so the
prompts differ and TRL's explicit ``prompt`` column, which both sides share, cannot hold them.
TRL derives the prompt as the longest shared prefix of the two conversations; with nothing
shared that prefix is empty and TRL fails on it (``maybe_extract_prompt`` followed by
``is_conversational`` raises IndexError). Both sides therefore open with the same system
message, which becomes the extracted prompt.
"""

from __future__ import annotations

from typing import Any

from agenther.formats import sft
from agenther.formats.episode import Episode

SYSTEM_PROMPT = "You are an agent that completes the user's request with the tools provided."


def record(episode: Episode, hindsight_prompt: str, original_prompt: str) -> dict[str, Any]:
    system = {"role": "system", "content": SYSTEM_PROMPT}
    return {
        "chosen": [system, *sft.messages(episode, hindsight_prompt)],
        "rejected": [system, *sft.messages(episode, original_prompt)],
        "tools": sft.tools(episode),
    }
