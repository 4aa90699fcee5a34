"""Settings of a process that relabels runs: read by ``agenther run`` and by ``agenther serve``
(whose settings extend these), env ``AGENTHER_<FIELD>``."""

from __future__ import annotations

from pydantic import Field

from agenther.inputs.settings import InputSettings


class RunSettings(InputSettings):
    # Rule mode is pure CPU, one core per process; LLM mode waits on HTTP, which one event loop
    # overlaps (its knob is max_concurrency), so it ignores this.
    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="rule mode: relabel in N worker processes (0 = in this process); "
        "LLM mode ignores it",
    )
