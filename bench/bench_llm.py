"""LLM mode at scale against the loopback fake OpenAI server, cold and then from the cache.

The fake runs in its own process (``tests.support.fake_openai``, 1.0 s ± 0.2 s per reply) with
the realistic replies of ``tests.support.llm_replies`` (grounded hindsight prompts, a judge that
accepts, Stage 1/2 replies that match what the rules see). The pipeline runs LLM Stages 1-3
and a second judge on a different model name, at most ``--concurrency`` runs in flight (each
run's calls are sequential, so that also bounds concurrent requests). Cost uses gpt-4o-mini
prices for both models unless ``--price-in/--price-out`` say otherwise. The paper's figures for
3,000 runs: 26 minutes and $2.98.

Stages 1 and 2 share one call (``PipelineConfig.joint_analysis``); ``--no-joint-analysis``
measures the two separate calls instead and writes ``results/llm_two_calls.json``.
``--fuse-first-attempt`` (``PipelineConfig.fuse_first_attempt``) lets that call also write
relabel attempt 1, so an example accepted at once costs 2 calls, not 3; it writes
``results/llm_fused.json``.

    python -m bench.bench_llm -n 3000
    python -m bench.bench_llm -n 3000 --no-joint-analysis
    python -m bench.bench_llm -n 3000 --fuse-first-attempt
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

from bench._common import OUT, PYTHON, spawn, stop, write_result
from bench.generate import generate

TARGET_WALL_S = 120.0
PAPER = {"runs": 3000, "wall_minutes": 26, "cost_usd": 2.98}


def serve_fake(port: int, latency: float, jitter: float) -> None:
    """The fake endpoint with realistic replies; prints its base URL, on SIGTERM its stats."""
    from tests.support.fake_openai import FakeOpenAI
    from tests.support.llm_replies import install_default_replies

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with FakeOpenAI(port=port, latency=latency, jitter=jitter) as fake:
        install_default_replies(fake)
        print(fake.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()
        print(f"requests={len(fake.requests)} max_in_flight={fake.max_in_flight}", flush=True)


def _start_fake(latency: float, jitter: float) -> tuple[Any, str]:
    from streams.broker import free_port

    port = free_port()
    proc = spawn([PYTHON, "-m", "bench.bench_llm", "--serve-fake", str(port), str(latency),
                  str(jitter)], "fake-openai.log")  # fmt: skip
    base_url = f"http://127.0.0.1:{port}/v1"
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return proc, base_url
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError("fake OpenAI server did not start")


async def _run(config: Any, runs: list[Any]) -> dict[str, Any]:
    from agenther import AgentHERPipeline

    pipeline = AgentHERPipeline(config)
    started = time.perf_counter()
    results = await pipeline.aprocess_batch(runs)
    wall = time.perf_counter() - started
    assert pipeline.llm is not None
    usage = pipeline.llm.usage.snapshot()
    await pipeline.aclose()
    accepted = sum(r.success for r in results)
    requests = sum(int(u["requests"]) for u in usage.values())
    tokens = sum(int(u["prompt_tokens"]) + int(u["completion_tokens"]) for u in usage.values())
    cost = sum(float(u["cost_usd"]) for u in usage.values())
    return {
        "wall_s": round(wall, 1),
        "runs_per_s": round(len(runs) / wall, 2),
        "accepted": accepted,
        "outcomes": dict(Counter(r.stage_reached + (":ok" if r.success else "") for r in results)),
        "errors": sum(r.exception is not None for r in results),
        "llm_requests": requests,
        "cache_hits": sum(int(u["cache_hits"]) for u in usage.values()),
        "tokens": tokens,
        "requests_per_accepted": round(requests / accepted, 2) if accepted else None,
        "tokens_per_accepted": round(tokens / accepted) if accepted else None,
        "cost_usd": round(cost, 4),
        "cost_per_accepted_usd": round(cost / accepted, 6) if accepted else None,
        "usage_by_model": usage,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="LLM mode at scale on the fake endpoint")
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--jitter", type=float, default=0.2)
    parser.add_argument("--price-in", type=float, default=0.15, help="USD per 1M input tokens")
    parser.add_argument("--price-out", type=float, default=0.60, help="USD per 1M output tokens")
    parser.add_argument(
        "--joint-analysis",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one LLM call for Stages 1 and 2 (default), or two",
    )
    parser.add_argument(
        "--fuse-first-attempt",
        action="store_true",
        help="the joint call also writes relabel attempt 1 (needs joint analysis)",
    )
    parser.add_argument("--serve-fake", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fake:
        port, latency, jitter = args.serve_fake
        serve_fake(int(port), float(latency), float(jitter))
        return 0
    if args.fuse_first_attempt and not args.joint_analysis:
        parser.error("--fuse-first-attempt needs the joint call (drop --no-joint-analysis)")

    from agenther import FailedTrajectory, PipelineConfig

    runs = [FailedTrajectory.model_validate(r) for r in generate(args.n, args.seed)]
    cache = OUT / "llm-cache"
    shutil.rmtree(cache, ignore_errors=True)
    price = (args.price_in, args.price_out)
    fake, base_url = _start_fake(args.latency, args.jitter)
    try:
        config = PipelineConfig(
            model="gpt-4o-mini", judge_model="fake-judge", base_url=base_url, api_key="unused",
            use_llm_detector=True, use_llm_extractor=True, use_llm_relabeler=True,
            joint_analysis=args.joint_analysis, fuse_first_attempt=args.fuse_first_attempt,
            max_concurrency=args.concurrency, cache_dir=str(cache),
            prices={"gpt-4o-mini": price, "fake-judge": price},
        )  # fmt: skip
        cold = asyncio.run(_run(config, runs))
        warm = asyncio.run(_run(config, runs))
    finally:
        stop(fake)
    fake_stats = (OUT / "fake-openai.log").read_text().strip().splitlines()[-1:]
    scale = PAPER["runs"] / args.n
    write_result(
        _result_name(args.joint_analysis, args.fuse_first_attempt),
        {
            "n": args.n,
            "joint_analysis": args.joint_analysis,
            "fuse_first_attempt": args.fuse_first_attempt,
            "concurrency": args.concurrency,
            "endpoint": f"fake, {args.latency}s ± {args.jitter}s per reply, realistic replies",
            "prices_usd_per_1m": {"input": args.price_in, "output": args.price_out},
            "cold": cold,
            "warm_cache": warm,
            "fake_server": fake_stats[0] if fake_stats else None,
            "paper_3000": PAPER,
            "ours_scaled_to_3000": {
                "wall_minutes": round(cold["wall_s"] * scale / 60, 2),
                "cost_usd": round(cold["cost_usd"] * scale, 3),
            },
            "target_wall_s": TARGET_WALL_S,
            "met": cold["wall_s"] < TARGET_WALL_S,
        },
    )
    return 0


def _result_name(joint_analysis: bool, fuse_first_attempt: bool) -> str:
    if fuse_first_attempt:
        return "llm_fused"
    return "llm" if joint_analysis else "llm_two_calls"


if __name__ == "__main__":
    sys.exit(main())
