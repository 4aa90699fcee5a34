"""Prometheus metrics of one service instance.

Each service gets its own ``CollectorRegistry`` so several instances in one process (tests,
the demo) do not collide. Labels are bounded: stage names, error class names, formats, models,
partitions; never run ids.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agenther.config import STRUCTURED_OUTPUT_RUNGS

_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
_STAGE_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_consumed = Counter(
            "agenther_events_consumed", "Input events taken from the input topic", registry=r
        )
        self.examples_produced = Counter(
            "agenther_examples_produced",
            "Training examples acknowledged on the output topic",
            ["format"],
            registry=r,
        )
        self.rejections = Counter(
            "agenther_rejections",
            "Runs a gate turned down, by the stage that decided",
            ["stage"],
            registry=r,
        )
        self.dead_letters = Counter(
            "agenther_dead_letters",
            "Events sent to the dead-letter topic, by stage and error class",
            ["stage", "reason"],
            registry=r,
        )
        self.successes_skipped = Counter(
            "agenther_successes_skipped",
            "Successful runs passed over (no --emit-successes)",
            registry=r,
        )
        self.transient_retries = Counter(
            "agenther_transient_retries",
            "Pipeline retries after a transient LLM error",
            registry=r,
        )
        self.pipeline_duration = Histogram(
            "agenther_pipeline_duration_seconds",
            "Time in the four-stage pipeline per run, by the last stage reached",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.event_latency = Histogram(
            "agenther_event_latency_seconds",
            "From the input event's time to the acknowledgement of its output",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "agenther_consumer_lag",
            "Records behind the partition's high watermark (highwater - position)",
            ["topic", "partition"],
            registry=r,
        )
        self.open_traces = Gauge(
            "agenther_open_traces",
            "Traces being assembled: spans buffered, root or grace period awaited",
            registry=r,
        )
        self.in_flight = Gauge(
            "agenther_in_flight", "Input events being processed right now", registry=r
        )
        self.llm_requests = Counter(
            "agenther_llm_requests",
            "LLM requests sent (cache hits excluded)",
            ["model"],
            registry=r,
        )
        self.llm_cache_hits = Counter(
            "agenther_llm_cache_hits", "LLM replies served from the cache", ["model"], registry=r
        )
        self.llm_tokens = Counter(
            "agenther_llm_tokens",
            "LLM tokens by kind (prompt, completion)",
            ["model", "kind"],
            registry=r,
        )
        self.llm_cost = Counter(
            "agenther_llm_cost_usd", "Estimated LLM spend in US dollars", ["model"], registry=r
        )
        self.llm_failures = Counter(
            "agenther_llm_failures",
            "LLM calls that failed for good (after the client's retries), by error class",
            ["model", "error"],
            registry=r,
        )
        self.llm_structured_output = Gauge(
            "agenther_llm_structured_output",
            "1 for the structured-output rung each model's endpoint is used with",
            ["model", "rung"],
            registry=r,
        )
        self.llm_quota_errors = Counter(
            "agenther_llm_quota_errors",
            "Runs that met an exhausted LLM quota (429 insufficient_quota)",
            registry=r,
        )
        self.llm_paused = Gauge(
            "agenther_llm_paused",
            "1 while all work is paused because the LLM quota is exhausted",
            registry=r,
        )
        self.ready = Gauge("agenther_ready", "1 once the consumer has joined its group", registry=r)

    def on_llm_failure(self, model: str, error_type: str) -> None:
        """Failure listener for ``agenther.llm_usage.UsageTracker``."""
        self.llm_failures.labels(model, error_type).inc()

    def on_llm_rung(self, model: str, rung: str) -> None:
        """Rung listener for ``agenther.llm_usage.UsageTracker``."""
        for other in STRUCTURED_OUTPUT_RUNGS:
            self.llm_structured_output.labels(model, other).set(1 if other == rung else 0)

    def on_llm_request(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        cached: bool,
        seconds: float,
    ) -> None:
        """Listener for ``agenther.llm_usage.UsageTracker``."""
        if cached:
            self.llm_cache_hits.labels(model).inc()
            return
        self.llm_requests.labels(model).inc()
        self.llm_tokens.labels(model, "prompt").inc(prompt_tokens)
        self.llm_tokens.labels(model, "completion").inc(completion_tokens)
        self.llm_cost.labels(model).inc(cost_usd)
