"""``agenther dlq redrive``: send dead letters back to their source topic."""

from __future__ import annotations

import argparse
from typing import Any

from streams.commands.common import (
    EXIT_USAGE,
    OperationFailed,
    bootstrap_of,
    connection_parser,
    load_settings,
    run_operation,
)


def register(subparsers: Any) -> None:
    dlq = subparsers.add_parser("dlq", help="dead-letter topic tools")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    redrive = dlq_commands.add_parser(
        "redrive",
        parents=[connection_parser()],
        help="send dead letters back to their source topic",
    )
    redrive.add_argument("--dlq-topic", required=True)
    redrive.add_argument("--reason", default=None, help="only letters whose error contains this")
    redrive.add_argument("--to-topic", default=None, help="default: each letter's source topic")
    redrive.add_argument("--dry-run", action="store_true", help="count the letters, send nothing")
    redrive.set_defaults(func=_redrive_command)


def _redrive_command(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if settings is None:
        return EXIT_USAGE
    bootstrap = bootstrap_of(settings)
    if bootstrap is None:
        return EXIT_USAGE
    from streams.redrive import redrive_dead_letters

    try:
        report = run_operation(
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
    except OperationFailed as failed:
        return failed.report()
    print(report)
    return 0
