"""Where the rule-based pipeline spends its time: runs/s per entry point and a cProfile top-20.

Builds ``-n`` varied runs with ``bench.generate`` (the warm-up uses another seed, so no
observation of the timed set is in a scan cache beforehand), times ``aprocess_batch``,
``aprocess_stream`` and the synchronous ``relabel_rule_based`` loop, then profiles one
``aprocess_batch`` pass.

    python -m bench.profile_rules -n 5000
    python bench/profile_rules.py -n 5000 --repeat 3   # best of 3, less noise on a busy box
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import logging
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    # Run as a file: find ``bench`` without shadowing an ``agenther`` given on PYTHONPATH.
    sys.path.append(str(Path(__file__).resolve().parents[1]))

from agenther import AgentHERPipeline, FailedTrajectory, PipelineConfig
from agenther.errors import StageError
from bench.generate import generate


def _runs(n: int, seed: int) -> list[FailedTrajectory]:
    return [FailedTrajectory.model_validate(r) for r in generate(n, seed)]


async def _stream(pipeline: AgentHERPipeline, runs: list[FailedTrajectory]) -> int:
    count = 0
    async for _ in pipeline.aprocess_stream(runs):
        count += 1
    return count


def _sync_loop(pipeline: AgentHERPipeline, runs: list[FailedTrajectory]) -> int:
    relabel = getattr(pipeline, "relabel_rule_based", None)
    if relabel is None:  # an older pipeline without the synchronous path
        return len(asyncio.run(pipeline.aprocess_batch(runs)))
    made = 0
    for t in runs:
        # A stage error counts as aprocess_batch counts it: a run without an example.
        with contextlib.suppress(StageError):
            made += relabel(t).success
    return made


def _best_rate(call: Callable[[], object], n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return n / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many passes")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)
    # Stage errors are counted by the pipeline; their log lines would drown the report.
    logging.disable(logging.WARNING)

    pipeline = AgentHERPipeline(PipelineConfig(rule_based=True))
    asyncio.run(pipeline.aprocess_batch(_runs(300, args.seed + 1)))  # warm-up, other runs
    runs = _runs(args.n, args.seed)

    n = len(runs)
    rates = {
        "aprocess_batch": _best_rate(
            lambda: asyncio.run(pipeline.aprocess_batch(runs)), n, args.repeat
        ),
        "aprocess_stream": _best_rate(lambda: asyncio.run(_stream(pipeline, runs)), n, args.repeat),
        "relabel_rule_based": _best_rate(lambda: _sync_loop(pipeline, runs), n, args.repeat),
    }
    for how, rate in rates.items():
        print(f"{how:20s} {rate:8.0f} runs/s  ({1e6 / rate:6.0f} µs/run, n={n})")

    if not args.no_profile:
        profile = cProfile.Profile()
        profile.enable()
        asyncio.run(pipeline.aprocess_batch(runs))
        profile.disable()
        stats = pstats.Stats(profile).strip_dirs().sort_stats("tottime")
        stats.print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
