"""Service settings: defaults < YAML (``--config``) < env ``AGENTHER_<NAME>`` < CLI flags.

Pipeline settings nest under ``pipeline:`` in YAML and ``AGENTHER_PIPELINE__<FIELD>`` in env.
Secrets are ``SecretStr`` so no repr, log line or dump shows them; ``secret_values`` lists
every resolved secret so the scrubber can remove them from error text.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from agenther.config import PipelineConfig, resolve_secret
from agenther.models import OutputFormat


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGENTHER_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    bootstrap_servers: str | None = None
    input_topic: str = Field(default="agent-runs", min_length=1)
    output_topic: str = Field(default="her-examples", min_length=1)
    rejects_topic: str = Field(default="her-rejects", min_length=1)
    dlq_topic: str = Field(default="her-dlq", min_length=1)
    group_id: str = Field(default="agenther", min_length=1)
    output_format: OutputFormat = OutputFormat.SFT
    emit_successes: bool = False
    max_in_flight: int = Field(default=64, ge=1, le=10_000)
    # Rule-mode worker processes (0 = relabel in the service process); LLM mode ignores it.
    workers: int = Field(default=0, ge=0, le=64)
    # Loopback unless asked: /metrics and /readyz say more than a stranger should read. The
    # image and the chart bind all interfaces, where the pod network is the boundary.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    # Without bootstrap_servers, `serve` starts an embedded broker on this loopback port
    # (0: a free one), so `produce`/`tail` in another shell can be pointed at it.
    embedded_broker_port: int = Field(default=0, ge=0, le=65535)
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    schema_registry_url: str | None = None
    topic_partitions: int = Field(default=4, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    create_topics: bool = True
    transient_retries: int = Field(default=5, ge=0, le=100)
    retry_backoff_ms: int = Field(default=500, ge=0)
    retry_backoff_max_ms: int = Field(default=30_000, ge=0)
    # An exhausted LLM quota pauses all work: first wait, doubling up to the cap.
    quota_pause_s: float = Field(default=30.0, gt=0)
    quota_pause_max_s: float = Field(default=600.0, gt=0)
    # The embedded broker answers a fetch only when this wait ends (Kafka answers as soon as data
    # arrives), so it bounds event latency there; 20 ms costs little idle polling.
    fetch_max_wait_ms: int = Field(default=20, ge=0)
    session_timeout_ms: int = Field(default=10_000, ge=1000)
    max_event_bytes: int = Field(default=1_048_576, ge=1)
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    log_level: str = "INFO"
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier wins: flags (init) > env > YAML > defaults. No .env file is read on purpose.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        yaml_file = settings_cls.model_config.get("yaml_file")
        if yaml_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> ServiceSettings:
        """Settings from every source; ``overrides`` are the CLI flags that were given."""
        if config_file is None:
            return cls(**overrides)
        path = Path(config_file)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")

        class _FromFile(cls):  # type: ignore[valid-type,misc]
            model_config = SettingsConfigDict(**{**cls.model_config, "yaml_file": path})

        return _FromFile(**overrides)

    def resolved_sasl_password(self) -> str | None:
        return resolve_secret(self.sasl_password, "AGENTHER_SASL_PASSWORD")

    def kafka_client_kwargs(self) -> dict[str, Any]:
        """Connection and security arguments shared by every aiokafka client we build."""
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol.value}
        if self.security_protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL):
            from aiokafka.helpers import create_ssl_context

            kwargs["ssl_context"] = create_ssl_context()
        if self.sasl_mechanism is not None:
            kwargs["sasl_mechanism"] = self.sasl_mechanism.value
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.resolved_sasl_password()
        return kwargs

    def secret_values(self) -> list[str]:
        """Every secret this process may hold, for scrubbing error text."""
        candidates = [
            self.resolved_sasl_password(),
            self.pipeline.resolved_api_key(),
            self.pipeline.resolved_judge_api_key(),
        ]
        return sorted({s for s in candidates if s}, key=len, reverse=True)
