"""Cost per item of each pacsys_rx operator on a synthetic stream (default 1,000,000 items).

Run: ``.venv/bin/python benchmarks/bench_operators.py [--items N] [--only NAME ...] [--json FILE]``

Readings, alarm blocks and alarm events are built once and reused. Each source is
``reactivex.from_iterable`` on the current-thread scheduler; the time of the bare source
(subscribe, iterate, no operator) is measured first and subtracted, so ``stage`` is the operator's
own cost per input item. Time-based operators run on a virtual-time scheduler whose clock stands
still (its timers never fire), which measures their per-item path; the hand-off operators deliver
on the immediate scheduler.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import reactivex
from _common import Figure, add_json_option, publish
from pacsys_rx.operators import AlarmEvent, AlarmState, Severity
from reactivex import Observable, abc
from reactivex.scheduler import CurrentThreadScheduler, ImmediateScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops
from pacsys_rx.model import AcnetStatus, AnalogAlarm, Reading, ValueType

DEVICES = [f"Z:BENCH{i:02d}" for i in range(16)]
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
STATELESS_TARGET_US = 2.0
STATEFUL_TARGET_US = 5.0
ON_ALARM_EVENTS = {"alarm_delay", "alarm_count", "latch", "enable_when"}


def build_readings(n: int) -> list[Reading]:
    """Readings round-robin over 16 devices, 1 ms apart, values ramping 0..9.9, every 97th an error."""
    error = AcnetStatus.named("DPM_PRIV")
    readings = []
    for i in range(n):
        device = DEVICES[i % len(DEVICES)]
        stamp = T0 + timedelta(milliseconds=i)
        if i % 97 == 96:
            readings.append(Reading.error(device, device, error, "fake", timestamp=stamp))
        else:
            value = ((i // len(DEVICES)) % 100) / 10
            cycle = i // 4
            reading = Reading(device, device, value, ValueType.SCALAR, "degF", stamp, cycle, backend="dpm")
            readings.append(reading)
    return readings


def build_alarm_blocks(n: int) -> list[Reading]:
    """Analog alarm-block readings round-robin over 16 devices; alarm_status toggles every 10 per device."""
    per_device = {
        device: tuple(
            Reading(f"{device}.ANALOG", device, AnalogAlarm(0.0, 10.0, True, status, False, False, 1, 0),
                    ValueType.ANALOG_ALARM, None, T0)
            for status in (False, True)
        )
        for device in DEVICES
    }
    return [per_device[DEVICES[i % len(DEVICES)]][(i // (10 * len(DEVICES))) % 2] for i in range(n)]


def build_alarm_events(n: int) -> list[AlarmEvent]:
    """Alarm events round-robin over 16 devices; each device toggles OK/ALARM every 10 of its events."""
    per_device = {
        device: (
            AlarmEvent(device, AlarmState.OK, Severity.NONE, 1.0, T0, "within limits"),
            AlarmEvent(device, AlarmState.ALARM, Severity.MAJOR, 11.0, T0, "above high limit 10"),
        )
        for device in DEVICES
    }
    return [per_device[DEVICES[i % len(DEVICES)]][(i // (10 * len(DEVICES))) % 2] for i in range(n)]


def source_of(items: list[Any]) -> Observable[Any]:
    return reactivex.from_iterable(items, scheduler=CurrentThreadScheduler())


def drain(observable: Observable[Any]) -> float:
    """Seconds to subscribe to ``observable`` and run it to completion."""
    gc.collect()
    start = time.perf_counter()
    observable.subscribe(lambda _: None, scheduler=CurrentThreadScheduler())
    return time.perf_counter() - start


def aligned_source(readings: list[Reading], clock: Subject[Reading], every: int) -> Observable[Reading]:
    """The readings, with every ``every``-th one also sent as a clock event first."""

    def subscribe(
        observer: abc.ObserverBase[Reading], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        on_next, on_clock = observer.on_next, clock.on_next
        for i, reading in enumerate(readings):
            if i % every == 0:
                on_clock(reading)
            on_next(reading)
        clock.on_completed()
        observer.on_completed()
        return reactivex.disposable.Disposable()

    return Observable(subscribe)


Build = Callable[[], Observable[Any]]


def cases(
    readings: list[Reading], blocks: list[Reading], alarms: list[AlarmEvent]
) -> list[tuple[str, str, Build]]:
    """(name, kind, build) for every operator; kind picks the target and the baseline source."""
    virtual = TestScheduler()
    immediate = ImmediateScheduler()
    half = len(readings) // 2
    by_device = {device: [r for r in readings if r.device == device] for device in DEVICES}

    def on_readings(operator: Callable[[Observable[Reading]], Observable[Any]]) -> Build:
        return lambda: source_of(readings).pipe(operator)

    def on_alarms(operator: Callable[[Observable[AlarmEvent]], Observable[Any]]) -> Build:
        return lambda: source_of(alarms).pipe(operator)

    def aligned() -> Observable[Any]:
        clock: Subject[Reading] = Subject()
        return aligned_source(readings, clock, 16).pipe(ops.align_to_event(clock, tolerance=0.005))

    return [
        ("values", "stateless", on_readings(ops.values())),
        ("only_ok", "stateless", on_readings(ops.only_ok())),
        ("errors", "stateless", on_readings(ops.errors())),
        ("for_device", "stateless", on_readings(ops.for_device(*DEVICES[:4]))),
        ("by_device", "stateless", on_readings(ops.by_device())),
        ("deadband", "stateless", on_readings(ops.deadband(abs=0.25))),
        ("throttle", "stateless", on_readings(ops.throttle(1.0, scheduler=virtual))),
        ("sample_latest", "stateless", on_readings(ops.sample_latest(1.0, scheduler=virtual))),
        ("distinct_by_cycle", "stateless", on_readings(ops.distinct_by_cycle())),
        ("merge_backends", "stateless",
         lambda: ops.merge_backends(source_of(readings[:half]), source_of(readings[:half]))),
        ("failover", "stateless",
         lambda: ops.failover(source_of(readings), source_of([]), stall_after=60.0, scheduler=virtual)),
        ("combine_devices", "stateless",
         lambda: ops.combine_devices({device: source_of(rs) for device, rs in by_device.items()})),
        ("stale", "stateful", on_readings(ops.stale(5.0, devices=DEVICES, scheduler=virtual))),
        ("window_stats(count)", "stateful", on_readings(ops.window_stats(count=100))),
        ("window_stats(duration)", "stateful",
         on_readings(ops.window_stats(duration=1.0, scheduler=virtual))),
        ("align_to_event", "stateful", aligned),
        ("limits", "stateful", on_readings(ops.limits(1.0, 9.0, hysteresis=0.5, tries=2))),
        ("digital_alarm", "stateful", on_readings(ops.digital_alarm(0b1, 0b11, tries=2))),
        ("from_alarm_blocks", "stateful", lambda: source_of(blocks).pipe(ops.from_alarm_blocks())),
        ("alarm_delay", "stateful", on_alarms(ops.alarm_delay(2.0, scheduler=virtual))),
        ("alarm_count", "stateful", on_alarms(ops.alarm_count(3, 10.0, scheduler=virtual))),
        ("latch", "stateful", on_alarms(ops.latch(reactivex.never(), scheduler=virtual))),
        ("enable_when", "stateful", on_alarms(ops.enable_when(reactivex.of(True), scheduler=virtual))),
        ("latest", "stateless", on_readings(ops.latest(immediate))),
        ("bounded_buffer", "stateless", on_readings(ops.bounded_buffer(1024, scheduler=immediate))),
        ("retry_with_backoff", "stateless", on_readings(ops.retry_with_backoff(1.0, scheduler=virtual))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--only", nargs="*", help="operator names to run")
    add_json_option(parser)
    args = parser.parse_args()

    readings = build_readings(args.items)
    blocks = build_alarm_blocks(args.items)
    alarms = build_alarm_events(args.items)
    baseline = {"readings": drain(source_of(readings)), "alarms": drain(source_of(alarms))}
    print(f"{args.items:,} items; bare source {baseline['readings'] / args.items * 1e6:.2f} µs/item")
    print(f"{'operator':<24}{'total µs/item':>15}{'stage µs/item':>15}{'target':>9}")
    figures = []
    for name, kind, build in cases(readings, blocks, alarms):
        if args.only and name.split("(")[0] not in args.only and name not in args.only:
            continue
        elapsed = drain(build())
        base = baseline["alarms" if name in ON_ALARM_EVENTS else "readings"]
        stage = (elapsed - base) / args.items * 1e6
        target = STATELESS_TARGET_US if kind == "stateless" else STATEFUL_TARGET_US
        verdict = "ok" if stage < target else "SLOW"
        print(f"{name:<24}{elapsed / args.items * 1e6:>15.2f}{stage:>15.2f}{target:>7.1f} {verdict}")
        figures.append(Figure(f"operators ({kind})", name, "µs/item", stage, higher_is_better=False,
                              target_max=target))
    publish("bench_operators", figures, json_path=args.json, echo=False)


if __name__ == "__main__":
    main()
