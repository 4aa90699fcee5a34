"""One client for any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, ...).

Async at the core, with sync wrappers under the reference's names. What it adds over the SDK:

- structured output by a ladder: strict ``json_schema`` → ``json_object`` → plain text with JSON
  extraction, remembering per client which rung the endpoint accepts; one repair retry when the
  reply does not validate;
- bounded concurrency and our own retries, for transient failures only (429, 5xx, timeouts,
  connection errors), with capped exponential backoff, full jitter and ``retry-after``;
- token usage and cost per model, and an on-disk reply cache.

Errors are classified for the caller by whose fault they are (``agenther.errors``):
``LLMTransientError`` (busy or down: retry later), ``LLMQuotaError`` (the account is out of
quota: pause everything), ``LLMFatalError`` (key, model or URL refused: stop),
``LLMRequestError`` (this request's content refused: context length, content filter) and
``LLMResponseError`` (the reply was unusable, cut off or a refusal). No message carries the API
key; the endpoint's own error text is kept, redacted.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import random
import re
import threading
import time
import weakref
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlparse

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, SecretStr, ValidationError

from agenther.config import DEFAULT_PRICES, STRUCTURED_OUTPUT_RUNGS, resolve_secret
from agenther.errors import (
    LLMError,
    LLMFatalError,
    LLMQuotaError,
    LLMRequestError,
    LLMResponseError,
    LLMTransientError,
    MissingAPIKeyError,
)
from agenther.llm_cache import ResponseCache, RungMemory
from agenther.llm_usage import PriceTable, UsageTracker
from agenther.run_text import approx_tokens, truncate_text

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")

# Rungs of the structured-output ladder, best first. ``json_object_schema`` is json_object mode
# with the schema alongside, which llama-cpp-python's server enforces by grammar.
JSON_SCHEMA, JSON_OBJECT_SCHEMA, JSON_OBJECT, TEXT = LADDER = STRUCTURED_OUTPUT_RUNGS
AUTO = "auto"  # learn the rung from the endpoint's answers

# Request timeouts when none is set: a hosted API answers in seconds; a model on a local CPU
# may need minutes for one call.
REMOTE_TIMEOUT_S = 60.0
LOCAL_TIMEOUT_S = 600.0
# Consecutive 5xx answers to a structured request after which the same request is sent without
# its response_format: if that one succeeds, the endpoint refuses the format, it is not failing.
_FIVE_XX_BEFORE_PROBE = 2

# The line that names the schema in the system prompt on the json_object and text rungs
# (the json_schema rung names it in response_format). Test fakes route replies by it.
SCHEMA_NAME_MARKER = "JSON schema name: "
SCHEMA_MARKER = "JSON schema: "

LOCAL_API_KEY = "not-needed"  # vLLM and Ollama accept any key

# The configuration is wrong (key, permission, model or path): no request can pass.
_FATAL_STATUSES = {401, 403, 404, 405, 410}
_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|maximum context|context window|too many tokens|prompt is too long"
    r"|input is too long|reduce the length|exceeds? (?:the )?(?:model'?s? )?(?:max|maximum)",
    re.IGNORECASE,
)
_CONTENT_FILTER = re.compile(
    r"content[_ ]filter|content[_ ]policy|content management policy|safety system|flagged",
    re.IGNORECASE,
)
_QUOTA = re.compile(r"insufficient_quota|exceeded your current quota|billing", re.IGNORECASE)
_STRICT_SCHEMA_REFUSED = re.compile(r"invalid schema for response_format", re.IGNORECASE)
_FORMAT_WORDS = re.compile(
    r"response_format|json_schema|json_object|structured output|guided|grammar", re.IGNORECASE
)
# Keywords strict mode does not accept; pydantic still enforces them when the reply is parsed.
_NON_STRICT_KEYWORDS = {
    "default",
    "title",
    "examples",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "discriminator",
}
_FENCED = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_SCHEMA_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_ECHOED_REPLY_TOKENS = 1500


class _FormatRejected(Exception):
    """The endpoint refused the response_format of the current rung (the message says how)."""


class _StrictSchemaRejected(_FormatRejected):
    """The endpoint takes json_schema but not this schema in strict mode (OpenAI's "Invalid
    schema for response_format"): the same rung, non-strict, will do."""


@dataclass
class _LoopState:
    client: AsyncOpenAI
    semaphore: asyncio.Semaphore
    # Held by structured calls until one has been answered: concurrent first calls would each
    # spend a refused request learning the same rung.
    learning: asyncio.Lock


@dataclass
class _Reply:
    text: str
    cache_key: str | None
    finish_reason: str | None = None
    refusal: str | None = None


@dataclass(frozen=True)
class _EndpointError:
    """What an error body says, redacted: OpenAI puts the kind in ``type`` and the cause in
    ``code`` (``context_length_exceeded``, ``invalid_api_key``, ``insufficient_quota``)."""

    status: int
    message: str
    code: str
    kind: str

    def describe(self) -> str:
        label = self.code or self.kind
        return f"HTTP {self.status}{f' {label}' if label else ''}: {self.message}"


class LLMClient:
    """Chat completions with retries, structured output, usage accounting and a cache.

    The HTTP client and the concurrency bound are created per event loop, because the sync
    wrappers run each call in a fresh loop (``asyncio.run``) and an httpx client cannot
    outlive the loop it was made in.
    """

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.3,
        max_tokens: int = 1024,
        max_retries: int = 4,
        *,
        timeout: float | None = None,
        structured_output: str = AUTO,
        max_concurrency: int = 16,
        cache_dir: str | None = None,
        prices: Mapping[str, tuple[float, float]] | None = None,
        usage: UsageTracker | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        max_retry_after: float = 120.0,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_retries = max_retries
        # Whether the endpoint runs on this machine or network: such a server usually cannot
        # cancel a request it is generating, so a timed-out request is not sent again.
        self.local = bool(base_url) and _is_local(base_url or "")
        self.timeout = timeout or (LOCAL_TIMEOUT_S if self.local else REMOTE_TIMEOUT_S)
        self.max_concurrency = max_concurrency
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.usage = usage if usage is not None else UsageTracker()
        self.prices = PriceTable(DEFAULT_PRICES if prices is None else prices)
        self.cache = ResponseCache(cache_dir) if cache_dir else None
        self._api_key = _resolve_api_key(api_key, base_url)
        if structured_output != AUTO and structured_output not in LADDER:
            raise ValueError(
                f"structured_output must be one of {', '.join((AUTO, *LADDER))}, "
                f"not {structured_output!r}"
            )
        self.structured_output = structured_output
        self._rungs = RungMemory(cache_dir) if cache_dir else None
        learned = self._rungs.get(self._endpoint) if self._rungs else None
        self._rung = structured_output if structured_output != AUTO else learned or JSON_SCHEMA
        self._strict = True  # off once the endpoint refused a schema in strict mode
        # Whether a structured request has been answered on the current rung (or it is pinned
        # or remembered), so calls may go in parallel.
        self._settled = structured_output != AUTO or learned is not None
        self.usage.record_rung(self.model, self._rung)
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._states_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r})"

    @property
    def structured_rung(self) -> str:
        """The structured-output rung this endpoint was last seen to accept."""
        return self._rung

    @property
    def _endpoint(self) -> str:
        return f"{self.base_url or 'https://api.openai.com/v1'}|{self.model}"

    # ----------------------------------------------------------------------------- async API

    async def acall(
        self,
        system_prompt: str,
        user_prompt: str,
        temperature: float | None = None,
        *,
        max_tokens: int | None = None,
    ) -> str:
        """The reply text of one chat completion."""
        messages = _messages(system_prompt, user_prompt)
        reply = await self._complete(messages, temperature, max_tokens, None, TEXT, None)
        self._refuse_unusable(reply)
        if not reply.text.strip():
            raise LLMResponseError(f"{self.model}: empty reply")
        self._remember(reply)
        return reply.text

    async def acall_structured(
        self,
        system_prompt: str,
        user_prompt: str,
        output_schema: type[T],
        temperature: float | None = None,
        *,
        max_tokens: int | None = None,
    ) -> T:
        """A reply parsed into ``output_schema``, with one repair retry if it does not validate."""
        if self._settled:
            return await self._structured(
                system_prompt, user_prompt, output_schema, temperature, max_tokens
            )
        async with self._state().learning:
            return await self._structured(
                system_prompt, user_prompt, output_schema, temperature, max_tokens
            )

    async def _structured(
        self,
        system_prompt: str,
        user_prompt: str,
        output_schema: type[T],
        temperature: float | None,
        max_tokens: int | None,
    ) -> T:
        name = _SCHEMA_NAME.sub("_", output_schema.__name__)[:64]
        schema = output_schema.model_json_schema()
        while True:
            rung = self._rung
            messages, response_format = _structured_request(
                rung, name, schema, system_prompt, user_prompt, strict=self._strict
            )
            try:
                reply = await self._complete(
                    messages, temperature, max_tokens, response_format, rung, schema
                )
            except _StrictSchemaRejected as refused:
                if self._strict:
                    self.usage.record_format_refusal(self.model)
                    logger.info(
                        "%s refused a strict schema (%s); non-strict now", self.model, refused
                    )
                    self._strict = False
                else:
                    self._step_down(rung, str(refused))
                continue
            except _FormatRejected as refused:
                self._step_down(rung, str(refused))
                continue
            self._settled = True
            break

        self._refuse_unusable(reply)
        try:
            result = _parse_reply(reply.text, output_schema)
        except (ValueError, ValidationError) as error:
            if reply.finish_reason == "length":
                # A repair would be cut off at the same limit: this reply is simply too long.
                raise LLMResponseError(
                    f"{self.model}: {name} reply cut off at max_tokens="
                    f"{self.max_tokens if max_tokens is None else max_tokens}"
                ) from None
            repair = [
                *messages,
                {
                    "role": "assistant",
                    "content": truncate_text(reply.text, _MAX_ECHOED_REPLY_TOKENS),
                },
                {"role": "user", "content": _repair_prompt(name, schema, error)},
            ]
            try:
                fixed = await self._complete(
                    repair, temperature, max_tokens, response_format, rung, schema
                )
            except _FormatRejected as refused:
                self._step_down(rung, str(refused))
                raise LLMResponseError(
                    f"{self.model}: {name} reply did not validate and the repair was refused"
                ) from None
            self._refuse_unusable(fixed)
            try:
                result = _parse_reply(fixed.text, output_schema)
            except (ValueError, ValidationError) as second:
                # Kept all the same: a replay of this run fails the same way, for free.
                self._remember(reply)
                self._remember(fixed)
                raise LLMResponseError(
                    f"{self.model}: {name} reply did not validate after a repair retry: "
                    f"{_describe(second)}"
                ) from None
            # Both replies are kept, so a replay walks the same path from the cache for free.
            self._remember(reply)
            self._remember(fixed)
            return result
        self._remember(reply)
        return result

    async def acheck(self) -> None:
        """One minimal request, so a wrong key, model or URL shows before any real work.

        Raises what a real call would (``LLMFatalError``, ``LLMQuotaError``,
        ``LLMTransientError`` after the usual retries); a 400 to a request this small is a
        configuration problem, not the input's, so it is fatal here. Nothing is cached.
        """
        messages = _messages("Reply with the single word OK.", "ping")
        try:
            await self._send(messages, self.temperature, 1, None)
        except LLMRequestError as exc:
            raise LLMFatalError(
                f"{self.model}: the endpoint refuses even a minimal request: {exc}"
            ) from None

    async def aclose(self) -> None:
        """Close the HTTP client of the running loop; forget those of loops already closed."""
        loop = asyncio.get_running_loop()
        with self._states_lock:
            state = self._states.pop(loop, None)
            for gone in [other for other in self._states if other.is_closed()]:
                del self._states[gone]
        if state is not None:
            await state.client.close()

    # ------------------------------------------------------------------------------ sync API

    def call(
        self,
        system_prompt: str,
        user_prompt: str,
        temperature: float | None = None,
        *,
        max_tokens: int | None = None,
    ) -> str:
        return self._run_sync(
            self.acall(system_prompt, user_prompt, temperature, max_tokens=max_tokens)
        )

    def call_structured(
        self,
        system_prompt: str,
        user_prompt: str,
        output_schema: type[T],
        temperature: float | None = None,
        *,
        max_tokens: int | None = None,
    ) -> T:
        return self._run_sync(
            self.acall_structured(
                system_prompt, user_prompt, output_schema, temperature, max_tokens=max_tokens
            )
        )

    def _run_sync(self, call: Coroutine[Any, Any, R]) -> R:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            call.close()
            raise RuntimeError("called the sync LLM API inside an event loop; await acall*()")

        async def run_then_close() -> R:
            try:
                return await call
            finally:
                await self.aclose()

        return asyncio.run(run_then_close())

    # ------------------------------------------------------------------------------ internals

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        with self._states_lock:
            state = self._states.get(loop)
            if state is None:
                if self._api_key is None:
                    raise MissingAPIKeyError()
                client = AsyncOpenAI(
                    api_key=self._api_key.get_secret_value(),
                    base_url=self.base_url,
                    timeout=self.timeout,
                    max_retries=0,  # retries are ours: only transient errors, with jitter
                )
                state = _LoopState(client, asyncio.Semaphore(self.max_concurrency), asyncio.Lock())
                self._states[loop] = state
            return state

    def _step_down(self, rejected: str, why: str) -> None:
        self.usage.record_format_refusal(self.model)
        if self.structured_output != AUTO:
            raise LLMFatalError(
                f"{self.model}: the endpoint refuses structured_output={rejected} ({why}); "
                f"pin another rung or use {AUTO}"
            )
        # Concurrent calls may all be refused on the same rung; step down once per rung.
        if self._rung == rejected:
            self._rung = LADDER[min(LADDER.index(rejected) + 1, len(LADDER) - 1)]
            logger.info(
                "%s refused %s output (%s); using %s", self.model, rejected, why, self._rung
            )
            self.usage.record_rung(self.model, self._rung)
            if self._rungs is not None:
                self._rungs.put(self._endpoint, self._rung)

    def _refuse_unusable(self, reply: _Reply) -> None:
        """A refusal or a filtered reply is no answer, and asking again would not change it."""
        if reply.refusal:
            raise LLMResponseError(
                f"{self.model}: the model refused: {self._redact(reply.refusal)[:200]}"
            )
        if reply.finish_reason == "content_filter":
            raise LLMResponseError(f"{self.model}: the reply was withheld by a content filter")

    def _remember(self, reply: _Reply) -> None:
        if self.cache is not None and reply.cache_key is not None:
            if self._echoes_key(reply.text):
                # An endpoint that sends our key back must not get it written to disk; such a
                # reply is not worth replaying anyway: a replay simply asks again.
                return
            self.cache.put(reply.cache_key, reply.text)

    def _echoes_key(self, text: str) -> bool:
        if self._api_key is None:
            return False
        secret = self._api_key.get_secret_value()
        if len(secret) < 4:
            return False
        forms = {
            secret,
            json.dumps(secret)[1:-1],
            quote(secret, safe=""),
            base64.b64encode(secret.encode()).decode(),
        }
        return any(form in text for form in forms)

    async def _complete(
        self,
        messages: list[dict[str, str]],
        temperature: float | None,
        max_tokens: int | None,
        response_format: dict[str, Any] | None,
        rung: str,
        schema: dict[str, Any] | None,
    ) -> _Reply:
        temp = self.temperature if temperature is None else temperature
        limit = self.max_tokens if max_tokens is None else max_tokens
        key = None
        if self.cache is not None:
            key = ResponseCache.key(
                model=self.model,
                messages=messages,
                temperature=temp,
                max_tokens=limit,
                rung=rung,
                schema=schema,
            )
            started = time.monotonic()
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.record_request(
                    self.model, 0, 0, 0.0, cached=True, seconds=time.monotonic() - started
                )
                # Already stored: no need to write it back.
                return _Reply(hit, None)
        reply = await self._send(messages, temp, limit, response_format)
        reply.cache_key = key
        return reply

    async def _send(
        self,
        messages: list[dict[str, str]],
        temperature: float,
        max_tokens: int,
        response_format: dict[str, Any] | None,
    ) -> _Reply:
        extra: dict[str, Any] = {}
        if response_format is not None:
            extra["response_format"] = response_format
        started = time.monotonic()
        attempt = 0
        five_xx = 0
        while True:
            state = self._state()
            problem = ""
            retry_after: float | None = None
            refusal: Exception | None = None
            final = False
            try:
                async with state.semaphore, asyncio.timeout(self.timeout):
                    response = await state.client.chat.completions.create(
                        model=self.model,
                        messages=messages,  # type: ignore[arg-type]
                        temperature=temperature,
                        max_tokens=max_tokens,
                        **extra,
                    )
                if not isinstance(response, ChatCompletion):
                    problem = "a reply that is not a chat completion (non-JSON body)"
                else:
                    return self._account(response, messages, time.monotonic() - started)
            except openai.APIStatusError as exc:
                error = self._endpoint_error(exc)
                retry_after = _retry_after(exc.response.headers)
                if response_format is not None and _STRICT_SCHEMA_REFUSED.search(error.message):
                    refusal = _StrictSchemaRejected(error.describe())
                elif response_format is not None and _rejects_response_format(error):
                    refusal = _FormatRejected(error.describe())
                else:
                    refusal = _classify(self.model, error, retry_after)
                    if refusal is None:
                        problem = error.describe()
                        five_xx = five_xx + 1 if error.status >= 500 else 0
                        if (
                            response_format is not None
                            and five_xx >= _FIVE_XX_BEFORE_PROBE
                            and await self._refuses_structured(messages)
                        ):
                            refusal = _FormatRejected(
                                f"{problem} (repeated; a plain request succeeds)"
                            )
            except (TimeoutError, openai.APITimeoutError):
                problem = f"no reply within {self.timeout:g}s"
                # A local server goes on generating the abandoned request; sending it again
                # would only queue behind it.
                final = self.local
            except openai.APIConnectionError as exc:
                problem = f"connection error ({self._redact(str(exc.__cause__ or exc))})"
            except ValueError as exc:  # a JSON body cut off or mangled on the way
                problem = f"malformed response body ({type(exc).__name__})"

            if refusal is not None:
                # Raised outside the except block, so the SDK error (whose text may echo the
                # key) is not even kept as __context__.
                if not isinstance(refusal, _FormatRejected):
                    self.usage.record_failure(self.model, type(refusal).__name__)
                raise refusal
            if final:
                self.usage.record_failure(self.model, "LLMTransientError")
                raise LLMTransientError(
                    f"{self.model}: {problem}; not retried: a local server cannot cancel the "
                    "request it is still generating (raise --request-timeout)"
                )
            if attempt >= self.max_retries:
                self.usage.record_failure(self.model, "LLMTransientError")
                raise LLMTransientError(
                    f"{self.model}: {problem}; gave up after {attempt + 1} attempts",
                    retry_after=retry_after,
                )
            if retry_after is not None and retry_after > self.max_retry_after:
                self.usage.record_failure(self.model, "LLMTransientError")
                raise LLMTransientError(
                    f"{self.model}: {problem}; endpoint asks to wait {retry_after:g}s",
                    retry_after=retry_after,
                )
            delay = random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
            if retry_after is not None:
                delay = max(delay, retry_after)  # never earlier than the endpoint asked
            attempt += 1
            self.usage.record_retry(self.model)
            logger.debug("%s: %s; retry %d in %.2fs", self.model, problem, attempt, delay)
            await asyncio.sleep(delay)

    async def _refuses_structured(self, messages: list[dict[str, str]]) -> bool:
        """After repeated 5xx to a structured request: whether the same messages without a
        response_format get an answer (one token is enough). The same content, so a 5xx that
        this content causes is not mistaken for a refused format."""
        state = self._state()
        try:
            async with state.semaphore, asyncio.timeout(self.timeout):
                await state.client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=1,
                )
        except (openai.OpenAIError, TimeoutError, ValueError):
            return False
        return True

    def _account(
        self, response: ChatCompletion, messages: list[dict[str, str]], seconds: float
    ) -> _Reply:
        if not response.choices:
            raise LLMResponseError(f"{self.model}: reply without choices")
        choice = response.choices[0]
        text = choice.message.content or ""
        refusal = getattr(choice.message, "refusal", None)
        if response.usage is not None:
            prompt_tokens = response.usage.prompt_tokens
            completion_tokens = response.usage.completion_tokens
        else:  # some local servers omit usage; estimate rather than count nothing
            prompt_tokens = sum(approx_tokens(m["content"]) for m in messages)
            completion_tokens = approx_tokens(text)
        cost = self.prices.cost(self.model, prompt_tokens, completion_tokens)
        self.usage.record_request(
            self.model, prompt_tokens, completion_tokens, cost, cached=False, seconds=seconds
        )
        return _Reply(
            text, None, choice.finish_reason, refusal if isinstance(refusal, str) else None
        )

    def _endpoint_error(self, exc: openai.APIStatusError) -> _EndpointError:
        body = exc.body
        inner = body.get("error", body) if isinstance(body, dict) else None
        message, code, kind = "", "", ""
        if isinstance(inner, dict):
            message = str(inner.get("message") or inner.get("detail") or "")
            code = str(inner.get("code") or "")
            kind = str(inner.get("type") or "")
        elif inner:
            message = str(inner)
        message = " ".join((message or str(exc.message)).split())[:500]
        return _EndpointError(exc.status_code, self._redact(message), code, kind)

    def _redact(self, text: str) -> str:
        if self._api_key is not None:
            secret = self._api_key.get_secret_value()
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text


class AsyncLLMClient(LLMClient):
    """The reference's async client: ``call`` and ``call_structured`` are coroutines."""

    # The reference's AsyncLLMClient exposes the async API under the sync names.
    call = LLMClient.acall  # type: ignore[assignment]
    call_structured = LLMClient.acall_structured  # type: ignore[assignment]


# ---------------------------------------------------------------------------------- helpers


def _resolve_api_key(api_key: str | None, base_url: str | None) -> SecretStr | None:
    key = resolve_secret(SecretStr(api_key) if api_key else None, "OPENAI_API_KEY")
    if key:
        return SecretStr(key)
    if base_url and _is_local(base_url):
        return SecretStr(LOCAL_API_KEY)
    return None


def _is_local(base_url: str) -> bool:
    """Loopback, private networks and cluster-internal names: where vLLM/Ollama usually run."""
    host = (urlparse(base_url).hostname or "").lower()
    if not host:
        return False
    if host == "localhost" or "." not in host or host.endswith((".local", ".internal", ".svc")):
        return True
    if host.endswith(".svc.cluster.local"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified


def _messages(system_prompt: str, user_prompt: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": user_prompt},
    ]


def _structured_request(
    rung: str,
    name: str,
    schema: dict[str, Any],
    system_prompt: str,
    user_prompt: str,
    *,
    strict: bool = True,
) -> tuple[list[dict[str, str]], dict[str, Any] | None]:
    if rung == JSON_SCHEMA:
        converted, is_strict = strict_json_schema(schema)
        is_strict = is_strict and strict
        response_format: dict[str, Any] | None = {
            "type": "json_schema",
            "json_schema": {
                "name": name,
                "schema": converted if is_strict else schema,
                "strict": is_strict,
            },
        }
        return _messages(system_prompt, user_prompt), response_format
    # Without a schema-enforcing endpoint the model has to read the schema itself.
    system = (
        f"{system_prompt}\n\nReply with one JSON object and nothing else.\n"
        f"{SCHEMA_NAME_MARKER}{name}\n"
        f"{SCHEMA_MARKER}{json.dumps(schema, separators=(',', ':'))}"
    )
    if rung == JSON_OBJECT_SCHEMA:
        response_format = {"type": "json_object", "schema": schema}
    elif rung == JSON_OBJECT:
        response_format = {"type": "json_object"}
    else:
        response_format = None
    return _messages(system, user_prompt), response_format


def strict_json_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema in the subset OpenAI's strict mode accepts, and whether that was possible.

    Every object gets ``additionalProperties: false`` and all its properties required;
    unsupported keywords are dropped (validation still applies them). A free-form mapping
    (``dict[str, Any]``) cannot be strict, so the caller sends the schema non-strict.
    """
    possible = True

    def convert(node: Any) -> Any:
        nonlocal possible
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return {"$ref": node["$ref"]}  # strict mode allows no siblings next to $ref
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _NON_STRICT_KEYWORDS:
                continue
            if key in ("properties", "$defs"):
                out[key] = {name: convert(sub) for name, sub in value.items()}
            elif key == "oneOf":
                out["anyOf"] = convert(value)
            else:
                out[key] = convert(value)
        if out.get("type") == "object" or "properties" in out:
            extra = out.get("additionalProperties", False)
            if extra not in (False, None) or not out.get("properties"):
                possible = False
            out["additionalProperties"] = False
            out["required"] = list(out.get("properties", {}))
        return out

    converted = convert(schema)
    return converted, possible


def _parse_reply(text: str, schema: type[T]) -> T:
    """The first JSON object in ``text`` that validates: whole text, fenced blocks, then any
    ``{...}`` found by scanning."""
    candidates = _json_objects(text)
    if not candidates:
        raise ValueError("the reply contains no JSON object")
    first_error: ValidationError | None = None
    for candidate in candidates:
        try:
            return schema.model_validate(candidate)
        except ValidationError as error:
            first_error = first_error or error
    assert first_error is not None
    raise first_error


def _json_objects(text: str, limit: int = 16) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stripped = text.strip()
    pieces = [stripped, *(block.strip() for block in _FENCED.findall(stripped))]
    for piece in pieces:
        try:
            value = json.loads(piece)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    if found:
        return found
    decoder = json.JSONDecoder()
    start = stripped.find("{")
    while start != -1 and len(found) < limit:
        try:
            value, end = decoder.raw_decode(stripped, start)
        except ValueError:
            start = stripped.find("{", start + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        start = stripped.find("{", end)
    return found


def _repair_prompt(name: str, schema: dict[str, Any], error: Exception) -> str:
    return (
        f"Your reply is not a valid {name} JSON object: {_describe(error)}\n"
        "Reply again with only the corrected JSON object, no other text.\n"
        f"{SCHEMA_NAME_MARKER}{name}\n"
        f"{SCHEMA_MARKER}{json.dumps(schema, separators=(',', ':'))}"
    )


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        problems = [
            f"{'.'.join(str(part) for part in item['loc']) or '(root)'}: {item['msg']}"
            for item in error.errors()[:10]
        ]
        return "; ".join(problems)
    return str(error)


def _rejects_response_format(error: _EndpointError) -> bool:
    """The endpoint refused the structured-output request itself. Some servers answer it with
    a 500 (llama-cpp-python's request validation), so any 4xx/5xx that names it counts; an
    auth, rate or not-found status never does."""
    if error.status in (401, 403, 404, 408, 429):
        return False
    return _FORMAT_WORDS.search(f"{error.message} {error.code}") is not None


def _classify(model: str, error: _EndpointError, retry_after: float | None) -> LLMError | None:
    """The error an HTTP failure stands for, or None when it is worth retrying."""
    status, text = error.status, f"{error.code} {error.kind} {error.message}"
    if status == 429:
        if _QUOTA.search(f"{error.code} {error.kind}") or "exceeded your current quota" in text:
            return LLMQuotaError(f"{model}: {error.describe()}", retry_after=retry_after)
        return None
    if status in _FATAL_STATUSES:
        return LLMFatalError(f"{model}: {error.describe()}")
    if 400 <= status < 500 and status != 408:
        if error.code == "context_length_exceeded" or _CONTEXT_LENGTH.search(text):
            code = "context_length_exceeded"
        elif _CONTENT_FILTER.search(text):
            code = error.code or "content_filter"
        else:
            code = error.code or "bad_request"
        return LLMRequestError(f"{model}: {error.describe()}", code=code)
    return None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the endpoint asked us to wait (``retry-after-ms`` wins, then ``retry-after``)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            try:
                when = parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                return None
            return max(0.0, when.timestamp() - time.time())
    return None
