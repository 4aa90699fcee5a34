"""Run shapes other than the reference's trajectory: OpenAI chat transcripts and OpenTelemetry
traces (GenAI semantic conventions, OpenInference). Each maps to one run in the shape of an
agent run event (``run_id``, ``status``, ``original_prompt``, ``steps``, ``final_answer``,
``failure_reason``, ``tools``, ``metadata``, ``source``), which the batch CLI and the service
both read."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class InputFormat(StrEnum):
    AUTO = "auto"  # agenther events and trajectories, OpenAI chat, OTLP/JSON, told by shape
    AGENTHER = "agenther"
    OPENAI_CHAT = "openai-chat"
    OTLP_PROTO = "otlp-proto"  # only when asked for: protobuf cannot be told by shape
    OTLP_JSON = "otlp-json"


class InputMappingError(ValueError):
    """The record is of the format but cannot become a run; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def detect_format(data: Any) -> InputFormat:
    """The format of one decoded JSON record, by its shape."""
    if isinstance(data, dict):
        if "resourceSpans" in data or "resource_spans" in data:
            return InputFormat.OTLP_JSON
        messages = data.get("messages")
        if (
            "steps" not in data
            and isinstance(messages, list)
            and messages
            and all(isinstance(m, dict) and "role" in m for m in messages)
        ):
            return InputFormat.OPENAI_CHAT
    return InputFormat.AGENTHER
