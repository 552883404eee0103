"""DPM/HTTP client benchmark, pacsys_rx and the reference `pacsys` side by side, against one simulator.

* throughput: a stream of the 1000-device bank at ``@p,5`` (200,000 readings/s offered) delivered
  through reactivex ``map`` + ``filter``, counted over ``--seconds`` after ``--warmup``;
* capacity: the same stream at ``@p,2`` (500,000 readings/s offered, more than either client takes):
  what each client keeps up with when the offered rate is not the limit (the simulator drops the data
  frames of a client that falls behind, so the count is what the client actually consumed);
* latency: server timestamp -> ``on_next`` at 10,000 readings/s (100 devices at ``@p,10``), p50/p99.

The simulator (``python -m pacsys_rx sim --servers dpm``) runs in its own process; the clients run one
after the other, each once the simulator is idle again. pacsys runs in ``.venv-bench`` through
``reference/pacsys_stream.py``, in each of its dispatch modes; its best run is the reference.

Run: .venv/bin/python benchmarks/bench_dpm.py [--seconds 10] [--warmup 3] [--json FILE]
"""

from __future__ import annotations

import argparse

from _common import (
    Counter,
    LatencyRecorder,
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
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx.model import Reading, Value

SECTION = "DPM/HTTP"
BANK = [f"Z:BANK{i:03d}" for i in range(1000)]
THROUGHPUT = "1000 devices @p,5 (200,000/s offered), map + filter"
CAPACITY = "1000 devices @p,2 (500,000/s offered), map + filter"
LATENCY = "100 devices @p,10 (10,000/s)"


def value_of(reading: Reading) -> Value | None:
    return reading.value


def has_value(value: Value | None) -> bool:
    return value is not None


def pacsys_rx_throughput(sim: Simulator, seconds: float, warmup: float, event: str = "p,5",
                         workload: str = THROUGHPUT) -> Run:
    """Readings per second delivered to a subscriber of the whole bank at ``@event``."""
    counter = Counter()
    with prx.dpm(*sim.address("dpm")) as dpm:
        subscription = dpm.stream([f"{name}@{event}" for name in BANK]).pipe(
            rxops.map(value_of), rxops.filter(has_value),
        ).subscribe(counter.add)
        try:
            return measure(SECTION, workload, counter, sim, seconds, warmup)
        finally:
            subscription.dispose()


def pacsys_rx_latency(sim: Simulator, seconds: float, warmup: float) -> Run:
    """Milliseconds from the server timestamp to ``on_next``, 100 devices at ``@p,10``."""
    recorder = LatencyRecorder()
    with prx.dpm(*sim.address("dpm")) as dpm:
        subscription = dpm.stream([f"{name}@p,10" for name in BANK[:100]]).subscribe(recorder.add)
        try:
            return measure(SECTION, LATENCY, recorder, sim, seconds, warmup)
        finally:
            subscription.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_window_options(parser)
    args = parser.parse_args()
    window = {"seconds": args.seconds, "warmup": args.warmup}
    with simulator("--servers", "dpm") as sim:
        address = sim.address("dpm")
        sim.wait_idle()
        ours = pacsys_rx_throughput(sim, **window)
        print(ours.line(), flush=True)
        theirs = reference_runs(lambda dispatch: run_reference(
            SECTION, THROUGHPUT, "dpm", address, sim, devices=1000, event="p,5", dispatch=dispatch,
            **window), sim)
        sim.wait_idle()
        ours_capacity = pacsys_rx_throughput(sim, event="p,2", workload=CAPACITY, **window)
        print(ours_capacity.line(), flush=True)
        theirs_capacity = reference_runs(lambda dispatch: run_reference(
            SECTION, CAPACITY, "dpm", address, sim, devices=1000, event="p,2", dispatch=dispatch,
            **window), sim)
        sim.wait_idle()
        ours_latency = pacsys_rx_latency(sim, **window)
        print(ours_latency.line(), flush=True)
        theirs_latency = reference_runs(lambda dispatch: run_reference(
            SECTION, LATENCY, "dpm", address, sim, devices=100, event="p,10", dispatch=dispatch,
            latency=True, **window), sim)
    figures = [
        compare(SECTION, f"stream {THROUGHPUT}", "readings/s", ours, theirs, lambda run: run.rate,
                target_min=150_000, target_ratio=6.0),
        compare(SECTION, "client CPU per reading, same stream", "µs", ours, theirs,
                lambda run: run.cpu_us_per_reading, higher_is_better=False),
        compare(SECTION, f"capacity: stream {CAPACITY}", "readings/s", ours_capacity, theirs_capacity,
                lambda run: run.rate, target_ratio=6.0),
        compare(SECTION, "client CPU per reading, capacity stream", "µs", ours_capacity, theirs_capacity,
                lambda run: run.cpu_us_per_reading, higher_is_better=False, target_max=2.0),
        compare(SECTION, f"latency p50, {LATENCY}", "ms", ours_latency, theirs_latency,
                lambda run: run.latency_p50_ms, higher_is_better=False, target_max=1.0),
        compare(SECTION, f"latency p99, {LATENCY}", "ms", ours_latency, theirs_latency,
                lambda run: run.latency_p99_ms, higher_is_better=False),
    ]
    publish("bench_dpm", figures,
            [ours, *theirs, ours_capacity, *theirs_capacity, ours_latency, *theirs_latency], args.json)


if __name__ == "__main__":
    main()
