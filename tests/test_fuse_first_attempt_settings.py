"""``fuse_first_attempt`` from every source: the batch CLI (YAML < flags), the service (YAML < env
< flags) and the chart's config file."""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from agenther.cli import main
from streams.commands.serve import register, settings_from_args
from streams.settings import ServiceSettings
from tests.support.fake_openai import FakeOpenAI
from tests.support.llm_replies import install_default_replies
from tests.support.trajectories import write_answered_reference

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AGENTHER_", "OPENAI_")):
            monkeypatch.delenv(name)


def _yaml_file(tmp_path: Path, **pipeline: object) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"pipeline": pipeline}))
    return path


# --- agenther run: YAML < flags -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("in_yaml", "flags", "fused"),
    [
        (None, [], False),
        (None, ["--fuse-first-attempt"], True),
        (True, [], True),
        (True, ["--no-fuse-first-attempt"], False),
        (False, ["--fuse-first-attempt"], True),
    ],
)
def test_agenther_run_takes_the_flag_over_the_yaml_file(
    in_yaml: bool | None, flags: list[str], fused: bool, tmp_path: Path
) -> None:
    pipeline: dict[str, object] = {"use_llm_detector": True, "output_dir": str(tmp_path)}
    if in_yaml is not None:
        pipeline["fuse_first_attempt"] = in_yaml
    config = _yaml_file(tmp_path, **pipeline)
    with FakeOpenAI() as fake:
        install_default_replies(fake)
        runs = write_answered_reference(tmp_path)
        code = main(["run", str(runs), "--config", str(config), "--base-url",
                     fake.base_url, *flags])  # fmt: skip
        calls = Counter(request.schema_name for request in fake.requests)
    assert code == 0
    joint = "FusedAnalysisReply" if fused else "JointAnalysisReply"
    assert calls[joint] == 3 and calls["SecondJudgeVerdict"] == 2
    # Fused, both accepted runs take their first attempt from the joint call.
    assert calls["HindsightPromptReply"] == (0 if fused else 2)


# --- agenther serve: YAML < env < flags ---------------------------------------------------------


def _serve_settings(config: Path, flags: list[str]) -> ServiceSettings:
    parser = argparse.ArgumentParser(prog="agenther")
    register(parser.add_subparsers(dest="command", required=True))
    return settings_from_args(parser.parse_args(["serve", "--config", str(config), *flags]))


@pytest.mark.parametrize(
    ("in_yaml", "in_env", "flags", "fused"),
    [
        (None, None, [], False),
        (True, None, [], True),
        (True, "false", [], False),
        (None, "true", [], True),
        (None, "true", ["--no-fuse-first-attempt"], False),
        (False, "false", ["--fuse-first-attempt"], True),
    ],
)
def test_agenther_serve_takes_flag_over_env_over_yaml(
    in_yaml: bool | None,
    in_env: str | None,
    flags: list[str],
    fused: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline: dict[str, object] = {"model": "yaml-model"}
    if in_yaml is not None:
        pipeline["fuse_first_attempt"] = in_yaml
    if in_env is not None:
        monkeypatch.setenv("AGENTHER_PIPELINE__FUSE_FIRST_ATTEMPT", in_env)
    settings = _serve_settings(_yaml_file(tmp_path, **pipeline), flags)
    assert settings.pipeline.fuse_first_attempt is fused
    # The flag sets one pipeline field; the file's others stay.
    assert settings.pipeline.model == "yaml-model"


def test_the_chart_passes_the_setting_to_the_service(tmp_path: Path) -> None:
    def config_file(values: dict[str, Any] | None) -> Path:
        with helm.Chart.load(ROOT / "helm" / "agenther") as chart:
            rendered = chart.render(values, name="rel", namespace="ns")
        configmap = yaml.safe_load(rendered["agenther/templates/configmap.yaml"])
        path = tmp_path / "chart.yaml"
        path.write_text(configmap["data"]["config.yaml"])
        return path

    assert not ServiceSettings.load(config_file(None)).pipeline.fuse_first_attempt
    on = {"config": {"pipeline": {"fuse_first_attempt": True}}}
    assert ServiceSettings.load(config_file(on)).pipeline.fuse_first_attempt
