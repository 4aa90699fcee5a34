"""Pipeline settings, and the one way every agenther setting is read.

Field names of the reference's ``PipelineConfig`` are kept; everything new has a default.
API keys are ``SecretStr`` so that no repr, log line or dump of the config shows them.
``LayeredSettings`` is the precedence both the batch CLI and the service use: defaults < YAML
file < environment < flags (the keyword arguments); ``streams.settings`` builds on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

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


# The rule relabeler's strategies (see agenther.rules.decide). By default those that edit the
# user's own request (restate what was really found, cut what the run did not do); on first
# scores of unseen hand-labelled sets they held up under a person's read far better than
# ``tool_work``, which words the agent's log as a request and is opt-in (bench/RESULTS.md).
RuleStrategy = Literal[
    "actual_result", "drop_constraint", "drop_action", "drop_detail", "drop_entity", "tool_work"
]
RULE_STRATEGIES: tuple[RuleStrategy, ...] = typing.get_args(RuleStrategy)
DEFAULT_RULE_STRATEGIES: tuple[RuleStrategy, ...] = tuple(
    s for s in RULE_STRATEGIES if s != "tool_work"
)

ENV_PREFIX = "AGENTHER_PIPELINE__"

# The YAML file being read by ``LayeredSettings.load``, with the class it is for: a settings
# source, not an argument, because pydantic-settings builds its sources from the class alone
# (and builds nested settings models, which must not take the outer file's top level).
_YAML_VALUES: ContextVar[tuple[type, dict[str, Any]] | None] = ContextVar(
    "agenther_yaml", default=None
)


class LayeredSettings(BaseSettings):
    """Settings read, later winning, from: defaults < YAML file < environment < keyword
    arguments (the command's flags). No ``.env`` file is read, on purpose."""

    # The top-level key under which this model's fields sit in a YAML file, if any.
    yaml_section: ClassVar[str | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, _NoUnknownPipelineVariables(settings_cls), env_settings]
        from_file = _YAML_VALUES.get()
        if from_file is not None and from_file[0] is settings_cls:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=from_file[1]))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> Self:
        """Settings from every source; ``overrides`` are the flags that were given."""
        values = cls._yaml_values(config_file)
        with _reading_yaml(None if values is None else (cls, values)):
            try:
                return cls(**overrides)
            except SettingsError as exc:
                # Its text names the field and the source, not what the value should be.
                raise ValueError(
                    f"{exc}: a mapping or list setting's variable holds JSON"
                ) from None

    @classmethod
    def _yaml_values(cls, config_file: str | Path | None) -> dict[str, Any] | None:
        if config_file is None:
            return None
        path = Path(config_file)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        import yaml

        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        if cls.yaml_section is None:
            return data
        # A file of only this model's fields, or one whose section holds them.
        section = data.get(cls.yaml_section, data)
        if not isinstance(section, dict):
            raise ValueError(f"{path}: expected a mapping under '{cls.yaml_section}:'")
        return section


@contextmanager
def _reading_yaml(values: tuple[type, dict[str, Any]] | None) -> Iterator[None]:
    token = _YAML_VALUES.set(values)
    try:
        yield
    finally:
        _YAML_VALUES.reset(token)


class _NoUnknownPipelineVariables(PydanticBaseSettingsSource):
    """A misspelt ``AGENTHER_PIPELINE__`` variable is an error, not silently ignored (as a
    misspelt YAML key is). Contributes no values itself."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        for name in os.environ:
            if name.upper().startswith(ENV_PREFIX):
                field = name[len(ENV_PREFIX) :].lower()
                if field not in PipelineConfig.model_fields:
                    raise ValueError(f"{name}: PipelineConfig has no field {field!r}")
        return {}


class PipelineConfig(LayeredSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, validate_assignment=True, extra="forbid", validate_default=True
    )
    yaml_section: ClassVar[str | None] = "pipeline"

    model: str = Field(default="gpt-4o-mini", description="LLM model name")
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint; none: OpenAI's"
    )
    api_key: SecretStr | None = None
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)

    # Zero-cost mode: every stage uses its rule-based implementation, no LLM is called.
    rule_based: bool = Field(default=False, description="zero-cost mode: no LLM calls")
    use_llm_detector: bool = Field(
        default=True, description="Stage 1 by the model, as in the paper"
    )
    use_llm_extractor: bool = True
    use_llm_relabeler: bool = True
    # With both Stage 1 and Stage 2 on the LLM: one call answers both (see joint_analysis.py).
    joint_analysis: bool = True
    # Off: Algorithm 1 as published. On, with joint analysis and the LLM relabeler: the joint
    # call also writes relabel attempt 1, at ``temperature`` (Stages 1/2 then run at 0.3, not 0).
    fuse_first_attempt: bool = Field(
        default=False,
        description="the joint Stage 1+2 call also writes relabel attempt 1 (2 calls per "
        "example, not 3; Stages 1/2 then run at the attempt's temperature)",
    )
    output_format: OutputFormat = Field(default=OutputFormat.SFT, description="trainer format")

    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0, description="acceptance threshold θ")
    relabel_max_attempts: int = Field(default=3, ge=1, le=10, description="relabel attempts K")
    fallback_factor: float = Field(default=0.8, ge=0.0, le=1.0)  # fallback at c >= 0.8θ
    severity_threshold: float = Field(default=0.3, ge=0.0, le=1.0)  # δ, applied to weight w
    retry_temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    rule_strategies: tuple[RuleStrategy, ...] = Field(
        default=DEFAULT_RULE_STRATEGIES,
        min_length=1,
        description="rule relabeler's strategies, tried in their fixed order",
    )

    # The second judge may be another model behind another endpoint (paper v4).
    judge_model: str | None = Field(default=None, description="second judge's model; none: --model")
    judge_base_url: str | None = Field(
        default=None, description="second judge's endpoint; none: --base-url"
    )
    judge_api_key: SecretStr | None = None

    max_concurrency: int = Field(default=16, ge=1, le=1024, description="runs in flight")
    request_timeout: float | None = Field(
        default=None,
        gt=0,
        description="seconds to wait for one LLM reply; none: 60, or 600 for a local "
        "endpoint, whose timed-out request is not retried",
    )
    structured_output: StructuredOutput = Field(
        default="auto",
        description="how JSON replies are asked for: auto learns it from the endpoint",
    )
    max_retries: int = Field(default=4, ge=0, le=20)
    observation_token_budget: int = Field(default=1500, ge=64)
    cache_dir: str | None = Field(
        default=None, description="cache LLM replies here (re-runs cost nothing)"
    )
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
        if not self.use_llm_relabeler and set(self.rule_strategies) != set(DEFAULT_RULE_STRATEGIES):
            relevant["rule_strategies"] = sorted(set(self.rule_strategies))
        blob = json.dumps(relevant, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> PipelineConfig:
        """The reference's constructor: ``load`` with a file."""
        return cls.load(path, **overrides)


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
