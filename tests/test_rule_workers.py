"""``agenther run --workers N``: the same files, line for line, as a run in one process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agenther.cli import main
from agenther.config import PipelineConfig
from agenther.inputs.settings import InputSettings
from agenther.rule_workers import RuleWorkers
from bench.generate import generate
from tests.support.otel_traces import agent_trace, otlp_json
from tests.test_service_inputs import _chat


def _mixed_file(path: Path) -> Path:
    """Generated runs with every other kind of record between them: invalid JSON, a record
    that is no run, a blank line, a chat transcript, a successful chat, a line of traces."""
    runs = [json.dumps(run) for run in generate(150, seed=3)]
    extras = [
        "{not json",
        json.dumps({"original_prompt": "no steps", "steps": []}),
        "",
        json.dumps(_chat("chat-1")),
        json.dumps({**_chat("chat-ok"), "status": "success"}),
        otlp_json(agent_trace("Find a direct flight") + agent_trace(failed=False)).decode(),
    ]
    lines = list(runs)
    for index, extra in enumerate(extras):
        lines.insert(20 + 23 * index, extra)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(
    source: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[str, str, str, list[str]]:
    code = main(["run", str(source), "--rule-based", "-o", str(out), *extra])
    assert code == 0
    summary = capsys.readouterr().out.replace(out.stem, "OUT").splitlines()
    provenance = out.with_name(out.stem + ".provenance.jsonl")
    return (
        out.read_text(encoding="utf-8"),
        out.with_name(out.stem + ".rejects.jsonl").read_text(encoding="utf-8"),
        provenance.read_text(encoding="utf-8") if provenance.exists() else "",
        summary,
    )


@pytest.mark.parametrize("fmt", ["sft", "openai"])
def test_workers_write_the_files_of_a_run_in_one_process(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _mixed_file(tmp_path / "runs.jsonl")
    here = _run(source, tmp_path / "here.jsonl", capsys, "-f", fmt)
    pooled = _run(source, tmp_path / "pooled.jsonl", capsys, "-f", fmt, "--workers", "2")
    assert pooled == here
    examples, rejects, provenance, summary = here
    assert examples.count("\n") >= 1
    assert (provenance.count("\n") == examples.count("\n")) == (fmt == "openai")
    outcomes = [json.loads(line)["outcome"] for line in rejects.splitlines()]
    assert {"invalid", "rejected"} <= set(outcomes)
    assert "successes skipped" in summary[0]


def test_the_workers_setting_comes_from_the_environment_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _mixed_file(tmp_path / "runs.jsonl")
    monkeypatch.setenv("AGENTHER_WORKERS", "65")
    assert main(["run", str(source), "--rule-based", "-o", str(tmp_path / "x.jsonl")]) == 2
    assert "workers" in capsys.readouterr().err


def _pieces(count: int) -> list[Any]:
    from agenther.trajectory_io import RawLine

    return [RawLine(n, json.dumps(run).encode()) for n, run in enumerate(generate(count), 1)]


def test_results_come_back_in_input_order_however_the_workers_finish() -> None:
    workers = RuleWorkers(PipelineConfig(rule_based=True), InputSettings(), 2)
    try:
        finished = list(workers.finished(_pieces(200)))
    finally:
        workers.close()
    lines = [f.reject["line"] for f in finished if f.reject is not None]
    assert len(finished) == 200 and lines == sorted(lines)


def test_workers_refuse_llm_pipelines_and_zero_workers() -> None:
    with pytest.raises(ValueError, match="rule-based"):
        RuleWorkers(PipelineConfig(), InputSettings(), 1)
    with pytest.raises(ValueError, match="at least one"):
        RuleWorkers(PipelineConfig(rule_based=True), InputSettings(), 0)


_ORPHAN_SCRIPT = """
import sys, time
from agenther.config import PipelineConfig
from agenther.rule_workers import rule_pool
pool = rule_pool(PipelineConfig(rule_based=True), 2)
list(pool.map(abs, range(8)))
print(*pool._processes, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie has exited; only its reaper is missing


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_exit_when_their_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert workers and all(_alive(pid) for pid in workers)
    finally:
        parent.kill()  # SIGKILL: no cleanup runs in the parent
        parent.wait(10)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
