"""``pacsys-rx read DRF...``: one reading per device, like acget."""

from __future__ import annotations

import argparse

from reactivex import operators as rxops

from pacsys_rx.console.formatting import reading_json, reading_line
from pacsys_rx.console.targets import add_target_arguments, open_backend
from pacsys_rx.model import Reading


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("read", help="read devices once (like acget)",
                                 description="Read each DRF once and print its value, units and status.")
    parser.add_argument("drfs", nargs="+", metavar="DRF",
                        help="device requests, e.g. M:OUTTMP or B:IRMS06[0:3]")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    add_target_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the readings in the order asked; exit status 1 when any device answered with an error."""
    with open_backend(args) as backend:
        readings: list[Reading] = backend.read_many(args.drfs).pipe(rxops.to_list()).run()
    order = {drf: i for i, drf in enumerate(args.drfs)}
    readings.sort(key=lambda r: order.get(r.drf, len(order)))
    for reading in readings:
        print(reading_json(reading) if args.json else reading_line(reading))
    return 1 if any(not r.ok for r in readings) else 0
