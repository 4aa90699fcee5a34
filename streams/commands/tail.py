"""``agenther tail``: print records of a topic."""

from __future__ import annotations

import argparse
from typing import Any

from streams.commands.common import (
    EXIT_USAGE,
    bootstrap_of,
    connection_parser,
    load_settings,
    run_async,
)

# "The first N" of a topic holding fewer must still end.
TAIL_IDLE_S = 10.0


def register(subparsers: Any) -> None:
    tail = subparsers.add_parser(
        "tail", parents=[connection_parser()], help="print records of a topic"
    )
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


def _tail_command(args: argparse.Namespace) -> int:
    from streams.tail import tail

    settings = load_settings(args)
    if settings is None:
        return EXIT_USAGE
    bootstrap = bootstrap_of(settings)
    if bootstrap is None:
        return EXIT_USAGE
    idle = args.idle_timeout
    if idle is None and args.n is not None:
        idle = TAIL_IDLE_S
    return run_async(
        tail(settings, bootstrap, args.topic, args.n, args.from_beginning, idle), bootstrap
    )
