"""``agenther demo``: sample runs relabeled live on an embedded broker, no API key."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from agenther.inputs import InputFormat
from agenther.models import OutputFormat
from streams.commands.common import run_async


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="relabel sample runs live on an embedded broker (rule-based, no API key)",
    )
    demo.add_argument(
        "-f",
        "--format",
        dest="output_format",
        default="sft",
        choices=[f.value for f in OutputFormat],
    )
    demo.add_argument(
        "--input-format",
        default=InputFormat.AUTO.value,
        choices=[InputFormat.AUTO.value, InputFormat.OTLP_PROTO.value, InputFormat.OTLP_JSON.value],
        help="publish the sample runs as agenther events (auto) or as OTLP traces the way the "
        "Collector's Kafka exporter writes them",
    )
    demo.add_argument("--timeout", type=float, default=25.0, help="seconds before giving up")
    demo.set_defaults(func=_demo_command)


def _demo_command(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    # The demo prints its own account of every event; only real trouble goes to stderr.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    return run_async(
        run_demo(
            output_format=args.output_format,
            timeout_s=args.timeout,
            input_format=InputFormat(args.input_format),
        )
    )
