"""Service settings: defaults < YAML (``--config``) < env ``AGENTHER_<NAME>`` < CLI flags
(``agenther.config.LayeredSettings``, the batch CLI's precedence too).

Pipeline settings nest under ``pipeline:`` in YAML and ``AGENTHER_PIPELINE__<FIELD>`` in env.
Secrets are ``SecretStr`` so no repr, log line or dump shows them; ``secret_values`` lists
every resolved secret so the scrubber can remove them from error text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from agenther.config import PipelineConfig, resolve_secret
from agenther.models import OutputFormat
from agenther.run_settings import RunSettings


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


class ServiceSettings(RunSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGENTHER_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    bootstrap_servers: str | None = Field(default=None, description="host:port[,host:port]")
    input_topic: str = Field(default="agent-runs", min_length=1, description="agent runs to read")
    output_topic: str = Field(
        default="her-examples", min_length=1, description="training examples written here"
    )
    rejects_topic: str = Field(
        default="her-rejects", min_length=1, description="turned-down runs, with the reason"
    )
    dlq_topic: str = Field(
        default="her-dlq", min_length=1, description="dead letters: original bytes and the error"
    )
    group_id: str = Field(default="agenther", min_length=1, description="consumer group")
    output_format: OutputFormat = Field(default=OutputFormat.SFT, description="trainer format")
    emit_successes: bool = Field(
        default=False, description="pass successful runs through as SFT positives (weight 1)"
    )
    max_in_flight: int = Field(
        default=64, ge=1, le=10_000, description="runs in flight; fetching pauses when full"
    )
    # A trace's spans arrive in several messages, the root usually last; stragglers may follow.
    trace_grace_s: float = Field(
        default=2.0, ge=0, description="traces: wait this long after the root span for stragglers"
    )
    trace_max_wait_s: float = Field(
        default=60.0,
        gt=0,
        description="traces: dead-letter a trace whose root span has not come after this long",
    )
    max_open_traces: int = Field(
        default=1000, ge=1, description="traces being assembled; fetching pauses when full"
    )
    # Loopback unless asked: /metrics and /readyz say more than a stranger should read. The
    # image and the chart bind all interfaces, where the pod network is the boundary.
    metrics_host: str = Field(default="127.0.0.1", description="/metrics and /readyz address")
    metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="0 turns the HTTP endpoint off"
    )
    # Without bootstrap_servers, `serve` starts an embedded broker on this loopback port
    # (0: a free one), so `produce`/`tail` in another shell can be pointed at it.
    embedded_broker_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="without --bootstrap-servers: the embedded broker's loopback port "
        "(0: a free one)",
    )
    security_protocol: SecurityProtocol = Field(
        default=SecurityProtocol.PLAINTEXT, description="Kafka connection security"
    )
    sasl_mechanism: SaslMechanism | None = Field(default=None, description="SASL login")
    sasl_username: str | None = Field(
        default=None, description="password from AGENTHER_SASL_PASSWORD[_FILE]"
    )
    sasl_password: SecretStr | None = None
    schema_registry_url: str | None = Field(
        default=None, description="Avro in Confluent wire format via this registry"
    )
    topic_partitions: int = Field(
        default=4, ge=1, description="partitions of the topics the service creates"
    )
    replication_factor: int = Field(
        default=1, ge=1, description="replicas of the topics the service creates"
    )
    create_topics: bool = Field(default=True, description="create missing topics at start")
    transient_retries: int = Field(
        default=5, ge=0, le=100, description="retries of a 429/5xx/timeout before a dead letter"
    )
    retry_backoff_ms: int = Field(
        default=500, ge=0, description="first wait before a transient retry (jittered)"
    )
    retry_backoff_max_ms: int = Field(
        default=30_000, ge=0, description="cap of the transient retry wait"
    )
    # An exhausted LLM quota pauses all work: first wait, doubling up to the cap.
    quota_pause_s: float = Field(
        default=30.0, gt=0, description="first pause when the LLM quota is out"
    )
    quota_pause_max_s: float = Field(default=600.0, gt=0, description="cap of the quota pause")
    # The embedded broker answers a fetch only when this wait ends (Kafka answers as soon as data
    # arrives), so it bounds event latency there; 20 ms costs little idle polling.
    fetch_max_wait_ms: int = Field(
        default=20, ge=0, description="longest a fetch waits for data at the broker"
    )
    session_timeout_ms: int = Field(
        default=10_000, ge=1000, description="consumer-group session timeout"
    )
    max_event_bytes: int = Field(
        default=1_048_576, ge=1, description="larger events are dead-lettered unread"
    )
    shutdown_grace_s: float = Field(
        default=30.0, ge=0, description="seconds to drain in-flight runs on SIGTERM"
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR")
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)

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
