"""OpenAI fine-tuning chat records: string arguments, call ids, no unknown keys."""

from __future__ import annotations

import json
from pathlib import Path

from agenther.data_augmenter import DataAugmenter
from agenther.models import AgentStep
from tests.support.format_checks import check_openai
from tests.support.trajectories import ANALYSIS, reference_trajectories, relabeled_for


def test_calls_carry_ids_and_json_string_arguments() -> None:
    run = reference_trajectories()[0]
    sample = DataAugmenter().to_openai(run, relabeled_for(run), 0.7, ANALYSIS)
    check_openai(sample.record)
    messages = sample.record["messages"]
    call = messages[1]["tool_calls"][0]
    assert call["id"] == "call_1"
    assert json.loads(call["function"]["arguments"]) == run.steps[0].action_input
    assert messages[2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": run.steps[0].observation,
    }


def test_the_record_has_no_provenance_but_the_sample_does() -> None:
    run = reference_trajectories()[0]
    sample = DataAugmenter().to_openai(run, relabeled_for(run), 0.7, ANALYSIS)
    assert set(sample.record) == {"messages", "tools"}
    assert sample.metadata["agenther"]["weight"] == 0.7


def test_saving_writes_provenance_line_for_line_beside_the_data(tmp_path: Path) -> None:
    augmenter = DataAugmenter()
    samples = [augmenter.to_openai(r, relabeled_for(r)) for r in reference_trajectories()[:2]]
    DataAugmenter.save_samples(samples, tmp_path / "ft.jsonl")
    data = (tmp_path / "ft.jsonl").read_text().splitlines()
    side = [
        json.loads(line) for line in (tmp_path / "ft.provenance.jsonl").read_text().splitlines()
    ]
    assert len(data) == len(side) == 2
    assert [s["trajectory_id"] for s in side] == ["traj_001", "traj_002"]
    assert [s["example_id"] for s in side] == [s.example_id for s in samples]


def test_tool_names_are_made_valid_and_stay_distinct() -> None:
    steps = [
        AgentStep(action_name=name, action_input={}, observation="ok")
        for name in ["web.search", "web search", "web_search", "ü" * 3, "x" * 100]
    ]
    run = reference_trajectories()[0].model_copy(update={"steps": steps})
    record = DataAugmenter().to_openai(run, relabeled_for(run)).record
    check_openai(record)
    names = [tool["function"]["name"] for tool in record["tools"]]
    assert len(set(names)) == 5
    assert "web_search" in names
