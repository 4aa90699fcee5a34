"""TRL conversational SFT records."""

from __future__ import annotations

from agenther.data_augmenter import DataAugmenter
from agenther.models import OutputFormat
from tests.support.format_checks import check_sft
from tests.support.trajectories import ANALYSIS, reference_trajectories, relabeled_for


def test_a_run_becomes_user_prompt_then_calls_results_and_answer() -> None:
    run = reference_trajectories()[1]
    sample = DataAugmenter("fp").to_sft(run, relabeled_for(run), 0.7, ANALYSIS)
    check_sft(sample.record)
    messages = sample.record["messages"]
    assert messages[0] == {"role": "user", "content": "Compare the options found"}
    assert [m["role"] for m in messages] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]
    first_call = messages[1]["tool_calls"][0]["function"]
    assert first_call["name"] == "code_write"
    assert first_call["arguments"] == run.steps[0].action_input
    assert messages[1]["content"] == run.steps[0].thought
    assert messages[2] == {
        "role": "tool",
        "name": "code_write",
        "content": "Code written successfully.",
    }
    assert messages[-1] == {"role": "assistant", "content": run.final_answer}
    assert sample.format is OutputFormat.SFT
    assert sample.chosen == messages


def test_tools_are_derived_from_the_calls_when_the_run_declares_none() -> None:
    run = reference_trajectories()[0]
    record = DataAugmenter().to_sft(run, relabeled_for(run)).record
    assert record["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "web_search",
                "parameters": {
                    "type": "object",
                    "properties": {"query": {"type": "string"}},
                    "required": ["query"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "summarize",
                "parameters": {
                    "type": "object",
                    "properties": {"findings": {"type": "string"}},
                    "required": ["findings"],
                },
            },
        },
    ]


def test_declared_tools_are_kept_and_undeclared_calls_get_a_stub() -> None:
    run = reference_trajectories()[1].model_copy(
        update={
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "code_write",
                        "description": "Write a file",
                        "parameters": {
                            "type": "object",
                            "properties": {"code": {"type": "string"}},
                        },
                    },
                }
            ]
        }
    )
    tools = DataAugmenter().to_sft(run, relabeled_for(run)).record["tools"]
    assert tools[0]["function"]["description"] == "Write a file"
    assert [t["function"]["name"] for t in tools] == ["code_write", "code_execute"]


def test_a_run_without_final_answer_ends_on_its_last_call() -> None:
    run = reference_trajectories()[1].model_copy(update={"final_answer": "  "})
    record = DataAugmenter().to_sft(run, relabeled_for(run)).record
    check_sft(record)
    assert record["messages"][-1]["role"] == "assistant"
    assert record["messages"][-1]["tool_calls"][0]["function"]["name"] == "code_execute"


def test_provenance_carries_weight_and_failure() -> None:
    run = reference_trajectories()[0]
    record = DataAugmenter("fp", mode="llm").to_sft(run, relabeled_for(run), 0.7, ANALYSIS).record
    origin = record["agenther"]
    assert origin["weight"] == 0.7
    assert origin["severity"] == 0.4
    assert origin["failure_type"] == "constraint_violation"
    assert origin["mode"] == "llm"
    assert origin["original_prompt"] == run.original_prompt
