"""``pacsys-rx write DRF VALUE [DRF VALUE ...]``: settings with their old and new values, like caput."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import reactivex
from reactivex import Observable
from reactivex import operators as rxops

from pacsys_rx.backends.base import Backend, Capability
from pacsys_rx.console.formatting import describe_status, format_value, is_numeric
from pacsys_rx.console.targets import add_target_arguments, open_backend, positive_seconds
from pacsys_rx.drf import prepare_for_write
from pacsys_rx.model import Reading, Value, WriteResult
from pacsys_rx.verify import Verify, readback_drf


class _Pairs(argparse.Action):
    """Collects DRF VALUE pairs; an odd count is a usage error."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        words = list(values or ())
        if len(words) % 2:
            parser.error(f"DRF {words[-1]!r} has no VALUE: give DRF VALUE pairs")
        setattr(namespace, self.dest, list(zip(words[::2], words[1::2], strict=True)))


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "write", help="write settings and print old → new values (like caput)",
        description="Write each VALUE to its DRF (READING becomes SETTING, STATUS becomes CONTROL, @N "
                    "forced) and print 'DRF  ok  OLD → NEW' from reads before and after. VALUE is a "
                    "number, comma-separated numbers for an array, or text. With --verify the new value "
                    "is watched on the read-back stream until it matches within --tolerance.")
    parser.add_argument("settings", nargs="+", action=_Pairs, metavar="DRF VALUE",
                        help="device request and value, e.g. Z:ACLTST 1.5 (several pairs allowed)")
    parser.add_argument("--verify", action="store_true",
                        help="read each setting back from its stream; exit 1 unless it matches")
    parser.add_argument("--tolerance", type=float, default=0.0,
                        help="largest difference a verified number may have (default 0)")
    parser.add_argument("--verify-timeout", type=positive_seconds, default=5.0, metavar="SECONDS",
                        help="how long --verify watches the read-back stream (default 5)")
    add_target_arguments(parser, writing=True)
    parser.set_defaults(handler=run)


def parse_value(text: str) -> Value:
    """A float, a tuple of floats for comma-separated numbers, else the text itself."""
    try:
        return float(text)
    except ValueError:
        pass
    if "," in text:
        try:
            return tuple(float(part) for part in text.split(","))
        except ValueError:
            pass
    return text


def _shown(reading: Reading | None) -> str:
    if reading is None or reading.value is None:
        return "?"
    units = f" {reading.units}" if reading.units and is_numeric(reading.value) else ""
    return f"{format_value(reading.value)}{units}"


def result_line(result: WriteResult, old: Reading | None, new: Reading | None) -> str:
    """``Z:ACLTST.SETTING@N  ok  1.5 → 7.25 blip`` (``  verified`` or ``  not verified``)."""
    if not result.ok:
        return f"{result.drf}  refused: {describe_status(result)}"
    line = f"{result.drf}  ok  {_shown(old)} → {_shown(new)}"
    if result.verified is None:
        return line
    return f"{line}  {'verified' if result.verified else 'not verified'}"


def _read_all(backend: Backend, drfs: list[str]) -> dict[str, Reading]:
    readings: list[Reading] = backend.read_many(drfs).pipe(rxops.to_list()).run()
    return {reading.drf: reading for reading in readings}


def _written(backend: Backend, settings: list[tuple[str, Value]], verify: Verify | None,
             ) -> list[WriteResult]:
    if verify is None:
        results: list[WriteResult] = backend.write_many(settings).pipe(rxops.to_list()).run()
        return results
    checked: list[Observable[WriteResult]] = [
        backend.write(drf, value, verify=verify) for drf, value in settings]
    merged: list[WriteResult] = reactivex.merge(*checked).pipe(rxops.to_list()).run()
    order = {prepare_for_write(drf): i for i, (drf, _) in enumerate(settings)}
    return sorted(merged, key=lambda result: order.get(result.drf, len(order)))


def run(args: argparse.Namespace) -> int:
    """Exit status 1 when a setting was refused (or, with --verify, not verified)."""
    settings = [(drf, parse_value(text)) for drf, text in args.settings]
    readbacks = [readback_drf(drf) for drf, _ in settings]
    verify = Verify(tolerance=args.tolerance, timeout=args.verify_timeout) if args.verify else None
    with open_backend(args) as backend:
        writable = Capability.WRITE in backend.capabilities  # else the write says why, before any read
        before = _read_all(backend, readbacks) if writable else {}
        results = _written(backend, settings, verify)
        after = _read_all(backend, readbacks)
    for result, readback in zip(results, readbacks, strict=True):
        print(result_line(result, before.get(readback), after.get(readback)))
    return 0 if all(r.ok and r.verified is not False for r in results) else 1
