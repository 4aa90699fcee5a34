"""Quality of the pipeline on the hand-labelled evaluation set (bench/eval_set.jsonl).

Each record is a FailedTrajectory plus ``labels``: ``type``, ``recoverable``, ``should_accept``,
``forbidden_phrases`` and ``topics``. Reported per mode:

- type accuracy: Stage 1's failure type equals the label;
- recoverable accuracy: "passes the Stage 1 gate" (recoverable and w >= δ) equals the label;
- acceptance accuracy: "an example was produced" equals ``should_accept``;
- precision of accepted relabels: share of produced hindsight prompts that are grounded, i.e.
  contain no forbidden phrase, use only numbers that occur in the observations, and mention at
  least one topic (an accepted relabel of a run labelled ``should_accept=false`` counts as not
  grounded: it should not exist).

    python -m bench.eval_quality                       # rule mode
    python -m bench.eval_quality --base-url URL --model M [--judge-model J]   # plus LLM mode
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agenther import AgentHERPipeline, FailedTrajectory, PipelineConfig

HERE = Path(__file__).resolve().parent
EVAL_SET = HERE / "eval_set.jsonl"
# H14's development set: the rules are tuned on it, so its figures are not the yardstick.
DEV_SET = HERE / "dev_set.jsonl"
TARGETS = {"type_accuracy": 0.8, "precision": 0.95}  # rule mode, from the issue

_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def load_eval_set(path: Path = EVAL_SET) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def split(record: dict[str, Any]) -> tuple[FailedTrajectory, dict[str, Any]]:
    body = {k: v for k, v in record.items() if k != "labels"}
    return FailedTrajectory.model_validate(body), record["labels"]


def _norm_number(text: str) -> str:
    return text.replace(",", "").rstrip(".:")


def numbers_in(text: str) -> set[str]:
    return {_norm_number(m) for m in _NUMBER.findall(text)}


def phrase_in(phrase: str, text: str) -> bool:
    """Case-insensitive, on word boundaries, a plural 's'/'es' allowed ("flight" ~ "flights")."""
    pattern = r"(?<!\w)" + re.escape(phrase) + r"(?:s|es)?(?!\w)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def grounding_problems(
    prompt: str, trajectory: FailedTrajectory, labels: dict[str, Any]
) -> list[str]:
    """Why a hindsight prompt is not grounded; empty when it is."""
    problems: list[str] = []
    if not labels["should_accept"]:
        problems.append("run should not yield an example")
    problems += [
        f"forbidden phrase {p!r}" for p in labels["forbidden_phrases"] if phrase_in(p, prompt)
    ]
    observed = set().union(*(numbers_in(s.observation) for s in trajectory.steps))
    problems += [f"number {n} not in observations" for n in sorted(numbers_in(prompt) - observed)]
    topics = labels["topics"]
    if topics and not any(t.lower() in prompt.lower() for t in topics):
        problems.append(f"mentions none of {topics}")
    return problems


async def evaluate(config: PipelineConfig, records: list[dict[str, Any]]) -> dict[str, Any]:
    pipeline = AgentHERPipeline(config)
    pairs = [split(r) for r in records]
    started = time.perf_counter()
    results = await pipeline.aprocess_batch([t for t, _ in pairs])
    elapsed = time.perf_counter() - started
    usage = pipeline.llm.usage if pipeline.llm is not None else None
    await pipeline.aclose()

    type_ok = recov_ok = accept_ok = errors = 0
    accepted: list[dict[str, Any]] = []
    confusion: Counter[str] = Counter()
    mistakes: list[dict[str, Any]] = []
    for (trajectory, labels), result in zip(pairs, results, strict=True):
        analysis = result.analysis
        if result.exception is not None or analysis is None:
            errors += 1
        predicted = analysis.failure_type.value if analysis and analysis.failure_type else None
        passes_gate = bool(
            analysis and analysis.recoverable and analysis.weight >= config.severity_threshold
        )
        type_ok += predicted == labels["type"]
        recov_ok += passes_gate == labels["recoverable"]
        accept_ok += result.success == labels["should_accept"]
        confusion[f"{labels['type']} -> {predicted}"] += 1
        entry: dict[str, Any] = {"id": trajectory.trajectory_id}
        if predicted != labels["type"]:
            entry["type"] = f"{labels['type']} -> {predicted}"
        if result.success != labels["should_accept"]:
            entry["accepted"] = result.success
            entry["should_accept"] = labels["should_accept"]
            if not result.success:
                entry["reason"] = result.error
        if result.success and result.relabeled is not None:
            prompt = result.relabeled.hindsight_prompt
            problems = grounding_problems(prompt, trajectory, labels)
            accepted.append({"id": trajectory.trajectory_id, "prompt": prompt, "ok": not problems})
            if problems:
                entry["prompt"] = prompt
                entry["grounding"] = problems
        if len(entry) > 1:
            mistakes.append(entry)

    n = len(records)
    grounded = sum(a["ok"] for a in accepted)
    report: dict[str, Any] = {
        "mode": "llm" if config.uses_llm else "rule",
        "n": n,
        "type_accuracy": round(type_ok / n, 3),
        "recoverable_accuracy": round(recov_ok / n, 3),
        "acceptance_accuracy": round(accept_ok / n, 3),
        "accepted": len(accepted),
        "should_accept": sum(lab["should_accept"] for _, lab in pairs),
        "precision": round(grounded / len(accepted), 3) if accepted else None,
        "stage_errors": errors,
        "elapsed_s": round(elapsed, 2),
        "confusion": dict(sorted(confusion.items())),
        "mistakes": mistakes,
    }
    if usage is not None:
        report["llm_requests"] = usage.total_requests
        report["llm_cost_usd"] = round(usage.total_cost_usd, 4)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Quality on the labelled evaluation set")
    parser.add_argument("--eval-set", type=Path, default=EVAL_SET)
    parser.add_argument("--base-url", help="also evaluate LLM mode against this endpoint")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--judge-model")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quality.json")
    parser.add_argument(
        "--also",
        type=Path,
        action="append",
        default=None,
        help="more labelled sets to report in rule mode (default: the dev set, if present)",
    )
    args = parser.parse_args(argv)
    extra_sets = args.also if args.also is not None else [DEV_SET] * DEV_SET.exists()

    records = load_eval_set(args.eval_set)
    reports = [asyncio.run(evaluate(PipelineConfig(rule_based=True), records))]
    if args.base_url:
        llm = PipelineConfig(model=args.model, base_url=args.base_url, judge_model=args.judge_model)
        reports.append(asyncio.run(evaluate(llm, records)))
    rule = reports[0]
    checks = {
        key: {"target": target, "value": rule[key], "met": (rule[key] or 0) >= target}
        for key, target in TARGETS.items()
    }
    out: dict[str, Any] = {
        "eval_set": str(args.eval_set.name),
        "targets_rule_mode": checks,
        "reports": reports,
    }
    extra = {
        path.name: asyncio.run(evaluate(PipelineConfig(rule_based=True), load_eval_set(path)))
        for path in extra_sets
        if path.resolve() != args.eval_set.resolve()
    }
    if extra:
        out["other_sets_rule_mode"] = extra
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    named = [(args.eval_set.name, r) for r in reports] + list(extra.items())
    for name, r in named:
        print(
            f"{name} [{r['mode']}] n={r['n']} type={r['type_accuracy']} recoverable="
            f"{r['recoverable_accuracy']} acceptance={r['acceptance_accuracy']} "
            f"accepted={r['accepted']}/{r['should_accept']} precision={r['precision']}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
