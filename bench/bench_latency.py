"""Event-to-output latency of ``agenther serve --rule-based`` at fixed offered rates.

For each rate a fresh service (own topics) is warmed up with one event, then events are
offered at that rate for ``--seconds``; a reader records when each run's output (example,
rejection or dead letter, keyed by run id) arrives. Latency = arrival - send, same clock.
Outputs that do not arrive within ``--grace`` seconds after the last send count as lost for
the percentiles (p99 is then reported as null: the service did not keep up).

    python -m bench.bench_latency --rates 100 500 1000 --seconds 10 [--workers 2]
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
    percentile,
    serve_args,
    spawn,
    stop,
    write_result,
)
from bench.generate import generate

TARGET_P99_MS_AT_500 = 100.0


async def _measure(
    bootstrap: str, tag: str, rate: int, seconds: float, grace: float
) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    n = int(rate * seconds)
    records = encode_runs(generate(n + 1, seed=rate))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5,
        auto_offset_reset="earliest",
    )  # fmt: skip
    await producer.start()
    await reader.start()
    sent_at: dict[bytes, float] = {}
    got_at: dict[bytes, float] = {}
    try:
        parts = []
        for topic in output_topics(tag):
            await reader.topics()  # refreshes metadata
            parts += [
                TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or [])
            ]
        reader.assign(parts)

        sending = [True]

        async def read(until: float) -> None:
            while time.monotonic() < until and (sending[0] or len(got_at) < len(sent_at)):
                batches = await reader.getmany(timeout_ms=50)
                now = time.perf_counter()
                for batch in batches.values():
                    for record in batch:
                        got_at.setdefault(record.key, now)

        # Warm-up: the service has joined its group once its first output arrives.
        warm_key, warm_value = records[0]
        sent_at[warm_key] = time.perf_counter()
        await producer.send_and_wait(f"in-{tag}", key=warm_key, value=warm_value)
        deadline = time.monotonic() + 60
        while warm_key not in got_at and time.monotonic() < deadline:
            for batch in (await reader.getmany(timeout_ms=100)).values():
                for record in batch:
                    got_at.setdefault(record.key, time.perf_counter())
        if warm_key not in got_at:
            return {"rate": rate, "error": "service produced no output within 60 s"}
        del sent_at[warm_key], got_at[warm_key]

        reader_task = asyncio.create_task(read(time.monotonic() + seconds + grace))
        started = time.perf_counter()
        index = 1
        while index <= n:
            due = min(n, int((time.perf_counter() - started) * rate))
            while index <= due:
                key, value = records[index]
                sent_at[key] = time.perf_counter()
                await producer.send(f"in-{tag}", key=key, value=value)
                index += 1
            await asyncio.sleep(0.002)
        offered_s = time.perf_counter() - started
        sending[0] = False
        await reader_task
    finally:
        await producer.stop()
        await reader.stop()

    latencies = [(got_at[k] - t) * 1000 for k, t in sent_at.items() if k in got_at]
    lost = len(sent_at) - len(latencies)
    kept_up = lost <= len(sent_at) * 0.001
    return {
        "offered_rate": rate,
        "achieved_offer_rate": round(n / offered_s, 1),
        "sent": len(sent_at),
        "received": len(latencies),
        "not_received_within_grace": lost,
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1) if kept_up and latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if kept_up and latencies else None,
        "max_ms_of_received": round(max(latencies), 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="event-to-output latency at offered rates")
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=0, help="the service's --workers")
    args = parser.parse_args(argv)

    rows = []
    with embedded_broker() as bootstrap:
        for rate in args.rates:
            tag = f"lat{rate}"
            asyncio.run(create_topics(bootstrap, [f"in-{tag}", *output_topics(tag)]))
            command = serve_args(bootstrap, tag, "--rule-based", "--workers", str(args.workers))
            service = spawn(command, f"latency-{rate}-w{args.workers}.log")
            try:
                rows.append(asyncio.run(_measure(bootstrap, tag, rate, args.seconds, args.grace)))
            finally:
                stop(service)
    at_500 = next((r for r in rows if r.get("offered_rate") == 500), None)
    p99 = at_500.get("p99_ms") if at_500 else None
    write_result(
        f"latency_w{args.workers}" if args.workers else "latency",
        {
            "workers": args.workers,
            "seconds_per_rate": args.seconds,
            "grace_s": args.grace,
            "rates": rows,
            "target_p99_ms_at_500": TARGET_P99_MS_AT_500,
            "met": p99 is not None and p99 <= TARGET_P99_MS_AT_500,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
