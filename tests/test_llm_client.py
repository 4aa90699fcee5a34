"""The LLM client against a real loopback HTTP server (tests/support/fake_openai.py)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import BaseModel, Field

from agenther.errors import (
    LLMFatalError,
    LLMQuotaError,
    LLMRequestError,
    LLMResponseError,
    LLMTransientError,
)
from agenther.llm_client import (
    JSON_OBJECT_SCHEMA,
    JSON_SCHEMA,
    LOCAL_API_KEY,
    TEXT,
    AsyncLLMClient,
    LLMClient,
    strict_json_schema,
)
from agenther.llm_usage import PriceTable, UsageTracker
from tests.support.fake_openai import FakeOpenAI, Fault

KEY = "sk-test-5f3a9c1e7b2d4a6f8e0c"


class Kind(StrEnum):
    GOOD = "good"
    BAD = "bad"


class Detail(BaseModel):
    label: str
    score: float = Field(ge=0.0, le=1.0)


class Verdict(BaseModel):
    is_valid: bool
    confidence: float = Field(ge=0.0, le=1.0)
    reason: str = Field(min_length=1)
    kind: Kind = Kind.GOOD
    details: list[Detail] = Field(default_factory=list)
    note: str | None = None


def client(fake: FakeOpenAI, **overrides: Any) -> LLMClient:
    settings: dict[str, Any] = {
        "base_url": fake.base_url,
        "api_key": KEY,
        "backoff_base": 0.01,
        "backoff_cap": 0.05,
        "timeout": 5.0,
    }
    settings.update(overrides)
    return LLMClient(**settings)


GOOD = {"is_valid": True, "confidence": 0.8, "reason": "ok"}


# ----------------------------------------------------------------------------- structured


async def test_structured_uses_strict_json_schema_first(fake_llm: FakeOpenAI) -> None:
    llm = client(fake_llm)
    result = await llm.acall_structured("judge", "run", Verdict)
    assert result.is_valid and result.confidence == 0.9
    response_format = fake_llm.requests[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Verdict"
    assert response_format["json_schema"]["strict"] is True
    await llm.aclose()


async def test_ladder_falls_back_and_remembers_the_rung(fake_llm: FakeOpenAI) -> None:
    fake_llm.rejected_formats = {"json_schema"}
    llm = client(fake_llm)
    assert (await llm.acall_structured("judge", "run", Verdict)).is_valid
    assert [r.response_format_type for r in fake_llm.requests] == [
        "json_schema",
        "json_object_schema",
    ]
    assert llm.structured_rung == JSON_OBJECT_SCHEMA
    # The schema travels beside json_object (for servers that enforce it) and in the prompt.
    assert fake_llm.requests[1].body["response_format"]["schema"]["title"] == "Verdict"
    assert "JSON schema name: Verdict" in fake_llm.requests[1].system_prompt

    await llm.acall_structured("judge", "run again", Verdict)
    assert [r.response_format_type for r in fake_llm.requests][2:] == ["json_object_schema"]
    await llm.aclose()


async def test_ladder_reaches_plain_text_with_json_extraction(fake_llm: FakeOpenAI) -> None:
    fake_llm.rejected_formats = {"json_schema", "json_object_schema", "json_object"}
    fake_llm.on_schema(
        "Verdict",
        lambda request: (
            'Sure! Here it is:\n```json\n{"is_valid": false, "confidence": 0.4, '
            '"reason": "judged"}\n```\nAnything else?'
        ),
    )
    llm = client(fake_llm)
    result = await llm.acall_structured("judge", "run", Verdict)
    assert (result.is_valid, result.confidence, result.reason) == (False, 0.4, "judged")
    assert llm.structured_rung == TEXT
    assert "response_format" not in fake_llm.requests[-1].body
    await llm.aclose()


async def test_scripted_reject_applies_only_to_json_schema(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.reject_response_format()])
    llm = client(fake_llm)
    await llm.acall_structured("judge", "run", Verdict)
    assert llm.structured_rung == JSON_OBJECT_SCHEMA
    await llm.aclose()


async def test_repair_retry_fixes_a_bad_reply(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.schema_violation(), GOOD])
    llm = client(fake_llm)
    result = await llm.acall_structured("judge", "run", Verdict)
    assert result.reason == "ok"
    assert len(fake_llm.requests) == 2
    repair = fake_llm.requests[1]
    assert repair.is_repair
    assert repair.user_prompt == "run"
    assert repair.repair_prompt is not None
    assert "not a valid Verdict" in repair.repair_prompt and "is_valid" in repair.repair_prompt
    await llm.aclose()


async def test_second_bad_reply_raises_response_error(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.broken_json(), {"is_valid": "maybe", "confidence": 7}])
    llm = client(fake_llm)
    with pytest.raises(LLMResponseError, match="after a repair retry"):
        await llm.acall_structured("judge", "run", Verdict)
    assert len(fake_llm.requests) == 2
    await llm.aclose()


async def test_constraints_dropped_for_strict_mode_are_still_validated(
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.script([{"is_valid": True, "confidence": 1.5, "reason": "x"}, GOOD])
    llm = client(fake_llm)
    assert (await llm.acall_structured("judge", "run", Verdict)).confidence == 0.8
    assert "confidence" in (fake_llm.requests[1].repair_prompt or "")
    await llm.aclose()


def test_strict_schema_closes_every_object() -> None:
    schema, strict = strict_json_schema(Verdict.model_json_schema())
    assert strict
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(Verdict.model_fields)
    detail = schema["$defs"]["Detail"]
    assert detail["additionalProperties"] is False and detail["required"] == ["label", "score"]
    assert "minimum" not in str(schema) and "default" not in str(schema)


def test_free_form_mapping_cannot_be_strict() -> None:
    class Loose(BaseModel):
        data: dict[str, Any]

    assert strict_json_schema(Loose.model_json_schema())[1] is False


# ----------------------------------------------------------------------------- retries


async def test_429_waits_at_least_retry_after(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.status(429, retry_after=1.0)])
    llm = client(fake_llm)
    started = time.monotonic()
    assert await llm.acall("s", "u") == "fake reply"
    assert time.monotonic() - started >= 1.0  # a lower bound: never sooner than asked
    assert llm.usage.for_model("gpt-4o-mini").retries == 1
    await llm.aclose()


async def test_retry_after_ms_is_honoured(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.status(429, retry_after_ms=400)])
    llm = client(fake_llm)
    started = time.monotonic()
    await llm.acall("s", "u")
    assert time.monotonic() - started >= 0.4
    await llm.aclose()


async def test_retry_after_beyond_the_cap_gives_up_at_once(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.status(429, retry_after=600)])
    llm = client(fake_llm, max_retry_after=30)
    with pytest.raises(LLMTransientError, match="wait 600s"):
        await llm.acall("s", "u")
    assert len(fake_llm.requests) == 1
    await llm.aclose()


async def test_5xx_and_broken_bodies_are_retried(fake_llm: FakeOpenAI) -> None:
    fake_llm.script(
        [Fault.status(500), Fault.status(503), Fault.truncated_body(), Fault.non_json_body()]
    )
    llm = client(fake_llm)
    assert await llm.acall("s", "u") == "fake reply"
    assert len(fake_llm.requests) == 5
    usage = llm.usage.for_model("gpt-4o-mini")
    assert (usage.requests, usage.retries) == (1, 4)
    await llm.aclose()


async def test_a_local_endpoint_that_times_out_is_not_asked_again(fake_llm: FakeOpenAI) -> None:
    # A server on this machine goes on generating the abandoned request: a retry would queue
    # behind it. So one timeout ends the call, and says how to wait longer.
    fake_llm.script([Fault.delay(600.0)] * 3)
    llm = client(fake_llm, timeout=0.3, max_retries=2)
    assert llm.local
    with pytest.raises(LLMTransientError, match=r"no reply within 0\.3s; not retried.*timeout"):
        await llm.acall("s", "u")
    assert len(fake_llm.requests) == 1
    assert llm.usage.for_model("gpt-4o-mini").failures == 1
    await llm.aclose()


def test_the_default_timeout_fits_the_endpoint() -> None:
    assert LLMClient(base_url="http://127.0.0.1:8080/v1").timeout == 600.0
    assert LLMClient(base_url="http://ollama:11434/v1").timeout == 600.0
    assert LLMClient(api_key=KEY).timeout == 60.0
    assert LLMClient(base_url="https://api.example.com/v1", api_key=KEY, timeout=7).timeout == 7


async def test_timeouts_exhaust_retries_into_a_transient_error(fake_llm: FakeOpenAI) -> None:
    # Each reply would take 10 minutes: the call can only end because every attempt timed out.
    fake_llm.script([Fault.delay(600.0)] * 3)
    llm = client(fake_llm, timeout=0.3, max_retries=2)
    llm.local = False  # as a hosted API, which drops a request its client abandoned
    with pytest.raises(LLMTransientError, match=r"no reply within 0\.3s; gave up after 3"):
        await llm.acall("s", "u")
    assert len(fake_llm.requests) == 3
    await llm.aclose()


async def test_429_without_retry_after_exhausts_retries(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.status(429)] * 3)
    llm = client(fake_llm, max_retries=2)
    with pytest.raises(LLMTransientError, match="HTTP 429"):
        await llm.acall("s", "u")
    assert len(fake_llm.requests) == 3
    await llm.aclose()


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_auth_and_missing_model_are_fatal_without_retries(
    fake_llm: FakeOpenAI, status: int
) -> None:
    fake_llm.script([Fault.status(status, message=f"Incorrect API key provided: {KEY}")])
    llm = client(fake_llm)
    with pytest.raises(LLMFatalError) as raised:
        await llm.acall_structured("s", "u", Verdict)
    assert len(fake_llm.requests) == 1
    assert KEY not in str(raised.value) and f"HTTP {status}" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    await llm.aclose()


async def test_unknown_model_is_fatal(fake_llm: FakeOpenAI) -> None:
    fake_llm.known_models = {"gpt-4o-mini"}
    llm = client(fake_llm, model="no-such-model")
    with pytest.raises(LLMFatalError, match="no-such-model"):
        await llm.acall("s", "u")
    await llm.aclose()


async def test_other_400_is_this_requests_fault_not_a_ladder_step(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.status(400, message="messages[1].content: invalid characters")])
    llm = client(fake_llm)
    with pytest.raises(LLMRequestError, match="invalid characters") as raised:
        await llm.acall_structured("s", "u", Verdict)
    assert raised.value.code == "bad_request"
    assert llm.structured_rung == JSON_SCHEMA
    assert len(fake_llm.requests) == 1  # never retried: the same request would fail again
    await llm.aclose()


# ------------------------------------------------------------ whose fault: the error classes


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        (Fault.context_length_exceeded(), LLMRequestError, "context_length_exceeded"),
        (Fault.content_filter(), LLMRequestError, "content_filter"),
        (Fault.insufficient_quota(), LLMQuotaError, None),
        (Fault.status(401), LLMFatalError, None),
        (Fault.status(403), LLMFatalError, None),
        (Fault.status(404), LLMFatalError, None),
    ],
    ids=["context-length", "content-filter", "quota", "401", "403", "404"],
)
async def test_refusals_are_classified_by_whose_fault_they_are(
    fake_llm: FakeOpenAI, fault: Fault, error: type[Exception], code: str | None
) -> None:
    fake_llm.script([fault, fault])
    llm = client(fake_llm)
    with pytest.raises(error) as raised:
        await llm.acall_structured("s", "u", Verdict)
    if code is not None:
        assert getattr(raised.value, "code", None) == code
    # Nothing is retried, and the endpoint's own words are kept (redacted).
    assert len(fake_llm.requests) == 1
    assert str(raised.value).startswith(f"gpt-4o-mini: HTTP {fault.status_code} ")
    assert len(str(raised.value).split(": ", 2)[2]) > 10
    assert llm.usage.for_model("gpt-4o-mini").failures == 1
    await llm.aclose()


async def test_a_rate_limit_is_transient_but_an_empty_quota_is_not(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.status(429), Fault.insufficient_quota()])
    llm = client(fake_llm)
    with pytest.raises(LLMQuotaError, match="exceeded your current quota"):
        await llm.acall("s", "u")
    assert len(fake_llm.requests) == 2  # the rate limit was retried, the quota error was not
    await llm.aclose()


async def test_the_server_error_text_is_kept_in_a_transient_error(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.status(503)] * 2)
    llm = client(fake_llm, max_retries=1)
    with pytest.raises(LLMTransientError, match="engine is currently overloaded"):
        await llm.acall("s", "u")
    assert llm.usage.for_model("gpt-4o-mini").failures == 1
    await llm.aclose()


async def test_a_reply_cut_off_at_max_tokens_is_not_repaired(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.length_cutoff()])
    llm = client(fake_llm)
    with pytest.raises(LLMResponseError, match="cut off at max_tokens=1024"):
        await llm.acall_structured("s", "u", Verdict)
    assert len(fake_llm.requests) == 1  # a repair would be cut off at the same limit
    await llm.aclose()


async def test_a_refusal_is_an_unusable_reply_not_retried(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.refusal()])
    llm = client(fake_llm)
    with pytest.raises(LLMResponseError, match="the model refused: I'm sorry"):
        await llm.acall_structured("s", "u", Verdict)
    assert len(fake_llm.requests) == 1
    await llm.aclose()


async def test_a_context_window_too_small_for_the_request(fake_llm: FakeOpenAI) -> None:
    fake_llm.context_limit = 600  # tokens, prompt plus max_tokens
    llm = client(fake_llm, max_tokens=256)
    assert await llm.acall("s", "short") == "fake reply"
    with pytest.raises(LLMRequestError, match="maximum context length is 600") as raised:
        await llm.acall("s", "x" * 4000)
    assert raised.value.code == "context_length_exceeded"
    await llm.aclose()


async def test_a_500_that_names_response_format_steps_down_the_ladder(
    fake_llm: FakeOpenAI,
) -> None:
    # llama-cpp-python's server answers json_schema with a 500 naming the field.
    fake_llm.rejected_formats = {"json_schema"}
    fake_llm.format_rejection_status = 500
    llm = client(fake_llm)
    verdict = await llm.acall_structured("s", "u", Verdict)
    assert verdict.is_valid
    assert llm.structured_rung == JSON_OBJECT_SCHEMA
    assert [r.response_format_type for r in fake_llm.requests] == [
        "json_schema",
        "json_object_schema",
    ]
    usage = llm.usage.for_model("gpt-4o-mini")
    assert usage.failures == 0  # learning a rung is no failure...
    assert (usage.format_refusals, usage.structured_output) == (1, JSON_OBJECT_SCHEMA)
    await llm.aclose()


async def test_the_fake_refuses_a_strict_schema_openai_would_refuse(
    fake_llm: FakeOpenAI,
) -> None:
    # The client's strict conversion is what keeps real OpenAI from answering 400 ...
    llm = client(fake_llm)
    await llm.acall_structured("s", "u", Verdict)
    assert fake_llm.requests[-1].body["response_format"]["json_schema"]["strict"] is True
    await llm.aclose()
    # ... and pydantic's own schema, sent strict, is refused like OpenAI refuses it.
    async with aiohttp.ClientSession() as http:
        reply = await http.post(
            f"{fake_llm.base_url}/chat/completions",
            json={
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "u"}],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "V",
                        "strict": True,
                        "schema": Verdict.model_json_schema(),
                    },
                },
            },
        )
        body = await reply.json()
    assert reply.status == 400
    assert "'additionalProperties' is required" in body["error"]["message"]
    assert body["error"]["type"] == "invalid_request_error"


async def test_check_finds_a_bad_key_before_any_work(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.status(401)])
    llm = client(fake_llm)
    with pytest.raises(LLMFatalError, match="invalid_api_key"):
        await llm.acheck()
    fake_llm.script([Fault.status(400, message="temperature: unsupported value")])
    with pytest.raises(LLMFatalError, match="refuses even a minimal request"):
        await llm.acheck()
    await llm.acheck()  # a working endpoint passes
    assert fake_llm.requests[-1].body["max_tokens"] == 1
    await llm.aclose()


# ----------------------------------------------------------------------------- cache, usage


async def test_cache_hit_sends_nothing_and_costs_nothing(
    fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    llm = client(fake_llm, cache_dir=str(tmp_path))
    first = await llm.acall_structured("judge", "run", Verdict, temperature=0.7)
    cost = llm.usage.total_cost_usd
    assert cost > 0
    second = await llm.acall_structured("judge", "run", Verdict, temperature=0.7)
    assert first == second
    assert len(fake_llm.requests) == 1
    usage = llm.usage.for_model("gpt-4o-mini")
    assert (usage.requests, usage.cache_hits) == (1, 1)
    assert llm.usage.total_cost_usd == cost
    # A different temperature is a different key.
    await llm.acall_structured("judge", "run", Verdict, temperature=0.3)
    assert len(fake_llm.requests) == 2
    await llm.aclose()

    # The cache is on disk: a new client (another process, a replay) hits it too.
    replay = client(fake_llm, cache_dir=str(tmp_path))
    assert await replay.acall_structured("judge", "run", Verdict, temperature=0.7) == first
    assert len(fake_llm.requests) == 2
    await replay.aclose()


async def test_cache_replays_a_failed_reply_as_the_same_failure(
    fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    # A replay of the same runs walks the same path for free, failures included.
    fake_llm.script([Fault.broken_json(), Fault.broken_json()])
    llm = client(fake_llm, cache_dir=str(tmp_path))
    with pytest.raises(LLMResponseError):
        await llm.acall_structured("judge", "run", Verdict)
    assert len(fake_llm.requests) == 2
    with pytest.raises(LLMResponseError):
        await llm.acall_structured("judge", "run", Verdict)
    assert len(fake_llm.requests) == 2
    # The repaired path was stored whole, so its replay is free.
    fake_llm.script([Fault.schema_violation()])
    await llm.acall_structured("judge", "other", Verdict)
    sent = len(fake_llm.requests)
    await llm.acall_structured("judge", "other", Verdict)
    assert len(fake_llm.requests) == sent
    await llm.aclose()


async def test_usage_and_cost_arithmetic(fake_llm: FakeOpenAI) -> None:
    seen: list[tuple[str, int, int, float, bool, float]] = []
    tracker = UsageTracker(on_request=lambda *event: seen.append(event))
    prices = {"priced": (2.0, 8.0)}
    main = client(fake_llm, model="priced", prices=prices, usage=tracker)
    judge = client(fake_llm, model="free-local", prices=prices, usage=tracker)
    await main.acall("s" * 400, "u" * 400)
    await main.acall("s", "u")
    await judge.acall("s", "u")

    request = fake_llm.requests[0]
    prompt_tokens = math.ceil(800 / 4)
    assert sum(len(m["content"]) for m in request.messages) == 800
    completion_tokens = math.ceil(len("fake reply") / 4)
    snapshot = tracker.snapshot()
    assert snapshot["priced"]["requests"] == 2
    assert snapshot["priced"]["prompt_tokens"] == prompt_tokens + 1
    assert snapshot["priced"]["completion_tokens"] == 2 * completion_tokens
    expected = ((prompt_tokens + 1) * 2.0 + 2 * completion_tokens * 8.0) / 1_000_000
    assert snapshot["priced"]["cost_usd"] == pytest.approx(expected)
    assert snapshot["free-local"]["cost_usd"] == 0.0
    assert tracker.total_requests == 3
    model, prompt, completion, cost, cached, seconds = seen[0]
    assert (model, prompt, completion, cached) == (
        "priced",
        prompt_tokens,
        completion_tokens,
        False,
    )
    assert cost == pytest.approx((prompt_tokens * 2.0 + completion_tokens * 8.0) / 1_000_000)
    assert seconds > 0
    await main.aclose()
    await judge.aclose()


def test_dated_model_names_use_the_base_price() -> None:
    table = PriceTable()
    assert table.price("gpt-4o-mini-2024-07-18") == (0.15, 0.60)
    assert table.price("gpt-4o-2024-08-06") == (2.50, 10.00)
    assert table.cost("qwen2.5-72b", 1000, 1000) == 0.0


async def test_temperature_zero_is_sent_as_zero(fake_llm: FakeOpenAI) -> None:
    llm = client(fake_llm, temperature=0.3)
    await llm.acall("s", "u", temperature=0.0, max_tokens=77)
    assert fake_llm.requests[0].temperature == 0.0
    assert fake_llm.requests[0].body["max_tokens"] == 77
    await llm.aclose()


# ----------------------------------------------------------------------------- concurrency


async def test_concurrency_is_bounded_at_the_server(fake_llm: FakeOpenAI) -> None:
    fake_llm.latency = 0.15
    llm = client(fake_llm, max_concurrency=3)
    results = await asyncio.gather(*(llm.acall("s", f"u{i}") for i in range(12)))
    assert len(results) == 12
    assert fake_llm.max_in_flight == 3
    await llm.aclose()


def test_sync_wrappers_work_in_fresh_event_loops(fake_llm: FakeOpenAI) -> None:
    llm = client(fake_llm)
    assert llm.call("s", "u") == "fake reply"
    assert llm.call("s", "u") == "fake reply"
    assert llm.call_structured("s", "u", Verdict).is_valid
    assert llm.call_structured("s", "u", Verdict).is_valid
    assert len(fake_llm.requests) == 4


async def test_sync_wrapper_inside_a_loop_says_what_to_do(fake_llm: FakeOpenAI) -> None:
    llm = client(fake_llm)
    with pytest.raises(RuntimeError, match="await"):
        llm.call("s", "u")


async def test_async_client_keeps_the_reference_names(fake_llm: FakeOpenAI) -> None:
    llm = AsyncLLMClient(base_url=fake_llm.base_url, api_key=KEY)
    assert await llm.call("s", "u") == "fake reply"
    assert (await llm.call_structured("s", "u", Verdict)).is_valid
    await llm.aclose()


# ----------------------------------------------------------------------------- keys


async def test_key_never_reaches_the_logs(
    fake_llm: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_llm.script([Fault.status(500), Fault.status(429, retry_after=0.05)])
    llm = client(fake_llm)
    await llm.acall("s", "u")
    fake_llm.script([Fault.status(401, message=f"bad key {KEY}")])
    with pytest.raises(LLMFatalError):
        await llm.acall("s", "u")
    await llm.aclose()
    assert fake_llm.requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert caplog.records, "DEBUG logging should have captured the SDK's request logs"
    assert KEY not in caplog.text
    assert KEY not in repr(llm)


async def test_key_from_env_and_file(
    fake_llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    secret_file = tmp_path / "key"
    secret_file.write_text("sk-from-file\n")
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(secret_file))
    llm = LLMClient(base_url=fake_llm.base_url)
    await llm.acall("s", "u")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    other = LLMClient(base_url=fake_llm.base_url)
    await other.acall("s", "u")
    auth = [r.headers["Authorization"] for r in fake_llm.requests]
    assert auth == ["Bearer sk-from-file", "Bearer sk-from-env"]
    await llm.aclose()
    await other.aclose()


async def test_local_endpoint_needs_no_key(
    fake_llm: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY_FILE", raising=False)
    llm = LLMClient(base_url=fake_llm.base_url)
    await llm.acall("s", "u")
    assert fake_llm.requests[0].headers["Authorization"] == f"Bearer {LOCAL_API_KEY}"
    await llm.aclose()


async def test_remote_endpoint_without_key_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY_FILE", raising=False)
    llm = LLMClient(base_url="https://api.example.com/v1")
    with pytest.raises(LLMFatalError, match="OPENAI_API_KEY"):
        await llm.acall("s", "u")


async def test_a_bare_500_to_every_structured_request_is_learned_as_a_refusal(
    fake_llm: FakeOpenAI,
) -> None:
    # A server whose refusal says nothing ("Internal Server Error"): after the second 5xx the
    # same messages go without response_format; their answer shows the format is the problem.
    fake_llm.rejected_formats = {"json_schema"}
    fake_llm.format_rejection_status = 500
    fake_llm.format_rejection_opaque = True
    llm = client(fake_llm, max_retries=4)
    assert (await llm.acall_structured("s", "u", Verdict)).is_valid
    assert [r.response_format_type for r in fake_llm.requests] == [
        "json_schema",
        "json_schema",
        None,  # the probe: the same messages, one token
        "json_object_schema",
    ]
    assert fake_llm.requests[2].body["max_tokens"] == 1
    assert fake_llm.requests[2].body["messages"] == fake_llm.requests[0].body["messages"]
    assert llm.structured_rung == JSON_OBJECT_SCHEMA
    await llm.aclose()


async def test_a_500_this_content_causes_is_not_taken_for_a_refused_format(
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.fail_matching("poison", Fault.status(500))
    llm = client(fake_llm, max_retries=2)
    with pytest.raises(LLMTransientError, match="gave up after 3"):
        await llm.acall_structured("s", "poison", Verdict)
    assert llm.structured_rung == JSON_SCHEMA  # the probe failed too: the server is failing
    await llm.aclose()


async def test_a_pinned_rung_is_used_as_is_and_its_refusal_is_fatal(fake_llm: FakeOpenAI) -> None:
    llm = client(fake_llm, structured_output="json_object")
    assert (await llm.acall_structured("s", "u", Verdict)).is_valid
    assert fake_llm.requests[0].response_format_type == "json_object"
    await llm.aclose()

    fake_llm.rejected_formats = {"json_schema"}
    pinned = client(fake_llm, structured_output="json_schema")
    with pytest.raises(LLMFatalError, match="refuses structured_output=json_schema"):
        await pinned.acall_structured("s", "u", Verdict)
    await pinned.aclose()
    with pytest.raises(ValueError, match="structured_output must be one of"):
        client(fake_llm, structured_output="xml")


async def test_the_learned_rung_is_kept_for_the_next_process(
    fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    fake_llm.rejected_formats = {"json_schema"}
    first = client(fake_llm, cache_dir=str(tmp_path))
    await first.acall_structured("s", "u", Verdict)
    await first.aclose()
    refused = len(fake_llm.requests)

    later = client(fake_llm, cache_dir=str(tmp_path))
    assert later.structured_rung == JSON_OBJECT_SCHEMA
    await later.acall_structured("s", "another run", Verdict)
    assert [r.response_format_type for r in fake_llm.requests[refused:]] == ["json_object_schema"]
    # Another model behind the same URL learns its own rung.
    assert client(fake_llm, cache_dir=str(tmp_path), model="other").structured_rung == JSON_SCHEMA
    await later.aclose()


async def test_a_refused_strict_schema_is_sent_again_non_strict_on_the_same_rung(
    fake_llm: FakeOpenAI,
) -> None:
    # OpenAI's 400 for a schema strict mode cannot take names response_format, but the
    # endpoint does take json_schema: stepping down would lose schema enforcement.
    refusal = "Invalid schema for response_format 'Verdict': In context=(), 'x' is not permitted."
    fake_llm.script([Fault.status(400, message=refusal)])
    llm = client(fake_llm)
    assert (await llm.acall_structured("s", "u", Verdict)).is_valid
    sent = [r.body["response_format"]["json_schema"]["strict"] for r in fake_llm.requests]
    assert sent == [True, False]
    assert llm.structured_rung == JSON_SCHEMA
    await llm.acall_structured("s", "again", Verdict)
    assert fake_llm.requests[-1].body["response_format"]["json_schema"]["strict"] is False
    await llm.aclose()


async def test_concurrent_first_calls_learn_the_rung_with_one_refused_request(
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.rejected_formats = {"json_schema"}
    fake_llm.format_rejection_status = 500
    llm = client(fake_llm)
    results = await asyncio.gather(
        *(llm.acall_structured("s", f"run {n}", Verdict) for n in range(8))
    )
    assert all(result.is_valid for result in results)
    kinds = [r.response_format_type for r in fake_llm.requests]
    assert kinds.count("json_schema") == 1 and kinds.count("json_object_schema") == 8
    assert llm.usage.for_model("gpt-4o-mini").format_refusals == 1
    await llm.aclose()
