"""Pipeline settings.

Field names of the reference's ``PipelineConfig`` are kept; everything new has a default.
API keys are ``SecretStr`` so that no repr, log line or dump of the config shows them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from agenther.models import OutputFormat

PIPELINE_VERSION = "0.2.0"

# USD per 1M tokens (input, output). Override with PipelineConfig.prices.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
}


# The structured-output ladder, best first (see agenther.llm_client); "auto" learns the rung.
STRUCTURED_OUTPUT_RUNGS = ("json_schema", "json_object_schema", "json_object", "text")
StructuredOutput = Literal["auto", "json_schema", "json_object_schema", "json_object", "text"]


class PipelineConfig(BaseModel):
    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: SecretStr | None = None
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)

    # Zero-cost mode: every stage uses its rule-based implementation, no LLM is called.
    rule_based: bool = False
    use_llm_detector: bool = True
    use_llm_extractor: bool = True
    use_llm_relabeler: bool = True
    # With both Stage 1 and Stage 2 on the LLM: one call answers both (see joint_analysis.py).
    joint_analysis: bool = True
    # Off: Algorithm 1 as published. On, with joint analysis and the LLM relabeler: the joint
    # call also writes relabel attempt 1, at ``temperature`` (Stages 1/2 then run at 0.3, not 0).
    fuse_first_attempt: bool = False
    output_format: OutputFormat = OutputFormat.SFT

    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)  # θ
    relabel_max_attempts: int = Field(default=3, ge=1, le=10)  # K
    fallback_factor: float = Field(default=0.8, ge=0.0, le=1.0)  # fallback at c >= 0.8θ
    severity_threshold: float = Field(default=0.3, ge=0.0, le=1.0)  # δ, applied to weight w
    retry_temperature: float = Field(default=0.7, ge=0.0, le=2.0)

    # The second judge may be another model behind another endpoint (paper v4).
    judge_model: str | None = None
    judge_base_url: str | None = None
    judge_api_key: SecretStr | None = None

    max_concurrency: int = Field(default=16, ge=1, le=1024)
    # None: 60 s for a hosted API, 600 s for an endpoint on this machine or network.
    request_timeout: float | None = Field(default=None, gt=0)
    structured_output: StructuredOutput = "auto"
    max_retries: int = Field(default=4, ge=0, le=20)
    observation_token_budget: int = Field(default=1500, ge=64)
    cache_dir: str | None = None
    prices: dict[str, tuple[float, float]] = Field(default_factory=lambda: dict(DEFAULT_PRICES))

    output_dir: str = "outputs"

    @model_validator(mode="after")
    def _rule_based_turns_off_llm(self) -> PipelineConfig:
        if self.rule_based and (
            self.use_llm_detector or self.use_llm_extractor or self.use_llm_relabeler
        ):
            # Assignment re-runs this validator; object.__setattr__ avoids recursion.
            object.__setattr__(self, "use_llm_detector", False)
            object.__setattr__(self, "use_llm_extractor", False)
            object.__setattr__(self, "use_llm_relabeler", False)
        return self

    @property
    def uses_llm(self) -> bool:
        return self.use_llm_detector or self.use_llm_extractor or self.use_llm_relabeler

    @property
    def uses_joint_analysis(self) -> bool:
        """Whether Stages 1 and 2 share one LLM call."""
        return self.joint_analysis and self.use_llm_detector and self.use_llm_extractor

    @property
    def uses_fused_first_attempt(self) -> bool:
        """Whether the joint Stage 1+2 call also writes Stage 3's first relabel attempt."""
        return self.fuse_first_attempt and self.uses_joint_analysis and self.use_llm_relabeler

    def resolved_api_key(self) -> str | None:
        """The key from the config, else from ``OPENAI_API_KEY`` or ``OPENAI_API_KEY_FILE``."""
        return resolve_secret(self.api_key, "OPENAI_API_KEY")

    def resolved_judge_api_key(self) -> str | None:
        return resolve_secret(self.judge_api_key, "AGENTHER_JUDGE_API_KEY") or (
            self.resolved_api_key()
        )

    def fingerprint(self) -> str:
        """A short hash of every setting that changes what an example says.

        Part of each example id, so a replay under the same settings yields the same ids and
        consumers can deduplicate; secrets and throughput knobs are left out on purpose.
        """
        relevant: dict[str, Any] = {
            "version": PIPELINE_VERSION,
            "model": self.model if self.uses_llm else None,
            "judge_model": (self.judge_model or self.model) if self.use_llm_relabeler else None,
            "temperature": self.temperature,
            "detector": self.use_llm_detector,
            "extractor": self.use_llm_extractor,
            "relabeler": self.use_llm_relabeler,
            "theta": self.min_confidence,
            "k": self.relabel_max_attempts,
            "fallback": self.fallback_factor,
            "delta": self.severity_threshold,
            "budget": self.observation_token_budget,
        }
        # Only where it applies, so every other configuration keeps its fingerprint.
        if self.uses_joint_analysis:
            relevant["joint"] = True
        if self.uses_fused_first_attempt:
            relevant["fused_first_attempt"] = True
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> PipelineConfig:
        return cls(**{**_yaml_section(path), **overrides})

    @classmethod
    def from_sources(
        cls,
        yaml_path: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> PipelineConfig:
        """Settings from, later winning: defaults < YAML file < ``AGENTHER_PIPELINE__<FIELD>``
        environment variables < ``overrides`` (the CLI's flags).

        The variable names are the ones ``agenther serve`` reads, so one environment
        configures the batch CLI and the service alike.
        """
        from_file = _yaml_section(yaml_path) if yaml_path is not None else {}
        from_env = env_settings(os.environ if environ is None else environ)
        return cls(**{**from_file, **from_env, **overrides})


ENV_PREFIX = "AGENTHER_PIPELINE__"

# Values pydantic cannot read from a plain string: these variables hold JSON.
_JSON_FIELDS = frozenset({"prices"})


def env_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``PipelineConfig`` fields set by ``AGENTHER_PIPELINE__<FIELD>`` variables (field
    names case-insensitive); an unknown field is an error, as in a YAML file."""
    found: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        field = name[len(ENV_PREFIX) :].lower()
        if field not in PipelineConfig.model_fields:
            raise ValueError(f"{name}: PipelineConfig has no field {field!r}")
        if field in _JSON_FIELDS:
            try:
                found[field] = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{name}: expected JSON ({exc.msg})") from None
        else:
            found[field] = raw
    return found


def _yaml_section(path: str | Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    section = data.get("pipeline", data)
    if not isinstance(section, dict):
        raise ValueError(f"{path}: expected a mapping under 'pipeline:'")
    return section


def resolve_secret(value: SecretStr | None, env_name: str) -> str | None:
    """A secret from the value given, else env ``NAME``, else the file named by ``NAME_FILE``."""
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if os.environ.get(env_name):
        return os.environ[env_name]
    file_name = os.environ.get(f"{env_name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip() or None
    return None
