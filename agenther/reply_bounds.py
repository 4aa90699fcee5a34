"""Size bounds for the fields of LLM replies, said in the schema and applied on reading.

A server that enforces the schema by grammar (llama.cpp, llama-cpp-python) keeps a reply within
``maxItems``/``maxLength``, so a small model cannot run a list or a sentence on until the reply
is cut off at ``max_tokens`` (seen: a 0.5B model's joint analysis, cut off at 1,024 tokens). A
model whose server does not enforce them is not refused for a long reply: lists and texts are
cut to size when read. OpenAI's strict mode does not take these keywords; the client drops
them there (``strict_json_schema``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def _cut_text(limit: int) -> BeforeValidator:
    def cut(value: Any) -> Any:
        if isinstance(value, str) and len(value) > limit:
            head = value[:limit].rsplit(" ", 1)[0]
            return head or value[:limit]
        return value

    return BeforeValidator(cut)


def _first(count: int) -> BeforeValidator:
    return BeforeValidator(lambda value: value[:count] if isinstance(value, list) else value)


def short_text(limit: int) -> Any:
    """A string of at most ``limit`` characters (cut on a word when longer)."""
    return Annotated[str, _cut_text(limit), Field(json_schema_extra={"maxLength": limit})]


def few(count: int, chars: int) -> Any:
    """A list of at most ``count`` strings of at most ``chars`` characters each."""
    return Annotated[
        list[short_text(chars)],  # type: ignore[misc]
        _first(count),
        Field(json_schema_extra={"maxItems": count}),
    ]
