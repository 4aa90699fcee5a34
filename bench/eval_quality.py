"""Quality of the pipeline on hand-labelled sets of failed runs, scored by docs/quality.md.

Each record is a FailedTrajectory plus ``labels``: ``type``, ``recoverable``, ``should_accept``
(an example exists with the run's own final answer), ``accept_if_answer_rewritten``,
``acceptable_prompts``, ``forbidden_phrases`` and ``topics``. Reported per set and mode:

- type accuracy: Stage 1's failure type equals the label, over all runs (a run turned down
  without a type counts as wrong);
- acceptance: the share of should-accept runs that produced an example;
- precision: the share of produced examples that pass the rubric's automatic checks
  (``bench/rubric.py``: a request a user would send, grounded, not the failed goal, a final
  answer that does not admit failure) on a run whose labels say an example should exist.

The yardstick is ``bench/blind_set.jsonl``, written blind to the rules and never tuned on: its
per-run details are left out of the report unless ``--show-blind-details`` is given (for the
final read). The other sets were seen while tuning and are reported as such.

    python -m bench.eval_quality                       # rule mode, every set
    python -m bench.eval_quality --base-url URL --model M [--judge-model J]   # plus LLM mode
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from agenther import AgentHERPipeline, FailedTrajectory, PipelineConfig
from bench.rubric import rubric_problems

HERE = Path(__file__).resolve().parent
BLIND_SET = HERE / "blind_set.jsonl"
# A third blind set, written and committed before any run of the rules on it (session 6): a
# second yardstick, reported with ``--blind-set bench/blind_set_3.jsonl``.
THIRD_BLIND_SET = HERE / "blind_set_3.jsonl"
# A fourth, 96 runs (session 8), committed (c68fef6) before any run of the rules on it.
FOURTH_BLIND_SET = HERE / "blind_set_4.jsonl"
# A fifth, 96 runs (session 21), committed (bcc2603) before any run of the rules on it.
FIFTH_BLIND_SET = HERE / "blind_set_5.jsonl"
# Seen while tuning the rules, so their figures are not the yardstick. The fifth (session 9)
# was scored once before any of it was read: type 0.604, acceptance 0.146, precision 0.667;
# the sixth (session 10): type 0.667, acceptance 0.146, precision 0.5; the seventh (session 12):
# 0.719, 0.271, 0.643; the eighth (session 13): 0.646, 0.125, 0.714; the ninth (session 14, the
# session's code before its read): 0.542, 0.146, 0.714; the tenth (session 15, the session's
# code before its read): 0.792, 0.021, 1.0 (1 of 1); the eleventh and twelfth (session 17, the
# session's code at b5feef0): 0.688, 0.150 (6 of 40), 1.0 (6 of 6) and 0.562, 0.050 (2 of 40),
# 1.0 (2 of 2). The fifteenth (session 21, written as a fifth blind set and committed in e6d87be
# before any run of the rules on it; the session's code at 9349fba): type 0.771, acceptance
# 0.350 (14 of 40), precision 0.643 (9 of 14). The sixteenth (session 22, committed in d13ea73
# as a sixth blind set before any run of the rules on it) on the session's starting code
# (f3934ec): type 0.865, acceptance 0.300 (12 of 40), precision 0.786 (11 of 14); on its code
# at c253f51: 0.854, 0.300, 0.786. The seventeenth (session 23, committed in 62ca5f2 as a
# seventh blind set before any run of the rules on it) on the session's starting code
# (a1e9293): type 0.771, acceptance 0.075 (3 of 40), precision 1.0 (3 of 3); on its code at
# abe220a: 0.781, 0.125 (5 of 40), 0.8 (4 of 5; 3 of 5 by a person's read). The eighteenth
# (session 24, committed in ccf95ea as an eighth blind set before any run of the rules on it)
# on the session's starting code (b39668a) and on its code at ccf95ea alike: type 0.833,
# acceptance 0.200 (8 of 40), precision 0.5 (4 of 8; 3 of 8 by a person's read). The
# nineteenth (session 25, committed in 6bd431f as a ninth blind set before any run of the rules
# on it) on the session's starting code (530dce4): type 0.875, acceptance 0.225 (9 of 40),
# precision 0.889 (8 of 9; 7 of 9 by a person's read). The twentieth (session 25, committed in
# af61a0b as a tenth blind set before any run of the rules on it) on the session's starting code
# (530dce4): type 0.802, acceptance 0.225 (9 of 40), precision 0.778 (7 of 9); on af61a0b:
# 0.792, 0.225, 0.778 (5 of 9 by a person's read). The twenty-first (session 26, committed in
# 1153902 as an eleventh blind set before any run of the rules on it) on the session's starting
# code (160118a): type 0.875, acceptance 0.100 (4 of 40), precision 0.8 (4 of 5, and 4 of 5 by
# a person's read); on 1153902 the same. The twenty-second (session 26, committed in da9a84a as
# a twelfth blind set before any run of the rules on it) on the session's starting code
# (160118a): type 0.917, acceptance 0.225 (9 of 40), precision 1.0 (9 of 9); on da9a84a: 0.906,
# 0.225, 1.0 (9 of 9, and 9 of 9 by a person's read). The twenty-third (session 27, committed in
# 5acfb0c as a thirteenth blind set before any run of the rules on it) on the session's starting
# code (798c973): type 0.896, acceptance 0.225 (9 of 40), precision 0.636 (7 of 11); on 5acfb0c:
# 0.896, 0.275 (11 of 40), 0.692 (9 of 13; 7 of 13 by a person's read). The twenty-fourth
# (session 27, committed in 309c9a5 as a fourteenth blind set before any run of the rules on it)
# on the session's starting code (798c973): type 0.844, acceptance 0.45 (18 of 40), precision
# 0.842 (16 of 19); on 7e333b1: 0.844, 0.425 (17 of 40), 0.895 (17 of 19; 14 of 19 by a
# person's read). The twenty-fifth (session 28, committed in 62eb412 as a fifteenth blind set
# before any run of the rules on it) on the session's starting code (02f700f): type 0.865,
# acceptance 0.175 (7 of 40), precision 0.857 (6 of 7); on 62eb412 the same (5 of 7 by a
# person's read). The twenty-sixth (session 28, committed in 7e7de76 as a sixteenth blind set
# before any run of the rules on it) on the session's starting code (02f700f): type 0.885,
# acceptance 0.125 (5 of 40), precision 0.8 (4 of 5); on 0b875c3 the same (5 of 5 by a
# person's read). The twenty-seventh to thirtieth are session 29's seventeenth to twentieth blind
# sets, each committed before any rule run on it (files blind_set_18 to blind_set_21, after their
# run ids). The twenty-seventh (2fa9c9e) on the session's starting code (8b28cce): type 0.677,
# acceptance 0.175 (7 of 40), precision 0.75 (6 of 8; 6 of 8 by a person's read). The twenty-eighth
# (9b150ef) on the starting code: type 0.698, acceptance 0.171 (7 of 41), precision 0.667 (6 of 9; 6
# of 9 by a person's read). The twenty-ninth (a57288b) on the starting code: type 0.719, acceptance
# 0.075 (3 of 40), precision 0.4 (2 of 5); on a57288b: 0.76, 0.1 (4 of 40), 0.5 (3 of 6; 3 of 6 by a
# person's read). The thirtieth (a91d473) on the starting code: type 0.719, acceptance 0.225 (9 of
# 40), precision 0.9 (9 of 10); on a91d473: 0.75, 0.225, 0.9 (9 of 10 by a person's read).
# The thirty-first and thirty-second (065da19; "twenty-second", "twenty-third" in their run
# ids) on the session's starting code (e3a7177): type 0.781, acceptance 0.256 (10 of 39),
# precision 0.8 (8 of 10; 8 of 10 by a person's read); type 0.802, acceptance 0.146 (6 of 41),
# precision 0.714 (5 of 7; 3 of 7 by a person's read). The thirty-third (74befa1,
# "twenty-fourth") on the starting code: type 0.802, acceptance 0.293 (12 of 41), precision
# 0.923 (12 of 13); on 9c93c03: 0.812, 0.268 (11 of 41), 0.917 (11 of 12; 9 of 12 by a person's
# read). The thirty-fourth (96bdede, "twenty-fifth") on the starting code: type 0.802,
# acceptance 0.2 (8 of 40), precision 0.667 (6 of 9); on 9c93c03: 0.833, the same (6 of 9 by a
# person's read). The thirty-fifth (14105a7, "twenty-sixth") on the starting code: type 0.812,
# acceptance 0.125 (5 of 40), precision 1.0 (5 of 5); on 753ebff: 0.833, 0.175 (7 of 40), 1.0
# (7 of 7; 6 of 7 by a person's read). The thirty-sixth (7c26382, "twenty-seventh") on the
# starting code: type 0.771, acceptance 0.171 (7 of 41), precision 0.75 (6 of 8); on 753ebff:
# 0.844, 0.171, 0.875 (7 of 8; 6 of 8 by a person's read).
TUNING_SETS = [
    HERE / "tuning_blind_36.jsonl",
    HERE / "tuning_blind_35.jsonl",
    HERE / "tuning_blind_34.jsonl",
    HERE / "tuning_blind_33.jsonl",
    HERE / "tuning_blind_32.jsonl",
    HERE / "tuning_blind_31.jsonl",
    HERE / "tuning_blind_30.jsonl",
    HERE / "tuning_blind_29.jsonl",
    HERE / "tuning_blind_28.jsonl",
    HERE / "tuning_blind_27.jsonl",
    HERE / "tuning_blind_26.jsonl",
    HERE / "tuning_blind_25.jsonl",
    HERE / "tuning_blind_24.jsonl",
    HERE / "tuning_blind_23.jsonl",
    HERE / "tuning_blind_22.jsonl",
    HERE / "tuning_blind_21.jsonl",
    HERE / "tuning_blind_20.jsonl",
    HERE / "tuning_blind_19.jsonl",
    HERE / "tuning_blind_18.jsonl",
    HERE / "tuning_blind_17.jsonl",
    HERE / "tuning_blind_16.jsonl",
    HERE / "tuning_blind_15.jsonl",
    HERE / "tuning_blind_14.jsonl",
    HERE / "tuning_blind_13.jsonl",
    HERE / "tuning_blind_12.jsonl",
    HERE / "tuning_blind_11.jsonl",
    HERE / "tuning_blind_10.jsonl",
    HERE / "tuning_blind_9.jsonl",
    HERE / "tuning_blind_8.jsonl",
    HERE / "tuning_blind_7.jsonl",
    HERE / "tuning_blind_6.jsonl",
    HERE / "tuning_blind_5.jsonl",
    HERE / "tuning_blind_1.jsonl",
    HERE / "tuning_blind_2.jsonl",
    HERE / "tuning_blind_3.jsonl",
    HERE / "holdout_set.jsonl",
    HERE / "eval_set.jsonl",
    HERE / "dev_set.jsonl",
]
TARGETS = {"type_accuracy": 0.8, "precision": 0.95, "acceptance": 0.5}  # rule mode, blind set


def load_eval_set(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def split(record: dict[str, Any]) -> tuple[FailedTrajectory, dict[str, Any]]:
    body = {k: v for k, v in record.items() if k != "labels"}
    return FailedTrajectory.model_validate(body), record["labels"]


async def evaluate(config: PipelineConfig, records: list[dict[str, Any]]) -> dict[str, Any]:
    pipeline = AgentHERPipeline(config)
    pairs = [split(r) for r in records]
    started = time.perf_counter()
    results = await pipeline.aprocess_batch([t for t, _ in pairs])
    elapsed = time.perf_counter() - started
    usage = pipeline.llm.usage if pipeline.llm is not None else None
    await pipeline.aclose()

    type_ok = recov_ok = errors = 0
    accepted: list[dict[str, Any]] = []
    confusion: Counter[str] = Counter()
    rubric_failures: Counter[str] = Counter()
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
            problems = rubric_problems(prompt, trajectory, labels)
            rubric_failures.update(p.split(" (")[0].split(" '")[0] for p in problems)
            accepted.append(
                {
                    "id": trajectory.trajectory_id,
                    "prompt": prompt,
                    "should_accept": labels["should_accept"],
                    "ok": not problems,
                }
            )
            if problems:
                entry["prompt"] = prompt
                entry["rubric"] = problems
        if len(entry) > 1:
            mistakes.append(entry)

    n = len(records)
    precise = sum(a["ok"] for a in accepted)
    should = sum(lab["should_accept"] for _, lab in pairs)
    recovered = sum(a["should_accept"] for a in accepted)
    report: dict[str, Any] = {
        "mode": "llm" if config.uses_llm else "rule",
        "n": n,
        "type_accuracy": round(type_ok / n, 3),
        "recoverable_accuracy": round(recov_ok / n, 3),
        "accepted": len(accepted),
        "should_accept": should,
        "acceptance": round(recovered / should, 3) if should else None,
        "precision": round(precise / len(accepted), 3) if accepted else None,
        "stage_errors": errors,
        "elapsed_s": round(elapsed, 2),
        "rubric_failures": dict(rubric_failures.most_common()),
        "confusion": dict(sorted(confusion.items())),
        "mistakes": mistakes,
        "examples": accepted,
    }
    if usage is not None:
        report["llm_requests"] = usage.total_requests
        report["llm_cost_usd"] = round(usage.total_cost_usd, 4)
        report["llm_calls_per_run"] = round(usage.total_requests / n, 2)
        report["seconds_per_run"] = round(elapsed / n, 2)
        report["llm_usage"] = usage.snapshot()
        report["fused_first_attempt"] = config.uses_fused_first_attempt
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Quality on the hand-labelled sets")
    parser.add_argument("--blind-set", type=Path, default=BLIND_SET)
    parser.add_argument("--base-url", help="also evaluate LLM mode against this endpoint")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--judge-model")
    parser.add_argument("--concurrency", type=int, default=16, help="LLM runs in flight")
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        help="every K-th run of the blind set only (a slow local model), all modes alike",
    )
    parser.add_argument("--cache-dir", help="LLM reply cache (a rerun costs nothing)")
    parser.add_argument(
        "--fused",
        action="store_true",
        help="LLM mode a second time with the fused first attempt (2 calls per example)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quality.json")
    parser.add_argument(
        "--sets",
        type=Path,
        nargs="*",
        default=None,
        help="tuning sets to report in rule mode too (default: all of them)",
    )
    parser.add_argument(
        "--show-blind-details",
        action="store_true",
        help="keep the blind set's per-run mistakes and prompts in the report (the final read)",
    )
    args = parser.parse_args(argv)
    tuning = args.sets if args.sets is not None else [p for p in TUNING_SETS if p.exists()]

    records = load_eval_set(args.blind_set)[:: args.every]
    reports = [asyncio.run(evaluate(PipelineConfig(rule_based=True), records))]
    if args.base_url:
        llm = PipelineConfig(
            model=args.model,
            base_url=args.base_url,
            judge_model=args.judge_model,
            max_concurrency=args.concurrency,
            cache_dir=args.cache_dir,
        )
        reports.append(asyncio.run(evaluate(llm, records)))
        if args.fused:
            fused = llm.model_copy(update={"fuse_first_attempt": True})
            reports.append(asyncio.run(evaluate(fused, records)))
    if not args.show_blind_details:
        for report in reports:
            report.pop("mistakes")
            report.pop("examples")
    rule = reports[0]
    checks = {
        key: {"target": target, "value": rule[key], "met": (rule[key] or 0) >= target}
        for key, target in TARGETS.items()
    }
    out: dict[str, Any] = {
        "blind_set": args.blind_set.name,
        "every": args.every,
        "targets_rule_mode": checks,
        "reports": reports,
    }
    extra = {
        path.name: asyncio.run(evaluate(PipelineConfig(rule_based=True), load_eval_set(path)))
        for path in tuning
        if path.resolve() != args.blind_set.resolve()
    }
    if extra:
        out["tuning_sets_rule_mode"] = extra
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    named = [(args.blind_set.name, r) for r in reports] + list(extra.items())
    for name, r in named:
        print(
            f"{name} [{r['mode']}] n={r['n']} type={r['type_accuracy']} "
            f"accepted={r['accepted']} acceptance={r['acceptance']} ({r['should_accept']} should) "
            f"precision={r['precision']}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
