"""Alarm logic: two backends merged, deadband, limits with tries and hysteresis, stale detection, latch.

    python examples/alarm_logic.py [--seconds 10]

Z:ACLTS9 oscillates between -1 and +1 mm once a second; its alarm band is +-0.8 mm. An alarm needs
two readings in a row outside the band and clears only back inside +-0.7 mm. A cleared alarm stays
LATCHED until the operator acknowledges it. During the middle third of the run both servers stop
answering: the device goes stale, then recovers. Runs against its own embedded simulator.
"""

from __future__ import annotations

import argparse

import reactivex
from reactivex import operators as rxops
from reactivex.subject import Subject

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.sim import Simulator

DEVICE = "Z:ACLTS9@p,50"


def outage(sim: Simulator, start: float, end: float) -> None:
    """Both simulated servers stop answering from ``start`` to ``end`` seconds from now."""
    for name in ("dpm", "grpc"):
        reactivex.timer(start).subscribe(lambda _, name=name: sim.pause(name))
        reactivex.timer(end).subscribe(lambda _, name=name: sim.resume(name))


def main(seconds: float) -> None:
    with Simulator() as sim:
        dpm_host, dpm_port = sim.endpoints["dpm"].rsplit(":", 1)
        grpc_host, grpc_port = sim.endpoints["grpc"].rsplit(":", 1)
        with prx.dpm(dpm_host, int(dpm_port)) as dpm, prx.grpc(grpc_host, int(grpc_port)) as grpc:
            readings = ops.merge_backends(dpm.stream(DEVICE), grpc.stream(DEVICE)).pipe(
                ops.deadband(abs=0.01),
                rxops.share(),
            )
            acknowledge: Subject[str | None] = Subject()
            alarms = readings.pipe(
                ops.limits(low=-0.8, high=0.8, hysteresis=0.1, tries=2),
                ops.latch(acknowledge),
            )
            health = readings.pipe(ops.stale(after=0.5))
            events = reactivex.merge(alarms, health).pipe(rxops.take_until(reactivex.timer(seconds)))
            outage(sim, seconds / 3, 2 * seconds / 3)

            raised = acknowledged = 0
            with prx.iterate(events, timeout=5.0) as items:
                for event in items:
                    if isinstance(event, ops.AlarmEvent):
                        raised += event.state is ops.AlarmState.ALARM
                        value = "" if event.value is None else f" at {event.value:+.3f} mm"
                        print(f"{event.device}  {event.state.value:12} {event.reason}{value}")
                        if event.state is ops.AlarmState.LATCHED:
                            acknowledge.on_next(event.device)   # the operator presses "acknowledge"
                            acknowledged += 1
                    elif isinstance(event, ops.Stale):
                        print(f"{event.device}  stale        no reading for 0.5 s")
                    else:
                        print(f"{event.device}  recovered    after {event.gap.total_seconds():.1f} s")
            print(f"alarms raised: {raised}, latched alarms acknowledged: {acknowledged}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to run (default 10)")
    main(parser.parse_args().seconds)
