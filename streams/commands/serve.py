"""``agenther serve``: the live relabeling service, on a given or an embedded broker."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Any

from agenther.flags import INPUT_FLAGS, PIPELINE_FLAGS, Flag
from streams.commands.common import (
    EXIT_USAGE,
    connection_parser,
    load_settings,
    run_async,
    service_table,
)

if TYPE_CHECKING:
    from streams.settings import ServiceSettings

logger = logging.getLogger("agenther.service")

SERVE_FLAGS = service_table(
    Flag("--input-topic", "input_topic"),
    Flag("--output-topic", "output_topic"),
    Flag("--rejects-topic", "rejects_topic"),
    Flag("--dlq-topic", "dlq_topic"),
    Flag("--group-id", "group_id"),
    Flag("--format", "output_format", short="-f"),
    Flag("--emit-successes", "emit_successes", options={"action": "store_true"}),
    Flag("--max-in-flight", "max_in_flight"),
    Flag("--workers", "workers"),
    Flag("--metrics-host", "metrics_host"),
    Flag("--metrics-port", "metrics_port"),
    Flag("--embedded-broker-port", "embedded_broker_port"),
    Flag("--schema-registry-url", "schema_registry_url"),
    Flag("--topic-partitions", "topic_partitions"),
    Flag("--replication-factor", "replication_factor"),
    Flag("--create-topics", "create_topics"),
    Flag("--transient-retries", "transient_retries"),
    Flag("--retry-backoff-ms", "retry_backoff_ms"),
    Flag("--retry-backoff-max-ms", "retry_backoff_max_ms"),
    Flag("--quota-pause-s", "quota_pause_s"),
    Flag("--quota-pause-max-s", "quota_pause_max_s"),
    Flag("--fetch-max-wait-ms", "fetch_max_wait_ms"),
    Flag("--session-timeout-ms", "session_timeout_ms"),
    Flag("--max-event-bytes", "max_event_bytes"),
    Flag("--shutdown-grace", "shutdown_grace_s"),
    Flag("--trace-grace-s", "trace_grace_s"),
    Flag("--trace-max-wait-s", "trace_max_wait_s"),
    Flag("--max-open-traces", "max_open_traces"),
)


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        parents=[connection_parser()],
        help="run the live relabeling service (no --bootstrap-servers: embedded broker)",
        description="Settings: defaults < --config YAML < AGENTHER_* env < these flags.",
    )
    SERVE_FLAGS.add_to(serve)
    INPUT_FLAGS.add_to(serve.add_argument_group("input"))
    PIPELINE_FLAGS.add_to(serve.add_argument_group("pipeline"))
    serve.set_defaults(func=_serve_command)


def settings_from_args(args: argparse.Namespace) -> ServiceSettings:
    """``serve``'s settings: every source, its flags on top."""
    from streams.commands.common import settings_from_args as from_args

    return from_args(args, SERVE_FLAGS, INPUT_FLAGS, pipeline=True)


def _serve_command(args: argparse.Namespace) -> int:
    settings = load_settings(args, SERVE_FLAGS, INPUT_FLAGS, pipeline=True)
    if settings is None:
        return EXIT_USAGE
    return run_async(serve(settings))


async def serve(settings: ServiceSettings) -> int:
    """Run the service until SIGTERM/SIGINT (or a fatal error); returns the exit code."""
    from streams.broker import BrokerError, EmbeddedBroker
    from streams.processor import RelabelService

    broker: EmbeddedBroker | None = None
    if not settings.bootstrap_servers:
        broker = EmbeddedBroker(port=settings.embedded_broker_port)
        try:
            address = broker.start()  # main thread: see broker._detach_and_die_with_parent
        except BrokerError as exc:
            logger.error("%s", exc)
            return 1
        # On stdout's first line: the address other commands need (--bootstrap-servers).
        print(f"embedded broker (memory only) at {address}", flush=True)
        settings = settings.model_copy(update={"bootstrap_servers": address})
    try:
        service = RelabelService(settings)
        with _StopOnSignals(service.stop):
            return await service.run()
    finally:
        if broker is not None:
            broker.stop()


class _StopOnSignals:
    def __init__(self, stop: Any) -> None:
        self._stop = stop
        self._signals = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.add_signal_handler(sig, self._stop)

    def __exit__(self, *_: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
