"""The ``agenther`` command end to end: real files in, trainer files and rejects out."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agenther.cli import (
    EXIT_ALL_FAILED,
    EXIT_FATAL_LLM,
    EXIT_INVALID_INPUT,
    EXIT_USAGE,
    build_parser,
    main,
)
from agenther.data_augmenter import DataAugmenter
from agenther.formats.output import SampleWriter
from agenther.models import OutputFormat
from tests.support.fake_openai import FakeOpenAI, Fault
from tests.support.format_checks import CHECKS
from tests.support.trajectories import (
    REFERENCE_FILE,
    answered_reference_trajectories,
    reference_trajectories,
    relabeled_for,
)

ROOT = Path(__file__).resolve().parents[1]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
def test_run_on_the_reference_file_in_every_format(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"{fmt}.jsonl"
    assert main(["run", str(REFERENCE_FILE), "--rule-based", "-f", fmt, "-o", str(out)]) == 0
    records = _jsonl(out)
    assert len(records) == 1
    for record in records:
        CHECKS[fmt](record)
    if fmt == "openai":
        ids = [p["trajectory_id"] for p in _jsonl(tmp_path / "openai.provenance.jsonl")]
    else:
        ids = [r["agenther"]["trajectory_id"] for r in records]
    assert ids == ["traj_002"]
    rejects = _jsonl(tmp_path / f"{fmt}.rejects.jsonl")
    # traj_001's answer admits it failed; traj_003's tools all errored.
    assert [(r["trajectory_id"], r["outcome"], r["line"]) for r in rejects] == [
        ("traj_001", "rejected", 1),
        ("traj_003", "rejected", 3),
    ]
    assert "the final answer admits a failure" in rejects[0]["reason"]
    # The rejection says what Stage 1 found, so turned-down runs can be counted by type.
    assert rejects[0]["failure_type"] == "constraint_violation"
    assert rejects[1]["failure_type"] in (
        "tool_error",
        "hallucination",
    )  # see test_reference_examples
    assert rejects[1]["recoverable"] is False
    for reject in rejects:
        assert 0 <= reject["weight"] <= 1 and 0 <= reject["severity"] <= 1
    summary = capsys.readouterr().out
    assert "3 trajectories read, 0 invalid lines, 1 examples, 2 rejected, 0 errors" in summary
    assert "llm: no calls" in summary
    if fmt == "sharegpt":
        assert (
            json.loads((tmp_path / "dataset_info.json").read_text())[fmt]["file_name"] == out.name
        )


def test_one_broken_line_of_ten_is_rejected_and_the_rest_processed(tmp_path: Path) -> None:
    runs = answered_reference_trajectories()[:2]
    lines = [
        runs[i % 2].model_copy(update={"trajectory_id": f"run_{i}"}).model_dump_json()
        for i in range(10)
    ]
    lines[6] = lines[6][: len(lines[6]) // 2]  # cut mid-record, as a crashed writer leaves it
    source = tmp_path / "runs.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.jsonl"
    rejects = tmp_path / "bad.jsonl"
    code = main(["run", str(source), "--rule-based", "-o", str(out), "--rejects", str(rejects)])
    assert code == 0
    examples = _jsonl(out)
    assert len(examples) == 9
    assert sorted(r["agenther"]["trajectory_id"] for r in examples) == sorted(
        f"run_{i}" for i in range(10) if i != 6
    )
    (bad,) = _jsonl(rejects)
    assert (bad["outcome"], bad["stage"], bad["line"]) == ("invalid", "input", 7)
    assert str(bad["reason"]).startswith("invalid JSON")
    assert bad["raw"] == lines[6]


def test_each_line_is_on_disk_as_soon_as_it_is_written(tmp_path: Path) -> None:
    run = reference_trajectories()[0]
    sample = DataAugmenter().to_sft(run, relabeled_for(run))
    with SampleWriter(tmp_path / "out.jsonl", OutputFormat.SFT) as writer:
        writer.write(sample)
        # Read through another handle while the writer is still open, as after a crash.
        assert _jsonl(tmp_path / "out.jsonl") == [sample.record]


def test_validate_reports_each_bad_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "runs.jsonl"
    good = reference_trajectories()[0].model_dump_json()
    source.write_text("\n".join([good, '{"original_prompt": "x", "steps": []}', good, "nope"]))
    assert main(["validate", str(source)]) == 1
    out = capsys.readouterr().out
    assert "line 2: steps: List should have at least 1 item" in out
    assert "line 4: invalid JSON" in out
    assert "2 valid, 2 invalid" in out
    assert main(["validate", str(REFERENCE_FILE)]) == 0


def test_unusable_invocations_exit_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tmp_path / "missing.json"), "--rule-based"]) == EXIT_USAGE
    assert main(["validate", str(tmp_path / "missing.json")]) == EXIT_USAGE
    args = ["run", str(REFERENCE_FILE), "--rule-based", "--min-confidence", "7"]
    assert main(args) == EXIT_USAGE
    assert "min_confidence" in capsys.readouterr().err


def test_there_is_no_api_key_flag() -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["run", "x.json", "--api-key", "sk-secret"])
    assert stopped.value.code == 2


def test_config_file_settings_and_flags_combine(tmp_path: Path) -> None:
    config = tmp_path / "agenther.yaml"
    config.write_text(
        "pipeline:\n  rule_based: true\n  output_format: dpo\n  output_dir: " + str(tmp_path) + "\n"
    )
    assert main(["run", str(REFERENCE_FILE), "--config", str(config)]) == 0
    assert len(_jsonl(tmp_path / "augmented_dpo.jsonl")) == 1
    out = tmp_path / "flag.jsonl"
    assert (
        main(["run", str(REFERENCE_FILE), "--config", str(config), "-f", "sft", "-o", str(out)])
        == 0
    )
    assert "messages" in _jsonl(out)[0]


def test_a_refused_key_stops_the_run_with_a_distinct_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    with FakeOpenAI(fault_rate=1.0, faults=[Fault.status(401, message="bad key")]) as fake:
        code = main(
            [
                "run",
                str(REFERENCE_FILE),
                "--base-url",
                fake.base_url,
                "--concurrency",
                "1",
                "-o",
                str(tmp_path / "out.jsonl"),
            ]
        )
    assert code == EXIT_FATAL_LLM
    captured = capsys.readouterr()
    assert "sk-test-not-a-real-key" not in captured.out + captured.err


def test_without_a_key_the_run_says_every_way_forward(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY_FILE", raising=False)
    code = main(["run", str(REFERENCE_FILE), "-o", str(tmp_path / "out.jsonl")])
    assert code == EXIT_FATAL_LLM
    err = capsys.readouterr().err
    for way in ("OPENAI_API_KEY", "OPENAI_API_KEY_FILE", "--base-url", "--rule-based"):
        assert way in err
    assert "api_key" not in err.replace("OPENAI_API_KEY", "")  # no library wording


PREVIOUS_OUTPUT = '{"messages": "from an earlier run"}\n'


@pytest.mark.parametrize(
    "fault",
    [Fault.status(401), Fault.status(404), Fault.insufficient_quota(), Fault.status(503)],
    ids=["bad-key", "unknown-model", "no-quota", "unreachable"],
)
def test_an_unusable_endpoint_is_found_before_the_output_is_touched(
    fault: Fault,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-checked-first")
    out = tmp_path / "out.jsonl"
    out.write_text(PREVIOUS_OUTPUT)
    with FakeOpenAI(fault_rate=1.0, faults=[fault]) as fake:
        code = main(["run", str(REFERENCE_FILE), "--base-url", fake.base_url, "-o", str(out)])
        requests = len(fake.requests)
    assert code == EXIT_FATAL_LLM
    assert out.read_text() == PREVIOUS_OUTPUT
    assert not (tmp_path / "out.rejects.jsonl").exists()
    assert "not touched" in capsys.readouterr().err
    # One check (with the client's retries for a transient error), never one per run.
    assert requests == (5 if fault.status_code == 503 else 1)


def test_an_input_without_a_valid_trajectory_leaves_the_output_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text(PREVIOUS_OUTPUT)
    for content in ("", "not json at all\n{}\n"):
        source = tmp_path / "input.jsonl"
        source.write_text(content)
        assert main(["run", str(source), "--rule-based", "-o", str(out)]) == EXIT_INVALID_INPUT
        assert out.read_text() == PREVIOUS_OUTPUT
        assert "holds no valid trajectory" in capsys.readouterr().err


def test_a_run_with_errors_and_no_example_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAI() as fake:
        # The check passes; every run's own calls are refused for their content.
        fake.fail_matching("run-data", Fault.context_length_exceeded())
        code = main(
            ["run", str(REFERENCE_FILE), "--base-url", fake.base_url, "-o", str(tmp_path / "o")]
        )
    assert code == EXIT_ALL_FAILED
    captured = capsys.readouterr()
    assert "no examples, and 3 of 3 runs ended in an error" in captured.err
    # Each run asks twice: the second time with half the run data, as a too-long prompt does.
    assert "6 failed calls" in captured.out


def test_llm_usage_is_in_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAI() as fake:
        code = main(
            [
                "run",
                str(REFERENCE_FILE),
                "--base-url",
                fake.base_url,
                "-o",
                str(tmp_path / "o.jsonl"),
            ]
        )
        requests = len(fake.requests)
    assert code == 0
    assert requests > 0
    assert f"llm gpt-4o-mini: {requests} requests" in capsys.readouterr().out


def test_library_only_install_still_has_run_and_validate() -> None:
    code = (
        "import sys\n"
        "sys.modules['streams'] = None  # as if only the library were installed\n"
        "from agenther.cli import build_parser\n"
        "help_text = build_parser().format_help()\n"
        "assert 'run' in help_text and 'validate' in help_text, help_text\n"
        "assert 'serve' not in help_text, help_text\n"
        "assert not [m for m in sys.modules if m.startswith('aiokafka')]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_console_script_and_module_entry_point_run(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agenther",
            "run",
            str(REFERENCE_FILE),
            "--rule-based",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(_jsonl(out)) == 1


def test_environment_sits_between_the_config_file_and_the_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "agenther.yaml"
    config.write_text(f"pipeline:\n  output_format: dpo\n  output_dir: {tmp_path}\n")
    monkeypatch.setenv("AGENTHER_PIPELINE__RULE_BASED", "true")
    monkeypatch.setenv("AGENTHER_PIPELINE__OUTPUT_FORMAT", "sharegpt")
    assert main(["run", str(REFERENCE_FILE), "--config", str(config)]) == 0
    assert "conversations" in _jsonl(tmp_path / "augmented_sharegpt.jsonl")[0]
    out = tmp_path / "flag.jsonl"
    assert (
        main(["run", str(REFERENCE_FILE), "--config", str(config), "-f", "sft", "-o", str(out)])
        == 0
    )
    assert "messages" in _jsonl(out)[0]


def test_a_misspelt_or_malformed_environment_setting_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTHER_PIPELINE__MIN_CONFIDENSE", "0.7")
    assert main(["run", str(REFERENCE_FILE), "--rule-based"]) == EXIT_USAGE
    assert "AGENTHER_PIPELINE__MIN_CONFIDENSE" in capsys.readouterr().err
    monkeypatch.delenv("AGENTHER_PIPELINE__MIN_CONFIDENSE")
    monkeypatch.setenv("AGENTHER_PIPELINE__PRICES", "{not json")
    assert main(["run", str(REFERENCE_FILE), "--rule-based"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert '"prices"' in err and "holds JSON" in err


def test_help_imports_neither_the_llm_sdk_nor_the_kafka_client() -> None:
    # `agenther --help` must answer at once: the openai SDK alone takes ~0.5 s to import.
    code = (
        "import sys\n"
        "from agenther.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('openai' in sys.modules, 'aiokafka' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-2:] == ["False", "False"]


def test_a_rule_based_run_never_imports_the_llm_sdk(tmp_path: Path) -> None:
    # Rule mode is the zero-cost path: it must not pay the SDK's import (~0.5 s of every
    # `agenther run --rule-based` and every rule-mode service start).
    out = tmp_path / "out.jsonl"
    code = (
        "import sys\n"
        "from agenther.cli import main\n"
        f"main(['run', {str(REFERENCE_FILE)!r}, '--rule-based', '-o', {str(out)!r}])\n"
        "print('openai' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.exists()
    assert done.stdout.split()[-1] == "False"


def test_every_settings_flag_says_its_default_and_environment_variable() -> None:
    import argparse

    from agenther.cli import build_parser
    from agenther.flags import PIPELINE_FLAGS, RUN_FLAGS
    from streams.settings import ServiceSettings

    commands = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    ).choices
    pipeline = {table.dest(flag) for table in (PIPELINE_FLAGS, RUN_FLAGS) for flag in table.flags}
    checked = 0
    for name, settings in (
        ("run", pipeline),
        ("serve", pipeline | set(ServiceSettings.model_fields)),
    ):
        for action in commands[name]._actions:
            if action.dest in settings:
                # What it does (the field's description), then its default and variable.
                assert action.help and not action.help.startswith("default"), (name, action.dest)
                assert re.search(r"\(default: [^;]+; env AGENTHER_\w+\)$", action.help), (
                    name,
                    action.dest,
                )
                checked += 1
    assert checked > 40
