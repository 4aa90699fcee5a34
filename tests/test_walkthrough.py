"""The README's service walkthrough, run as written: broker, serve, produce, tail, stop, replay,
serve again, tail. Each command is a subprocess, as a user runs it in a shell; only the port
changes (a free one instead of 19092)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_PORT = "19092"

pytestmark = pytest.mark.kafka


def walkthrough() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough -->\n```bash\n(.*?)```", text, re.S)
    assert block, "README has no walkthrough block"
    commands = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            commands.append(shlex.split(line))
    return commands


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AGENTHER_", "OPENAI_"))}


def start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *argv],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, (argv, done.stderr)
    assert "Traceback" not in done.stderr
    return done


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)  # Ctrl-C
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return err


def test_the_readme_walkthrough_runs_as_written() -> None:
    port = free_port()
    steps = [[part.replace(README_PORT, port) for part in argv] for argv in walkthrough()]
    broker, serve, produce, tail_one, replay, serve_again, tail_two = steps
    assert [s[1] for s in steps] == [
        "broker", "serve", "produce", "tail", "replay", "serve", "tail"
    ]  # fmt: skip

    broker_process = start(broker)
    try:
        assert broker_process.stdout is not None
        first = broker_process.stdout.readline()
        assert first.startswith(f"embedded broker (memory only) at 127.0.0.1:{port}"), first

        service = start(serve)
        try:
            published = run(produce)
            assert "published 3 runs to agent-runs" in published.stdout
            (example,) = [json.loads(line) for line in run(tail_one).stdout.splitlines()]
            assert example["key"] == "traj_002"
        finally:
            stop(service)

        # The stopped service left its group, so the replay is allowed at once.
        run(replay)
        service = start(serve_again)
        try:
            records = [json.loads(line) for line in run(tail_two).stdout.splitlines()]
        finally:
            stop(service)
        assert [r["key"] for r in records] == ["traj_002", "traj_002"]
        ids = {r["headers"]["agenther-example-id"] for r in records}
        assert len(ids) == 1  # the replayed example is recognisably the same
    finally:
        stop(broker_process)


def test_serve_alone_says_where_its_embedded_broker_listens_on_its_first_line() -> None:
    port = free_port()
    service = start(["agenther", "serve", "--rule-based", "--embedded-broker-port", port])
    try:
        assert service.stdout is not None
        first = service.stdout.readline()
        assert first == f"embedded broker (memory only) at 127.0.0.1:{port}\n"
        # The address works for the other commands while the service runs.
        run(
            [
                "agenther",
                "produce",
                "data/reference_example_trajectories.json",
                "--bootstrap-servers",
                f"127.0.0.1:{port}",
            ]
        )
    finally:
        err = stop(service)
    assert "stopped (" in err and "stopped ()" not in err
