"""OTLP trace data, as the OpenTelemetry Collector's Kafka exporter writes it, read into spans.

``otlp_proto``: a serialized ``TracesData`` (the same bytes as an ``ExportTraceServiceRequest``),
decoded with ``opentelemetry-proto``. ``otlp_json``: the OTLP/JSON mapping (hex ids, integer
enums, ``{"stringValue": ...}`` attribute values).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from agenther.inputs import InputMappingError

STATUS_ERROR = "ERROR"
_STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass(frozen=True)
class Span:
    trace_id: str  # 32 lowercase hex characters
    span_id: str
    parent_id: str  # "" for a root span
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status: str = "UNSET"  # UNSET, OK or ERROR
    status_message: str = ""
    events: tuple[tuple[str, dict[str, Any]], ...] = field(default=())

    @property
    def is_root(self) -> bool:
        return not self.parent_id


def _traces_data(raw: bytes) -> Any:
    try:
        from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
    except ImportError:
        raise InputMappingError(
            "OTLP protobuf needs opentelemetry-proto: pip install 'agenther[otlp]'"
        ) from None
    from google.protobuf.message import DecodeError

    data = TracesData()
    try:
        data.ParseFromString(raw)
    except DecodeError as exc:
        raise InputMappingError(f"not OTLP protobuf trace data: {exc}") from None
    return data


def spans_from_proto(raw: bytes) -> list[Span]:
    data = _traces_data(raw)
    spans = []
    for resource_spans in data.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    Span(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        start_ns=span.start_time_unix_nano,
                        end_ns=span.end_time_unix_nano,
                        attributes={a.key: _proto_value(a.value) for a in span.attributes},
                        status=_STATUS_NAMES.get(span.status.code, "UNSET"),
                        status_message=span.status.message,
                        events=tuple(
                            (e.name, {a.key: _proto_value(a.value) for a in e.attributes})
                            for e in span.events
                        ),
                    )
                )
    if not spans and raw and not data.resource_spans:
        raise InputMappingError("not OTLP protobuf trace data: no resource spans")
    return spans


def _proto_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_proto_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _proto_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def spans_from_json(data: Any) -> list[Span]:
    if not isinstance(data, dict):
        raise InputMappingError("OTLP/JSON trace data is an object with resourceSpans")
    try:
        return _json_spans(data)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputMappingError(f"not OTLP/JSON trace data: {type(exc).__name__}: {exc}") from None


def _json_spans(data: dict[str, Any]) -> list[Span]:
    spans = []
    for resource_spans in _list(data, "resourceSpans", "resource_spans"):
        for scope_spans in _list(resource_spans, "scopeSpans", "scope_spans"):
            for span in _list(scope_spans, "spans"):
                status = span.get("status") or {}
                spans.append(
                    Span(
                        trace_id=_hex_id(span.get("traceId") or span.get("trace_id"), 16),
                        span_id=_hex_id(span.get("spanId") or span.get("span_id"), 8),
                        parent_id=_hex_id(span.get("parentSpanId") or span.get("parent_span_id"), 8)
                        if (span.get("parentSpanId") or span.get("parent_span_id"))
                        else "",
                        name=str(span.get("name") or ""),
                        start_ns=int(span.get("startTimeUnixNano") or 0),
                        end_ns=int(span.get("endTimeUnixNano") or 0),
                        attributes=_json_attributes(span.get("attributes")),
                        status=_json_status(status.get("code")),
                        status_message=str(status.get("message") or ""),
                        events=tuple(
                            (str(e.get("name") or ""), _json_attributes(e.get("attributes")))
                            for e in span.get("events") or []
                            if isinstance(e, dict)
                        ),
                    )
                )
    return spans


def _list(data: Any, *names: str) -> list[dict[str, Any]]:
    for name in names:
        value = data.get(name) if isinstance(data, dict) else None
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict)]
    return []


def _hex_id(raw: Any, size: int) -> str:
    text = str(raw or "")
    if len(text) == size * 2:
        try:
            bytes.fromhex(text)
            return text.lower()
        except ValueError:
            pass
    # Some writers (protobuf's own JSON mapping) spell ids in base64.
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) == size:
        return decoded.hex()
    raise InputMappingError(f"not an OTLP id of {size} bytes: {text[:40]!r}")


def _json_status(code: Any) -> str:
    if isinstance(code, str) and code.upper().startswith("STATUS_CODE_"):
        return code.upper().removeprefix("STATUS_CODE_")
    try:
        return _STATUS_NAMES.get(int(code or 0), "UNSET")
    except (TypeError, ValueError):
        return "UNSET"


def _json_attributes(raw: Any) -> dict[str, Any]:
    return {
        str(a.get("key")): _json_value(a.get("value"))
        for a in raw or []
        if isinstance(a, dict) and "key" in a
    }


def _json_value(value: Any) -> Any:
    if not isinstance(value, dict) or not value:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "intValue":
        return int(inner)
    if kind == "doubleValue":
        return float(inner)
    if kind == "arrayValue":
        return [_json_value(v) for v in (inner or {}).get("values") or []]
    if kind == "kvlistValue":
        return {
            str(kv.get("key")): _json_value(kv.get("value"))
            for kv in (inner or {}).get("values") or []
            if isinstance(kv, dict)
        }
    return inner


def split_proto(raw: bytes) -> list[tuple[str, bytes]]:
    """One serialized ``TracesData`` per trace (its spans with their resource and scope), keyed
    by the trace id in hex: the messages of the Collector's Kafka exporter with
    ``partition_traces_by_id: true``."""
    data = _traces_data(raw)
    traces: dict[str, Any] = {}
    scopes: dict[tuple[str, int, int], Any] = {}
    for r, resource_spans in enumerate(data.resource_spans):
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            for span in scope_spans.spans:
                trace_id = span.trace_id.hex()
                target = scopes.get((trace_id, r, s))
                if target is None:
                    piece = traces.setdefault(trace_id, type(data)())
                    into = piece.resource_spans.add()
                    into.resource.CopyFrom(resource_spans.resource)
                    into.schema_url = resource_spans.schema_url
                    target = into.scope_spans.add()
                    target.scope.CopyFrom(scope_spans.scope)
                    target.schema_url = scope_spans.schema_url
                    scopes[(trace_id, r, s)] = target
                target.spans.add().CopyFrom(span)
    return [(trace_id, bytes(piece.SerializeToString())) for trace_id, piece in traces.items()]


def split_json(data: Any) -> list[tuple[str, dict[str, Any]]]:
    """``split_proto`` for an OTLP/JSON document."""
    if not isinstance(data, dict):
        raise InputMappingError("OTLP/JSON trace data is an object with resourceSpans")
    traces: dict[str, dict[str, Any]] = {}
    scopes: dict[tuple[str, int, int], list[Any]] = {}
    for r, resource_spans in enumerate(_list(data, "resourceSpans", "resource_spans")):
        for s, scope_spans in enumerate(_list(resource_spans, "scopeSpans", "scope_spans")):
            for span in _list(scope_spans, "spans"):
                trace_id = _hex_id(span.get("traceId") or span.get("trace_id"), 16)
                target = scopes.get((trace_id, r, s))
                if target is None:
                    piece = traces.setdefault(trace_id, {"resourceSpans": []})
                    scope = {k: v for k, v in scope_spans.items() if k != "spans"}
                    target = scope["spans"] = []
                    resource = {
                        k: v
                        for k, v in resource_spans.items()
                        if k not in ("scopeSpans", "scope_spans")
                    }
                    piece["resourceSpans"].append({**resource, "scopeSpans": [scope]})
                    scopes[(trace_id, r, s)] = target
                target.append(span)
    return list(traces.items())
