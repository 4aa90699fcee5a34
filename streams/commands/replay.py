"""``agenther replay``: reset a consumer group's offsets so the service reprocesses events."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
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
    replay = subparsers.add_parser(
        "replay",
        parents=[connection_parser()],
        help="reset a consumer group's offsets so the service reprocesses events",
    )
    replay.add_argument("--group-id", required=True)
    replay.add_argument("--topic", required=True)
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-earliest", action="store_true")
    target.add_argument("--to-offset", type=int)
    target.add_argument("--to-datetime", type=datetime.fromisoformat, help="ISO 8601")
    target.add_argument("--by-duration", type=duration, help="e.g. 90s, 15m, 1h, 2d")
    replay.add_argument("--partition", type=int, default=None, help="with --to-offset")
    replay.set_defaults(func=_replay_command)


def duration(text: str) -> timedelta:
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units:
        raise argparse.ArgumentTypeError(f"duration like 90s, 15m, 1h or 2d, not {text!r}")
    try:
        amount = float(text[:-1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}") from None
    return timedelta(**{units[text[-1]]: amount})


def _replay_command(args: argparse.Namespace) -> int:
    if args.partition is not None and args.to_offset is None:
        print("agenther: --partition goes with --to-offset", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings(args)
    if settings is None:
        return EXIT_USAGE
    bootstrap = bootstrap_of(settings)
    if bootstrap is None:
        return EXIT_USAGE
    from streams.replay import reset_offsets

    try:
        positions = run_operation(
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
    except OperationFailed as failed:
        return failed.report()
    for partition, offset in sorted(positions.items()):
        print(f"{args.topic}-{partition}: {offset}")
    print(f"group {args.group_id} reset on {len(positions)} partitions; restart the service")
    return 0
