"""The Avro contracts: documented, versioned, backward compatible, and in step with the code."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import fastavro.utils
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from streams import dead_letters
from streams.events import AgentRunEvent, Rejection, TrainingExample

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
CURRENT = sorted(SCHEMAS.glob("*.avsc"))
HISTORY = sorted((SCHEMAS / "history").glob("*.avsc"))
_VERSION = re.compile(r"^(?P<name>\w+)\.v(?P<version>\d+)\.avsc$")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def history_of(name: str) -> list[tuple[int, Path]]:
    versions = []
    for path in HISTORY:
        match = _VERSION.match(path.name)
        assert match, f"{path.name}: history files are named <Name>.v<N>.avsc"
        if match["name"] == name:
            versions.append((int(match["version"]), path))
    return sorted(versions)


def compatibility(reader: dict[str, Any], writer: dict[str, Any]) -> SchemaCompatibilityType:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    compatible: SchemaCompatibilityType = result.compatibility
    return compatible


def test_the_four_contracts_exist() -> None:
    assert [p.stem for p in CURRENT] == [
        "AgentRunEvent",
        "DeadLetter",
        "Rejection",
        "TrainingExample",
    ]


def undocumented(schema: Any, where: str) -> list[str]:
    missing: list[str] = []
    if isinstance(schema, list):
        for branch in schema:
            missing += undocumented(branch, where)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum") and not schema.get("doc"):
            missing.append(f"{where}: {schema['name']}")
        if kind == "record":
            for field in schema["fields"]:
                if not field.get("doc"):
                    missing.append(f"{where}.{field['name']}")
                missing += undocumented(field["type"], f"{where}.{field['name']}")
        elif kind == "array":
            missing += undocumented(schema["items"], where)
        elif isinstance(kind, dict | list):
            missing += undocumented(kind, where)
    return missing


@pytest.mark.parametrize("path", CURRENT + HISTORY, ids=lambda p: p.name)
def test_every_schema_parses_and_every_field_is_documented(path: Path) -> None:
    schema = load(path)
    avro.schema.parse(json.dumps(schema))
    fastavro.parse_schema(schema)
    assert schema["namespace"] == "ai.agenther.v1"
    assert undocumented(schema, schema["name"]) == []


@pytest.mark.parametrize("path", CURRENT, ids=lambda p: p.stem)
def test_the_newest_history_version_is_the_current_schema(path: Path) -> None:
    # A change to a contract must be kept as a new version, or its compatibility goes untested.
    versions = history_of(path.stem)
    assert versions, f"no schemas/history/{path.stem}.v1.avsc"
    assert [v for v, _ in versions] == list(range(1, len(versions) + 1))
    assert load(versions[-1][1]) == load(path)


OLD_VERSIONS = [(p.stem, v, h) for p in CURRENT for v, h in history_of(p.stem)]


@pytest.mark.parametrize(("name", "version", "old"), OLD_VERSIONS, ids=lambda x: str(x))
def test_current_schema_reads_every_older_version(name: str, version: int, old: Path) -> None:
    current = load(SCHEMAS / f"{name}.avsc")
    assert compatibility(current, load(old)) == SchemaCompatibilityType.compatible
    writer = fastavro.parse_schema(load(old))
    reader = fastavro.parse_schema(current)
    new_fields = {f["name"]: f for f in current["fields"]}
    old_fields = {f["name"] for f in load(old)["fields"]}
    for record in fastavro.utils.generate_many(writer, 20):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, writer, record)
        body = buffer.getvalue()
        # Reading with the writer's own schema gives the values as written (logical types too).
        written = fastavro.schemaless_reader(io.BytesIO(body), writer, None)
        read = fastavro.schemaless_reader(io.BytesIO(body), writer, reader)
        assert isinstance(written, dict) and isinstance(read, dict)
        for field, spec in new_fields.items():
            expected = written[field] if field in old_fields else spec["default"]
            assert read[field] == expected, field


def test_agent_run_event_v2_is_a_real_evolution() -> None:
    v1, v2 = (load(p) for _, p in history_of("AgentRunEvent")[:2])
    added = {f["name"] for f in v2["fields"]} - {f["name"] for f in v1["fields"]}
    assert added == {"tools", "agent_version"}
    # Old readers skip the new fields, so producers can upgrade before consumers too.
    assert compatibility(v1, v2) == SchemaCompatibilityType.compatible


def test_the_checker_catches_a_breaking_change() -> None:
    current = load(SCHEMAS / "AgentRunEvent.avsc")
    breaking = {
        **current,
        "fields": [*current["fields"], {"name": "tenant", "type": "string", "doc": "x"}],
    }
    assert compatibility(breaking, current) == SchemaCompatibilityType.incompatible
    retyped = {
        **current,
        "fields": [
            {**f, "type": "long"} if f["name"] == "final_answer" else f for f in current["fields"]
        ],
    }
    assert compatibility(retyped, current) == SchemaCompatibilityType.incompatible


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("AgentRunEvent", AgentRunEvent),
        ("TrainingExample", TrainingExample),
        ("Rejection", Rejection),
    ],
)
def test_models_and_schemas_have_the_same_fields(name: str, model: type[Any]) -> None:
    fields = [f["name"] for f in load(SCHEMAS / f"{name}.avsc")["fields"]]
    assert sorted(fields) == sorted(model.model_fields)


def test_dead_letter_schema_documents_exactly_the_service_headers() -> None:
    fields = [f["name"] for f in load(SCHEMAS / "DeadLetter.avsc")["fields"]]
    assert fields[:2] == ["key", "value"]
    headers = ["agenther-" + name.replace("_", "-") for name in fields[2:]]
    assert sorted(headers) == sorted(dead_letters.DEAD_LETTER_HEADERS)
