"""Plot a minute of a stream to a PNG with matplotlib (``pip install pacsys_rx[plot]``; no display needed).

    python examples/plot_stream.py [--seconds 60] [--output stream.png]

Runs against its own embedded simulator.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from datetime import datetime

import reactivex
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.sim import Simulator

DEVICES = ["N:H801@p,100", "Z:ACLTS9@p,50"]


def main(seconds: float, output: str) -> None:
    with Simulator() as sim:
        host, port = sim.endpoints["dpm"].rsplit(":", 1)
        with prx.dpm(host, int(port)) as dpm:
            readings = dpm.stream(DEVICES).pipe(
                ops.only_ok(),
                rxops.take_until(reactivex.timer(seconds)),
                rxops.to_list(),
            ).run()

    series: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    units: dict[str, str] = {}
    for reading in readings:
        series[reading.device].append((reading.timestamp, reading.value))
        units[reading.device] = reading.units or ""

    figure = Figure(figsize=(10, 3 * len(series)), layout="constrained")   # Agg canvas: headless
    rows = figure.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
    for axes, (device, points) in zip(rows, series.items(), strict=True):
        times, values = zip(*points, strict=True)
        axes.plot(times, values, linewidth=1)
        axes.set_ylabel(f"{device} [{units[device]}]")
        axes.grid(True, alpha=0.3)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(AutoDateLocator()))
    figure.suptitle(f"{len(readings)} readings over {seconds:g} s")
    figure.savefig(output, dpi=100)
    print(f"wrote {output}: {len(readings)} readings of {', '.join(series)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to record (default 60)")
    parser.add_argument("--output", default="stream.png", help="PNG file to write (default stream.png)")
    arguments = parser.parse_args()
    main(arguments.seconds, arguments.output)
