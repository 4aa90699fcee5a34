"""`agenther serve` in LLM mode against a real OpenAI-compatible server: every event accounted for.

Runs from the tuning sets (labels stripped) go to an input topic on the embedded broker; one
`agenther serve` process with `--base-url` relabels them; the bench reads the example,
rejection and dead-letter topics until every input key has shown up in one of them, scrapes
the service's /metrics, stops it with SIGTERM and records what happened. Outside CI: a small
model on 2 CPU cores needs ~20 s per call.

    python -m bench.bench_real_llm_service --base-url http://127.0.0.1:8765/v1 --model M -n 40
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
import urllib.request
from collections import Counter
from typing import Any

from bench._common import (
    create_topics,
    embedded_broker,
    encode_runs,
    output_topics,
    produce,
    serve_args,
    spawn,
    stop,
    write_result,
)
from bench.eval_quality import HERE, load_eval_set

# Tuning data only: the blind set stays unread.
SOURCES = ["eval_set.jsonl", "dev_set.jsonl", "holdout_set.jsonl"]
_METRICS = (
    "agenther_events_consumed_total",
    "agenther_examples_produced_total",
    "agenther_rejections_total",
    "agenther_dead_letters_total",
    "agenther_llm_requests_total",
    "agenther_llm_failures_total",
    "agenther_llm_structured_output",
    "agenther_llm_tokens_total",
)


def runs(n: int) -> list[dict[str, Any]]:
    records = [r for name in SOURCES for r in load_eval_set(HERE / name)]
    return [{k: v for k, v in r.items() if k != "labels"} for r in records[:n]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def keys_seen(
    bootstrap: str, topics: list[str], expected: set[bytes], timeout_s: float
) -> dict[str, Counter[bytes]]:
    """Keys per output topic, read from the start until every expected key was seen."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    seen: dict[str, Counter[bytes]] = {topic: Counter() for topic in topics}
    try:
        parts = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                seen[tp.topic].update(r.key for r in records if r.key is not None)
            if expected <= set().union(*seen.values()):
                break
        return seen
    finally:
        await consumer.stop()


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(_METRICS):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    events = runs(args.n)
    records = encode_runs(events)
    expected = {key for key, _ in records}
    tag = f"real{int(time.time())}"
    metrics_port = free_port()
    with embedded_broker() as bootstrap:
        await create_topics(bootstrap, [f"in-{tag}", *output_topics(tag)], partitions=2)
        await produce(bootstrap, f"in-{tag}", records)
        started = time.monotonic()
        service = spawn(
            serve_args(
                bootstrap,
                tag,
                "--base-url",
                args.base_url,
                "--model",
                args.model,
                "--concurrency",
                str(args.concurrency),
                "--metrics-port",
                str(metrics_port),
                "--log-level",
                "INFO",
            ),
            f"real-llm-service-{tag}.log",
        )
        try:
            seen = await keys_seen(bootstrap, output_topics(tag), expected, args.timeout)
            elapsed = time.monotonic() - started
            metrics = scrape(metrics_port)
        finally:
            stop(service, timeout_s=args.timeout)
    out, rej, dlq = (seen[topic] for topic in output_topics(tag))
    accounted = set(out) | set(rej) | set(dlq)
    return {
        "base_url": args.base_url,
        "model": args.model,
        "events": len(expected),
        "examples": len(out),
        "rejected": len(rej),
        "dead_letters": len(dlq),
        "unaccounted": sorted(k.decode() for k in expected - accounted),
        "in_two_topics": sorted(
            k.decode() for k in expected if sum(k in c for c in (out, rej, dlq)) > 1
        ),
        "duplicates": sum(count - 1 for c in (out, rej, dlq) for count in c.values()),
        "elapsed_s": round(elapsed, 1),
        "seconds_per_event": round(elapsed / len(expected), 1),
        "service_exit_code": service.returncode,
        "metrics": metrics,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds for the drain")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    path = write_result("real_llm_service", result)
    print(f"{result} -> {path}")
    return 0 if not result["unaccounted"] and result["service_exit_code"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
