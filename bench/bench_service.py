"""Service throughput on the embedded broker, against a raw aiokafka loop, in one run.

The same generated events are pre-loaded as a backlog on per-run input topics, then drained by
(a) a raw aiokafka consume -> produce loop (no decoding, no pipeline: the Kafka ceiling in
Python on this machine), (b) one ``agenther serve --rule-based`` process, and (c) two such
processes in one consumer group. Each drainer is its own process. The rate is taken from the
outputs' create timestamps (first to last), so process start-up and group joins are left out.

    python -m bench.bench_service -n 10000
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench._common import (
    PYTHON,
    count_outputs,
    create_topics,
    drain_rate,
    embedded_broker,
    encode_runs,
    output_topics,
    produce,
    serve_args,
    spawn,
    stop,
    write_result,
)
from bench.generate import generate

TARGET_RATIO = 0.5


async def raw_loop(bootstrap: str, source: str, sink: str, group: str) -> None:
    """Consume -> produce -> commit, batch by batch (at-least-once like the service)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=20, session_timeout_ms=6000,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            sends = [
                await producer.send(sink, key=r.key, value=r.value)
                for records in batches.values()
                for r in records
            ]
            if sends:
                await asyncio.gather(*sends)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def _drain(
    bootstrap: str, tag: str, args: list[list[str]], topics: list[str], n: int
) -> dict[str, Any]:
    procs = [spawn(a, f"service-{tag}-{i}.log") for i, a in enumerate(args)]
    try:
        started = time.monotonic()
        seen = asyncio.run(count_outputs(bootstrap, topics, n, timeout_s=600))
        wall = time.monotonic() - started
    finally:
        for p in procs:
            stop(p)
    return {
        "processes": len(procs),
        "outputs": seen["counts"],
        "complete": seen["total"] >= n,
        "events_per_s": drain_rate(seen),
        "wall_s_incl_startup": round(wall, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="service vs raw aiokafka throughput")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workers", type=int, default=0, help="the services' --workers")
    parser.add_argument("--raw-loop", nargs=4, metavar=("BOOTSTRAP", "SRC", "SINK", "GROUP"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.raw_loop:
        asyncio.run(raw_loop(*args.raw_loop))
        return 0

    records = encode_runs(generate(args.n, args.seed))
    with embedded_broker() as bootstrap:
        runs: dict[str, dict[str, Any]] = {}
        for tag in ("raw", "svc1", "svc2"):
            topics = [f"in-{tag}", *output_topics(tag)]
            asyncio.run(create_topics(bootstrap, topics))
            seconds = asyncio.run(produce(bootstrap, f"in-{tag}", records))
            runs[tag] = {"produce_s": round(seconds, 2)}
        raw_cmd = [PYTHON, "-m", "bench.bench_service", "--raw-loop", bootstrap, "in-raw",
                   "out-raw", "g-raw"]  # fmt: skip
        runs["raw"] |= _drain(bootstrap, "raw", [raw_cmd], ["out-raw"], args.n)
        pool = ("--workers", str(args.workers))
        svc = serve_args(bootstrap, "svc1", "--rule-based", "--create-topics", *pool)
        runs["svc1"] |= _drain(bootstrap, "svc1", [svc], output_topics("svc1"), args.n)
        svc2 = serve_args(bootstrap, "svc2", "--rule-based", "--create-topics", *pool)
        runs["svc2"] |= _drain(bootstrap, "svc2", [svc2, svc2], output_topics("svc2"), args.n)

    raw_rate = runs["raw"]["events_per_s"] or 0
    one = runs["svc1"]["events_per_s"] or 0
    two = runs["svc2"]["events_per_s"] or 0
    ratio = round(one / raw_rate, 3) if raw_rate else None
    write_result(
        f"service_w{args.workers}" if args.workers else "service",
        {
            "n": args.n,
            "workers": args.workers,
            "runs": {
                "raw_aiokafka": runs["raw"],
                "service_1": runs["svc1"],
                "service_2": runs["svc2"],
            },
            "ratio_service_to_raw": ratio,
            "target_ratio": TARGET_RATIO,
            "met": ratio is not None and ratio >= TARGET_RATIO,
            "scaling_2_vs_1": round(two / one, 2) if one else None,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
