"""`agenther export` on a real broker: a consistent, deduplicated, incremental snapshot of the
output topic that trainers load unchanged, with a dataset card."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from agenther.data_augmenter import DataAugmenter
from agenther.export_dir import ExportDir, Manifest
from agenther.models import (
    FailedTrajectory,
    FailureAnalysis,
    FailureType,
    OutputFormat,
    RelabeledData,
)
from agenther.trajectory_io import load_trajectories
from streams.events import EventCodec, training_example_from_sample
from streams.processor import Outcome
from streams.sample_runs import FAILED_RUNS
from tests.support.kafka_fixtures import create_topics, produce, wait_for

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "data" / "reference_example_trajectories.json"
TYPES = [FailureType.CONSTRAINT_VIOLATION, FailureType.INCOMPLETE, FailureType.WRONG_RESULT]


def _runs(count: int, tag: str) -> list[FailedTrajectory]:
    base, _ = load_trajectories(REFERENCE)
    return [
        base[i % len(base)].model_copy(update={"trajectory_id": f"{tag}-{i}"}) for i in range(count)
    ]


def _envelopes(runs: list[FailedTrajectory], fmt: OutputFormat) -> list[tuple[str, bytes]]:
    """(example id, topic value) per run, as the service writes them."""
    augmenter = DataAugmenter("fp-test", mode="rule")
    codec = EventCodec()
    out = []
    for i, run in enumerate(runs):
        analysis = FailureAnalysis(
            is_failure=True, failure_type=TYPES[i % len(TYPES)], severity=0.4
        )
        relabeled = RelabeledData(
            trajectory_id=run.trajectory_id,
            hindsight_prompt=f"Find the {['flights', 'orders', 'files'][i % 3]} number {i}",
            is_valid_replay=True,
            rationale="",
            confidence=0.9,
        )
        sample = augmenter.augment(run, relabeled, fmt, 0.3 + (i % 7) / 10, analysis)
        example = training_example_from_sample(sample, run.trajectory_id)
        out.append((example.example_id, asyncio.run(codec.encode_training_example(example))))
    return out


def _topic(bootstrap: str) -> str:
    name = f"examples-{uuid.uuid4().hex[:10]}"
    asyncio.run(create_topics(bootstrap, [name], partitions=3))
    return name


def _send(bootstrap: str, topic: str, values: list[bytes]) -> None:
    asyncio.run(produce(bootstrap, topic, [(None, v) for v in values]))


def _export(bootstrap: str, topic: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "agenther",
            "export",
            "--bootstrap-servers",
            bootstrap,
            "--topic",
            topic,
            "-o",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def _exported_ids(out: Path) -> list[str]:
    manifest = ExportDir(out).manifest()
    assert manifest is not None
    return [line["example_id"] for line in ExportDir(out).provenance_lines(manifest)]


def test_two_exports_give_each_distinct_example_once_and_load_in_datasets(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    from datasets import load_dataset

    topic = _topic(kafka_bootstrap)
    first = _envelopes(_runs(150, "a"), OutputFormat.SFT)
    # A replay repeats 40 examples byte for byte; foreign bytes are skipped, not a crash.
    _send(
        kafka_bootstrap,
        topic,
        [v for _, v in first] + [v for _, v in first[:40]] + [b"\x00\x01 not an example"],
    )
    out = tmp_path / "sft"
    done = _export(kafka_bootstrap, topic, out)
    assert done.returncode == 0, done.stderr
    assert "exported 150 new examples" in done.stdout
    assert "skipped 40: duplicate example id (a replay)" in done.stdout
    assert "skipped 1: not a training example" in done.stdout

    second = _envelopes(_runs(120, "b"), OutputFormat.SFT)
    _send(kafka_bootstrap, topic, [v for _, v in second] + [v for _, v in first[100:]])
    done = _export(kafka_bootstrap, topic, out)
    assert done.returncode == 0, done.stderr
    assert "exported 120 new examples" in done.stdout

    ids = _exported_ids(out)
    expected = {i for i, _ in first} | {i for i, _ in second}
    assert len(ids) == len(set(ids)) == len(expected) == 270
    assert set(ids) == expected
    manifest = ExportDir(out).manifest()
    assert manifest is not None and len(manifest.shards) == 2

    loaded = load_dataset("json", data_files=str(out / "data" / "*.jsonl"), split="train")
    assert loaded.num_rows == 270
    assert loaded[0]["messages"][0]["role"] == "user"

    done = _export(kafka_bootstrap, topic, out)  # nothing new: no new shard
    assert done.returncode == 0 and "exported 0 new examples" in done.stdout
    assert len(ExportDir(out).manifest().shards) == 2  # type: ignore[union-attr]


def test_the_dataset_card_counts_what_was_exported(kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = _topic(kafka_bootstrap)
    envelopes = _envelopes(_runs(30, "c"), OutputFormat.DPO)
    _send(kafka_bootstrap, topic, [v for _, v in envelopes])
    out = tmp_path / "dpo"
    done = _export(kafka_bootstrap, topic, out)
    assert done.returncode == 0, done.stderr
    card = (out / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["configs"][0]["data_files"][0]["path"] == "data/*.jsonl"
    for failure_type in TYPES:
        assert f"| `{failure_type.value}` | 10 |" in card
    assert "| `fp-test` | 30 |" in card  # the settings fingerprint
    assert "| `find` | 30 |" in card  # every hindsight prompt leads with "Find"
    assert "entropy 0.00 bits" in card
    assert f"kafka:{topic}" in card


@pytest.mark.parametrize("fmt", [OutputFormat.DPO, OutputFormat.SHAREGPT, OutputFormat.OPENAI])
def test_each_format_loads_as_its_trainer_expects(
    kafka_bootstrap: str, tmp_path: Path, fmt: OutputFormat
) -> None:
    from datasets import load_dataset

    topic = _topic(kafka_bootstrap)
    envelopes = _envelopes(_runs(12, fmt.value), fmt)
    _send(kafka_bootstrap, topic, [v for _, v in envelopes])
    out = tmp_path / fmt.value
    done = _export(kafka_bootstrap, topic, out)
    assert done.returncode == 0, done.stderr
    loaded = load_dataset("json", data_files=str(out / "data" / "*.jsonl"), split="train")
    assert loaded.num_rows == 12
    if fmt is OutputFormat.DPO:
        assert {"chosen", "rejected"} <= set(loaded.column_names)  # TRL's implicit prompt
    if fmt is OutputFormat.OPENAI:
        # The upload file has only what OpenAI's validator accepts; provenance is beside it.
        lines = (out / "data" / "openai-00000.jsonl").read_text().splitlines()
        assert all(
            set(json.loads(line)) <= {"messages", "tools", "parallel_tool_calls"} for line in lines
        )
        sidecar = [
            json.loads(s)
            for s in (out / "provenance" / "openai-00000.jsonl").read_text().splitlines()
        ]
        assert sorted(s["example_id"] for s in sidecar) == sorted(i for i, _ in envelopes)
        for line, origin in zip(lines, sidecar, strict=True):  # line for line
            user = next(m for m in json.loads(line)["messages"] if m["role"] == "user")
            assert user["content"] == origin["hindsight_prompt"]
    if fmt is OutputFormat.SHAREGPT:
        _assert_llama_factory_reads(out)


def _assert_llama_factory_reads(out: Path) -> None:
    """LLaMA-Factory's semantics: ``file_name`` relative to the dataset dir (a folder is read
    whole), columns and tags naming what each line holds."""
    info = json.loads((out / "dataset_info.json").read_text())
    (entry,) = info.values()
    assert entry["formatting"] == "sharegpt"
    folder = out / entry["file_name"]
    assert folder.is_dir()
    files = sorted(folder.iterdir())
    assert files and all(f.suffix == ".jsonl" for f in files)
    line = json.loads(files[0].read_text().splitlines()[0])
    columns, tags = entry["columns"], entry["tags"]
    turns = line[columns["messages"]]
    roles = {turn[tags["role_tag"]] for turn in turns}
    assert roles <= {
        tags[k] for k in tags if k.endswith("_tag") and k != "role_tag" and k != "content_tag"
    }
    assert all(tags["content_tag"] in turn for turn in turns)


def test_parquet_loads_in_datasets(kafka_bootstrap: str, tmp_path: Path) -> None:
    from datasets import load_dataset

    topic = _topic(kafka_bootstrap)
    envelopes = _envelopes(_runs(20, "pq"), OutputFormat.SHAREGPT)
    _send(kafka_bootstrap, topic, [v for _, v in envelopes])
    out = tmp_path / "pq"
    done = _export(kafka_bootstrap, topic, out, "--file-format", "parquet")
    assert done.returncode == 0, done.stderr
    loaded = load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert loaded.num_rows == 20


def test_filters_and_a_limit_keep_the_rest_for_the_next_export(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = _topic(kafka_bootstrap)
    envelopes = _envelopes(_runs(30, "f"), OutputFormat.SFT)
    _send(kafka_bootstrap, topic, [v for _, v in envelopes])
    out = tmp_path / "filtered"
    flags = ("--failure-type", "incomplete", "--min-weight", "0.5")
    done = _export(kafka_bootstrap, topic, out, *flags, "--max-examples", "3")
    assert done.returncode == 0, done.stderr
    assert "exported 3 new examples" in done.stdout
    done = _export(kafka_bootstrap, topic, out, *flags)
    assert done.returncode == 0, done.stderr
    lines = ExportDir(out).provenance_lines(ExportDir(out).manifest())  # type: ignore[arg-type]
    assert all(line["failure_type"] == "incomplete" and line["weight"] >= 0.5 for line in lines)
    expected = [
        i
        for n, (i, _) in enumerate(envelopes)
        if TYPES[n % 3] is FailureType.INCOMPLETE and 0.3 + (n % 7) / 10 >= 0.5
    ]
    assert sorted(line["example_id"] for line in lines) == sorted(expected)
    # Other filters on the same directory would make one dataset of two definitions.
    done = _export(kafka_bootstrap, topic, out, "--failure-type", "wrong_result")
    assert done.returncode == 2 and "filters" in done.stderr


def test_bad_requests_are_clear_errors(kafka_bootstrap: str, tmp_path: Path) -> None:
    done = _export(kafka_bootstrap, f"no-such-{uuid.uuid4().hex[:6]}", tmp_path / "x")
    assert done.returncode == 2 and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr

    empty = _topic(kafka_bootstrap)
    done = _export(kafka_bootstrap, empty, tmp_path / "empty")
    assert done.returncode == 0 and "exported 0 new examples" in done.stdout

    topic = _topic(kafka_bootstrap)
    _send(kafka_bootstrap, topic, [v for _, v in _envelopes(_runs(3, "m"), OutputFormat.SFT)])
    out = tmp_path / "mixed"
    assert _export(kafka_bootstrap, topic, out).returncode == 0
    done = _export(kafka_bootstrap, topic, out, "-f", "dpo")
    assert done.returncode == 2 and "format 'sft'" in done.stderr


def test_a_shard_a_crash_left_unnamed_is_removed(tmp_path: Path) -> None:
    directory = ExportDir(tmp_path)
    manifest = Manifest(source="kafka:t", format="sft")
    shard = directory.write_shard(manifest, [{"messages": []}], [{"example_id": "a"}], {})
    manifest.shards.append(shard)
    directory.commit(manifest, ["a"])
    # A crash after the next shard was renamed but before the manifest named it:
    (tmp_path / "data" / "sft-00001.jsonl").write_text('{"messages": []}\n')
    removed = directory.remove_orphans(directory.manifest())
    assert [p.name for p in removed] == ["sft-00001.jsonl"]
    assert (tmp_path / "data" / "sft-00000.jsonl").exists()
    assert directory.seen_ids() == {"a"}


async def test_the_services_output_with_a_replay_exports_each_example_once(
    kafka_bootstrap: str, service_topics: Any, running_services: Any, tmp_path: Path
) -> None:
    topics = await service_topics(partitions=2)
    runs = [dict(run, run_id=f"{run['run_id']}-{n}") for n in range(4) for run in FAILED_RUNS]
    await produce(kafka_bootstrap, topics.input, runs)
    first = await running_services(topics.settings(kafka_bootstrap))
    assert await wait_for(lambda: sum(first.counts.values()) == len(runs), timeout_s=60)
    examples = first.counts[Outcome.EXAMPLE]
    assert examples >= 4
    out = tmp_path / "served"
    done = await asyncio.to_thread(_export, kafka_bootstrap, topics.output, out)
    assert done.returncode == 0, done.stderr
    assert f"exported {examples} new examples" in done.stdout

    # A replay: another group reads every run again and writes every example again.
    again = await running_services(topics.settings(kafka_bootstrap, group_id=f"{topics.group}-2"))
    assert await wait_for(lambda: sum(again.counts.values()) == len(runs), timeout_s=60)
    done = await asyncio.to_thread(_export, kafka_bootstrap, topics.output, out)
    assert done.returncode == 0, done.stderr
    assert "exported 0 new examples" in done.stdout
    assert f"skipped {examples}: duplicate example id (a replay)" in done.stdout
    ids = _exported_ids(out)
    assert len(ids) == len(set(ids)) == examples


async def test_rejections_and_dead_letters_are_exported_once_for_the_report(
    kafka_bootstrap: str, service_topics: Any, running_services: Any, tmp_path: Path
) -> None:
    topics = await service_topics(partitions=2)
    runs: list[Any] = [
        dict(run, run_id=f"{run['run_id']}-{n}") for n in range(2) for run in FAILED_RUNS
    ]
    await produce(kafka_bootstrap, topics.input, [*runs, (b"garbage", b"\x00 not a run")])
    first = await running_services(topics.settings(kafka_bootstrap))
    assert await wait_for(lambda: sum(first.counts.values()) == len(runs) + 1, timeout_s=60)
    rejected = first.counts[Outcome.REJECTION]
    assert rejected >= 4 and first.counts[Outcome.DEAD_LETTER] == 1
    out = tmp_path / "served"
    outcomes = ("--rejects-topic", topics.rejects, "--dlq-topic", topics.dlq)
    done = await asyncio.to_thread(_export, kafka_bootstrap, topics.output, out, *outcomes)
    assert done.returncode == 0, done.stderr
    assert f"{rejected} new rejections" in done.stdout, done.stdout
    assert "1 new dead letters" in done.stdout

    # A replay repeats every rejection and the dead letter; the next export adds none.
    again = await running_services(topics.settings(kafka_bootstrap, group_id=f"{topics.group}-2"))
    assert await wait_for(lambda: sum(again.counts.values()) == len(runs) + 1, timeout_s=60)
    done = await asyncio.to_thread(_export, kafka_bootstrap, topics.output, out, *outcomes)
    assert done.returncode == 0, done.stderr
    assert "0 new rejections" in done.stdout and "0 new dead letters" in done.stdout

    lines = [json.loads(x) for x in (out / "rejects.jsonl").read_text().splitlines()]
    assert len(lines) == len({x["trajectory_id"] for x in lines}) == rejected
    assert all(x["failure_type"] and x["reason"] and x["stage"] for x in lines)
    [letter] = [json.loads(x) for x in (out / "dead_letters.jsonl").read_text().splitlines()]
    assert letter["stage"] == "decode" and "not a run" not in json.dumps(letter)  # no value
    manifest = ExportDir(out).manifest()
    assert manifest is not None and manifest.rejects == rejected
    assert sum(manifest.dead_letters.values()) == 1
    card = (out / "README.md").read_text()
    assert f"Rejected runs: {rejected} " in card
    assert "Dead-lettered events: 1 (1 × decode: EventDecodeError)" in card

    report = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "agenther", "report", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    assert f"{rejected} rejected" in report.stdout and "1 errors" in report.stdout
