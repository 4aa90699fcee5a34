"""Fault-injection tools for the reliability tests and the benchmarks.

- ``KillableBroker``: a Tansu broker on a fixed loopback port that can be ``kill -9``-ed and
  started again on the same port (the embedded broker keeps data in memory only, so a restart
  comes back empty, like a broker that lost its disk).
- ``ServiceProcess``: ``agenther serve`` as a subprocess, with its log captured to a file, and
  ``kill -9``, CPU time and RSS read from ``/proc`` (Linux).
- ``hostile_corpus``: poison messages of every kind the parser must survive, each with the
  dead-letter reason it must get.
- ``secret_leaks``: where a secret (raw, base64, URL- or JSON-escaped) occurs in a set of texts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from streams.broker import LOOPBACK, broker_binary, free_port
from streams.sample_runs import FAILED_RUNS, SUCCESS_RUN

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


# ------------------------------------------------------------------------------------ broker


class KillableBroker:
    """Tansu on ``port`` (a free one when 0) that survives being killed and restarted."""

    def __init__(self, port: int = 0, host: str = LOOPBACK) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout_s: float = 15.0) -> str:
        if self.running:
            return self.bootstrap
        url = f"tcp://{self.host}:{self.port}"
        self._process = subprocess.Popen(
            [
                broker_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"tansu exited with {self._process.returncode} on {url}")
            if _accepts(self.host, self.port):
                return self.bootstrap
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError(f"tansu not reachable on {url} after {timeout_s:g}s")

    def kill9(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
        # The port must be free again before a restart can bind it.
        deadline = time.monotonic() + 5
        while _accepts(self.host, self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self) -> KillableBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill9()


# ----------------------------------------------------------------------------------- service

# Env that would change the service under test if the developer's shell happened to set it.
_SCRUBBED_ENV_PREFIXES = ("AGENTHER_", "OPENAI_")


@dataclass
class ProcessStats:
    cpu_s: float
    rss_bytes: int


def process_stats(pid: int) -> ProcessStats:
    """CPU seconds (user + system) and resident memory of ``pid``, from ``/proc``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name may contain spaces and parentheses: fields start after the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime, rss_pages = int(fields[11]), int(fields[12]), int(fields[21])
    return ProcessStats((utime + stime) / _CLOCK_TICKS, rss_pages * _PAGE)


class ServiceProcess:
    """``python -m agenther serve ARGS`` with ``env`` added to a cleaned environment."""

    def __init__(
        self,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        metrics_port: int | None = None,
    ) -> None:
        self.metrics_port = metrics_port or free_port()
        self.args = [*args, "--metrics-host", LOOPBACK, "--metrics-port", str(self.metrics_port)]
        base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_ENV_PREFIXES)}
        self.env = {**base, **(env or {})}
        fd, name = tempfile.mkstemp(prefix="agenther-serve-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        self._process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.peak_rss = 0
        self._sampler: threading.Thread | None = None
        self._sampling = threading.Event()

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def start(self) -> ServiceProcess:
        assert not self.running
        # Appended across restarts, so one log holds the whole scenario.
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts + 1}\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "agenther", "serve", *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        self.starts += 1
        return self

    def kill9(self) -> None:
        if self.running:
            assert self._process is not None
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)

    def terminate(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM and wait (a graceful stop); SIGKILL if it does not exit in time."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.stop_sampling()
        return process.returncode

    def stats(self) -> ProcessStats:
        return process_stats(self.pid)

    def start_sampling(self, interval_s: float = 0.1) -> None:
        """Record the peak RSS in the background until ``stop_sampling``."""
        self._sampling.clear()

        def sample() -> None:
            while not self._sampling.wait(interval_s):
                with contextlib.suppress(OSError, AssertionError, ValueError):
                    self.peak_rss = max(self.peak_rss, self.stats().rss_bytes)

        self._sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
        self._sampler.start()

    def stop_sampling(self) -> None:
        self._sampling.set()
        if self._sampler is not None:
            self._sampler.join(5)
            self._sampler = None

    def http_get(self, path: str, timeout_s: float = 1.0) -> tuple[int, str]:
        """Status and body of the service's health/metrics endpoint (0 when unreachable)."""
        url = f"http://{LOOPBACK}:{self.metrics_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode()
        except (urllib.error.URLError, OSError):
            return 0, ""

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                return False
            if self.http_get("/readyz")[0] == 200:
                return True
            time.sleep(0.1)
        return False

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        self.terminate(timeout_s=5)
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def serve_args(topics: Any, bootstrap: str, *extra: str) -> list[str]:
    """``serve`` flags for a ``ServiceTopics``: its topics, fast group joins, short retries."""
    return [
        "--bootstrap-servers",
        bootstrap,
        "--input-topic",
        topics.input,
        "--output-topic",
        topics.output,
        "--rejects-topic",
        topics.rejects,
        "--dlq-topic",
        topics.dlq,
        "--group-id",
        topics.group,
        "--no-create-topics",
        "--session-timeout-ms",
        "2000",
        "--fetch-max-wait-ms",
        "50",
        "--shutdown-grace",
        "5",
        *extra,
    ]


# ----------------------------------------------------------------------------------- events


def unique_runs(tag: str, count: int, *, success_every: int = 0) -> list[dict[str, Any]]:
    """``count`` valid run events with unique ids (and unique content, so prompts differ)."""
    runs: list[dict[str, Any]] = []
    for i in range(count):
        if success_every and i % success_every == success_every - 1:
            base = SUCCESS_RUN
        else:
            base = FAILED_RUNS[i % len(FAILED_RUNS)]
        run = json.loads(json.dumps(base))
        run["run_id"] = f"{tag}-{i:05d}"
        run["steps"][-1]["observation"] += f" Reference R{i:05d}."
        runs.append(run)
    return runs


@dataclass(frozen=True)
class HostileMessage:
    kind: str
    value: bytes
    reason: str  # a substring the dead letter's agenther-error header must contain
    key: bytes = field(default=b"")


def _valid(i: int) -> dict[str, Any]:
    run: dict[str, Any] = json.loads(json.dumps(FAILED_RUNS[i % len(FAILED_RUNS)]))
    run["run_id"] = f"hostile-{i:05d}"
    return run


def _mutated(i: int, change: Any) -> bytes:
    run = _valid(i)
    change(run)
    return json.dumps(run).encode()


def _nested(depth: int) -> bytes:
    run = _valid(0)
    body = json.dumps(run)
    return (body[:-1] + ', "metadata": ' + "[" * depth + "]" * depth + "}").encode()


_MANY_STEPS = [{"action_name": "a", "observation": "o"}] * 10_000

# kind -> (a substring of the dead-letter reason, a builder of the i-th message of that kind)
_HOSTILE_KINDS: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "invalid_utf8": (
        "invalid UTF-8",
        lambda i: b'{"run_id": "x\xff\xfe' + bytes([0x80 + i % 0x40]) + b'"}',
    ),
    "invalid_json": (
        "invalid JSON",
        lambda i: b'{"run_id": "hostile", "steps": [' + str(i).encode(),
    ),
    "not_an_object": ("expected a JSON object", lambda i: json.dumps([i, "run"]).encode()),
    "wrong_types": ("steps", lambda i: _mutated(i, lambda r: r.update(steps="all of them"))),
    "wrong_step_types": (
        "action_name",
        lambda i: _mutated(i, lambda r: r["steps"][0].update(action_name=7)),
    ),
    "missing_prompt": (
        "original_prompt",
        lambda i: _mutated(i, lambda r: r.pop("original_prompt")),
    ),
    "missing_run_id": ("run_id", lambda i: _mutated(i, lambda r: r.pop("run_id"))),
    "empty_steps": ("steps", lambda i: _mutated(i, lambda r: r.update(steps=[]))),
    "nul_byte": ("NUL", lambda i: _mutated(i, lambda r: r.update(original_prompt="find\x00it"))),
    "huge_int": (
        "64-bit",
        lambda i: _mutated(i, lambda r: r.update(metadata={"n": 10 ** (25 + i % 50)})),
    ),
    "huge_float": (
        "double range",
        lambda i: _mutated(i, lambda r: r.update(metadata={"x": 0})).replace(
            b'"x": 0', b'"x": 1e999'
        ),
    ),
    "nan": (
        "NaN",
        lambda i: _mutated(i, lambda r: r.update(metadata={"x": 0})).replace(
            b'"x": 0', b'"x": NaN'
        ),
    ),
    "deep_nesting": ("nested deeper", lambda i: _nested(100 + i % 5000)),
    "many_steps": ("max_steps", lambda i: _mutated(i, lambda r: r.update(steps=_MANY_STEPS))),
    "bad_status": ("status", lambda i: _mutated(i, lambda r: r.update(status="exploded"))),
    "empty_value": ("empty", lambda i: b""),
    "whitespace": ("invalid JSON", lambda i: b"   \n"),
}
HOSTILE_KINDS = (*_HOSTILE_KINDS, "five_megabytes")


def hostile_corpus(
    count: int, *, seed: int = 0, big_values: int = 3, big_bytes: int = 5 * 1024 * 1024
) -> list[HostileMessage]:
    """``count`` poison messages cycling through every kind; ``big_values`` of them are
    ``big_bytes`` long (over the default ``max_event_bytes``). Each has a unique key."""
    rng = random.Random(seed)
    names = list(_HOSTILE_KINDS)
    big_at = set(rng.sample(range(count), min(big_values, count))) if big_values else set()
    out: list[HostileMessage] = []
    for i in range(count):
        key = f"hostile-{i:05d}".encode()
        if i in big_at:
            value = _mutated(i, lambda r: r.update(final_answer="x" * big_bytes))
            out.append(HostileMessage("five_megabytes", value, "max_event_bytes", key))
            continue
        kind = names[i % len(names)]
        reason, build = _HOSTILE_KINDS[kind]
        out.append(HostileMessage(kind, build(i), reason, key))
    return out


# ----------------------------------------------------------------------------------- secrets


def secret_forms(secret: str) -> list[str]:
    """The spellings a leaked secret could take in a text: raw, base64, URL, JSON-escaped."""
    forms = {
        secret,
        base64.b64encode(secret.encode()).decode(),
        urllib.parse.quote(secret, safe=""),
        json.dumps(secret)[1:-1],
    }
    # A secret cut in the middle of a truncated message still leaks most of itself.
    if len(secret) >= 16:
        forms.add(secret[: len(secret) // 2 + 4])
    return sorted(forms)


def secret_leaks(secrets: Iterable[str], texts: Mapping[str, str | bytes]) -> list[str]:
    """``"<where>: <form>"`` for every occurrence of a secret's forms in ``texts``."""
    found: list[str] = []
    for where, text in texts.items():
        data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
        for secret in secrets:
            for form in secret_forms(secret):
                if form.encode() in data:
                    found.append(f"{where}: {form[:6]}…")
    return found


async def produce_raw(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes]],
    *,
    max_request_size: int = 16 * 1024 * 1024,
) -> None:
    """Publish raw key/value pairs in order (values up to ``max_request_size``) and await acks."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_request_size=max_request_size
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value=v, key=k) for k, v in messages]
        for future in futures:
            await future
    finally:
        await producer.stop()


class RecordTap:
    """Reads ``topics`` from the beginning in the background, so a test can watch progress
    while it injects faults: ``async with RecordTap(b, [t]) as tap: ... len(tap.records)``."""

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.records: list[Any] = []
        self._task: asyncio.Task[None] | None = None
        self._consumer: Any = None

    async def __aenter__(self) -> RecordTap:
        from aiokafka import AIOKafkaConsumer

        self._consumer = AIOKafkaConsumer(
            *self.topics,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            for records in batch.values():
                self.records.extend(records)

    async def wait_until(self, condition: Callable[[list[Any]], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not condition(self.records):
            if time.monotonic() > deadline or (self._task is not None and self._task.done()):
                return False
            await asyncio.sleep(0.05)
        return True

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


def record_bytes(records: Iterable[Any]) -> bytes:
    """Keys, values and headers of consumed records as one blob, for grepping."""
    parts: list[bytes] = []
    for r in records:
        parts.append(r.key or b"")
        parts.append(r.value or b"")
        for name, value in r.headers or ():
            parts.append(name.encode() + b"=" + (value or b""))
    return b"\n".join(parts)
