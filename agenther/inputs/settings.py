"""What a run record looks like on input: one settings model read by ``agenther run``,
``agenther produce`` and ``agenther serve`` (which extends it), env ``AGENTHER_<FIELD>``."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from agenther.config import LayeredSettings
from agenther.inputs import InputFormat
from agenther.inputs.genai_trace import FailurePredicate


class InputSettings(LayeredSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGENTHER_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    input_format: InputFormat = Field(
        default=InputFormat.AUTO,
        description="auto tells agenther runs, OpenAI chat transcripts and OTLP/JSON by shape; "
        "otlp-proto only when named",
    )
    trace_failure: str = Field(
        default="status",
        description="when a trace failed: 'status' (root span ERROR or error.type) or "
        "'ATTRIBUTE=V1|V2' (e.g. gen_ai.evaluation.score.label=fail)",
    )

    @field_validator("trace_failure")
    @classmethod
    def _predicate_parses(cls, value: str) -> str:
        FailurePredicate.parse(value)
        return value

    def failure_predicate(self) -> FailurePredicate:
        return FailurePredicate.parse(self.trace_failure)
