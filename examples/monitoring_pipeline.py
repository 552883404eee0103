"""A monitoring pipeline: stream devices, keep good readings, print changes and per-device statistics.

    python examples/monitoring_pipeline.py [--seconds 10]

Runs against its own embedded simulator.
"""

from __future__ import annotations

import argparse

import reactivex
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.sim import Simulator

DEVICES = ["M:OUTTMP@p,250", "N:H801@p,250", "Z:ACLTS6@p,250"]


def main(seconds: float) -> None:
    with Simulator() as sim:
        host, port = sim.endpoints["dpm"].rsplit(":", 1)
        with prx.dpm(host, int(port)) as dpm:
            readings = dpm.stream(DEVICES).pipe(
                ops.only_ok(),                                  # error readings are values: drop them
                rxops.take_until(reactivex.timer(seconds)),
                rxops.share(),                                  # one stream, two consumers below
            )
            changes = readings.pipe(ops.deadband(rel=0.05))     # changes of more than 5 %
            statistics = readings.pipe(ops.window_stats(duration=1.0))
            with prx.iterate(reactivex.merge(changes, statistics), timeout=5.0) as items:
                for item in items:
                    if isinstance(item, ops.WindowStats):
                        print(f"stats    {item.device:9} n={item.n:3} mean={item.mean:8.3f} "
                              f"min={item.min:8.3f} max={item.max:8.3f}")
                    else:
                        print(f"change   {item.device:9} {item.value:8.3f} {item.units or ''}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to monitor (default 10)")
    main(parser.parse_args().seconds)
