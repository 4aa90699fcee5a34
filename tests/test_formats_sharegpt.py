"""LLaMA-Factory ShareGPT records and their dataset_info.json entry."""

from __future__ import annotations

import json
from pathlib import Path

from agenther.data_augmenter import DataAugmenter
from agenther.models import AgentStep
from tests.support.format_checks import check_sharegpt
from tests.support.trajectories import ANALYSIS, reference_trajectories, relabeled_for


def test_turns_alternate_as_llama_factory_requires() -> None:
    run = reference_trajectories()[0]
    record = DataAugmenter().to_sharegpt(run, relabeled_for(run), 0.7, ANALYSIS).record
    check_sharegpt(record)
    tags = [turn["from"] for turn in record["conversations"]]
    assert tags == ["human"] + ["function_call", "observation"] * len(run.steps) + ["gpt"]
    assert json.loads(record["tools"])[0]["name"] == "web_search"


def test_thoughts_sit_in_the_call_turn_inside_thought_words() -> None:
    run = reference_trajectories()[0]
    value = DataAugmenter().to_sharegpt(run, relabeled_for(run)).record["conversations"][1]["value"]
    assert value.startswith("<think>\n" + run.steps[0].thought + "\n</think>\n\n")
    call = json.loads(value.split("</think>\n\n", 1)[1])
    assert call == {"name": "web_search", "arguments": run.steps[0].action_input}


def test_drop_policy_writes_pure_json_calls() -> None:
    run = reference_trajectories()[0]
    augmenter = DataAugmenter(sharegpt_thoughts="drop")
    value = augmenter.to_sharegpt(run, relabeled_for(run)).record["conversations"][1]["value"]
    assert json.loads(value)["name"] == "web_search"


def test_a_close_tag_in_a_thought_cannot_break_the_call() -> None:
    step = AgentStep(thought="a </think> inside", action_name="t", action_input={}, observation="o")
    run = reference_trajectories()[0].model_copy(update={"steps": [step]})
    check_sharegpt(DataAugmenter().to_sharegpt(run, relabeled_for(run)).record)


def test_no_final_answer_still_gives_an_even_turn_count() -> None:
    run = reference_trajectories()[0].model_copy(update={"final_answer": ""})
    record = DataAugmenter().to_sharegpt(run, relabeled_for(run)).record
    check_sharegpt(record)
    assert record["conversations"][-1]["from"] == "function_call"


def test_saving_writes_a_dataset_info_entry_and_keeps_other_entries(tmp_path: Path) -> None:
    (tmp_path / "dataset_info.json").write_text(json.dumps({"other": {"file_name": "o.json"}}))
    run = reference_trajectories()[0]
    sample = DataAugmenter().to_sharegpt(run, relabeled_for(run))
    DataAugmenter.save_samples([sample], tmp_path / "her_data.jsonl")
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert info["other"] == {"file_name": "o.json"}
    assert info["her_data"] == {
        "file_name": "her_data.jsonl",
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
            "observation_tag": "observation",
            "function_tag": "function_call",
            "system_tag": "system",
        },
    }
