"""Replay benchmark: hours of 1 Hz history for 100 devices through the cookbook's alarm pipeline
(``limits`` + ``alarm_delay``) on a HistoricalScheduler, each reading at its own timestamp.

Run: ``.venv/bin/python benchmarks/bench_replay.py [--hours H] [--devices N] [--json FILE]``

The readings are built in memory first (not timed); the figure is the wall time of ``replay`` and
its projection to 24 hours (linear in the number of readings: one scheduled action per instant and
the operators' per-reading work). Target: 24 h x 100 devices (8.64 M readings) in 60 s or less.
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import datetime, timedelta, timezone

from _common import Figure, add_json_option, publish
from reactivex import Observable

from pacsys_rx import operators as ops
from pacsys_rx.model import Reading, ValueType
from pacsys_rx.replay import replay

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
TARGET_S = 60.0


def build(hours: float, devices: int) -> list[Reading]:
    names = [f"Z:BANK{i:03d}" for i in range(devices)]
    seconds = round(hours * 3600)
    return [Reading(name, name, 50.0 + 12.0 * math.sin(s / 600.0 + d), ValueType.SCALAR, "mA",
                    T0 + timedelta(seconds=s))
            for s in range(seconds) for d, name in enumerate(names)]


def alarm_pipeline(readings: Observable[Reading]) -> Observable[object]:
    return readings.pipe(ops.limits(low=40.0, high=60.0, hysteresis=0.5, tries=2), ops.alarm_delay(5.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=1.0, help="hours of history replayed (default 1)")
    parser.add_argument("--devices", type=int, default=100, help="devices (default 100)")
    add_json_option(parser)
    options = parser.parse_args()
    readings = build(options.hours, options.devices)
    began = time.perf_counter()
    events = replay(readings, alarm_pipeline)
    elapsed = time.perf_counter() - began
    per_day = elapsed * 24.0 / options.hours
    what = f"{options.hours:g} h x {options.devices} devices, limits + alarm_delay"
    publish("bench_replay.py", [
        Figure("replay", f"{len(readings):,} readings ({what}; {len(events):,} alarm events)", "µs/reading",
               elapsed / len(readings) * 1e6, higher_is_better=False),
        Figure("replay", f"24 h x {options.devices} devices"
               + ("" if options.hours == 24 else f" (projected from {options.hours:g} h)"), "s", per_day,
               higher_is_better=False, target_max=TARGET_S),
    ], json_path=options.json)


if __name__ == "__main__":
    main()
