"""Against a real OpenAI-compatible server, when one is given: AGENTHER_TEST_LLM_BASE_URL (and
AGENTHER_TEST_LLM_MODEL). Skipped otherwise; the fake covers the same behaviours in every run.
Run here against llama-cpp-python 0.3.36's server with Qwen2.5-Coder-0.5B-Instruct (see
bench/RESULTS.md for how it was built)."""

from __future__ import annotations

import os

import pytest
from pydantic import BaseModel

from agenther.llm_client import LADDER, LLMClient

BASE_URL = os.environ.get("AGENTHER_TEST_LLM_BASE_URL", "")
MODEL = os.environ.get("AGENTHER_TEST_LLM_MODEL", "local-model")

pytestmark = pytest.mark.skipif(not BASE_URL, reason="no AGENTHER_TEST_LLM_BASE_URL given")


class Capital(BaseModel):
    country: str
    capital: str


async def test_the_endpoint_answers_structured_requests_and_its_rung_is_learned_once() -> None:
    llm = LLMClient(model=MODEL, base_url=BASE_URL, max_tokens=64)
    try:
        await llm.acheck()
        for country in ("France", "Japan"):
            reply = await llm.acall_structured(
                "You answer with JSON only.",
                f"What is the capital of {country}? Fields: country, capital.",
                Capital,
                temperature=0.0,
            )
            assert reply.capital.strip()
        usage = llm.usage.for_model(MODEL)
        assert usage.format_refusals <= 1  # learning the rung costs at most one refusal
        assert usage.structured_output in LADDER
        assert usage.failures == 0
    finally:
        await llm.aclose()
