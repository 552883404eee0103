"""DPM/gRPC streaming throughput, pacsys_rx and the reference `pacsys` side by side, against one simulator.

The 1000-device bank at 200 Hz per device (``Z:BANK000..999@p,5``, 200,000 readings/s offered) through
``map`` + ``filter``, counted over ``--seconds`` after ``--warmup``; the target for our client is at
least 100,000 readings/s on one core and more than pacsys, at most 1.5 µs of client CPU per reading
and 3x less than pacsys. Capacity: the same at ``@p,2`` (500,000 readings/s offered); the simulator's
gRPC server may itself be the limit there (its cores are in the run table): a call whose queue is full
stops acquiring until its writer takes the queue, so the row measures what the simulator still
delivers rather than its collapse. The simulator
(``python -m pacsys_rx sim --servers grpc``) runs in its own process; the clients run one after the
other, each once the simulator is idle again. pacsys runs in ``.venv-bench`` through
``reference/pacsys_stream.py``, in each of its dispatch modes; its best run is the reference.

Run: ``.venv/bin/python benchmarks/bench_grpc.py [--seconds N] [--warmup N] [--json FILE]``.
"""

from __future__ import annotations

import argparse

import reactivex.operators as ops
from _common import (
    Counter,
    Run,
    Simulator,
    add_window_options,
    compare,
    measure,
    publish,
    reference_runs,
    run_reference,
    simulator,
)

import pacsys_rx as prx

SECTION = "DPM/gRPC"
THROUGHPUT = "1000 devices @p,5 (200,000/s offered), map + filter"
CAPACITY = "1000 devices @p,2 (500,000/s offered), map + filter"


def pacsys_rx_throughput(sim: Simulator, seconds: float, warmup: float, event: str = "p,5",
                         workload: str = THROUGHPUT) -> Run:
    """``stream`` of the bank at ``@event`` through reactivex ``map`` + ``filter``."""
    counter = Counter()
    with prx.grpc(*sim.address("grpc")) as backend:
        subscription = backend.stream([f"Z:BANK{i:03d}@{event}" for i in range(1000)]).pipe(
            ops.map(lambda reading: reading.value),
            ops.filter(lambda value: value is not None),
        ).subscribe(counter.add)
        try:
            return measure(SECTION, workload, counter, sim, seconds, warmup)
        finally:
            subscription.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_window_options(parser)
    args = parser.parse_args()
    with simulator("--servers", "grpc") as sim:
        sim.wait_idle()
        ours = pacsys_rx_throughput(sim, args.seconds, args.warmup)
        print(ours.line(), flush=True)
        theirs = reference_runs(lambda dispatch: run_reference(
            SECTION, THROUGHPUT, "grpc", sim.address("grpc"), sim, devices=1000, event="p,5",
            dispatch=dispatch, seconds=args.seconds, warmup=args.warmup), sim)
        sim.wait_idle()
        ours_capacity = pacsys_rx_throughput(sim, args.seconds, args.warmup, "p,2", CAPACITY)
        print(ours_capacity.line(), flush=True)
        theirs_capacity = reference_runs(lambda dispatch: run_reference(
            SECTION, CAPACITY, "grpc", sim.address("grpc"), sim, devices=1000, event="p,2",
            dispatch=dispatch, seconds=args.seconds, warmup=args.warmup), sim)
    figures = [
        compare(SECTION, f"stream {THROUGHPUT}", "readings/s", ours, theirs, lambda run: run.rate,
                target_min=100_000, target_ratio=1.0),
        compare(SECTION, "client CPU per reading, same stream", "µs", ours, theirs,
                lambda run: run.cpu_us_per_reading, higher_is_better=False, target_max=1.5, target_ratio=3.0),
        compare(SECTION, f"capacity: stream {CAPACITY}", "readings/s", ours_capacity, theirs_capacity,
                lambda run: run.rate, target_ratio=1.0),
        compare(SECTION, "client CPU per reading, capacity stream", "µs", ours_capacity, theirs_capacity,
                lambda run: run.cpu_us_per_reading, higher_is_better=False),
    ]
    publish("bench_grpc", figures, [ours, *theirs, ours_capacity, *theirs_capacity], args.json)


if __name__ == "__main__":
    main()
