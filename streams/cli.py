"""Service commands for the ``agenther`` CLI: serve, broker, demo, produce, tail, replay, dlq.

``register`` only builds argparse parsers; every handler imports aiokafka and the service
lazily, so ``agenther --help`` and the library's commands stay fast and work without a broker
client installed. ``python -m streams.cli`` runs these commands alone.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agenther.flags import (
    add_pipeline_flags,
    describe_defaults,
    pipeline_defaults,
    pipeline_overrides,
)

if TYPE_CHECKING:
    from streams.settings import ServiceSettings

logger = logging.getLogger("agenther.service")

S = argparse.SUPPRESS
EXIT_USAGE = 2
EXIT_BROKER = 1  # the broker cannot be reached or refused the request
TAIL_IDLE_S = 10.0


def register(subparsers: Any) -> None:
    """Add the service commands to the ``agenther`` parser's subparsers."""
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("connection (default: settings file and env)")
    group.add_argument("--config", default=None, help="YAML settings file")
    group.add_argument("--bootstrap-servers", default=S, help="host:port[,host:port]")
    group.add_argument(
        "--security-protocol",
        default=S,
        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
    )
    group.add_argument(
        "--sasl-mechanism", default=S, choices=["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
    )
    group.add_argument(
        "--sasl-username", default=S, help="password from AGENTHER_SASL_PASSWORD[_FILE]"
    )
    group.add_argument("--log-level", default=S, help="DEBUG, INFO, WARNING, ERROR")

    _add_serve(subparsers, connection)

    broker = subparsers.add_parser(
        "broker", help="run the embedded Kafka-compatible broker (Tansu) until Ctrl-C"
    )
    broker.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    broker.set_defaults(func=_broker_command)

    demo = subparsers.add_parser(
        "demo",
        help="relabel sample runs live on an embedded broker (rule-based, no API key)",
    )
    demo.add_argument(
        "-f",
        "--format",
        dest="output_format",
        default="sft",
        choices=["sft", "dpo", "sharegpt", "openai"],
    )
    demo.add_argument("--timeout", type=float, default=25.0, help="seconds before giving up")
    demo.set_defaults(func=_demo_command)

    produce = subparsers.add_parser(
        "produce", parents=[connection], help="publish runs from a JSON array or JSONL file"
    )
    produce.add_argument("file", help="JSON array or JSONL of run events or reference trajectories")
    produce.add_argument("--topic", default=S, dest="input_topic", help="default: agent-runs")
    produce.add_argument("--schema-registry-url", default=S, help="publish Confluent Avro")
    produce.set_defaults(func=_produce_command)

    tail = subparsers.add_parser("tail", parents=[connection], help="print records of a topic")
    tail.add_argument("--topic", required=True)
    tail.add_argument("-n", type=int, default=None, help="stop after N records")
    tail.add_argument("--from-beginning", action="store_true")
    tail.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help=f"stop after S seconds without records (default: {TAIL_IDLE_S:g} with -n, else never)",
    )
    tail.set_defaults(func=_tail_command)

    replay = subparsers.add_parser(
        "replay",
        parents=[connection],
        help="reset a consumer group's offsets so the service reprocesses events",
    )
    replay.add_argument("--group-id", required=True)
    replay.add_argument("--topic", required=True)
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-earliest", action="store_true")
    target.add_argument("--to-offset", type=int)
    target.add_argument("--to-datetime", type=datetime.fromisoformat, help="ISO 8601")
    target.add_argument("--by-duration", type=_duration, help="e.g. 90s, 15m, 1h, 2d")
    replay.add_argument("--partition", type=int, default=None, help="with --to-offset")
    replay.set_defaults(func=_replay_command)

    dlq = subparsers.add_parser("dlq", help="dead-letter topic tools")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    redrive = dlq_commands.add_parser(
        "redrive", parents=[connection], help="send dead letters back to their source topic"
    )
    redrive.add_argument("--dlq-topic", required=True)
    redrive.add_argument("--reason", default=None, help="only letters whose error contains this")
    redrive.add_argument("--to-topic", default=None, help="default: each letter's source topic")
    redrive.add_argument("--dry-run", action="store_true", help="count the letters, send nothing")
    redrive.set_defaults(func=_redrive_command)


def _add_serve(subparsers: Any, connection: argparse.ArgumentParser) -> None:
    serve = subparsers.add_parser(
        "serve",
        parents=[connection],
        help="run the live relabeling service (no --bootstrap-servers: embedded broker)",
        description="Settings: defaults < --config YAML < AGENTHER_* env < these flags.",
    )
    a = serve.add_argument
    a("--input-topic", default=S)
    a("--output-topic", default=S)
    a("--rejects-topic", default=S)
    a("--dlq-topic", default=S)
    a("--group-id", default=S)
    a(
        "-f",
        "--format",
        dest="output_format",
        default=S,
        choices=["sft", "dpo", "sharegpt", "openai"],
    )
    a(
        "--emit-successes",
        action="store_true",
        default=S,
        help="pass successful runs through as SFT positives (weight 1)",
    )
    a("--max-in-flight", type=int, default=S)
    a(
        "--workers",
        type=int,
        default=S,
        help="rule mode: relabel in N worker processes (0 = in the service process)",
    )
    a("--metrics-host", default=S)
    a("--metrics-port", type=int, default=S, help="0 turns the HTTP endpoint off")
    a(
        "--embedded-broker-port",
        type=int,
        default=S,
        help="without --bootstrap-servers: the embedded broker's loopback port (0: a free one)",
    )
    a("--schema-registry-url", default=S, help="Avro output in Confluent wire format")
    a("--topic-partitions", type=int, default=S)
    a("--replication-factor", type=int, default=S)
    a("--create-topics", action=argparse.BooleanOptionalAction, default=S)
    a("--transient-retries", type=int, default=S)
    a("--retry-backoff-ms", type=int, default=S)
    a("--retry-backoff-max-ms", type=int, default=S)
    a("--quota-pause-s", type=float, default=S, help="first pause when the LLM quota is out")
    a("--quota-pause-max-s", type=float, default=S, help="cap of the quota pause")
    a("--fetch-max-wait-ms", type=int, default=S)
    a("--session-timeout-ms", type=int, default=S)
    a("--max-event-bytes", type=int, default=S)
    a("--shutdown-grace", dest="shutdown_grace_s", type=float, default=S)
    p = serve.add_argument_group("pipeline")
    add_pipeline_flags(p)
    describe_defaults(serve, {**_service_defaults(), **pipeline_defaults()})
    serve.set_defaults(func=_serve_command)


def _service_defaults() -> dict[str, tuple[str, Any]]:
    """dest -> (env var, default) for the service's own settings."""
    from streams.settings import ServiceSettings

    return {
        name: (f"AGENTHER_{name.upper()}", field.default)
        for name, field in ServiceSettings.model_fields.items()
        if name != "pipeline"
    }


def _duration(text: str) -> timedelta:
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units:
        raise argparse.ArgumentTypeError(f"duration like 90s, 15m, 1h or 2d, not {text!r}")
    try:
        amount = float(text[:-1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}") from None
    return timedelta(**{units[text[-1]]: amount})


# -- settings and logging -------------------------------------------------------------------


def settings_from_args(args: argparse.Namespace) -> ServiceSettings:
    from streams.settings import ServiceSettings

    given = vars(args)
    fields = set(ServiceSettings.model_fields) - {"pipeline"}
    overrides: dict[str, Any] = {k: v for k, v in given.items() if k in fields}
    pipeline = pipeline_overrides(args)
    if pipeline:
        overrides["pipeline"] = pipeline
    return ServiceSettings.load(given.get("config"), **overrides)


def _load_settings(args: argparse.Namespace) -> ServiceSettings | None:
    from pydantic import ValidationError

    try:
        settings = settings_from_args(args)
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


def _bootstrap(settings: ServiceSettings) -> str | None:
    if settings.bootstrap_servers:
        return settings.bootstrap_servers
    print(
        "agenther: no Kafka address: pass --bootstrap-servers or set AGENTHER_BOOTSTRAP_SERVERS",
        file=sys.stderr,
    )
    return None


def _run(coro: Any, bootstrap: str | None = None) -> int:
    from aiokafka.errors import KafkaConnectionError, KafkaError

    try:
        result: int = asyncio.run(coro)
    except KeyboardInterrupt:
        return 130
    except KafkaConnectionError as exc:
        print(f"agenther: cannot connect to Kafka at {bootstrap}: {exc}", file=sys.stderr)
        return EXIT_BROKER
    except KafkaError as exc:
        print(f"agenther: Kafka refused the request: {exc}", file=sys.stderr)
        return EXIT_BROKER
    return result


# -- serve ----------------------------------------------------------------------------------


def _serve_command(args: argparse.Namespace) -> int:
    settings = _load_settings(args)
    if settings is None:
        return EXIT_USAGE
    return _run(serve(settings))


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
        with _stop_on_signals(service.stop):
            return await service.run()
    finally:
        if broker is not None:
            broker.stop()


class _stop_on_signals:
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


# -- broker ---------------------------------------------------------------------------------


def _broker_command(args: argparse.Namespace) -> int:
    from streams.broker import BrokerError, EmbeddedBroker

    stopped = False

    def on_signal(*_: object) -> None:
        nonlocal stopped
        stopped = True

    # Installed first, so a signal during start-up still stops the broker we spawned.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    broker = EmbeddedBroker(port=args.port)
    try:
        address = broker.start()
    except BrokerError as exc:
        print(f"agenther: {exc}", file=sys.stderr)
        return 1
    print(f"embedded broker (memory only) at {address}; Ctrl-C stops it", flush=True)
    try:
        while not stopped and broker.running:
            time.sleep(0.2)
    finally:
        broker.stop()
    return 0


# -- demo -----------------------------------------------------------------------------------


def _demo_command(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    # The demo prints its own account of every event; only real trouble goes to stderr.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    return _run(run_demo(output_format=args.output_format, timeout_s=args.timeout))


# -- produce / tail -------------------------------------------------------------------------


def _produce_command(args: argparse.Namespace) -> int:
    settings = _load_settings(args)
    if settings is None:
        return EXIT_USAGE
    if not Path(args.file).is_file():
        print(f"agenther: {args.file}: no such file", file=sys.stderr)
        return EXIT_USAGE
    bootstrap = _bootstrap(settings)
    if bootstrap is None:
        return EXIT_USAGE
    return _run(_produce(settings, bootstrap, args.file), bootstrap)


async def _produce(settings: ServiceSettings, bootstrap: str, path: str) -> int:
    from aiokafka import AIOKafkaProducer

    from streams.events import EventCodec, EventDecodeError

    records = _raw_records(path)  # a bad file is found before any connection
    codec = EventCodec(settings.schema_registry_url, settings.max_event_bytes)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", **settings.kafka_client_kwargs()
    )
    sent = bad = 0
    try:
        await producer.start()
        for where, raw in records:
            try:
                # Decoding validates and turns the reference's trajectory shape into an event.
                event = await codec.decode_run_event(raw)
            except EventDecodeError as exc:
                bad += 1
                print(f"skipped {where}: {exc.reason}", file=sys.stderr)
                continue
            value = await codec.encode_run_event(event, topic=settings.input_topic)
            await producer.send_and_wait(
                settings.input_topic, value=value, key=event.run_id.encode()
            )
            sent += 1
    finally:
        await producer.stop()
        await codec.aclose()
    print(f"published {sent} runs to {settings.input_topic}" + (f", skipped {bad}" if bad else ""))
    return 0 if sent or not bad else 1


def _raw_records(path: str) -> list[tuple[str, bytes]]:
    """Each record of a JSON array or JSONL file as bytes, with where it came from."""
    content = Path(path).read_bytes()
    if content.lstrip()[:1] == b"[":
        try:
            items = json.loads(content)
        except ValueError as exc:
            raise SystemExit(f"agenther: {path}: not a JSON array: {exc}") from None
        return [(f"item {i}", json.dumps(item).encode()) for i, item in enumerate(items, 1)]
    return [(f"line {i}", line) for i, line in enumerate(content.splitlines(), 1) if line.strip()]


def _tail_command(args: argparse.Namespace) -> int:
    settings = _load_settings(args)
    if settings is None:
        return EXIT_USAGE
    bootstrap = _bootstrap(settings)
    if bootstrap is None:
        return EXIT_USAGE
    idle = args.idle_timeout
    if idle is None and args.n is not None:
        idle = TAIL_IDLE_S  # "the first N" of a topic holding fewer must still end
    return _run(
        _tail(settings, bootstrap, args.topic, args.n, args.from_beginning, idle), bootstrap
    )


async def _tail(
    settings: ServiceSettings,
    bootstrap: str,
    topic: str,
    limit: int | None,
    from_beginning: bool,
    idle_timeout: float | None,
) -> int:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **settings.kafka_client_kwargs(),
    )
    printed = 0
    last = time.monotonic()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await consumer.start()
        while not stop.is_set() and (limit is None or printed < limit):
            batch = await consumer.getmany(timeout_ms=200)
            records = sorted(
                (r for rs in batch.values() for r in rs), key=lambda r: (r.timestamp, r.offset)
            )
            for record in records[: None if limit is None else limit - printed]:
                print(json.dumps(record_as_json(record), ensure_ascii=False), flush=True)
                printed += 1
            if records:
                last = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - last > idle_timeout:
                break
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await consumer.stop()
    return 0


def record_as_json(record: Any) -> dict[str, Any]:
    """A consumed record as JSON: text where it is UTF-8, base64 otherwise."""

    def text(data: bytes | None) -> Any:
        if data is None:
            return None
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(data).decode()}
        try:
            return json.loads(decoded)
        except ValueError:
            return decoded

    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": text(record.key),
        "headers": {name: text(value) for name, value in (record.headers or ())},
        "value": text(record.value),
    }


# -- replay / redrive -----------------------------------------------------------------------


def _replay_command(args: argparse.Namespace) -> int:
    if args.partition is not None and args.to_offset is None:
        print("agenther: --partition goes with --to-offset", file=sys.stderr)
        return EXIT_USAGE
    settings = _load_settings(args)
    if settings is None:
        return EXIT_USAGE
    bootstrap = _bootstrap(settings)
    if bootstrap is None:
        return EXIT_USAGE
    from streams.replay import reset_offsets

    try:
        positions = _run_operation(
            reset_offsets(
                bootstrap,
                args.group_id,
                args.topic,
                to_earliest=args.to_earliest,
                to_offset=args.to_offset,
                partition=args.partition,
                to_datetime=args.to_datetime,
                by_duration=args.by_duration,
                client_kwargs=settings.kafka_client_kwargs(),
            ),
            settings,
            bootstrap,
        )
    except _OperationFailed as failed:
        return failed.report()
    for partition, offset in sorted(positions.items()):
        print(f"{args.topic}-{partition}: {offset}")
    print(f"group {args.group_id} reset on {len(positions)} partitions; restart the service")
    return 0


def _redrive_command(args: argparse.Namespace) -> int:
    settings = _load_settings(args)
    if settings is None:
        return EXIT_USAGE
    bootstrap = _bootstrap(settings)
    if bootstrap is None:
        return EXIT_USAGE
    from streams.redrive import redrive_dead_letters

    try:
        report = _run_operation(
            redrive_dead_letters(
                bootstrap,
                args.dlq_topic,
                args.to_topic,
                reason_substring=args.reason,
                dry_run=args.dry_run,
                client_kwargs=settings.kafka_client_kwargs(),
            ),
            settings,
            bootstrap,
        )
    except _OperationFailed as failed:
        return failed.report()
    print(report)
    return 0


class _OperationFailed(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def report(self) -> int:
        print(f"agenther: {self}", file=sys.stderr)
        return self.exit_code


def _run_operation(coro: Any, settings: ServiceSettings, bootstrap: str) -> Any:
    """Run a one-shot Kafka operation; its expected failures become ``_OperationFailed``."""
    from aiokafka.errors import KafkaConnectionError, KafkaError

    from streams.dead_letters import SecretScrubber
    from streams.redrive import RedriveError
    from streams.replay import ReplayError

    scrub = SecretScrubber(settings.secret_values()).scrub
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        raise _OperationFailed("interrupted", 130) from None
    # A refused request (active group, missing topic, bad target) is the operator's to fix.
    except (ReplayError, RedriveError, ValueError) as exc:
        raise _OperationFailed(scrub(str(exc)), EXIT_USAGE) from None
    except KafkaConnectionError:
        raise _OperationFailed(
            f"cannot connect to Kafka at {bootstrap}: is the broker up and the address right?", 1
        ) from None
    except KafkaError as exc:
        raise _OperationFailed(f"Kafka error: {scrub(str(exc) or type(exc).__name__)}", 1) from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agenther", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    register(commands)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
