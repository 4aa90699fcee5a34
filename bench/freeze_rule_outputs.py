"""The rule pipeline's outputs, frozen as hashes: what a speed-up must leave byte-identical.

Runs ``AgentHERPipeline(PipelineConfig(rule_based=True))`` on a seeded generated set and on
every labelled set in ``bench/`` (their labels are dropped unread), in each output format, and
hashes the canonical JSON of every result: trajectory id, success, stage reached, error text,
Stage 1-3 outputs and the sample (its trainer record included).
``tests/test_rule_outputs_frozen.py``
recomputes the hashes and compares them with ``tests/data/rule_outputs.sha256.json``.

    python -m bench.freeze_rule_outputs            # print the hashes, say which differ
    python -m bench.freeze_rule_outputs --write    # a change of output is intended: refreeze
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from agenther import AgentHERPipeline, FailedTrajectory, PipelineConfig
from agenther.models import OutputFormat
from agenther.pipeline import PipelineResult
from bench.eval_quality import (
    BLIND_SET,
    FIFTH_BLIND_SET,
    FOURTH_BLIND_SET,
    THIRD_BLIND_SET,
    TUNING_SETS,
    load_eval_set,
    split,
)
from bench.generate import generate

ROOT = Path(__file__).resolve().parents[1]
FROZEN = ROOT / "tests" / "data" / "rule_outputs.sha256.json"
GENERATED_N = 1000
GENERATED_SEED = 11


def input_sets() -> dict[str, list[FailedTrajectory]]:
    """Name -> runs: the generated set, then every labelled set (labels split off, unread)."""
    sets = {
        f"generated_{GENERATED_N}_seed{GENERATED_SEED}": [
            FailedTrajectory.model_validate(raw) for raw in generate(GENERATED_N, GENERATED_SEED)
        ]
    }
    for path in [*TUNING_SETS, BLIND_SET, THIRD_BLIND_SET, FOURTH_BLIND_SET, FIFTH_BLIND_SET]:
        sets[path.stem] = [split(record)[0] for record in load_eval_set(path)]
    return sets


def _dump(model: Any) -> Any:
    return None if model is None else model.model_dump(mode="json")


def canonical(result: PipelineResult) -> str:
    body = {
        "trajectory_id": result.trajectory_id,
        "success": result.success,
        "stage_reached": result.stage_reached,
        "error": result.error,
        "exception": type(result.exception).__name__ if result.exception else None,
        "analysis": _dump(result.analysis),
        "outcome": _dump(result.outcome),
        "decision": _dump(result.decision),
        "sample": _dump(result.sample),
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def digests(sets: dict[str, list[FailedTrajectory]] | None = None) -> dict[str, str]:
    """``"<set>/<format>"`` -> sha256 of its results' canonical lines, in input order."""
    sets = input_sets() if sets is None else sets
    out: dict[str, str] = {}
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # a stage error is part of the result, not news
    try:
        for fmt in OutputFormat:
            pipeline = AgentHERPipeline(PipelineConfig(rule_based=True, output_format=fmt))
            for name, runs in sets.items():
                digest = hashlib.sha256()
                for result in pipeline.process_batch(runs):
                    digest.update(canonical(result).encode("utf-8") + b"\n")
                out[f"{name}/{fmt.value}"] = digest.hexdigest()
    finally:
        logging.disable(previous)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {FROZEN.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    now = digests()
    if args.write:
        FROZEN.parent.mkdir(parents=True, exist_ok=True)
        FROZEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {len(now)} hashes to {FROZEN}")
        return 0
    frozen = json.loads(FROZEN.read_text(encoding="utf-8")) if FROZEN.exists() else {}
    differ = sorted(k for k in now.keys() | frozen.keys() if now.get(k) != frozen.get(k))
    for key in sorted(now):
        print(f"{'DIFFERS ' if key in differ else ''}{key} {now[key]}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
