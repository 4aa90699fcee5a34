"""Peak memory of the service with a large backlog and a slow LLM endpoint.

A backlog of generated runs waits on the input topic; ``agenther serve`` in LLM mode works it
off against the fake endpoint at 2 s per reply, so nearly all of the backlog stays unread.
Resident memory (VmRSS, peak VmHWM from /proc) of the service process is sampled for
``--seconds``. If memory is bounded by ``--max-in-flight`` and not by the backlog, the peak is
about the same for 20k and 100k events at one max-in-flight, and moves with max-in-flight.

    python -m bench.bench_memory --backlogs 20000 100000 --max-in-flight 64 16
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench._common import (
    create_topics,
    embedded_broker,
    encode_runs,
    output_topics,
    produce,
    rss_kb,
    serve_args,
    spawn,
    stop,
    write_result,
)
from bench.bench_llm import _start_fake
from bench.generate import generate


def _sample(pid: int, seconds: float) -> dict[str, Any]:
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        samples.append(rss_kb(pid)[0])
        time.sleep(0.25)
    _, hwm = rss_kb(pid)
    return {
        "peak_rss_mb": round(hwm / 1024, 1),
        "rss_at_end_mb": round(samples[-1] / 1024, 1) if samples else None,
        "rss_median_mb": round(sorted(samples)[len(samples) // 2] / 1024, 1) if samples else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="service peak RSS vs backlog and max-in-flight")
    parser.add_argument("--backlogs", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--max-in-flight", type=int, nargs="+", default=[64, 16])
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--latency", type=float, default=2.0)
    args = parser.parse_args(argv)

    biggest = max(args.backlogs)
    records = encode_runs(generate(biggest, seed=3))
    mean_bytes = sum(len(v) for _, v in records) // len(records)
    fake, base_url = _start_fake(args.latency, 0.0)
    rows = []
    try:
        with embedded_broker() as bootstrap:
            for backlog in args.backlogs:
                topic = f"in-backlog{backlog}"
                asyncio.run(create_topics(bootstrap, [topic]))
                asyncio.run(produce(bootstrap, topic, records[:backlog]))
            plan = [(b, args.max_in_flight[0]) for b in args.backlogs]
            plan += [(biggest, m) for m in args.max_in_flight[1:]]
            for backlog, in_flight in plan:
                tag = f"mem{backlog}x{in_flight}"
                asyncio.run(create_topics(bootstrap, output_topics(tag)))
                cmd = serve_args(
                    bootstrap, tag, "--base-url", base_url, "--model", "gpt-4o-mini",
                    "--judge-model", "fake-judge", "--max-in-flight", str(in_flight),
                    "--concurrency", str(in_flight), input_topic=f"in-backlog{backlog}",
                )  # fmt: skip
                service = spawn(cmd, f"memory-{tag}.log", env={"OPENAI_API_KEY": "unused"})
                try:
                    rows.append({"backlog": backlog, "max_in_flight": in_flight,
                                 **_sample(service.pid, args.seconds)})  # fmt: skip
                finally:
                    stop(service)
    finally:
        stop(fake)
    by = {(r["backlog"], r["max_in_flight"]): r["peak_rss_mb"] for r in rows}
    first = args.max_in_flight[0]
    small, large = min(args.backlogs), biggest
    growth = by[(large, first)] / by[(small, first)] if by.get((small, first)) else None
    write_result(
        "memory",
        {
            "llm_latency_s": args.latency,
            "sampled_seconds": args.seconds,
            "mean_event_bytes": mean_bytes,
            "runs": rows,
            "peak_ratio_largest_to_smallest_backlog": round(growth, 3) if growth else None,
            "target": "peak RSS bounded by max-in-flight, not by backlog (ratio about 1)",
            "met": growth is not None and growth < 1.2,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
