"""``pacsys-rx ack DEVICE --stream NAME``: acknowledge a device's alarm on every worker and console."""

from __future__ import annotations

import argparse

from pacsys_rx.console.scaleout_options import add_stream_arguments, stream_broker
from pacsys_rx.scaleout import Action, canonical_device, send_command


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "ack", help="acknowledge an alarm through the scale-out stream",
        description="Publish an acknowledgement of DEVICE (ALL: every device) on the stream and wait for "
                    "the broker's confirmation; every worker replica of the device's shard applies it.")
    parser.add_argument("device", metavar="DEVICE", help="device name, or ALL")
    add_stream_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    device = None if args.device.upper() == "ALL" else canonical_device(args.device)
    command = send_command(stream_broker(args), args.stream, Action.ACKNOWLEDGE, device)
    print(f"acknowledged {args.device} at {command.issued_at.isoformat()} as {command.origin}")
    return 0
