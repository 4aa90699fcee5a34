"""The configuration reference (docs/configuration.md) against the code: every setting the
service reads is in the table and nothing else is, and each row's flag, environment variable,
YAML key and default really set that setting. Every variable the reference or the operators'
section (docs/service.md) names is read by the code. The chart's config file uses only real
settings."""

from __future__ import annotations

import argparse
import enum
import json
import os
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from pydantic import BaseModel, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo

from agenther.config import PipelineConfig
from streams.commands import serve as serve_command
from streams.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[1]
HEADER = "| setting | flag | env var | YAML key | default | meaning |"
# Fields of the shared PipelineConfig that only the batch CLI uses; docs/configuration.md says so.
IGNORED_BY_THE_SERVICE = {"pipeline.output_format", "pipeline.output_dir"}
# Secrets: no flag, no YAML key; the variable named here, or a file named by VARIABLE_FILE.
SECRET_ENV = {
    "sasl_password": "AGENTHER_SASL_PASSWORD",
    "pipeline.api_key": "OPENAI_API_KEY",
    "pipeline.judge_api_key": "AGENTHER_JUDGE_API_KEY",
}
NOT_SETTINGS_FLAGS = {"-h", "--help", "--config"}


@dataclass(frozen=True)
class Row:
    setting: str
    flags: tuple[str, ...]
    env: tuple[str, ...]
    yaml_key: str | None
    default: str

    @property
    def is_secret(self) -> bool:
        return self.setting in SECRET_ENV


def _section(page: str, name: str) -> str:
    text = (ROOT / "docs" / page).read_text()
    return text.split(f"<!-- section: {name} -->", 1)[1].split(f"<!-- /section: {name} -->")[0]


def _operators_block() -> str:
    """The configuration reference, then the operators' section without topics and schemas."""
    operators = re.sub(
        r"<!-- schemas -->.*?<!-- /schemas -->", "", _section("service.md", "operators"), flags=re.S
    )
    return _section("configuration.md", "configuration") + "\n" + operators


def _ticked(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", cell))


def _rows() -> list[Row]:
    lines = _operators_block().splitlines()
    start = lines.index(HEADER) + 2  # header, then the --- separator
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        setting, flags, env, yaml_key, default, _meaning = (
            c.strip() for c in line.strip("|").split(" | ")
        )
        (name,) = _ticked(setting)
        keys = _ticked(yaml_key)
        rows.append(Row(name, _ticked(flags), _ticked(env), keys[0] if keys else None, default))
    return rows


ROWS = _rows()
ROW_IDS = [row.setting for row in ROWS]


def _field(setting: str) -> FieldInfo:
    model, name = _model_and_name(setting)
    return model.model_fields[name]


def _model_and_name(setting: str) -> tuple[type[BaseModel], str]:
    if setting.startswith("pipeline."):
        return PipelineConfig, setting.removeprefix("pipeline.")
    return ServiceSettings, setting


def _value(settings: ServiceSettings, setting: str) -> Any:
    model, name = _model_and_name(setting)
    return getattr(settings.pipeline if model is PipelineConfig else settings, name)


def _code_settings() -> set[str]:
    service = {name for name in ServiceSettings.model_fields if name != "pipeline"}
    pipeline = {f"pipeline.{name}" for name in PipelineConfig.model_fields}
    return service | pipeline


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AGENTHER_", "OPENAI_")):
            monkeypatch.delenv(name)


def test_table_names_every_setting_the_service_reads_and_nothing_else() -> None:
    assert len(ROW_IDS) == len(set(ROW_IDS)), "a setting is listed twice"
    assert set(ROW_IDS) == _code_settings() - IGNORED_BY_THE_SERVICE


def test_the_secrets_are_exactly_the_secret_fields() -> None:
    secret_fields = {
        setting
        for setting in _code_settings()
        if _non_optional(_field(setting).annotation) is SecretStr
    }
    assert secret_fields == set(SECRET_ENV)


def test_ignored_pipeline_settings_are_named_as_ignored() -> None:
    block = _operators_block()
    for setting in IGNORED_BY_THE_SERVICE:
        assert f"`{setting}`" in block
    # The batch CLI's output directory means nothing to the service.
    sources = "\n".join(p.read_text() for p in (ROOT / "streams").glob("*.py"))
    assert "output_dir" not in sources


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agenther")
    commands = parser.add_subparsers(dest="command")
    serve_command.register(commands)
    serve: argparse.ArgumentParser = commands.choices["serve"]
    return serve


def test_flag_column_is_exactly_the_serve_parsers_options() -> None:
    parser_flags = {flag for action in _serve_parser()._actions for flag in action.option_strings}
    table_flags = {flag for row in ROWS for flag in row.flags}
    assert table_flags == parser_flags - NOT_SETTINGS_FLAGS


def _example(setting: str) -> Any:
    """A valid value for the setting that differs from its default."""
    field = _field(setting)
    kind = _non_optional(field.annotation)
    candidates: list[Any]
    if kind is bool:
        candidates = [not field.default]
    elif isinstance(kind, type) and issubclass(kind, enum.Enum):
        candidates = list(kind)
    elif kind is int:
        candidates = [2, 1500, 2000]
    elif kind is float:
        candidates = [0.25, 2.0, 1500.0]
    elif kind is str:
        candidates = [f"example-{setting.replace('.', '-')}", "example.attribute=fail"]
    elif typing.get_origin(kind) is typing.Literal:
        candidates = list(typing.get_args(kind))
    elif typing.get_origin(kind) is dict:
        candidates = [{"some-model": (1.0, 2.0)}]
    elif typing.get_origin(kind) is tuple:
        (member, _) = typing.get_args(kind)
        candidates = [tuple(typing.get_args(member)[:2])]
    else:
        raise AssertionError(f"no example for {setting}: {kind}")
    model, name = _model_and_name(setting)
    for candidate in candidates:
        if candidate == field.default:
            continue
        try:
            model(**{name: candidate})
        except ValueError:
            continue
        return candidate
    raise AssertionError(f"no valid non-default example for {setting}")


def _non_optional(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (kind,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return kind
    return annotation


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dict | tuple):
        return json.dumps(value)
    return str(value)


@pytest.mark.parametrize("row", [r for r in ROWS if r.flags], ids=lambda r: r.setting)
def test_each_flag_sets_its_setting(row: Row) -> None:
    parser = _serve_parser()
    for flag in row.flags:
        action = next(a for a in parser._actions if flag in a.option_strings)
        if action.nargs == 0:
            # store_true, or one half of --x/--no-x: the flag itself is the value.
            expected: Any = not flag.startswith("--no-")
            argv = [flag]
        elif action.nargs == "+":
            expected = _example(row.setting)
            argv = [flag, *expected]
        else:
            expected = _example(row.setting)
            argv = [flag, _as_text(expected)]
        namespace = parser.parse_args(argv)
        settings = serve_command.settings_from_args(namespace)
        assert _value(settings, row.setting) == expected, flag


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_env_column_follows_the_settings_naming(row: Row) -> None:
    if row.is_secret:
        variable = SECRET_ENV[row.setting]
        assert row.env == (variable, f"{variable}_FILE")
        return
    prefix = ServiceSettings.model_config["env_prefix"]
    delimiter = ServiceSettings.model_config["env_nested_delimiter"]
    assert delimiter
    assert row.env == (prefix + row.setting.replace(".", delimiter).upper(),)


@pytest.mark.parametrize("row", [r for r in ROWS if not r.is_secret], ids=lambda r: r.setting)
def test_each_env_var_sets_its_setting(row: Row, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _example(row.setting)
    (variable,) = row.env
    monkeypatch.setenv(variable, _as_text(expected))
    assert _value(ServiceSettings(), row.setting) == _coerce(row.setting, expected)


def _adapter(field: FieldInfo) -> TypeAdapter[Any]:
    assert field.annotation is not None
    return TypeAdapter(field.annotation)


def _coerce(setting: str, value: Any) -> Any:
    return _adapter(_field(setting)).validate_python(value)


_RESOLVERS = {
    "sasl_password": lambda s: s.resolved_sasl_password(),
    "pipeline.api_key": lambda s: s.pipeline.resolved_api_key(),
    "pipeline.judge_api_key": lambda s: s.pipeline.resolved_judge_api_key(),
}


@pytest.mark.parametrize("setting", sorted(SECRET_ENV))
def test_each_secret_resolves_from_its_variable_and_its_file(
    setting: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (row,) = [r for r in ROWS if r.setting == setting]
    assert row.yaml_key is None and not row.flags
    variable, file_variable = row.env
    monkeypatch.setenv(variable, "from-env")
    assert _RESOLVERS[setting](ServiceSettings()) == "from-env"
    monkeypatch.delenv(variable)
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv(file_variable, str(secret_file))
    assert _RESOLVERS[setting](ServiceSettings()) == "from-file"


@pytest.mark.parametrize("row", [r for r in ROWS if not r.is_secret], ids=lambda r: r.setting)
def test_each_yaml_key_sets_its_setting(row: Row, tmp_path: Path) -> None:
    assert row.yaml_key == row.setting
    expected = _example(row.setting)
    document: dict[str, Any] = {}
    *parents, leaf = row.setting.split(".")
    node = document
    for parent in parents:
        node = node.setdefault(parent, {})
    node[leaf] = expected.value if isinstance(expected, enum.Enum) else expected
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(_plain(document)))
    assert _value(ServiceSettings.load(path), row.setting) == _coerce(row.setting, expected)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return value


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_default_column_is_the_code_default(row: Row) -> None:
    field = _field(row.setting)
    if row.default == "none":
        assert field.default is None
    elif _ticked(row.default):
        (shown,) = _ticked(row.default)
        assert _adapter(field).validate_python(yaml.safe_load(shown)) == (field.default)
    else:
        # Free text only where the default is no scalar (the built-in price table).
        assert field.default_factory is not None, row.setting


def test_every_variable_the_section_names_is_read_by_the_code() -> None:
    named = set(re.findall(r"\b((?:AGENTHER|OPENAI)_[A-Z0-9_]+)\b", _operators_block()))
    documented = {variable for row in ROWS for variable in row.env}
    sources = "\n".join(
        p.read_text() for folder in ("agenther", "streams") for p in (ROOT / folder).rglob("*.py")
    )
    unread = {v for v in named - documented if v not in sources}
    assert unread == set()


def _chart_config_keys(values: dict[str, Any] | None = None) -> set[str]:
    with helm.Chart.load(ROOT / "helm" / "agenther") as chart:
        rendered = chart.render(values, name="rel", namespace="ns")
    configmap = yaml.safe_load(rendered["agenther/templates/configmap.yaml"])
    document = yaml.safe_load(configmap["data"]["config.yaml"])
    pipeline = document.pop("pipeline", {})
    return set(document) | {f"pipeline.{key}" for key in pipeline}


def test_every_key_of_the_charts_config_file_is_a_documented_setting() -> None:
    documented = {row.yaml_key for row in ROWS if row.yaml_key}
    assert _chart_config_keys() <= documented
    every_key = {
        "config": {
            "sasl_mechanism": "PLAIN",
            "sasl_username": "u",
            "schema_registry_url": "http://registry:8081",
            "pipeline": {"base_url": "http://llm/v1", "judge_model": "j", "prices": {}},
        },
        "kafka": {"sasl": {"existingSecret": "s"}},
    }
    assert _chart_config_keys(every_key) <= documented
