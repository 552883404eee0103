"""Engine throughput: the 1000-device bank at 200 Hz per device (``@p,5``), stepped time, no network.

Run: ``.venv/bin/python benchmarks/bench_sim_engine.py [--seconds N] [--per-device] [--json FILE]``.
Reports simulated readings delivered to a counting sink per wall-clock second; the target is
>= 200,000 readings/s.
"""

from __future__ import annotations

import argparse
import time

from _common import Figure, add_json_option, publish

from pacsys_rx.drf import parse_request
from pacsys_rx.sim import EventEngine, load_catalogue
from pacsys_rx.sim.engine import Batch
from pacsys_rx.sim.model import DeviceModel

TARGET_PER_SECOND = 200_000
START_MS = 1_700_000_000_000.0


def run(simulated_seconds: float, per_device: bool) -> tuple[int, float]:
    """Subscribe the bank (one subscription, or one per device) and step 1 ms at a time."""
    catalogue = load_catalogue()
    names = sorted(name for name in catalogue.devices if name.startswith("Z:BANK"))
    engine = EventEngine(DeviceModel(catalogue, seed=1), start_ms=START_MS)
    delivered = 0

    def sink(batch: Batch) -> None:
        nonlocal delivered
        delivered += len(batch)

    requests = [parse_request(f"{name}@p,5") for name in names]
    if per_device:
        for request in requests:
            engine.subscribe([request], sink, now=START_MS)
    else:
        engine.subscribe(requests, sink, now=START_MS)
    end = START_MS + simulated_seconds * 1000.0
    began = time.perf_counter()
    now = START_MS
    while now < end:
        now += 1.0
        engine.run_until(now)
    return delivered, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="simulated seconds (default 10)")
    parser.add_argument(
        "--per-device", action="store_true", help="one subscription per device instead of one"
    )
    add_json_option(parser)
    args = parser.parse_args()
    delivered, elapsed = run(args.seconds, args.per_device)
    rate = delivered / elapsed
    layout = "1000 subscriptions" if args.per_device else "1 subscription of 1000 requests"
    print(
        f"{delivered} readings in {elapsed:.2f} s ({layout}): {rate:,.0f} readings/s "
        f"({rate / TARGET_PER_SECOND:.1f}x the {TARGET_PER_SECOND:,} target); "
        f"simulated time runs {args.seconds / elapsed:.1f}x real time"
    )
    figure = Figure("simulator engine", f"bank @p,5, stepped time, {layout}", "readings/s", rate,
                    target_min=TARGET_PER_SECOND)
    publish("bench_sim_engine", [figure], json_path=args.json, echo=False)


if __name__ == "__main__":
    main()
