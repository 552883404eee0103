"""``pacsys-rx monitor DRF...``: a live table of streaming devices, then a summary."""

from __future__ import annotations

import argparse
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.table import Table

from pacsys_rx.console.formatting import (
    INTERRUPTED,
    describe_status,
    format_value,
    make_console,
    reading_json,
    reading_line,
)
from pacsys_rx.console.targets import add_target_arguments, open_backend, positive_seconds
from pacsys_rx.drf import drf_list_text, parse_request
from pacsys_rx.errors import PacsysError
from pacsys_rx.flow import BoundedQueue
from pacsys_rx.model import Reading

SPARK = "▁▂▃▄▅▆▇█"
HISTORY = 40
REFRESH_S = 0.25
BUFFER = 50_000


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "monitor", help="show streaming devices live (value, age, rate, sparkline)",
        description="Stream each DRF (give an event, e.g. M:OUTTMP@p,1000) and show a live table; "
                    "ends after --duration seconds or Ctrl-C with a summary. Exits with status 1 "
                    "when a device delivered no data, 130 on Ctrl-C. When standard output is not a "
                    "terminal, prints one line per reading (time, DRF, value) instead of the table.")
    parser.add_argument("drfs", nargs="+", metavar="DRF", help="device requests with events")
    parser.add_argument("--deadband", type=float, help="only show changes larger than this")
    parser.add_argument("--duration", type=positive_seconds, metavar="SECONDS",
                        help="stop after this many seconds")
    parser.add_argument("--json", action="store_true", help="print one JSON line per reading instead")
    add_target_arguments(parser)
    parser.set_defaults(handler=run)


@dataclass
class DeviceRow:
    """What the table shows for one DRF."""

    count: int = 0
    errors: int = 0
    last: Reading | None = None
    received_at: float = 0.0
    first_at: float = 0.0
    history: deque[float] = field(default_factory=lambda: deque(maxlen=HISTORY))
    low: float | None = None
    high: float | None = None

    def add(self, reading: Reading, now: float) -> None:
        if not self.count:
            self.first_at = now
        self.count += 1
        self.last = reading
        self.received_at = now
        if not reading.ok:
            self.errors += 1
        elif isinstance(reading.value, (int, float)):
            value = float(reading.value)
            self.history.append(value)
            self.low = value if self.low is None else min(self.low, value)
            self.high = value if self.high is None else max(self.high, value)

    def rate(self, now: float) -> float:
        span = now - self.first_at
        return (self.count - 1) / span if self.count > 1 and span > 0 else 0.0

    @property
    def has_data(self) -> bool:
        return self.count > self.errors


def sparkline(values: deque[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    scale = (len(SPARK) - 1) / (high - low) if high > low else 0.0
    return "".join(SPARK[int((v - low) * scale)] for v in values)


def _table(rows: dict[str, DeviceRow], now: float, dropped: int) -> Table:
    table = Table(title=f"pacsys-rx monitor  (dropped: {dropped})")
    for column in ("DRF", "value", "units", "age s", "rate Hz", "recent", "count", "status"):
        table.add_column(column, overflow="fold",
                         justify="right" if column in ("age s", "rate Hz", "count") else "left")
    for drf, row in rows.items():
        last = row.last
        if last is None:
            table.add_row(drf, "-", "", "", "", "", "0", "waiting")
            continue
        status = "ok" if last.ok else (last.message or last.status.describe())
        table.add_row(drf, format_value(last.value) if last.value is not None else "-", last.units or "",
                      f"{now - row.received_at:.1f}", f"{row.rate(now):.1f}", sparkline(row.history),
                      str(row.count), status)
    return table


def run(args: argparse.Namespace) -> int:
    """Exit status 0 after the duration, 130 after Ctrl-C; the summary goes to stdout.

    A terminal shows the live table; other output (a pipe, a file) gets one line per reading.
    """
    import pacsys_rx.operators as ops

    console = make_console()
    table = not args.json and console.is_terminal
    queue: BoundedQueue[Reading] = BoundedQueue(BUFFER, "drop_oldest")
    rows = {parse_request(drf).to_canonical(): DeviceRow() for drf in args.drfs}
    interrupted = False
    with open_backend(args) as backend:
        source = backend.stream(args.drfs)
        if args.deadband is not None:
            source = source.pipe(ops.deadband(abs=args.deadband))
        failure: list[Exception] = []
        subscription = source.subscribe(on_next=queue.put, on_error=failure.append)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        try:
            with Live(_table(rows, time.monotonic(), 0), console=console, refresh_per_second=4,
                      transient=True) if table else contextlib.nullcontext() as live:
                while not failure and (deadline is None or time.monotonic() < deadline):
                    got, first = queue.get(REFRESH_S)
                    now = time.monotonic()
                    for reading in ([first] if got and first is not None else []) + queue.drain():
                        rows.setdefault(reading.drf, DeviceRow()).add(reading, now)
                        if not table:
                            print(reading_json(reading) if args.json else update_line(reading), flush=True)
                    if live is not None:
                        live.update(_table(rows, now, queue.dropped))
        except KeyboardInterrupt:
            interrupted = True
        finally:
            subscription.dispose()
    if failure:
        raise failure[0]
    if not args.json:
        _print_summary(console, rows, queue.dropped)
    if interrupted:
        return INTERRUPTED
    without_data = [f"{drf} ({_why_silent(row)})" for drf, row in rows.items() if not row.has_data]
    if without_data:
        raise PacsysError(f"no data from {drf_list_text(without_data)}")
    return 0


def update_line(reading: Reading) -> str:
    """``2026-12-06T21:40:01.123+00:00  M:OUTTMP.READING@p,200  74.6 DegF``, like camonitor."""
    return f"{reading.timestamp.isoformat(timespec='milliseconds')}  {reading_line(reading)}"


def _why_silent(row: DeviceRow) -> str:
    return "no reading arrived" if row.last is None else describe_status(row.last)


def _print_summary(console: Console, rows: dict[str, DeviceRow], dropped: int) -> None:
    now = time.monotonic()
    table = Table(title="summary")
    for column in ("DRF", "readings", "errors", "rate Hz", "min", "max", "last"):
        table.add_column(column, overflow="fold")
    for drf, row in rows.items():
        last = format_value(row.last.value) if row.last and row.last.value is not None else "-"
        low = "-" if row.low is None else f"{row.low:.6g}"
        high = "-" if row.high is None else f"{row.high:.6g}"
        table.add_row(drf, str(row.count), str(row.errors), f"{row.rate(now):.1f}", low, high, last)
    console.print(table)
    console.print(f"total readings: {sum(r.count for r in rows.values())}, dropped: {dropped}")
