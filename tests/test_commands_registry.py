"""Commands register themselves: the library CLI finds the service's commands through the
``agenther.commands`` entry-point group, never by naming the service package."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE_COMMANDS = {"serve", "broker", "demo", "produce", "tail", "replay", "dlq", "export"}


def test_the_library_names_the_service_in_no_import_static_or_dynamic() -> None:
    dynamic = re.compile(r"""(import_module|__import__)\(\s*["'](streams|aiokafka)\b""")
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "agenther").rglob("*.py")
        if dynamic.search(path.read_text())
    ]
    assert offenders == []


def test_the_service_commands_are_entry_points_of_the_group() -> None:
    group = {entry.name: entry for entry in entry_points(group="agenther.commands")}
    assert set(group) == SERVICE_COMMANDS
    for name, entry in group.items():
        assert entry.value == f"streams.commands.{name}:register"


def test_each_registered_command_is_offered_with_its_own_parser() -> None:
    from agenther.cli import build_parser

    subparsers = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    assert set(subparsers.choices) == {"run", "validate", "report"} | SERVICE_COMMANDS


def test_a_command_whose_package_is_missing_is_left_out_not_an_error() -> None:
    code = (
        "import sys\n"
        "sys.modules['streams.commands.tail'] = None  # as if that package were absent\n"
        "from agenther.cli import build_parser\n"
        "text = build_parser().format_help()\n"
        "assert 'serve' in text and ' tail ' not in text, text\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_registering_every_command_imports_no_kafka_client_llm_sdk_or_plotting() -> None:
    code = (
        "import sys\n"
        "from agenther.cli import build_parser\n"
        "build_parser()\n"
        "roots = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = roots & {'aiokafka', 'openai', 'fastavro', 'matplotlib'}\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
