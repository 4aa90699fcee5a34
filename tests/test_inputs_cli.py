"""``agenther run``, ``validate`` and ``produce`` on chat transcripts and OTLP traces: every
record ends as a run, a reject with its reason, or a skipped success; produce publishes traces
the way the Collector's Kafka exporter does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agenther.cli import main
from agenther.inputs.otlp import spans_from_json, spans_from_proto
from streams.commands.produce import _produce
from streams.settings import ServiceSettings
from tests.support.kafka_fixtures import collect, create_topics
from tests.support.otel_traces import agent_trace, otlp_json, otlp_proto, trace_id
from tests.test_service_inputs import _chat

GOAL = "Find the cheapest direct flight from Boston to Lisbon on 12 May"


@pytest.fixture
def traces() -> dict[str, list[Any]]:
    return {
        "failed": agent_trace(GOAL),
        "succeeded": agent_trace(failed=False),
        "no_content": agent_trace(GOAL, content=False),
    }


def _all(traces: dict[str, list[Any]]) -> list[Any]:
    return [span for spans in traces.values() for span in spans]


def _rejects(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("encoding", ["otlp-json", "otlp-proto"])
def test_run_reads_a_trace_file_one_run_per_trace(
    encoding: str,
    traces: dict[str, list[Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = tmp_path / "traces"
    if encoding == "otlp-proto":
        source.write_bytes(otlp_proto(_all(traces)))
    else:
        source.write_bytes(otlp_json(_all(traces)) + b"\n")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    args = ["--input-format", encoding, "--rule-based", "-o", str(out), "--rejects", str(rejects)]
    code = main(["run", str(source), *args])
    assert code == 0
    assert "1 trajectories read, 1 successes skipped, 1 invalid" in capsys.readouterr().out
    by_outcome = {r["outcome"]: r for r in _rejects(rejects)}
    # The failed trace is relabeled (an example or a rejection naming its trace id) ...
    examples = [json.loads(line) for line in out.read_text().splitlines()]
    relabeled = by_outcome.get("rejected", {}).get("trajectory_id")
    assert relabeled == trace_id(traces["failed"]) or len(examples) == 1
    # ... and the one without content is refused with the switch that turns capture on.
    assert "CAPTURE_MESSAGE_CONTENT" in by_outcome["invalid"]["reason"]


def test_run_under_auto_tells_chats_traces_and_trajectories_apart(
    traces: dict[str, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trajectory = {
        "trajectory_id": "t-1",
        "original_prompt": "Find the population of Lisbon",
        "steps": [
            {
                "thought": "",
                "action_name": "search",
                "action_input": {"q": "Lisbon population"},
                "observation": "Lisbon has 545,000 inhabitants.",
            }
        ],
        "final_answer": "545,000",
        "failure_reason": "the user wanted the metro area",
    }
    lines = [
        json.dumps(_chat("chat-1")),
        otlp_json(traces["failed"]).decode(),
        json.dumps(trajectory),
        json.dumps({**_chat("chat-ok"), "status": "success"}),
    ]
    source = tmp_path / "mixed.jsonl"
    source.write_text("\n".join(lines) + "\n")
    assert main(["validate", str(source)]) == 0
    assert "3 valid, 0 invalid, 1 successes" in capsys.readouterr().out
    # Asked for one format, the others are refused with a reason.
    assert main(["validate", str(source), "--input-format", "openai-chat"]) == 1
    assert "line 3: the transcript has no user message" in capsys.readouterr().out


def test_a_malformed_trace_failure_predicate_is_a_usage_error(tmp_path: Path) -> None:
    source = tmp_path / "x.jsonl"
    source.write_text(json.dumps(_chat("c")) + "\n")
    assert main(["run", str(source), "--rule-based", "--trace-failure", "nonsense"]) == 2


@pytest.mark.kafka
@pytest.mark.parametrize("encoding", ["otlp-json", "otlp-proto"])
async def test_produce_publishes_one_message_per_trace_keyed_by_its_id(
    encoding: str, traces: dict[str, list[Any]], tmp_path: Path, kafka_bootstrap: str
) -> None:
    topic = f"traces-{encoding}-{tmp_path.name[-8:]}"
    await create_topics(kafka_bootstrap, [topic], partitions=2)
    source = tmp_path / "traces"
    spans = _all(traces)
    source.write_bytes(otlp_proto(spans) if encoding == "otlp-proto" else otlp_json(spans))
    settings = ServiceSettings(
        bootstrap_servers=kafka_bootstrap, input_topic=topic, input_format=encoding
    )
    assert await _produce(settings, kafka_bootstrap, str(source)) == 0
    records = await collect(kafka_bootstrap, topic, until=3)
    assert sorted(r.key.decode() for r in records) == sorted(trace_id(t) for t in traces.values())
    for record in records:
        read = (
            spans_from_proto(record.value)
            if encoding == "otlp-proto"
            else spans_from_json(json.loads(record.value))
        )
        assert {s.trace_id for s in read} == {record.key.decode()}
