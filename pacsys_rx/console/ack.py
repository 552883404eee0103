"""``pacsys-rx ack|enable|disable DEVICE --stream NAME``: operator commands for every worker and console."""

from __future__ import annotations

import argparse

from pacsys_rx.console.scaleout_options import add_stream_arguments, stream_broker
from pacsys_rx.scaleout import Action, canonical_device, send_command

COMMANDS = {
    "ack": (Action.ACKNOWLEDGE, "acknowledge an alarm through the scale-out stream",
            "Publish an acknowledgement of DEVICE (ALL: every device) on the stream and wait for the "
            "broker's confirmation; every worker replica of the device's shard applies it.", "acknowledged"),
    "disable": (Action.DISABLE, "disable a device's alarm through the scale-out stream",
                "Publish a disable command for DEVICE (ALL: every device) and wait for the broker's "
                "confirmation; the workers of its shard publish it DISABLED and hold back its alarm "
                "changes until it is enabled.", "disabled"),
    "enable": (Action.ENABLE, "enable a disabled alarm through the scale-out stream",
               "Publish an enable command for DEVICE (ALL: every device) and wait for the broker's "
               "confirmation; the workers of its shard publish its latest alarm state again.", "enabled"),
}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, (action, summary, description, done) in COMMANDS.items():
        parser = commands.add_parser(name, help=summary, description=description)
        parser.add_argument("device", metavar="DEVICE", help="device name, or ALL")
        add_stream_arguments(parser)
        parser.set_defaults(handler=run, action=action, done=done)


def run(args: argparse.Namespace) -> int:
    device = None if args.device.upper() == "ALL" else canonical_device(args.device)
    command = send_command(stream_broker(args), args.stream, args.action, device)
    print(f"{args.done} {args.device} at {command.issued_at.isoformat()} as {command.origin}")
    return 0
