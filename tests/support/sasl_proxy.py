"""A loopback Kafka proxy that adds SASL/PLAIN in front of a broker that has none (Tansu).

Tansu refuses every SASL mechanism at the handshake, before any password is looked at, so a
test against it alone cannot tell a checked password from an ignored one. This proxy speaks
just enough of the Kafka protocol to check it:

- ``ApiVersions`` (key 18) goes to the broker; the answer is rewritten to advertise
  ``SaslHandshake`` (17) and ``SaslAuthenticate`` (36) versions 0-1;
- ``SaslHandshake`` is answered here, with ``PLAIN`` as the one enabled mechanism;
- ``SaslAuthenticate`` is answered here: the PLAIN token (``authzid \\0 user \\0 password``,
  RFC 4616) is checked against the expected credentials; a wrong one gets error 58
  (``SASL_AUTHENTICATION_FAILED``) with a message and the connection is closed, as a broker
  does; a right one gets an empty success and the connection is proxied from then on;
- any other request before a successful authentication closes the connection (a broker with
  a SASL listener does the same), so nothing reaches the broker unauthenticated;
- after it, requests and responses are forwarded frame by frame, byte for byte, except the
  broker addresses in ``Metadata`` (3, v0-5) and ``FindCoordinator`` (10, v0-1) answers: they
  name the proxy, so clients keep connecting (and authenticating) through it rather than to
  the broker's advertised address. Those are the versions aiokafka sends; other versions pass
  unchanged.

It runs its own event loop in a thread, so a test can block (``ServiceProcess.terminate``)
without stalling the clients it serves. It records handshakes and authentication attempts
(user name and whether the password matched: never the password it received).

    with SaslPlainProxy(broker_bootstrap, username="u", password="pw") as proxy:
        ... connect clients to proxy.bootstrap ...
        assert proxy.accepted_users == ["u"]
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from dataclasses import dataclass
from types import TracebackType

from streams.broker import LOOPBACK

API_VERSIONS = 18
SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
METADATA = 3
FIND_COORDINATOR = 10
SASL_AUTHENTICATION_FAILED = 58
UNSUPPORTED_SASL_MECHANISM = 33
ILLEGAL_SASL_STATE = 34
FAILURE_MESSAGE = "Authentication failed: invalid username or password"


@dataclass(frozen=True)
class AuthAttempt:
    username: str
    accepted: bool


class _Reader:
    """Big-endian Kafka primitives off a bytes buffer."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += struct.calcsize(fmt)
        return int(value)

    def string(self) -> bytes | None:
        length = self.take(">h")
        if length < 0:
            return None
        value = self.data[self.offset : self.offset + length]
        self.offset += length
        return value

    def bytes_(self) -> bytes | None:
        length = self.take(">i")
        if length < 0:
            return None
        value = self.data[self.offset : self.offset + length]
        self.offset += length
        return value


def _string(value: bytes | str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    raw = value.encode() if isinstance(value, str) else value
    return struct.pack(">h", len(raw)) + raw


def _frame(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    size = struct.unpack(">i", await reader.readexactly(4))[0]
    return await reader.readexactly(size)


def _request_header(payload: bytes) -> tuple[int, int, int, int]:
    """api key, version, correlation id, and where the body starts (header v1: the requests
    handled here are never flexible)."""
    reader = _Reader(payload)
    api_key, version, correlation = reader.take(">h"), reader.take(">h"), reader.take(">i")
    reader.string()  # client id
    return api_key, version, correlation, reader.offset


def rewrite_api_versions(payload: bytes, version: int) -> bytes:
    """An ApiVersions v0-2 response (header v0) with SaslHandshake and SaslAuthenticate 0-1."""
    if version > 2:
        return payload
    reader = _Reader(payload)
    correlation, error = reader.take(">i"), reader.take(">h")
    if error != 0:
        return payload
    count = reader.take(">i")
    versions: dict[int, tuple[int, int]] = {}
    for _ in range(count):
        key, low, high = reader.take(">h"), reader.take(">h"), reader.take(">h")
        versions[key] = (low, high)
    rest = payload[reader.offset :]  # throttle_time_ms from v1
    versions[SASL_HANDSHAKE] = (0, 1)
    versions[SASL_AUTHENTICATE] = (0, 1)
    body = struct.pack(">ih", correlation, 0) + struct.pack(">i", len(versions))
    body += b"".join(struct.pack(">hhh", k, lo, hi) for k, (lo, hi) in sorted(versions.items()))
    return body + rest


def rewrite_metadata(payload: bytes, version: int, host: str, port: int) -> bytes:
    """A Metadata v0-5 response whose brokers all point at ``host:port``."""
    if version > 5:
        return payload
    reader = _Reader(payload)
    correlation = reader.take(">i")
    head = struct.pack(">i", correlation)
    if version >= 3:
        head += struct.pack(">i", reader.take(">i"))  # throttle_time_ms
    count = reader.take(">i")
    brokers = struct.pack(">i", count)
    for _ in range(count):
        node = reader.take(">i")
        reader.string()
        reader.take(">i")
        brokers += struct.pack(">i", node) + _string(host) + struct.pack(">i", port)
        if version >= 1:
            brokers += _string(reader.string())  # rack
    return head + brokers + payload[reader.offset :]


def rewrite_find_coordinator(payload: bytes, version: int, host: str, port: int) -> bytes:
    """A FindCoordinator v0-1 response whose coordinator is ``host:port``."""
    if version > 1:
        return payload
    reader = _Reader(payload)
    head = struct.pack(">i", reader.take(">i"))
    if version >= 1:
        head += struct.pack(">i", reader.take(">i"))  # throttle_time_ms
    error = reader.take(">h")
    head += struct.pack(">h", error)
    if version >= 1:
        head += _string(reader.string())  # error_message
    node = reader.take(">i")
    reader.string()
    reader.take(">i")
    return head + struct.pack(">i", node) + _string(host) + struct.pack(">i", port)


class SaslPlainProxy:
    """SASL/PLAIN in front of ``upstream`` (``host:port``), on a loopback port."""

    def __init__(
        self, upstream: str, *, username: str, password: str, host: str = LOOPBACK, port: int = 0
    ) -> None:
        upstream_host, _, upstream_port = upstream.rpartition(":")
        self.upstream = (upstream_host, int(upstream_port))
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self._lock = threading.Lock()
        self.handshakes: list[str] = []
        self.attempts: list[AuthAttempt] = []
        self.refused_unauthenticated = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def accepted_users(self) -> list[str]:
        with self._lock:
            return [a.username for a in self.attempts if a.accepted]

    @property
    def refused_users(self) -> list[str]:
        with self._lock:
            return [a.username for a in self.attempts if not a.accepted]

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SaslPlainProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._accept, self.host, self.port)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="sasl-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        with contextlib.suppress(Exception):
            future.result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    def __enter__(self) -> SaslPlainProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- one client connection -------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            up_reader, upstream = await asyncio.open_connection(*self.upstream)
            if await self._authenticate(reader, writer, up_reader, upstream):
                await self._proxy(reader, writer, up_reader, upstream)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass  # either side went away
        finally:
            self._connections.discard(task)
            for side in (writer, upstream):
                if side is not None:
                    side.close()
                    with contextlib.suppress(Exception):
                        await side.wait_closed()

    async def _authenticate(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
    ) -> bool:
        """The SASL exchange, one request at a time; True once authenticated."""
        mechanism_ok = False
        while True:
            payload = await _read_frame(reader)
            api_key, version, correlation, body_at = _request_header(payload)
            if api_key == API_VERSIONS:
                upstream.write(_frame(payload))
                await upstream.drain()
                answer = rewrite_api_versions(await _read_frame(up_reader), version)
                writer.write(_frame(answer))
            elif api_key == SASL_HANDSHAKE:
                mechanism = (_Reader(payload, body_at).string() or b"").decode("utf-8", "replace")
                with self._lock:
                    self.handshakes.append(mechanism)
                mechanism_ok = mechanism == "PLAIN"
                error = 0 if mechanism_ok else UNSUPPORTED_SASL_MECHANISM
                answer = struct.pack(">ih", correlation, error)
                answer += struct.pack(">i", 1) + _string("PLAIN")
                writer.write(_frame(answer))
            elif api_key == SASL_AUTHENTICATE and mechanism_ok:
                token = _Reader(payload, body_at).bytes_() or b""
                parts = token.split(b"\0")
                username = parts[1].decode("utf-8", "replace") if len(parts) == 3 else ""
                accepted = len(parts) == 3 and (
                    parts[1] == self._username.encode() and parts[2] == self._password.encode()
                )
                with self._lock:
                    self.attempts.append(AuthAttempt(username, accepted))
                error = 0 if accepted else SASL_AUTHENTICATION_FAILED
                answer = struct.pack(">ih", correlation, error)
                answer += _string(None if accepted else FAILURE_MESSAGE)
                answer += struct.pack(">i", 0)  # no server auth bytes
                if version >= 1:
                    answer += struct.pack(">q", 0)  # session_lifetime_ms: no re-authentication
                writer.write(_frame(answer))
                await writer.drain()
                return accepted  # a broker closes the connection after a failed attempt
            else:
                with self._lock:
                    self.refused_unauthenticated += 1
                return False
            await writer.drain()

    async def _proxy(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        upstream: asyncio.StreamWriter,
    ) -> None:
        sent: dict[int, tuple[int, int]] = {}  # correlation id -> (api key, version)

        async def requests() -> None:
            while True:
                payload = await _read_frame(reader)
                api_key, version, correlation = struct.unpack_from(">hhi", payload)
                if api_key in (METADATA, FIND_COORDINATOR):
                    sent[correlation] = (api_key, version)
                upstream.write(_frame(payload))
                await upstream.drain()

        async def responses() -> None:
            while True:
                payload = await _read_frame(up_reader)
                (correlation,) = struct.unpack_from(">i", payload)
                api_key, version = sent.pop(correlation, (-1, -1))
                if api_key == METADATA:
                    payload = rewrite_metadata(payload, version, self.host, self.port)
                elif api_key == FIND_COORDINATOR:
                    payload = rewrite_find_coordinator(payload, version, self.host, self.port)
                writer.write(_frame(payload))
                await writer.drain()

        tasks = [asyncio.create_task(requests()), asyncio.create_task(responses())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
