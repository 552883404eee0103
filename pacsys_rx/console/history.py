"""``pacsys-rx history DRF --start T --end T``: one line per logged sample (text, JSON or CSV)."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence

from reactivex import operators as rxops

from pacsys_rx.backends.history import to_datetime
from pacsys_rx.console.formatting import reading_json, reading_line
from pacsys_rx.console.targets import add_target_arguments, open_backend
from pacsys_rx.model import Reading

TIME_OPTIONS = ("--start", "--end")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "history", help="print a device's logged history",
        description="Print the data-logger samples of DRF in [--start, --end), oldest first. Times are "
                    "ISO-8601 (UTC unless an offset is given), 'now', or relative to now: -90s, -30m, -1h, "
                    "-2d, -1w. Backends: dpm, grpc, acl.")
    parser.add_argument("drf", metavar="DRF", help="device request, e.g. M:OUTTMP or M:OUTTMP@p,5000")
    parser.add_argument("--start", required=True, help="window start, e.g. -1h or 2026-01-15T08:00:00Z")
    parser.add_argument("--end", default="now", help="window end (default now)")
    parser.add_argument("--node", help="logger node (default: the service's choice)")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON object per sample")
    output.add_argument("--csv", action="store_true", help="print CSV: timestamp,value,units,status")
    add_target_arguments(parser)
    parser.set_defaults(handler=run)


def attach_relative_times(argv: Sequence[str]) -> list[str]:
    """``--start -1h`` as ``--start=-1h``: argparse would take a value starting with '-' for an option."""
    joined: list[str] = []
    for word in argv:
        if joined and joined[-1] in TIME_OPTIONS and word.startswith("-") and len(word) > 1:
            joined[-1] = f"{joined[-1]}={word}"
        else:
            joined.append(word)
    return joined


def run(args: argparse.Namespace) -> int:
    """Print the samples; exit status 1 when the logger answered with an error."""
    try:
        start, end = to_datetime(args.start), to_datetime(args.end)
    except ValueError as error:
        print(f"pacsys-rx history: {error}", file=sys.stderr)
        return 2
    with open_backend(args) as backend:
        readings: list[Reading] = backend.history(args.drf, start, end, node=args.node).pipe(
            rxops.to_list()).run()
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["timestamp", "value", "units", "status"])
        for reading in readings:
            writer.writerow([reading.timestamp.isoformat(), "" if reading.value is None else reading.value,
                             reading.units or "", reading.status.name or str(reading.status.packed)])
    else:
        for reading in readings:
            print(reading_json(reading) if args.json
                  else f"{reading.timestamp.isoformat()}  {reading_line(reading)}")
    return 1 if any(not r.ok for r in readings) else 0
