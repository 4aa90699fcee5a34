"""Promises about the repository itself: CI runs the README's command, layers stay one-way."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = _readme_commands()[1].split("&&")[-1].strip()
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci_lines[-1] == test_command
    assert 'pip install --quiet -e ".[dev]"' in "\n".join(ci_lines)


def test_first_screen_runs_the_demo_without_a_key() -> None:
    assert _readme_commands()[0].endswith("agenther demo")


def test_library_imports_without_kafka() -> None:
    code = (
        "import sys, agenther, agenther.cli, agenther.pipeline\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('aiokafka', 'streams', 'kafka')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_library_never_imports_the_service() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "agenther").rglob("*.py")
        if re.search(r"^\s*(from|import)\s+(streams|aiokafka)\b", path.read_text(), flags=re.M)
    ]
    assert offenders == []


def test_every_test_the_readme_cites_exists() -> None:
    text = (ROOT / "README.md").read_text()
    cited = set(re.findall(r"(tests/[\w/]+\.py)::(\w+)", text))
    assert cited, "the Guarantees section names its tests"
    missing = [
        f"{path}::{name}"
        for path, name in sorted(cited)
        if not re.search(rf"def {name}\(", (ROOT / path).read_text())
    ]
    assert missing == []
