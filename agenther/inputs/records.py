"""One decoded input record (or file line) to the runs it holds, whatever its format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agenther.inputs import InputFormat, InputMappingError, detect_format
from agenther.inputs.genai_trace import FailurePredicate, run_from_trace
from agenther.inputs.openai_chat import run_from_chat
from agenther.inputs.otlp import Span, spans_from_json


def record_format(data: Any, input_format: InputFormat) -> InputFormat:
    """The record's format: the one asked for, or under ``auto`` the one its shape says."""
    if input_format is InputFormat.AUTO:
        return detect_format(data)
    if input_format is InputFormat.OTLP_PROTO:
        raise InputMappingError("--input-format otlp-proto reads protobuf bytes, not JSON")
    return input_format


def runs_from_json(
    data: Any, input_format: InputFormat, predicate: FailurePredicate
) -> list[dict[str, Any]]:
    """The runs in one JSON record: itself (an agenther run or trajectory), the run of an
    OpenAI chat transcript, or one run per trace of an OTLP/JSON document."""
    fmt = record_format(data, input_format)
    if fmt is InputFormat.OPENAI_CHAT:
        if not isinstance(data, dict):
            raise InputMappingError("an OpenAI chat transcript is a JSON object")
        return [run_from_chat(data)]
    if fmt is InputFormat.OTLP_JSON:
        return [run_from_trace(spans, predicate) for spans in by_trace(spans_from_json(data))]
    return [data]


def by_trace(spans: Sequence[Span]) -> list[list[Span]]:
    """Spans grouped by trace id, in order of first appearance."""
    groups: dict[str, list[Span]] = {}
    for span in spans:
        groups.setdefault(span.trace_id, []).append(span)
    return list(groups.values())
