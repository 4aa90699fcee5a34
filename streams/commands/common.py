"""What the service commands share: connection flags, settings, logging and running a
coroutine with Kafka's failures turned into messages and exit codes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Any

from agenther.flags import PIPELINE_FLAGS, Flag, FlagTable

if TYPE_CHECKING:
    from streams.settings import ServiceSettings

EXIT_USAGE = 2
EXIT_BROKER = 1  # the broker cannot be reached or refused the request
EXIT_INTERRUPTED = 130


def service_table(*flags: Flag) -> FlagTable:
    """Flags onto ``ServiceSettings`` fields (env ``AGENTHER_<FIELD>``)."""
    from streams.settings import ServiceSettings

    return FlagTable(ServiceSettings, "AGENTHER_", flags)


CONNECTION_FLAGS = service_table(
    Flag("--bootstrap-servers", "bootstrap_servers"),
    Flag("--security-protocol", "security_protocol"),
    Flag("--sasl-mechanism", "sasl_mechanism"),
    Flag("--sasl-username", "sasl_username"),
    Flag("--log-level", "log_level"),
)


def connection_parser() -> argparse.ArgumentParser:
    """A parent parser with ``--config`` and the connection flags."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("connection (default: settings file and env)")
    group.add_argument("--config", default=None, help="YAML settings file")
    CONNECTION_FLAGS.add_to(group)
    return parser


def settings_from_args(
    args: argparse.Namespace, *tables: FlagTable, pipeline: bool = False
) -> ServiceSettings:
    """Settings from every source, the flags of ``tables`` (and the pipeline's) on top."""
    from streams.settings import ServiceSettings

    overrides: dict[str, Any] = {}
    for table in (CONNECTION_FLAGS, *tables):
        overrides.update(table.overrides(args))
    if pipeline and (given := PIPELINE_FLAGS.overrides(args)):
        overrides["pipeline"] = given
    return ServiceSettings.load(getattr(args, "config", None), **overrides)


def load_settings(
    args: argparse.Namespace, *tables: FlagTable, pipeline: bool = False
) -> ServiceSettings | None:
    """``settings_from_args``, with logging configured; None (after saying why) if invalid."""
    from pydantic import ValidationError

    try:
        settings = settings_from_args(args, *tables, pipeline=pipeline)
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        print(f"agenther: invalid settings: {exc}", file=sys.stderr)
        return None
    configure_logging(settings)
    return settings


def configure_logging(settings: ServiceSettings) -> None:
    from streams.dead_letters import ScrubbingFilter, SecretScrubber

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ScrubbingFilter(SecretScrubber(settings.secret_values())))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # aiokafka logs every failed connection attempt at ERROR; our own line says it once,
    # clearly. Its noise stays available under --log-level DEBUG.
    debug = root.level <= logging.DEBUG
    client_log = logging.getLogger("aiokafka")
    client_log.setLevel(logging.DEBUG if debug else max(logging.WARNING, root.level))
    client_log.removeFilter(_CONNECT_NOISE)
    if not debug:
        client_log.addFilter(_CONNECT_NOISE)
    logging.getLogger("aiokafka.conn").setLevel(logging.DEBUG if debug else logging.CRITICAL)


class _ConnectNoise(logging.Filter):
    """Drops aiokafka's own "Unable connect to ..." / "Unable to update metadata ..." lines
    (logged to the bare ``aiokafka`` logger, so a level on a child logger cannot reach them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "aiokafka" and str(record.msg).startswith("Unable "):
            # A refused login is no network blip: it repeats until someone fixes the
            # credentials, so say so (the line is scrubbed like every other).
            return "AuthenticationFailed" in record.getMessage()
        return True


_CONNECT_NOISE = _ConnectNoise()


def bootstrap_of(settings: ServiceSettings) -> str | None:
    if settings.bootstrap_servers:
        return settings.bootstrap_servers
    print(
        "agenther: no Kafka address: pass --bootstrap-servers or set AGENTHER_BOOTSTRAP_SERVERS",
        file=sys.stderr,
    )
    return None


def run_async(coro: Any, bootstrap: str | None = None) -> int:
    """Run a command's coroutine; an unreachable or refusing broker is a message, exit 1."""
    from aiokafka.errors import KafkaConnectionError, KafkaError

    try:
        result: int = asyncio.run(coro)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except KafkaConnectionError as exc:
        print(f"agenther: cannot connect to Kafka at {bootstrap}: {exc}", file=sys.stderr)
        return EXIT_BROKER
    except KafkaError as exc:
        print(f"agenther: Kafka refused the request: {exc}", file=sys.stderr)
        return EXIT_BROKER
    return result


class OperationFailed(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def report(self) -> int:
        print(f"agenther: {self}", file=sys.stderr)
        return self.exit_code


def run_operation(
    coro: Any,
    settings: ServiceSettings,
    bootstrap: str,
    *,
    refused: tuple[type[BaseException], ...] = (),
) -> Any:
    """Run a one-shot Kafka operation; its expected failures become ``OperationFailed``.

    ``refused``: the operation's own errors for a request that cannot be done as asked."""
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from streams.dead_letters import SecretScrubber
    from streams.redrive import RedriveError
    from streams.replay import ReplayError

    scrub = SecretScrubber(settings.secret_values()).scrub
    operator_errors: tuple[type[BaseException], ...] = (ReplayError, RedriveError, ValueError)
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        raise OperationFailed("interrupted", EXIT_INTERRUPTED) from None
    # A refused request (active group, missing topic, bad target) is the operator's to fix.
    except operator_errors + refused as exc:
        raise OperationFailed(scrub(str(exc)), EXIT_USAGE) from None
    except KafkaConnectionError:
        raise OperationFailed(
            f"cannot connect to Kafka at {bootstrap}: is the broker up and the address right?",
            EXIT_BROKER,
        ) from None
    except KafkaError as exc:
        raise OperationFailed(
            f"Kafka error: {scrub(str(exc) or type(exc).__name__)}", EXIT_BROKER
        ) from None
