"""Secrets: the API key and the SASL password never leave the process in any text we write —
logs at DEBUG, dead letters, rejections, examples, metrics, exception messages — also when the
endpoint echoes the key back in an error body or a reply."""

from __future__ import annotations

import asyncio
import itertools
import secrets as token
import traceback
from typing import Any

import pytest

from agenther.errors import LLMError
from agenther.llm_client import LLMClient
from agenther.models import SecondJudgeVerdict
from agenther.outcome_extractor import OutcomeReport
from tests.support.fake_openai import FakeOpenAI, FakeRequest, Fault
from tests.support.faults import ServiceProcess, record_bytes, secret_leaks, serve_args, unique_runs
from tests.support.kafka_fixtures import collect, produce, wait_for
from tests.support.llm_replies import install_default_replies, outcome_report_reply

API_KEY = "sk-h9-" + token.token_hex(20)
SASL_PASSWORD = "pw-h9-" + token.token_hex(12)


def echoing(request: FakeRequest) -> str:
    """What a careless proxy or model sends back: the caller's credentials."""
    return f"{request.headers.get('Authorization', '')} key={API_KEY} password={SASL_PASSWORD}"


def exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


@pytest.mark.parametrize(
    "reply",
    [
        lambda r: Fault.status(401, message=f"invalid key {echoing(r)}"),
        lambda r: Fault.status(403, message=f"forbidden for {echoing(r)}"),
        lambda r: Fault.status(500, message=f"upstream failed for {echoing(r)}"),
        lambda r: Fault.status(429, retry_after=0.01, message=f"slow down {echoing(r)}"),
        lambda r: f"not json at all {echoing(r)}",
        lambda r: {"is_valid": echoing(r), "confidence": echoing(r)},
    ],
    ids=["401", "403", "500", "429", "non-json-content", "schema-violation"],
)
async def test_llm_errors_never_carry_the_key(fake_llm: FakeOpenAI, reply: Any) -> None:
    fake_llm.on_schema(SecondJudgeVerdict.__name__, reply)
    client = LLMClient(base_url=fake_llm.base_url, api_key=API_KEY, max_retries=1)
    try:
        with pytest.raises(LLMError) as raised:
            await client.acall_structured("system", "user", SecondJudgeVerdict)
    finally:
        await client.aclose()
    assert fake_llm.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"
    text = exception_text(raised.value)
    assert not secret_leaks([API_KEY], {"exception": text}), text
    assert API_KEY not in repr(client)


@pytest.mark.kafka
@pytest.mark.reliability
async def test_service_never_leaks_the_key_or_the_sasl_password(
    kafka_bootstrap: str, service_topics: Any, fake_llm: FakeOpenAI
) -> None:
    install_default_replies(fake_llm)
    calls = itertools.count()
    revoked = asyncio.Event()

    def hostile_stage_two(request: FakeRequest) -> Any:
        n = next(calls)
        if revoked.is_set():
            return Fault.status(401, message=f"key revoked: {echoing(request)}")  # fatal: stops
        return [
            Fault.status(500, message=f"upstream failed for {echoing(request)}"),
            f"here is your key {echoing(request)}",
            {"actual_achievements": echoing(request), "limitations": [echoing(request)]},
            outcome_report_reply(request),
        ][n % 4]

    fake_llm.on_schema(OutcomeReport.__name__, hostile_stage_two)
    topics = await service_topics(partitions=2)
    events = unique_runs("secret", 16)
    await produce(kafka_bootstrap, topics.input, events)
    service = ServiceProcess(
        serve_args(
            topics,
            kafka_bootstrap,
            "--log-level",
            "DEBUG",
            "--base-url",
            fake_llm.base_url,
            "--no-llm-detector",  # Stage 2 alone asks the model: the schema hooked above
            "--transient-retries",
            "1",
            "--retry-backoff-ms",
            "10",
            "--retry-backoff-max-ms",
            "20",
        ),
        env={
            "OPENAI_API_KEY": API_KEY,
            "AGENTHER_SASL_PASSWORD": SASL_PASSWORD,
            "AGENTHER_PIPELINE__MAX_RETRIES": "0",
        },
    )
    try:
        service.start()
        first = await collect(
            kafka_bootstrap,
            [topics.output, topics.rejects, topics.dlq],
            until=len(events),
            timeout_s=40,
        )
        assert len(first) == len(events), service.log_text()[-3000:]
        metrics = service.http_get("/metrics")[1]
        revoked.set()
        await produce(kafka_bootstrap, topics.input, unique_runs("revoked", 1))
        await wait_for(lambda: not service.running, timeout_s=20)
        returncode = service.terminate()
        log = service.log_text()
    finally:
        service.close()
    outputs = await collect(
        kafka_bootstrap, [topics.output, topics.rejects, topics.dlq], until=len(events), timeout_s=5
    )
    # The scenario reached every path: retries, dead letters, the fatal stop.
    assert returncode == 3, log[-3000:]
    assert "fatal LLM error" in log
    assert {r.topic for r in outputs} >= {topics.dlq}, log[-3000:]
    assert "agenther_events_consumed_total" in metrics
    assert "DEBUG" in log
    # The key did go over the wire, and came back in the endpoint's answers.
    assert any(API_KEY in str(r.headers) for r in fake_llm.requests)

    leaks = secret_leaks(
        [API_KEY, SASL_PASSWORD],
        {"log": log, "metrics": metrics, "topics": record_bytes(outputs)},
    )
    assert not leaks, leaks


@pytest.mark.kafka
@pytest.mark.reliability
async def test_sasl_password_stays_out_of_the_log_when_the_connection_fails(
    kafka_bootstrap: str, service_topics: Any
) -> None:
    # Tansu speaks no SASL: the handshake fails, and the service keeps retrying and logging.
    topics = await service_topics(partitions=1)
    service = ServiceProcess(
        serve_args(
            topics,
            kafka_bootstrap,
            "--rule-based",
            "--log-level",
            "DEBUG",
            "--security-protocol",
            "SASL_PLAINTEXT",
            "--sasl-mechanism",
            "PLAIN",
            "--sasl-username",
            "agent",
        ),
        env={"AGENTHER_SASL_PASSWORD": SASL_PASSWORD, "OPENAI_API_KEY": API_KEY},
    )
    try:
        service.start()
        await wait_for(lambda: service.log_text().count("not reachable") >= 2, timeout_s=20)
        ready_status, _ = service.http_get("/readyz")
        _, metrics = service.http_get("/metrics")
        service.terminate()
        log = service.log_text()
    finally:
        service.close()
    assert log.count("not reachable") >= 2, log[-3000:]
    assert ready_status == 503
    assert not secret_leaks([SASL_PASSWORD, API_KEY], {"log": log, "metrics": metrics}), log


async def test_the_llm_reply_cache_never_holds_the_key(fake_llm: FakeOpenAI, tmp_path: Any) -> None:
    """The on-disk reply cache (``pipeline.cache_dir``) is a file tree that outlives the
    process (a volume, a CI artifact): an endpoint that echoes the key back in its replies
    must not get the key written there, in any form, whatever the reply's fate (used, repaired,
    refused as an error)."""
    import contextlib

    from agenther.config import PipelineConfig
    from agenther.pipeline import AgentHERPipeline
    from agenther.prompt_relabeler import HindsightPromptReply
    from streams.events import AgentRunEvent, event_to_trajectory
    from tests.support.llm_replies import hindsight_reply

    install_default_replies(fake_llm)
    calls = itertools.count()

    def echoing_stage_two(request: FakeRequest) -> Any:
        reply = outcome_report_reply(request)
        echoed = {
            **reply,
            "actual_achievements": [echoing(request), *reply["actual_achievements"]],
            "limitations": echoing(request),
        }
        return [
            echoed,  # valid for the schema: used as it is
            f"here is your key {echoing(request)}",  # not JSON: repaired by a second request
            Fault.status(500, message=f"upstream failed for {echoing(request)}"),  # retried
            reply,
        ][next(calls) % 4]

    def echoing_relabeler(request: FakeRequest) -> Any:
        return {**hindsight_reply(request), "rationale": echoing(request)}

    fake_llm.on_schema(OutcomeReport.__name__, echoing_stage_two)
    fake_llm.on_schema(HindsightPromptReply.__name__, echoing_relabeler)
    cache = tmp_path / "cache"
    config = PipelineConfig(
        base_url=fake_llm.base_url,
        api_key=API_KEY,
        cache_dir=str(cache),
        max_retries=1,
        use_llm_detector=False,  # Stage 2 alone asks the model: the schema hooked above
    )
    pipeline = AgentHERPipeline(config)
    try:
        for run in unique_runs("cache", 8):
            trajectory = event_to_trajectory(AgentRunEvent.model_validate(run))
            with contextlib.suppress(Exception):  # a stage may fail: the cache is the point
                await pipeline.arelabel(trajectory)
    finally:
        await pipeline.aclose()

    files = {str(p.relative_to(cache)): p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    # The scenario did what it claims: replies were cached, the key went out with every
    # request, and the endpoint sent it back in replies of every kind.
    assert files
    assert all(r.headers.get("Authorization") == f"Bearer {API_KEY}" for r in fake_llm.requests)
    assert len(fake_llm.requests) >= 8
    leaks = secret_leaks([API_KEY], files)
    assert not leaks, leaks
