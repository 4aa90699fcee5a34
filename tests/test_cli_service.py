"""The service commands as an operator runs them: settings precedence, subprocesses, signals."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams.commands.serve import register, settings_from_args
from streams.sample_runs import FAILED_RUNS
from tests.support.fake_openai import FakeOpenAI
from tests.support.kafka_fixtures import collect, committed_offsets, produce

ROOT = Path(__file__).resolve().parent.parent


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agenther")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "agenther", *args]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTHER_", "OPENAI_"))}
    env.update(extra)
    return env


def test_settings_precedence_defaults_yaml_env_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "service.yaml"
    config.write_text(
        "input_topic: from-yaml\ngroup_id: from-yaml\nmax_in_flight: 7\n"
        "pipeline:\n  model: yaml-model\n  min_confidence: 0.6\n"
    )
    monkeypatch.setenv("AGENTHER_GROUP_ID", "from-env")
    monkeypatch.setenv("AGENTHER_MAX_IN_FLIGHT", "9")
    monkeypatch.setenv("AGENTHER_PIPELINE__MODEL", "env-model")
    monkeypatch.setenv("AGENTHER_SASL_PASSWORD", "hunter2-secret")
    args = parse(
        [
            "serve",
            "--config",
            str(config),
            "--max-in-flight",
            "11",
            "--rule-based",
            "--no-create-topics",
            "-f",
            "dpo",
        ]
    )
    settings = settings_from_args(args)
    assert settings.input_topic == "from-yaml"  # yaml over default
    assert settings.group_id == "from-env"  # env over yaml
    assert settings.max_in_flight == 11  # flag over env
    assert settings.output_topic == "her-examples"  # default
    assert settings.pipeline.model == "env-model" and settings.pipeline.min_confidence == 0.6
    assert settings.pipeline.rule_based and not settings.create_topics
    assert settings.output_format.value == "dpo"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    assert "hunter2-secret" in settings.secret_values()


def test_bad_settings_exit_with_a_clear_message(tmp_path: Path) -> None:
    result = subprocess.run(
        cli("serve", "--max-in-flight", "0"),
        capture_output=True,
        text=True,
        timeout=30,
        env=child_env(),
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "max_in_flight" in result.stderr


def test_registering_the_commands_imports_no_kafka_client() -> None:
    code = "import sys, agenther.cli; agenther.cli.build_parser(); print('aiokafka' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.kafka
def test_demo_relabels_the_sample_runs_and_exits_zero() -> None:
    result = subprocess.run(
        cli("demo"), capture_output=True, text=True, timeout=60, env=child_env(), cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "13 of 13 events accounted for" in result.stdout
    # Precision first: only the sample runs a person would accept become examples (the
    # copper and lasagna runs; tool work, which gave two more, is opt-in).
    assert result.stdout.count("example   demo-") >= 2
    assert "dead      demo-broken" in result.stdout
    assert "skipped_success=1" in result.stdout


@pytest.mark.kafka
def test_demo_relabels_the_sample_runs_traced_as_otlp() -> None:
    result = subprocess.run(
        cli("demo", "--input-format", "otlp-proto"),
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    # Ten failed traces and a successful one in two messages each, a bad record: 23 messages,
    # 12 outcomes.
    assert "published 23 otlp-proto messages" in result.stdout
    assert "12 of 12 events accounted for" in result.stdout
    assert result.stdout.count("example   ") >= 2
    assert "dead_letter=1, skipped_success=1" in result.stdout


@pytest.mark.kafka
async def test_sigterm_drains_in_flight_work_and_commits(
    kafka_bootstrap: str, service_topics: Any, fake_llm: FakeOpenAI
) -> None:
    topics = await service_topics(partitions=2)
    events = [dict(FAILED_RUNS[i % len(FAILED_RUNS)], run_id=f"term-{i}") for i in range(12)]
    await produce(kafka_bootstrap, topics.input, events)
    fake_llm.latency = 0.15  # slow enough that work is in flight when the signal comes
    process = await asyncio.create_subprocess_exec(
        *cli(
            "serve",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--input-topic",
            topics.input,
            "--output-topic",
            topics.output,
            "--rejects-topic",
            topics.rejects,
            "--dlq-topic",
            topics.dlq,
            "--group-id",
            topics.group,
            "--no-create-topics",
            "--metrics-port",
            "0",
            "--session-timeout-ms",
            "2000",
            "--max-in-flight",
            "4",
            "--base-url",
            fake_llm.base_url,
            "--shutdown-grace",
            "20",
        ),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=child_env(
            OPENAI_API_KEY="sk-term-secret-value-123", AGENTHER_PIPELINE__MAX_RETRIES="0"
        ),
    )
    try:
        first = await collect(
            kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=1, timeout_s=30
        )
        assert first, "the service produced nothing"
        process.send_signal(signal.SIGTERM)
        _, raw = await asyncio.wait_for(process.communicate(), 30)
        stderr = raw.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr
    assert "draining" in stderr and "stopped" in stderr
    assert "sk-term-secret-value-123" not in stderr
    outputs = await collect(
        kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=len(events), timeout_s=3
    )
    committed = await committed_offsets(kafka_bootstrap, topics.group, topics.input)
    done = sum(max(0, offset) for offset in committed.values())
    # Drained work was committed, and nothing was committed without its output.
    assert done >= 1
    assert len({r.key for r in outputs}) >= done
    assert done < len(events)  # the signal really came mid-stream


@pytest.mark.kafka
async def test_produce_and_tail_commands(
    kafka_bootstrap: str, service_topics: Any, tmp_path: Path
) -> None:
    topics = await service_topics(partitions=1)
    runs_file = tmp_path / "runs.jsonl"
    reference = json.loads((ROOT / "data" / "reference_example_trajectories.json").read_text())
    lines = [json.dumps(FAILED_RUNS[0]), json.dumps(reference[0]), "{not json"]
    runs_file.write_text("\n".join(lines) + "\n")
    produced = await asyncio.to_thread(
        subprocess.run,
        cli(
            "produce",
            str(runs_file),
            "--topic",
            topics.input,
            "--bootstrap-servers",
            kafka_bootstrap,
        ),
        capture_output=True,
        text=True,
        timeout=30,
        env=child_env(),
        cwd=ROOT,
    )
    assert produced.returncode == 0, produced.stderr
    assert "published 2 runs" in produced.stdout and "line 3" in produced.stderr
    tailed = await asyncio.to_thread(
        subprocess.run,
        cli(
            "tail",
            "--topic",
            topics.input,
            "-n",
            "3",  # one more than the topic holds: the default idle timeout ends it
            "--from-beginning",
            "--bootstrap-servers",
            kafka_bootstrap,
        ),
        capture_output=True,
        text=True,
        timeout=30,
        env=child_env(),
        cwd=ROOT,
    )
    assert tailed.returncode == 0, tailed.stderr
    records = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert [r["key"] for r in records] == [FAILED_RUNS[0]["run_id"], reference[0]["trajectory_id"]]
    assert records[1]["value"]["status"] == "failure"
