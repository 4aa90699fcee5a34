"""``agenther broker``: the embedded Kafka-compatible broker alone, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any


def register(subparsers: Any) -> None:
    broker = subparsers.add_parser(
        "broker", help="run the embedded Kafka-compatible broker (Tansu) until Ctrl-C"
    )
    broker.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    broker.set_defaults(func=_broker_command)


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
