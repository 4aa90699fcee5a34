"""A real OpenAI-compatible HTTP server on loopback, for tests and benchmarks.

It serves ``POST /v1/chat/completions`` (non-streaming) and ``GET /v1/models`` from its own
event loop in a background thread, so sync tests, async tests and other processes can all use
it. Replies are chosen, per request, in this order:

1. a fault set with ``fail_matching(text, fault)`` for requests whose messages contain
   ``text`` (a run's unique marker: deterministic faults for one event among many);
2. a random fault, if ``fault_rate`` > 0 (seeded RNG over ``faults``);
3. the next item of ``script([...])`` (a dict → JSON content, a str → raw content, a ``Fault``);
4. the handler registered with ``on_schema(name, handler)`` for the request's schema name;
5. a minimal valid instance synthesised from the request's JSON schema.

The schema name is ``response_format.json_schema.name`` on the ``json_schema`` rung. On the
``json_object`` and text rungs the client names it in a prompt line
``JSON schema name: <Name>`` followed by ``JSON schema: <one-line JSON>``
(``agenther.llm_client.SCHEMA_NAME_MARKER`` / ``SCHEMA_MARKER``); the last occurrence in any
message wins, so a repair prompt routes like the original request.

Where it matters it answers as the real API does (checked against OpenAI's documented
behaviour): error bodies carry ``type`` and ``code`` separately (``invalid_api_key``,
``model_not_found``, ``rate_limit_exceeded``, ``insufficient_quota``,
``context_length_exceeded``); a ``strict`` ``json_schema`` whose objects do not list every
property as required with ``additionalProperties: false`` is a 400; replies may be cut off
(``finish_reason: "length"``) or refused (``message.refusal``); usage has its details objects.
``context_limit`` makes over-long requests fail like a small model's context window, and
``rejected_formats`` with ``format_rejection_status=500`` answers like llama-cpp-python's
server, which refuses ``json_schema`` with a 500.

Standalone: ``python -m tests.support.fake_openai --port 8900 --latency 1.0 --jitter 0.2``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

SCHEMA_NAME_LINE = re.compile(r"^JSON schema name: (\S+)$", re.MULTILINE)
SCHEMA_LINE = re.compile(r"^JSON schema: (\{.*\})$", re.MULTILINE)
CONFIDENCE_WORDS = ("confidence", "score", "probability", "likelihood")


@dataclass
class FakeRequest:
    """One recorded chat-completions request."""

    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float = field(default_factory=time.monotonic)

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages", [])
        return messages if isinstance(messages, list) else []

    @property
    def system_prompt(self) -> str:
        return next((_text(m) for m in self.messages if m.get("role") == "system"), "")

    @property
    def user_prompt(self) -> str:
        """The first user message: the original request, also on a repair retry."""
        return next((_text(m) for m in self.messages if m.get("role") == "user"), "")

    @property
    def repair_prompt(self) -> str | None:
        """On the client's repair retry, the message that explains what was wrong."""
        users = [_text(m) for m in self.messages if m.get("role") == "user"]
        return users[-1] if self.is_repair and len(users) > 1 else None

    @property
    def temperature(self) -> float | None:
        value = self.body.get("temperature")
        return float(value) if value is not None else None

    @property
    def response_format_type(self) -> str | None:
        """The rung the request is on: ``json_object`` with a ``schema`` beside it (which
        llama-cpp-python's server enforces) reads ``json_object_schema``."""
        response_format = self.body.get("response_format")
        if not isinstance(response_format, dict):
            return None
        kind = response_format.get("type")
        if kind == "json_object" and "schema" in response_format:
            return "json_object_schema"
        return kind

    @property
    def is_repair(self) -> bool:
        """The client's repair retry: the bad reply is echoed back as an assistant message."""
        return any(m.get("role") == "assistant" for m in self.messages)

    @property
    def schema_name(self) -> str | None:
        if self.response_format_type == "json_schema":
            return str(self.body["response_format"]["json_schema"].get("name"))
        names = [n for m in self.messages for n in SCHEMA_NAME_LINE.findall(_text(m))]
        return names[-1] if names else None

    @property
    def schema(self) -> dict[str, Any] | None:
        if self.response_format_type == "json_schema":
            schema = self.body["response_format"]["json_schema"].get("schema")
            return schema if isinstance(schema, dict) else None
        found = [s for m in self.messages for s in SCHEMA_LINE.findall(_text(m))]
        if not found:
            return None
        try:
            schema = json.loads(found[-1])
        except ValueError:
            return None
        return schema if isinstance(schema, dict) else None


def _text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    return content if isinstance(content, str) else json.dumps(content)


@dataclass(frozen=True)
class Fault:
    """A misbehaviour of the endpoint; build one with the class methods."""

    kind: str
    status_code: int = 200
    retry_after: float | None = None
    retry_after_ms: float | None = None
    seconds: float = 0.0
    message: str = ""
    formats: tuple[str, ...] = ()

    @classmethod
    def status(
        cls,
        code: int,
        *,
        retry_after: float | None = None,
        retry_after_ms: float | None = None,
        message: str = "",
    ) -> Fault:
        return cls(
            "status",
            status_code=code,
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
            message=message,
        )

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Wait, then answer as if no fault applied (a slow endpoint; use it for timeouts)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def broken_json(cls) -> Fault:
        """A 200 whose message content is not valid JSON."""
        return cls("broken_json")

    @classmethod
    def truncated_body(cls) -> Fault:
        """A 200 whose HTTP body is cut off before Content-Length is reached."""
        return cls("truncated_body")

    @classmethod
    def non_json_body(cls) -> Fault:
        """A 200 with an HTML body, as a misconfigured proxy sends."""
        return cls("non_json_body")

    @classmethod
    def schema_violation(cls) -> Fault:
        """Valid JSON content of the wrong shape."""
        return cls("schema_violation")

    @classmethod
    def insufficient_quota(cls) -> Fault:
        """OpenAI's 429 when the account is out of credit: not a rate limit."""
        return cls("status", status_code=429, message="insufficient_quota")

    @classmethod
    def context_length_exceeded(cls) -> Fault:
        """OpenAI's 400 for a request longer than the model's context window."""
        return cls("status", status_code=400, message="context_length_exceeded")

    @classmethod
    def content_filter(cls) -> Fault:
        """Azure OpenAI's 400 for a prompt its content filter blocks."""
        return cls("status", status_code=400, message="content_filter")

    @classmethod
    def length_cutoff(cls) -> Fault:
        """A 200 whose content stops half-way, ``finish_reason: "length"``."""
        return cls("length_cutoff")

    @classmethod
    def refusal(cls) -> Fault:
        """A 200 whose message is a refusal (``content: null``, ``refusal: "..."``)."""
        return cls("refusal")

    @classmethod
    def reject_response_format(cls, formats: Iterable[str] = ("json_schema",)) -> Fault:
        """A 400 if the request asks for one of ``formats``; otherwise answered normally."""
        return cls("reject_response_format", status_code=400, formats=tuple(formats))


Reply = dict[str, Any] | str | Fault
Handler = Callable[[FakeRequest], Reply]


class FakeOpenAI:
    """The server. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        *,
        port: int = 0,
        latency: float = 0.0,
        jitter: float = 0.0,
        fault_rate: float = 0.0,
        faults: Iterable[Fault] = (),
        seed: int = 0,
        models: Iterable[str] = ("gpt-4o-mini", "gpt-4o", "fake-judge"),
    ) -> None:
        self.port = port
        self.latency = latency
        self.jitter = jitter
        self.fault_rate = fault_rate
        self.faults: list[Fault] = list(faults)
        self.models = list(models)
        # Response formats refused on every request (an endpoint without structured output),
        # with this status: 400 like vLLM/OpenAI, 500 like llama-cpp-python's server.
        self.rejected_formats: set[str] = set()
        self.format_rejection_status = 400
        # A refusal whose body does not say why (a bare "Internal Server Error").
        self.format_rejection_opaque = False
        # Tokens (4 characters each) a request may use, prompt plus max_tokens, like a model's
        # context window; None: unlimited.
        self.context_limit: int | None = None
        # Refuse a strict json_schema that OpenAI's strict mode would refuse.
        self.check_strict_schemas = True
        # When set, a model outside it gets a 404 like OpenAI's model_not_found.
        self.known_models: set[str] | None = None
        self.requests: list[FakeRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._rng = random.Random(seed)
        self._seed = seed
        self._script: list[Reply] = []
        self._handlers: dict[str, Handler] = {}
        self._matching: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------------------- scripting

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def on_schema(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    def fail_matching(self, text: str, fault: Fault | None) -> None:
        """Answer every request whose messages contain ``text`` with ``fault`` (None: stop)."""
        with self._lock:
            if fault is None:
                self._matching.pop(text, None)
            else:
                self._matching[text] = fault

    def requests_matching(self, text: str) -> list[FakeRequest]:
        with self._lock:
            return [r for r in self.requests if any(text in _text(m) for m in r.messages)]

    def script(self, replies: Iterable[Reply]) -> None:
        """Queue replies, consumed one per request in order, before any handler."""
        with self._lock:
            self._script.extend(replies)

    @property
    def scripted_left(self) -> int:
        with self._lock:
            return len(self._script)

    def reset(self) -> None:
        """Forget requests, script, handlers and knobs; the server keeps running."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self._handlers.clear()
            self._matching.clear()
            self.rejected_formats.clear()
            self.format_rejection_status = 400
            self.format_rejection_opaque = False
            self.context_limit = None
            self.check_strict_schemas = True
            self.known_models = None
            self.latency = self.jitter = self.fault_rate = 0.0
            self.faults = []
            self.in_flight = self.max_in_flight = 0
            self._rng = random.Random(self._seed)

    # ---------------------------------------------------------------------------- lifecycle

    def start(self) -> FakeOpenAI:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site(sock))
            except BaseException as exc:  # surfaced to the caller of start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-openai", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    async def _start_site(self, sock: socket.socket) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._list_models)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.2
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    def stop(self) -> None:
        loop, runner = self._loop, self._runner
        if loop is None or runner is None:
            return
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._runner = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ serving

    async def _list_models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "request body is not JSON", "invalid_request_error")
        recorded = FakeRequest(body=body, headers=dict(request.headers))
        with self._lock:
            self.requests.append(recorded)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request, recorded)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(self, request: web.Request, fake: FakeRequest) -> web.StreamResponse:
        with self._lock:
            wait = max(0.0, self.latency + self._rng.uniform(-self.jitter, self.jitter))
            matched = next(
                (
                    fault
                    for text, fault in self._matching.items()
                    if any(text in _text(m) for m in fake.messages)
                ),
                None,
            )
            random_fault = matched or (
                self._rng.choice(self.faults)
                if self.faults and self.fault_rate > 0 and self._rng.random() < self.fault_rate
                else None
            )
            scripted = self._script.pop(0) if self._script and random_fault is None else None
        if wait:
            await asyncio.sleep(wait)

        if self.known_models is not None and fake.model not in self.known_models:
            return _error(
                404,
                f"The model `{fake.model}` does not exist or you do not have access to it.",
                "invalid_request_error",
                code="model_not_found",
            )
        if fake.response_format_type in self.rejected_formats:
            return _reject_format(
                fake, self.format_rejection_status, opaque=self.format_rejection_opaque
            )
        if self.check_strict_schemas:
            problem = _strict_schema_problem(fake)
            if problem:
                return _error(400, problem, "invalid_request_error", param="response_format")
        if self.context_limit is not None:
            needed = count_prompt_tokens(fake) + int(fake.body.get("max_tokens") or 0)
            if needed > self.context_limit:
                return _context_length_error(self.context_limit, needed)

        reply: Reply | None = random_fault if random_fault is not None else scripted
        if isinstance(reply, Fault):
            if reply.kind == "delay":
                await asyncio.sleep(reply.seconds)
                reply = None
            elif reply.kind == "reject_response_format" and (
                fake.response_format_type not in reply.formats
            ):
                reply = None
        if reply is None:
            handler = self._handlers.get(fake.schema_name or "")
            reply = handler(fake) if handler else _synthesise_content(fake)
        if isinstance(reply, Fault):
            return await _apply_fault(request, fake, reply)
        content = reply if isinstance(reply, str) else json.dumps(reply)
        return web.json_response(_completion(fake, content))


_completion_ids = itertools.count(1)


def count_prompt_tokens(fake: FakeRequest) -> int:
    return math.ceil(sum(len(_text(m)) for m in fake.messages) / 4)


def _completion(
    fake: FakeRequest,
    content: str | None,
    *,
    finish_reason: str = "stop",
    refusal: str | None = None,
) -> dict[str, Any]:
    prompt_tokens = count_prompt_tokens(fake)
    completion_tokens = math.ceil(len(content or refusal or "") / 4)
    return {
        "id": f"chatcmpl-fake-{next(_completion_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": fake.model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    }


def _error(
    status: int,
    message: str,
    kind: str,
    headers: dict[str, str] | None = None,
    *,
    code: str | None = None,
    param: str | None = None,
) -> web.Response:
    """OpenAI's error body: the kind of error in ``type``, its cause in ``code``."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _reject_format(fake: FakeRequest, status: int = 400, *, opaque: bool = False) -> web.Response:
    if opaque:
        return _error(status, "Internal Server Error", "server_error")
    if status >= 500:
        # llama-cpp-python's server: its request model allows only text and json_object, and
        # the validation error comes back as a 500 that quotes the field.
        message = (
            "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
            "'msg': \"Input should be 'text' or 'json_object'\", "
            f"'input': '{fake.response_format_type}'}}]"
        )
        return _error(status, message, "internal_server_error")
    message = (
        f"Invalid parameter: 'response_format' of type '{fake.response_format_type}' "
        "is not supported with this model."
    )
    return _error(400, message, "invalid_request_error", param="response_format")


def _context_length_error(limit: int, needed: int) -> web.Response:
    message = (
        f"This model's maximum context length is {limit} tokens. However, you requested "
        f"{needed} tokens. Please reduce the length of the messages or completion."
    )
    return _error(
        400, message, "invalid_request_error", code="context_length_exceeded", param="messages"
    )


def _strict_schema_problem(fake: FakeRequest) -> str:
    """Why OpenAI's strict mode would refuse this request's schema ("" if it would not)."""
    if fake.response_format_type != "json_schema":
        return ""
    spec = fake.body["response_format"].get("json_schema", {})
    if not spec.get("strict") or not isinstance(spec.get("schema"), dict):
        return ""
    name = spec.get("name", "")

    def walk(node: Any, where: str) -> str:
        if isinstance(node, list):
            for item in node:
                found = walk(item, where)
                if found:
                    return found
            return ""
        if not isinstance(node, dict):
            return ""
        if node.get("type") == "object" or "properties" in node:
            if node.get("additionalProperties") is not False:
                return (
                    f"Invalid schema for response_format '{name}': In context={where}, "
                    "'additionalProperties' is required to be supplied and to be false."
                )
            missing = [
                key for key in node.get("properties", {}) if key not in node.get("required", [])
            ]
            if missing:
                return (
                    f"Invalid schema for response_format '{name}': In context={where}, "
                    "'required' is required to be supplied and to be an array including every "
                    f"key in properties. Missing '{missing[0]}'."
                )
        for key, value in node.items():
            found = walk(value, f"{where}.{key}" if where else key)
            if found:
                return found
        return ""

    return walk(spec["schema"], "")


async def _apply_fault(request: web.Request, fake: FakeRequest, fault: Fault) -> web.StreamResponse:
    if fault.kind == "status":
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["retry-after"] = f"{fault.retry_after:g}"
        if fault.retry_after_ms is not None:
            headers["retry-after-ms"] = f"{fault.retry_after_ms:g}"
        return _status_error(fault, headers)
    if fault.kind == "reject_response_format":
        return _reject_format(fake)
    if fault.kind == "length_cutoff":
        full = _synthesise_content(fake)
        return web.json_response(
            _completion(fake, full[: max(1, len(full) // 2)], finish_reason="length")
        )
    if fault.kind == "refusal":
        return web.json_response(
            _completion(fake, None, refusal="I'm sorry, but I can't help with that request.")
        )
    if fault.kind == "broken_json":
        return web.json_response(_completion(fake, '{"unterminated": "json'))
    if fault.kind == "schema_violation":
        schema = fake.schema or {}
        wrong = {name: {"wrong": ["shape"]} for name in schema.get("properties", {})}
        return web.json_response(_completion(fake, json.dumps(wrong or [["wrong shape"]])))
    if fault.kind == "non_json_body":
        return web.Response(
            text="<html><body>502 Bad Gateway</body></html>", content_type="text/html"
        )
    if fault.kind == "truncated_body":
        body = json.dumps(_completion(fake, _synthesise_content(fake))).encode()
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        return response
    raise ValueError(f"unknown fault {fault.kind!r}")


# Real bodies for the statuses a test asks for: (type, code, message).
_STATUS_BODIES: dict[int | str, tuple[str, str | None, str]] = {
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: sk-****. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 20ms.",
    ),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later"),
    "insufficient_quota": (
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
    ),
    "context_length_exceeded": (
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 8192 tokens. However, your messages resulted "
        "in 9000 tokens. Please reduce the length of the messages.",
    ),
    "content_filter": (
        "invalid_request_error",
        "content_filter",
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy.",
    ),
}


def _status_error(fault: Fault, headers: dict[str, str]) -> web.Response:
    known = _STATUS_BODIES.get(fault.message) or _STATUS_BODIES.get(fault.status_code)
    if known is not None and (fault.message in _STATUS_BODIES or not fault.message):
        kind, code, message = known
    else:
        kind = "server_error" if fault.status_code >= 500 else "invalid_request_error"
        code, message = None, fault.message or f"fake {fault.status_code}"
    return _error(fault.status_code, message, kind, headers, code=code)


def _synthesise_content(fake: FakeRequest) -> str:
    schema = fake.schema
    if schema is None:
        return "fake reply" if fake.response_format_type is None else "{}"
    return json.dumps(synthesise(schema))


def synthesise(schema: dict[str, Any]) -> Any:
    """A minimal instance valid for ``schema`` (the subset pydantic emits)."""
    definitions = schema.get("$defs", {})

    def build(node: dict[str, Any], name: str) -> Any:
        if "$ref" in node:
            return build(definitions[node["$ref"].rsplit("/", 1)[-1]], name)
        if "const" in node:
            return node["const"]
        if node.get("enum"):
            return node["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in node:
                options = [o for o in node[key] if o.get("type") != "null"] or node[key]
                return build(options[0], name)
        if "allOf" in node:
            return build(node["allOf"][0], name)
        kind = node.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind == "object" or "properties" in node:
            return {key: build(sub, key) for key, sub in node.get("properties", {}).items()}
        if kind == "array":
            items = node.get("items", {})
            return [build(items, name) for _ in range(max(1, node.get("minItems", 1)))]
        if kind == "string":
            text = f"fake {name.replace('_', ' ')}".strip()
            return text.ljust(node.get("minLength", 0), "x")
        if kind in ("number", "integer"):
            lowered = name.lower()
            value: float = 0.9 if any(w in lowered for w in CONFIDENCE_WORDS) else 0.5
            if kind == "integer":
                value = 1
            value = max(value, node.get("minimum", value), node.get("exclusiveMinimum", -math.inf))
            value = min(value, node.get("maximum", value))
            return int(value) if kind == "integer" else value
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return f"fake {name}".strip()

    return build(schema, "")


# ------------------------------------------------------------------------------- standalone


def _parse_fault(text: str) -> Fault:
    name, _, argument = text.partition(":")
    if name.isdigit():
        return Fault.status(int(name), retry_after=float(argument) if argument else None)
    simple = {
        "broken_json": Fault.broken_json,
        "truncated": Fault.truncated_body,
        "non_json": Fault.non_json_body,
        "schema_violation": Fault.schema_violation,
    }
    if name == "delay":
        return Fault.delay(float(argument or 5))
    if name in simple:
        return simple[name]()
    raise argparse.ArgumentTypeError(f"unknown fault {text!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per reply")
    parser.add_argument("--jitter", type=float, default=0.0, help="± seconds around latency")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--fault",
        action="append",
        type=_parse_fault,
        default=[],
        help="429[:retry_after] | 500 | delay:S | broken_json | truncated | non_json | "
        "schema_violation (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeOpenAI(
        port=args.port,
        latency=args.latency,
        jitter=args.jitter,
        fault_rate=args.fault_rate,
        faults=args.fault,
        seed=args.seed,
    )
    with fake:
        print(fake.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
