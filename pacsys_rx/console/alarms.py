"""``pacsys-rx alarms --stream NAME``: the live alarm table of a scale-out stream."""

from __future__ import annotations

import argparse
import json
import queue
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from rich.live import Live
from rich.table import Table

from pacsys_rx.console.formatting import format_value, make_console
from pacsys_rx.console.scaleout_options import add_stream_arguments, stream_broker
from pacsys_rx.console.targets import positive_seconds
from pacsys_rx.operators import AlarmEvent, AlarmState
from pacsys_rx.scaleout import Command, Gap, Output, Record, Transition, consume

REFRESH_S = 0.25


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "alarms", help="show the alarm state of a scale-out stream live",
        description="Read the stream from every shard's latest snapshot (the full current state at once), "
                    "then follow the transitions live; replicas are merged and duplicates dropped. On a "
                    "terminal: a table of the devices not OK; otherwise (or with --json) one JSON line per "
                    "transition, gap, command or other pipeline output.")
    parser.add_argument("--json", action="store_true", help="JSON lines even on a terminal")
    parser.add_argument("--all", action="store_true", help="table: show OK devices too")
    parser.add_argument("--start", default="snapshot", choices=("snapshot", "first", "last"),
                        help="where to start reading (default snapshot)")
    parser.add_argument("--duration", type=positive_seconds, metavar="SECONDS", help="stop after this long")
    add_stream_arguments(parser)
    parser.set_defaults(handler=run)


def record_json(record: Record) -> str:
    """One JSON line for a transition, gap, command or other pipeline output."""
    fields: dict[str, Any]
    if isinstance(record, Transition):
        fields = {"type": "transition", "shard": str(record.shard), "replica": record.replica,
                  **event_fields(record.event)}
    elif isinstance(record, Gap):
        fields = {"type": "gap", "shard": str(record.shard), "replica": record.replica,
                  "start": record.start.isoformat(), "end": record.end.isoformat()}
    elif isinstance(record, Command):
        fields = {"type": "command", "action": record.action.name.lower(), "device": record.device,
                  "issued_at": record.issued_at.isoformat(), "origin": record.origin}
    elif isinstance(record, Output):
        fields = {**{name: json_value(value) for name, value in record.fields}, "type": "output",
                  "output": record.type, "shard": str(record.shard), "replica": record.replica,
                  "device": record.device}
    else:
        fields = {"type": type(record).__name__.lower()}
    return json.dumps(fields, default=str)


def json_value(value: Any) -> Any:
    """Times as ISO 8601 text, durations as seconds, anything else as it is."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def event_fields(event: AlarmEvent) -> dict[str, Any]:
    return {"device": event.device, "state": event.state.value, "severity": event.severity.name,
            "value": event.value, "since": event.since.isoformat(), "reason": event.reason}


def run(args: argparse.Namespace) -> int:
    records: queue.Queue[Record | BaseException] = queue.Queue()
    source = consume(args.stream, args.start, broker=stream_broker(args))
    subscription = source.subscribe(records.put, records.put)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        if args.json or not sys.stdout.isatty():
            _print_lines(records, deadline)
        else:
            _show_table(records, deadline, args.all)
    finally:
        subscription.dispose()
    return 0


def _next(records: queue.Queue[Record | BaseException], deadline: float | None, wait: float) -> Record | None:
    timeout = wait if deadline is None else max(0.0, min(wait, deadline - time.monotonic()))
    try:
        item = records.get(timeout=timeout)
    except queue.Empty:
        return None
    if isinstance(item, BaseException):
        raise item
    return item


def _running(deadline: float | None) -> bool:
    return deadline is None or time.monotonic() < deadline


def _print_lines(records: queue.Queue[Record | BaseException], deadline: float | None) -> None:
    while _running(deadline):
        record = _next(records, deadline, 1.0)
        if record is not None:
            print(record_json(record), flush=records.empty())


def _show_table(records: queue.Queue[Record | BaseException], deadline: float | None, show_ok: bool) -> None:
    states: dict[str, AlarmEvent] = {}
    gaps: list[Gap] = []
    with Live(_table(states, gaps, show_ok), console=make_console(), auto_refresh=False) as live:
        refreshed = 0.0
        while _running(deadline):
            record = _next(records, deadline, REFRESH_S)
            if isinstance(record, Transition):
                states[record.event.device] = record.event
            elif isinstance(record, Gap):
                gaps.append(record)
            if time.monotonic() - refreshed > REFRESH_S:
                live.update(_table(states, gaps, show_ok), refresh=True)
                refreshed = time.monotonic()


def _table(states: dict[str, AlarmEvent], gaps: list[Gap], show_ok: bool) -> Table:
    shown = [event for event in states.values() if show_ok or event.state is not AlarmState.OK]
    table = Table(title=f"{len(states)} devices, {len(shown)} shown, {len(gaps)} outage gaps")
    for column in ("device", "state", "severity", "value", "since", "reason"):
        table.add_column(column)
    for event in sorted(shown, key=lambda e: (-e.severity, e.device)):
        table.add_row(event.device, event.state.value, event.severity.name, format_value(event.value),
                      event.since.isoformat(timespec="milliseconds"), event.reason)
    return table
