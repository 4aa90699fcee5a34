"""One configuration system: ``PipelineConfig`` is a pydantic-settings model with the same
precedence (defaults < YAML < ``AGENTHER_PIPELINE__`` env < flags) in the library, in
``agenther run`` and in ``agenther serve``, implemented once (``LayeredSettings``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from agenther.cli import _config_from_args, build_parser
from agenther.config import LayeredSettings, PipelineConfig
from streams.commands.serve import settings_from_args
from streams.settings import ServiceSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AGENTHER_", "OPENAI_")):
            monkeypatch.delenv(name)


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_both_settings_models_share_the_one_precedence_implementation() -> None:
    assert issubclass(PipelineConfig, LayeredSettings)
    assert issubclass(ServiceSettings, LayeredSettings)
    own = [
        cls.__name__
        for cls in (PipelineConfig, ServiceSettings)
        if "settings_customise_sources" in vars(cls) or "load" in vars(cls)
    ]
    assert own == []


def test_the_library_reads_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTHER_PIPELINE__MIN_CONFIDENCE", "0.65")
    assert PipelineConfig().min_confidence == 0.65
    assert PipelineConfig(min_confidence=0.7).min_confidence == 0.7  # arguments win


@pytest.mark.parametrize(
    ("yaml_value", "env_value", "flags", "expected"),
    [
        (None, None, (), 0.5),
        ("0.6", None, (), 0.6),
        ("0.6", "0.65", (), 0.65),
        ("0.6", "0.65", ("--min-confidence", "0.7"), 0.7),
        (None, "0.65", ("--min-confidence", "0.7"), 0.7),
    ],
)
def test_run_and_serve_resolve_a_setting_alike(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    yaml_value: str | None,
    env_value: str | None,
    flags: tuple[str, ...],
    expected: float,
) -> None:
    config = tmp_path / "settings.yaml"
    config.write_text(f"pipeline:\n  min_confidence: {yaml_value}\n" if yaml_value else "{}\n")
    if env_value:
        monkeypatch.setenv("AGENTHER_PIPELINE__MIN_CONFIDENCE", env_value)
    run = _config_from_args(_parse("run", "x.jsonl", "--config", str(config), *flags))
    serve = settings_from_args(_parse("serve", "--config", str(config), *flags)).pipeline
    library = PipelineConfig.load(config)
    assert run.min_confidence == serve.min_confidence == expected
    if not flags:
        assert library.min_confidence == expected


def test_a_flat_pipeline_file_still_loads_for_the_batch_cli(tmp_path: Path) -> None:
    config = tmp_path / "pipeline.yaml"
    config.write_text("model: flat-model\nrule_based: true\n")
    assert PipelineConfig.load(config).model == "flat-model"
    assert PipelineConfig.from_yaml(config, model="override").model == "override"


def test_a_misspelt_pipeline_variable_stops_both_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTHER_PIPELINE__MIN_CONFIDENSE", "0.7")
    with pytest.raises(ValueError, match="AGENTHER_PIPELINE__MIN_CONFIDENSE"):
        _config_from_args(_parse("run", "x.jsonl"))
    with pytest.raises(ValueError, match="min_confidense"):
        settings_from_args(_parse("serve"))
