"""Plot a device's last hour with its alarm limits and the alarm transitions found by replaying it.

    python examples/history_plot.py [--seconds 3600] [--output history.png]

Fetches the logged history of M:FOO (``backend.history``), replays it through a limit alarm in
virtual time (``pacsys_rx.replay``), and draws the values, the limits and a marker at each alarm
transition to a PNG (``pip install pacsys_rx[plot]``; no display needed). ``--seconds`` is the
length of the window, ending now. Runs against its own embedded simulator.
"""

from __future__ import annotations

import argparse

from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.replay import replay
from pacsys_rx.sim import Simulator

DEVICE = "M:FOO@p,1000"
LOW, HIGH, HYSTERESIS, TRIES = 55.0, 65.0, 0.5, 3


def main(seconds: float, output: str) -> None:
    with Simulator() as sim, prx.dpm(**sim.client_options("dpm")) as dpm:
        history = dpm.history(DEVICE, duration=seconds).pipe(ops.only_ok(), rxops.to_list()).run()

    transitions = replay(history, ops.limits(LOW, HIGH, hysteresis=HYSTERESIS, tries=TRIES))
    figure = Figure(figsize=(10, 4), layout="constrained")               # Agg canvas: headless
    axes = figure.subplots()
    axes.plot([r.timestamp for r in history], [r.value for r in history], linewidth=0.8)
    for limit in (LOW, HIGH):
        axes.axhline(limit, color="tab:red", linestyle="--", linewidth=0.8)
    for event in transitions[1:]:                                          # the first is the initial state
        axes.axvline(event.since, color="tab:orange" if event.state.name == "ALARM" else "tab:green",
                     linewidth=0.6, alpha=0.6)
    units = history[0].units if history else ""
    axes.set_ylabel(f"{history[0].device if history else DEVICE} [{units}]")
    axes.xaxis.set_major_formatter(ConciseDateFormatter(AutoDateLocator()))
    axes.grid(True, alpha=0.3)
    figure.suptitle(f"{len(history)} logged readings, {len(transitions) - 1} alarm transitions by replay")
    figure.savefig(output, dpi=100)
    print(f"wrote {output}: {len(history)} readings, {len(transitions) - 1} alarm transitions")
    for event in transitions[1:]:
        print(f"{event.since:%H:%M:%S}  {event.state.name:<6} {event.reason}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0,
                        help="length of the window ending now (default 3600, the last hour)")
    parser.add_argument("--output", default="history.png", help="PNG file to write (default history.png)")
    arguments = parser.parse_args()
    main(arguments.seconds, arguments.output)
