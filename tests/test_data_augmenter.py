"""Stage 4 as a whole: ids, provenance, the observation cap, saving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agenther.config import PIPELINE_VERSION
from agenther.data_augmenter import DataAugmenter
from agenther.models import AgentStep, OutputFormat
from tests.support.format_checks import CHECKS
from tests.support.trajectories import ANALYSIS, reference_trajectories, relabeled_for


def test_example_ids_are_deterministic_and_distinct_per_format_and_settings() -> None:
    run = reference_trajectories()[0]
    ids = {
        fmt: DataAugmenter("fp").augment(run, relabeled_for(run), fmt).example_id
        for fmt in OutputFormat
    }
    assert len(set(ids.values())) == 4
    again = DataAugmenter("fp").augment(run, relabeled_for(run, "other wording"), OutputFormat.SFT)
    assert again.example_id == ids[OutputFormat.SFT], "a reworded prompt is the same example"
    other_settings = DataAugmenter("fp2").augment(run, relabeled_for(run), OutputFormat.SFT)
    assert other_settings.example_id != ids[OutputFormat.SFT]
    other_run = run.model_copy(update={"final_answer": "different"})
    assert (
        DataAugmenter("fp").to_sft(other_run, relabeled_for(run)).example_id
        != ids[OutputFormat.SFT]
    )


def test_every_record_carries_the_full_provenance() -> None:
    run = reference_trajectories()[0]
    augmenter = DataAugmenter("fp", mode="llm", models=("gpt-4o-mini", "judge-x"))
    sample = augmenter.to_sft(run, relabeled_for(run), 0.7, ANALYSIS)
    assert sample.record["agenther"] == {
        "trajectory_id": "traj_001",
        "example_id": sample.example_id,
        "format": "sft",
        "failure_type": "constraint_violation",
        "severity": 0.4,
        "weight": 0.7,
        "confidence": 0.9,
        "judge_confidence": 0.8,
        "attempts": 1,
        "original_prompt": run.original_prompt,
        "hindsight_prompt": "Compare the options found",
        "mode": "llm",
        "pipeline_version": PIPELINE_VERSION,
        "settings_fingerprint": "fp",
        "models": ["gpt-4o-mini", "judge-x"],
    }
    assert sample.metadata["agenther"] == sample.record["agenther"]
    assert sample.weight == 0.7


def test_without_analysis_the_failure_fields_are_null() -> None:
    run = reference_trajectories()[0]
    origin = DataAugmenter().to_dpo(run, relabeled_for(run)).record["agenther"]
    assert origin["failure_type"] is None and origin["severity"] is None
    assert origin["weight"] == 1.0


def test_observations_are_whole_below_the_cap_and_cut_above_it() -> None:
    short, long = "s" * 1000, "word " * 20_000
    steps = [
        AgentStep(action_name="a", observation=short),
        AgentStep(action_name="a", observation=long),
    ]
    run = reference_trajectories()[0].model_copy(update={"steps": steps})
    messages = (
        DataAugmenter(max_observation_tokens=1000)
        .to_sft(run, relabeled_for(run))
        .record["messages"]
    )
    tool = [m["content"] for m in messages if m["role"] == "tool"]
    assert tool[0] == short
    assert len(tool[1]) <= 4000 and "truncated" in tool[1]
    uncapped = DataAugmenter(max_observation_tokens=None).to_sft(run, relabeled_for(run)).record
    assert [m["content"] for m in uncapped["messages"] if m["role"] == "tool"] == [short, long]


def test_non_json_values_in_inputs_become_strict_json() -> None:
    step = AgentStep(
        action_name="calc",
        action_input={"x": float("nan"), "y": float("inf"), "nested": {"t": (1, 2)}, "n": None},
        observation="ok",
    )
    run = reference_trajectories()[0].model_copy(update={"steps": [step]})
    for fmt in OutputFormat:
        CHECKS[fmt.value](DataAugmenter().augment(run, relabeled_for(run), fmt).record)


def test_save_samples_writes_exactly_the_records(tmp_path: Path) -> None:
    runs = reference_trajectories()[:2]
    samples = [DataAugmenter().to_sft(r, relabeled_for(r)) for r in runs]
    path = DataAugmenter.save_samples(samples, tmp_path / "nested" / "sft.jsonl")
    assert path == tmp_path / "nested" / "sft.jsonl"
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        s.record for s in samples
    ]


def test_save_samples_refuses_mixed_formats(tmp_path: Path) -> None:
    run = reference_trajectories()[0]
    augmenter = DataAugmenter()
    mixed = [augmenter.to_sft(run, relabeled_for(run)), augmenter.to_dpo(run, relabeled_for(run))]
    with pytest.raises(ValueError, match="one format per file"):
        DataAugmenter.save_samples(mixed, tmp_path / "x.jsonl")
