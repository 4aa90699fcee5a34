"""The dataset card of an export directory (``DIR/README.md``, Hugging Face's layout: YAML front
matter, then prose and tables): what is in it, where it came from, how it was made."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from agenther.export_dir import DATA, ExportDir, Manifest
from agenther.goal_distribution import GoalDistribution

CARD = "README.md"


def write_dataset_card(out_dir: str | Path, manifest: Manifest, source: str) -> Path:
    lines = ExportDir(out_dir).provenance_lines(manifest)
    path = Path(out_dir) / CARD
    path.write_text(render_dataset_card(manifest, lines, source), encoding="utf-8")
    return path


def render_dataset_card(manifest: Manifest, lines: Sequence[dict[str, Any]], source: str) -> str:
    ext = "parquet" if manifest.file_format == "parquet" else "json"
    front = {
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": f"{DATA}/*.{manifest.file_format}"}],
            }
        ],
        "tags": ["agenther", "hindsight-relabeling", "synthetic", "agents", manifest.format],
        "task_categories": ["text-generation"],
        "size_categories": [_size_category(len(lines))],
    }
    goals = GoalDistribution.of(str(line.get("hindsight_prompt") or "") for line in lines)
    out = [
        "---",
        yaml.safe_dump(front, sort_keys=False).rstrip(),
        "---",
        "",
        f"# agenther {manifest.format} examples from `{source}`",
        "",
        f"{len(lines)} training examples relabeled from failed agent runs by hindsight "
        "(AgentHER): each pairs a request the run did satisfy with the run. Trainer format "
        f"`{manifest.format}`, files `{DATA}/*.{manifest.file_format}` "
        f'(`load_dataset("{ext}", data_files="{DATA}/*.{manifest.file_format}")`); '
        "`provenance/` holds each line's id, weight, failure type and prompts, line for line.",
        "",
        "## Contents",
        "",
        _table(("failure type", "examples"), _counted(lines, "failure_type")),
        "",
        _table(("mode", "examples"), _counted(lines, "mode")),
        "",
        _distribution("weight", [line.get("weight") for line in lines]),
        _distribution("confidence", [line.get("confidence") for line in lines]),
        "",
        *_turned_down(manifest),
        "## How it was made",
        "",
        _table(("pipeline version", "examples"), _counted(lines, "pipeline_version")),
        "",
        _table(("settings fingerprint", "examples"), _counted(lines, "settings_fingerprint")),
        "",
        "Models: "
        + (", ".join(f"`{m}`" for m in sorted(_models(lines))) or "none (rule-based)")
        + ". LLM cost is not carried by the examples; the service reports it "
        "(`agenther_llm_cost_usd_total`).",
        "",
        "## Source",
        "",
        f"Source `{manifest.source}`; filters "
        f"`{manifest.filters.model_dump(mode='json', exclude_defaults=True) or 'none'}`.",
        "",
        _table(
            ("shard", "examples", "partition offsets [first, next)", "exported at"),
            [
                (
                    f"`{shard.file}`",
                    str(shard.examples),
                    ", ".join(f"{p}: {a}–{b}" for p, (a, b) in sorted(shard.offsets.items())),
                    shard.exported_at.isoformat(timespec="seconds"),
                )
                for shard in manifest.shards
            ],
        ),
        "",
        "Skipped while exporting: "
        + (", ".join(f"{n} {why}" for why, n in sorted(manifest.skipped.items())) or "nothing")
        + ".",
        "",
        "## Goal distribution",
        "",
        f"Leading verbs of the hindsight prompts: {len(goals.counts)} distinct over "
        f"{goals.total} prompts, entropy {goals.entropy_bits:.2f} bits, "
        f"{goals.singleton_share:.0%} of prompts in the long tail (a verb used once).",
        "",
        _table(("leading verb", "prompts"), [(f"`{v}`", str(n)) for v, n in goals.top()]),
        "",
    ]
    return "\n".join(out)


def _counted(lines: Sequence[dict[str, Any]], key: str) -> list[tuple[str, str]]:
    counts = Counter(str(line.get(key)) if line.get(key) is not None else "—" for line in lines)
    return [(f"`{k}`", str(n)) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _models(lines: Sequence[dict[str, Any]]) -> set[str]:
    return {m for line in lines for m in line.get("models") or () if isinstance(m, str)}


def _distribution(name: str, values: Sequence[Any]) -> str:
    numbers = sorted(float(v) for v in values if isinstance(v, int | float))
    if not numbers:
        return f"- {name}: not recorded"
    if len(numbers) == 1:
        return f"- {name}: {numbers[0]:.2f}"
    q1, median, q3 = statistics.quantiles(numbers, n=4, method="inclusive")
    return (
        f"- {name}: min {numbers[0]:.2f}, quartiles {q1:.2f} / {median:.2f} / {q3:.2f}, "
        f"max {numbers[-1]:.2f}, mean {statistics.fmean(numbers):.2f}"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return label
    return "100K<n<1M"


def _turned_down(manifest: Manifest) -> list[str]:
    """What the service did not turn into examples, when the export read those topics."""
    out = []
    if manifest.rejects_positions:
        out += [f"Rejected runs: {manifest.rejects} (`rejects.jsonl`, with reasons).", ""]
    if manifest.dead_letter_positions:
        letters = sum(manifest.dead_letters.values())
        kinds = ", ".join(f"{n} × {kind}" for kind, n in sorted(manifest.dead_letters.items()))
        out += [f"Dead-lettered events: {letters}" + (f" ({kinds})" if kinds else "") + ".", ""]
    return out
