"""The fake endpoint itself, over raw HTTP, so LLM-client tests can trust it."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import urllib.error
import urllib.request
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from tests.support.fake_openai import FakeOpenAI, FakeRequest, Fault, synthesise

ROOT = Path(__file__).resolve().parents[1]


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Part(BaseModel):
    name: str = Field(min_length=10)
    count: int = Field(ge=3)


class Reply(BaseModel):
    confidence: float = Field(ge=0, le=1)
    ok: bool
    color: Color
    parts: list[Part]
    tags: list[str] = Field(min_length=2)
    note: str | None


def _post(fake: FakeOpenAI, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{fake.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer t"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def _body(
    system: str = "s", user: str = "u", response_format: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
    }
    if response_format is not None:
        body["response_format"] = response_format
    return body


def _schema_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}


def _content(reply: dict[str, Any]) -> str:
    return str(reply["choices"][0]["message"]["content"])


def test_synthesised_instance_validates() -> None:
    instance = synthesise(Reply.model_json_schema())
    parsed = Reply.model_validate(instance)
    assert parsed.confidence == 0.9 and parsed.ok and parsed.color is Color.RED
    assert len(parsed.parts) == 1 and len(parsed.tags) == 2 and parsed.note


def test_completion_shape_and_usage(fake_llm: FakeOpenAI) -> None:
    status, reply = _post(fake_llm, _body(system="x" * 40, user="y" * 40))
    assert status == 200
    assert reply["object"] == "chat.completion"
    assert reply["choices"][0]["message"]["role"] == "assistant"
    assert reply["usage"]["prompt_tokens"] == 20
    assert reply["usage"]["completion_tokens"] == -(-len(_content(reply)) // 4)


def test_models_endpoint(fake_llm: FakeOpenAI) -> None:
    with urllib.request.urlopen(f"{fake_llm.base_url}/models", timeout=10) as response:
        models = json.loads(response.read())
    assert "gpt-4o-mini" in [m["id"] for m in models["data"]]


def test_default_reply_follows_the_sent_schema(fake_llm: FakeOpenAI) -> None:
    _, reply = _post(
        fake_llm, _body(response_format=_schema_format("Reply", Reply.model_json_schema()))
    )
    assert Reply.model_validate_json(_content(reply)).ok


def test_handlers_route_by_schema_name_or_prompt_marker(fake_llm: FakeOpenAI) -> None:
    seen: list[FakeRequest] = []

    def handler(request: FakeRequest) -> dict[str, Any]:
        seen.append(request)
        return {"routed": request.response_format_type}

    fake_llm.on_schema("Verdict", handler)
    _, by_format = _post(fake_llm, _body(response_format=_schema_format("Verdict", {})))
    marker = 'Reply in JSON.\nJSON schema name: Verdict\nJSON schema: {"type":"object"}'
    _, by_marker = _post(fake_llm, _body(system=marker, response_format={"type": "json_object"}))
    assert json.loads(_content(by_format)) == {"routed": "json_schema"}
    assert json.loads(_content(by_marker)) == {"routed": "json_object"}
    assert seen[1].schema == {"type": "object"} and seen[1].schema_name == "Verdict"


def test_script_comes_before_handlers_and_reset_clears(fake_llm: FakeOpenAI) -> None:
    fake_llm.on_schema("Verdict", lambda request: "from handler")
    fake_llm.script(["first", {"second": 2}])
    rf = _schema_format("Verdict", {})
    replies = [_content(_post(fake_llm, _body(response_format=rf))[1]) for _ in range(3)]
    assert replies == ["first", '{"second": 2}', "from handler"]
    fake_llm.reset()
    assert fake_llm.requests == []
    assert _content(_post(fake_llm, _body())[1]) == "fake reply"


def test_status_faults_carry_retry_after(fake_llm: FakeOpenAI) -> None:
    fake_llm.script([Fault.status(429, retry_after=1.5)])
    request = urllib.request.Request(
        f"{fake_llm.base_url}/chat/completions", data=json.dumps(_body()).encode()
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    with raised.value as error:
        assert error.code == 429 and error.headers["retry-after"] == "1.5"


def test_body_faults(fake_llm: FakeOpenAI) -> None:
    schema = _schema_format("Reply", Reply.model_json_schema())
    fake_llm.script([Fault.broken_json(), Fault.schema_violation(), Fault.reject_response_format()])
    _, broken = _post(fake_llm, _body())
    with pytest.raises(ValueError):
        json.loads(_content(broken))
    _, wrong = _post(fake_llm, _body(response_format=schema))
    with pytest.raises(ValueError):
        Reply.model_validate_json(_content(wrong))
    status, rejected = _post(fake_llm, _body(response_format=schema))
    assert status == 400 and "response_format" in rejected["error"]["message"]

    fake_llm.script([Fault.truncated_body()])
    connection = http.client.HTTPConnection("127.0.0.1", fake_llm.port, timeout=10)
    connection.request("POST", "/v1/chat/completions", json.dumps(_body()))
    response = connection.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    response.close()
    connection.close()


def test_fault_rate_is_seeded(fake_llm: FakeOpenAI) -> None:
    def statuses() -> list[int]:
        fake_llm.reset()
        fake_llm.fault_rate = 0.5
        fake_llm.faults = [Fault.status(500), Fault.status(503)]
        return [_post(fake_llm, _body())[0] for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert {200, 500, 503} == set(first)


def test_standalone_server_prints_its_url() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_openai", "--latency", "0.01"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
            with urllib.request.urlopen(f"{url}/models", timeout=10) as response:
                assert response.status == 200
        finally:
            process.terminate()
            process.wait(10)
