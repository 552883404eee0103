"""DPM/HTTP client benchmark against the simulator running in a separate process.

* throughput: a stream of the 1000-device bank at ``@p,5`` (200,000 readings/s offered) delivered
  through reactivex ``map`` + ``filter``, counted over ``--seconds`` after ``--warmup``;
* latency: server timestamp -> ``on_next`` at 10,000 readings/s (100 devices at ``@p,10``), p50/p99.

Each client library has one function per measurement, registered in ``CLIENTS``.

Run: .venv/bin/python benchmarks/bench_dpm.py [--seconds 10] [--warmup 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx.model import Reading, Value

BANK = [f"Z:BANK{i:03d}" for i in range(1000)]


@contextmanager
def simulator() -> Iterator[tuple[str, int]]:
    """``python -m pacsys_rx sim --seed 1`` in its own process; yields the DPM host and port."""
    process = subprocess.Popen([sys.executable, "-m", "pacsys_rx", "sim", "--seed", "1"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        endpoint = None
        for line in process.stdout:
            if line.startswith("dpm "):
                endpoint = line.split()[1]
            if line.strip() == "ready":
                break
        if endpoint is None:
            raise RuntimeError("the simulator printed no dpm endpoint")
        host, port = endpoint.rsplit(":", 1)
        yield host, int(port)
    finally:
        process.terminate()
        process.wait(10)


def pacsys_rx_throughput(host: str, port: int, seconds: float, warmup: float) -> float:
    """Readings per second delivered to a subscriber of the whole bank at ``@p,5``."""
    count = 0

    def value_of(reading: Reading) -> Value | None:
        return reading.value

    def has_value(value: Value | None) -> bool:
        return value is not None

    def on_value(_: Value | None) -> None:
        nonlocal count
        count += 1

    with prx.dpm(host, port) as dpm:
        subscription = dpm.stream([f"{name}@p,5" for name in BANK]).pipe(
            rxops.map(value_of), rxops.filter(has_value),
        ).subscribe(on_value)
        time.sleep(warmup)
        start_count, start = count, time.perf_counter()
        time.sleep(seconds)
        rate = (count - start_count) / (time.perf_counter() - start)
        subscription.dispose()
    return rate


def pacsys_rx_latency(host: str, port: int, seconds: float, warmup: float) -> list[float]:
    """Milliseconds from the server timestamp to ``on_next``, 100 devices at ``@p,10``."""
    latencies: list[float] = []
    measuring = threading.Event()

    def on_reading(reading: Reading) -> None:
        if measuring.is_set():
            latencies.append((datetime.now(timezone.utc) - reading.timestamp).total_seconds() * 1000.0)

    with prx.dpm(host, port) as dpm:
        subscription = dpm.stream([f"{name}@p,10" for name in BANK[:100]]).subscribe(on_reading)
        time.sleep(warmup)
        measuring.set()
        time.sleep(seconds)
        subscription.dispose()
    return latencies


CLIENTS: dict[str, tuple[Callable[[str, int, float, float], float],
                         Callable[[str, int, float, float], list[float]]]] = {
    "pacsys_rx": (pacsys_rx_throughput, pacsys_rx_latency),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()
    with simulator() as (host, port):
        for name, (throughput, latency) in CLIENTS.items():
            rate = throughput(host, port, args.seconds, args.warmup)
            print(f"{name:10s} throughput: {rate:12,.0f} readings/s (offered 200,000)", flush=True)
            samples = sorted(latency(host, port, args.seconds, args.warmup))
            p50 = statistics.median(samples)
            p99 = samples[int(0.99 * (len(samples) - 1))]
            print(f"{name:10s} latency:    p50 {p50:6.2f} ms, p99 {p99:6.2f} ms "
                  f"over {len(samples):,} readings", flush=True)


if __name__ == "__main__":
    main()
