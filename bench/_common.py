"""What the benchmark scripts share: machine facts, result files, broker, topics, producing
events, counting outputs and reading a process's memory."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
OUT = HERE / "out"  # git-ignored: generated inputs, logs, profiles
PYTHON = sys.executable


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        mem_gb = round(int(first.split()[1]) / 1024 / 1024, 1)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "cpu": model or platform.processor(),
        "ram_gb": mem_gb,
        "python": platform.python_version(),
        "loadavg_1m_at_start": round(load[0], 2),
    }


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **payload,
    }
    path.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in body.items() if k != "machine"}, indent=1), file=sys.stderr)
    return path


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


# ------------------------------------------------------------------------------ processes


def rss_kb(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of ``pid`` in KiB, from /proc (Linux)."""
    rss = hwm = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return rss, hwm


def spawn(
    args: list[str], log_name: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    OUT.mkdir(parents=True, exist_ok=True)
    log = (OUT / log_name).open("wb")
    return subprocess.Popen(
        args,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def embedded_broker() -> Iterator[str]:
    """The project's embedded Tansu broker (streams/broker.py); yields host:port."""
    from streams.broker import EmbeddedBroker

    with EmbeddedBroker() as broker:
        yield broker.bootstrap


def serve_args(bootstrap: str, tag: str, *extra: str, input_topic: str | None = None) -> list[str]:
    """``agenther serve`` on per-run topics, so runs on one broker do not see each other."""
    return [
        PYTHON, "-m", "agenther", "serve",
        "--bootstrap-servers", bootstrap,
        "--input-topic", input_topic or f"in-{tag}",
        "--output-topic", f"out-{tag}",
        "--rejects-topic", f"rej-{tag}",
        "--dlq-topic", f"dlq-{tag}",
        "--group-id", f"g-{tag}",
        "--metrics-port", "0",
        "--session-timeout-ms", "6000",
        "--fetch-max-wait-ms", "20",
        "--log-level", "WARNING",
        *extra,
    ]  # fmt: skip


def output_topics(tag: str) -> list[str]:
    return [f"out-{tag}", f"rej-{tag}", f"dlq-{tag}"]


# ------------------------------------------------------------------------------ kafka I/O


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int = 4) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names]
            )
    finally:
        await admin.close()


def encode_runs(runs: Sequence[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs: the trajectory JSON the service accepts as a failed run."""
    return [(r["trajectory_id"].encode(), json.dumps(r).encode()) for r in runs]


async def produce(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]) -> float:
    """Send all records (batched, acks=all); returns the seconds it took."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
    )  # fmt: skip
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for key, value in records:
            pending.append(await producer.send(topic, value=value, key=key))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def count_outputs(
    bootstrap: str, topics: Sequence[str], expected: int, timeout_s: float
) -> dict[str, Any]:
    """Read ``topics`` from the start until ``expected`` records arrived or time ran out.

    Returns the count per topic and the first/last record timestamps (the producer's create
    time, ms): the drain rate between them leaves out process start-up and group joins.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_wait_ms=50, max_partition_fetch_bytes=4 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    try:
        parts = []
        for topic in topics:
            ids = consumer.partitions_for_topic(topic)
            for _ in range(50):
                if ids:
                    break
                await consumer.topics()  # refreshes metadata
                ids = consumer.partitions_for_topic(topic)
                await asyncio.sleep(0.1)
            parts += [TopicPartition(topic, p) for p in sorted(ids or [])]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        counts = dict.fromkeys(topics, 0)
        first = last = None
        deadline = time.monotonic() + timeout_s
        while sum(counts.values()) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            for tp, records in batches.items():
                counts[tp.topic] += len(records)
                for record in records:
                    ts = record.timestamp
                    first = ts if first is None else min(first, ts)
                    last = ts if last is None else max(last, ts)
        return {"counts": counts, "total": sum(counts.values()), "first_ms": first, "last_ms": last}
    finally:
        await consumer.stop()


def drain_rate(result: dict[str, Any]) -> float | None:
    span_ms = (result["last_ms"] or 0) - (result["first_ms"] or 0)
    if result["total"] < 2 or span_ms <= 0:
        return None
    return round(float(result["total"] - 1) / (span_ms / 1000), 1)
