"""Loading trajectory files: every bad record becomes a reject, none stops the batch."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

from agenther.trajectory_io import Loaded, Reject, iter_records, load_trajectories
from tests.support.trajectories import REFERENCE_FILE

GOOD = {
    "original_prompt": "Find flights",
    "steps": [{"action_name": "search", "observation": "3 flights"}],
}


def test_the_reference_array_loads_whole() -> None:
    trajectories, rejects = load_trajectories(REFERENCE_FILE)
    assert [t.trajectory_id for t in trajectories] == ["traj_001", "traj_002", "traj_003"]
    assert rejects == []


def test_jsonl_bad_lines_are_rejected_with_their_line_number(tmp_path: Path) -> None:
    lines = [json.dumps({**GOOD, "trajectory_id": f"t{i}"}) for i in range(10)]
    lines[4] = '{"original_prompt": "x", "steps": [}'
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    trajectories, rejects = load_trajectories(path)
    assert len(trajectories) == 9
    assert len(rejects) == 1
    assert rejects[0].line == 5 and rejects[0].where == "line"
    assert rejects[0].reason.startswith("invalid JSON")
    assert rejects[0].raw == lines[4]


def test_each_kind_of_bad_record_says_why(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                json.dumps(GOOD).encode(),
                json.dumps({**GOOD, "steps": []}).encode(),
                b"[1, 2]",
                json.dumps({"steps": GOOD["steps"]}).encode(),
                b"\xff\xfe not utf-8",
                b"   ",
                json.dumps(
                    {**GOOD, "tools": [{"type": "function", "function": {"name": "search"}}]}
                ).encode(),
            ]
        )
    )
    records = list(iter_records(path))
    kinds = [type(r).__name__ for r in records]
    assert kinds == ["Loaded", "Reject", "Reject", "Reject", "Reject", "Loaded"]
    reasons = {r.line: r.reason for r in records if isinstance(r, Reject)}
    assert reasons[2] == "steps: List should have at least 1 item after validation, not 0"
    assert reasons[3] == "expected a JSON object, got an array"
    assert reasons[4] == "original_prompt: Field required"
    assert reasons[5].startswith("not UTF-8 text")
    last = records[-1]
    assert isinstance(last, Loaded) and last.line == 7 and last.trajectory.tools is not None


def test_array_items_are_rejected_by_index(tmp_path: Path) -> None:
    path = tmp_path / "runs.json"
    path.write_text(json.dumps([GOOD, {"original_prompt": "no steps"}, GOOD]))
    records = list(iter_records(path))
    assert [type(r).__name__ for r in records] == ["Loaded", "Reject", "Loaded"]
    reject = records[1]
    assert isinstance(reject, Reject)
    assert (reject.line, reject.where) == (2, "item")
    assert reject.describe() == "item 2: steps: Field required"


def test_a_broken_array_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "runs.json"
    path.write_text('[{"original_prompt": "x",\n  "steps": ]')
    records = list(iter_records(path))
    assert len(records) == 1 and isinstance(records[0], Reject)
    assert records[0].line == 2


def test_missing_ids_are_derived_from_content_so_replays_agree(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "final_answer": "x"}) + "\n")
    first, _ = load_trajectories(path)
    second, _ = load_trajectories(path)
    assert [t.trajectory_id for t in first] == [t.trajectory_id for t in second]
    assert first[0].trajectory_id != first[1].trajectory_id
    assert len(first[0].trajectory_id) == 12


def test_jsonl_streams_in_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    line = json.dumps({**GOOD, "steps": [{"action_name": "a", "observation": "o" * 20_000}]})
    path.write_text((line + "\n") * 500)  # ~10 MB
    tracemalloc.start()
    count = sum(1 for _ in iter_records(path))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 500
    assert peak < 2_000_000, f"peak {peak} bytes: the file was held in memory"
