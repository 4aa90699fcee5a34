"""Telling an input record's format, and grouping trace spans into traces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agenther.inputs import InputFormat, InputMappingError, detect_format
from agenther.inputs.otlp import Span


def record_format(data: Any, input_format: InputFormat) -> InputFormat:
    """The record's format: the one asked for, or under ``auto`` the one its shape says."""
    if input_format is InputFormat.AUTO:
        return detect_format(data)
    if input_format is InputFormat.OTLP_PROTO:
        raise InputMappingError("--input-format otlp-proto reads protobuf bytes, not JSON")
    return input_format


def by_trace(spans: Sequence[Span]) -> list[list[Span]]:
    """Spans grouped by trace id, in order of first appearance."""
    groups: dict[str, list[Span]] = {}
    for span in spans:
        groups.setdefault(span.trace_id, []).append(span)
    return list(groups.values())
