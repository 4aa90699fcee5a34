"""Library throughput: the rule-based pipeline on generated runs in one process.

Measured three ways a user would call it: ``aprocess_batch`` (default concurrency),
``aprocess_stream``, and the four stages called directly in a loop (the floor of the pipeline's
own overhead). Parsing (``FailedTrajectory.model_validate``) is timed separately. With
``--profile`` a cProfile of one ``aprocess_batch`` pass names the hotspots (file:function).

    python -m bench.bench_library -n 10000 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import time
from collections import Counter
from typing import Any

from agenther import AgentHERPipeline, FailedTrajectory, PipelineConfig
from bench._common import OUT, ROOT, write_result
from bench.generate import generate

TARGET_RUNS_PER_S = 10_000


async def _batch(pipeline: AgentHERPipeline, runs: list[FailedTrajectory]) -> Counter[str]:
    results = await pipeline.aprocess_batch(runs)
    return Counter(r.stage_reached + (":ok" if r.success else "") for r in results)


async def _stream(pipeline: AgentHERPipeline, runs: list[FailedTrajectory]) -> int:
    n = 0
    async for _ in pipeline.aprocess_stream(runs):
        n += 1
    return n


async def _direct(pipeline: AgentHERPipeline, runs: list[FailedTrajectory]) -> tuple[int, int]:
    """The stages one after the other, each used alone as docs/library.md describes.

    Returns (examples made, runs where a stage raised)."""
    made = errors = 0
    for t in runs:
        try:
            made += await _one_direct(pipeline, t)
        except Exception:
            errors += 1
    return made, errors


async def _one_direct(pipeline: AgentHERPipeline, t: FailedTrajectory) -> int:
    cfg = pipeline.config
    analysis = await pipeline.detector.adetect(t, use_llm=False)
    if not analysis.is_failure or not analysis.recoverable:
        return 0
    if analysis.weight < cfg.severity_threshold:
        return 0
    outcome = await pipeline.extractor.aextract(t, use_llm=False)
    decision = await pipeline.relabeler.adecide(
        t, outcome, analysis, use_llm=False, min_confidence=cfg.min_confidence,
        max_attempts=cfg.relabel_max_attempts, fallback_factor=cfg.fallback_factor,
        temperature=cfg.temperature, retry_temperature=cfg.retry_temperature,
    )  # fmt: skip
    if not decision.accepted or decision.relabeled is None:
        return 0
    pipeline.augmenter.augment(
        t, decision.relabeled, output_format=cfg.output_format,
        severity_weight=analysis.weight, analysis=analysis,
    )  # fmt: skip
    return 1


def _timed(label: str, fn: Any, runs: list[Any]) -> tuple[dict[str, Any], Any]:
    started = time.perf_counter()
    value = fn(runs)
    elapsed = time.perf_counter() - started
    return {
        "how": label,
        "seconds": round(elapsed, 3),
        "runs_per_s": round(len(runs) / elapsed),
    }, value


def hotspots(profile: cProfile.Profile, limit: int = 15) -> list[dict[str, Any]]:
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = filename.replace(str(ROOT) + "/", "")
        if "site-packages/" in where:
            where = where.split("site-packages/", 1)[1]
        rows.append({"where": f"{where}:{line}:{func}", "calls": ncalls,
                     "self_s": round(tottime, 3), "cum_s": round(cumtime, 3)})  # fmt: skip
    rows.sort(key=lambda r: r["self_s"], reverse=True)
    return rows[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="rule-based library throughput")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-n", type=int, default=2000, help="runs in the profiled pass")
    args = parser.parse_args(argv)

    raw = generate(args.n, args.seed)
    parse, runs = _timed("parse", lambda rs: [FailedTrajectory.model_validate(r) for r in rs], raw)
    pipeline = AgentHERPipeline(PipelineConfig(rule_based=True))
    _timed("warm-up", lambda rs: asyncio.run(_batch(pipeline, rs)), runs[:200])

    batch, outcomes = _timed("aprocess_batch", lambda rs: asyncio.run(_batch(pipeline, rs)), runs)
    stream, _ = _timed("aprocess_stream", lambda rs: asyncio.run(_stream(pipeline, rs)), runs)
    direct, (_, direct_errors) = _timed(
        "stages directly", lambda rs: asyncio.run(_direct(pipeline, rs)), runs
    )

    payload: dict[str, Any] = {
        "n": args.n,
        "seed": args.seed,
        "parse": parse,
        "measurements": [batch, stream, direct],
        "outcomes": dict(outcomes),
        "stage_errors_direct": direct_errors,
        "target_runs_per_s": TARGET_RUNS_PER_S,
        "met": batch["runs_per_s"] >= TARGET_RUNS_PER_S,
    }
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(_batch(pipeline, runs[: args.profile_n]))
        profile.disable()
        OUT.mkdir(parents=True, exist_ok=True)
        profile.dump_stats(OUT / "library.prof")
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
        (OUT / "library_profile.txt").write_text(text.getvalue())
        payload["profiled_runs"] = min(args.profile_n, len(runs))
        payload["hotspots_by_self_time"] = hotspots(profile)
    write_result("library", payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
