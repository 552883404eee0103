"""Flags shared by the scale-out commands (``worker``, ``alarms``, ``ack``)."""

from __future__ import annotations

import argparse

from pacsys_rx.scaleout import DEFAULT_STREAM_URL, StreamBroker


def add_stream_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("stream")
    group.add_argument("--stream", required=True, help="RabbitMQ stream that carries the alarm state")
    group.add_argument("--broker", default=DEFAULT_STREAM_URL,
                       help="stream-protocol URL of the broker (default "
                            + DEFAULT_STREAM_URL.replace("%", "%%") + ")")


def stream_broker(args: argparse.Namespace) -> StreamBroker:
    try:
        return StreamBroker.from_url(args.broker)
    except ValueError as error:
        raise SystemExit(f"pacsys-rx {args.command}: error: {error}") from None
