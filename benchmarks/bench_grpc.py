"""DPM/gRPC streaming throughput: the 1000-device bank at 200 Hz per device (``Z:BANK000..999@p,5``).

The simulator runs in its own process (``python -m pacsys_rx sim --seed 1``); the client streams every
bank device through ``map`` + ``filter`` and counts what comes out. 200,000 readings/s are offered; the
target for the client is at least 100,000 readings/s on one core.

Run: ``.venv/bin/python benchmarks/bench_grpc.py [--seconds N] [--warmup N] [--endpoint HOST:PORT]``.
Each client library has one ``bench_<name>(host, port, seconds, warmup) -> Result`` function,
registered in ``CLIENTS``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import reactivex.operators as ops

import pacsys_rx as prx

BANK = [f"Z:BANK{i:03d}@p,5" for i in range(1000)]
OFFERED_PER_SECOND = 200_000
TARGET_PER_SECOND = 100_000
READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Result:
    readings: int
    elapsed: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.readings / self.elapsed

    @property
    def cores(self) -> float:
        """Process CPU time over wall time while measuring (the simulator is another process)."""
        return self.cpu / self.elapsed


def start_simulator(seed: int = 1) -> tuple[subprocess.Popen[str], str, int]:
    """Start ``python -m pacsys_rx sim`` and return it with the gRPC endpoint read from its stdout."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pacsys_rx", "sim", "--seed", str(seed), "--grpc-port", "0"],
        stdout=subprocess.PIPE, text=True)
    endpoint: str | None = None
    deadline = time.monotonic() + READY_TIMEOUT_S
    assert process.stdout is not None
    for line in process.stdout:
        words = line.split()
        if words[:1] == ["grpc"] and len(words) == 2:
            endpoint = words[1]
        if line.strip() == "ready" or time.monotonic() > deadline:
            break
    if endpoint is None:
        process.terminate()
        raise RuntimeError("the simulator did not report a gRPC endpoint")
    host, port = endpoint.rsplit(":", 1)
    return process, host, int(port)


def measure(count: Callable[[], int], seconds: float, warmup: float) -> Result:
    """Readings counted between the end of the warm-up and ``seconds`` later, with this process's CPU time."""
    time.sleep(warmup)
    first, cpu_start, began = count(), time.process_time(), time.perf_counter()
    time.sleep(seconds)
    last, cpu_end, ended = count(), time.process_time(), time.perf_counter()
    return Result(last - first, ended - began, cpu_end - cpu_start)


def bench_pacsys_rx(host: str, port: int, seconds: float, warmup: float) -> Result:
    """``stream`` of the bank through reactivex ``map`` + ``filter``."""
    received = 0
    lock = threading.Lock()

    def count(_: float) -> None:
        nonlocal received
        with lock:
            received += 1

    def total() -> int:
        with lock:
            return received

    with prx.grpc(host, port) as backend:
        subscription = backend.stream(BANK).pipe(
            ops.map(lambda reading: reading.value),
            ops.filter(lambda value: value is not None),
        ).subscribe(count)
        try:
            return measure(total, seconds, warmup)
        finally:
            subscription.dispose()


CLIENTS: dict[str, Callable[[str, int, float, float], Result]] = {"pacsys_rx": bench_pacsys_rx}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds streamed before measuring (default 3)")
    parser.add_argument("--endpoint", help="HOST:PORT of a running simulator instead of starting one")
    parser.add_argument("--client", choices=sorted(CLIENTS), action="append",
                        help="client(s) to run (default all)")
    args = parser.parse_args()
    process = None
    if args.endpoint:
        host, port_text = args.endpoint.rsplit(":", 1)
        port = int(port_text)
    else:
        process, host, port = start_simulator()
    try:
        for name in args.client or list(CLIENTS):
            result = CLIENTS[name](host, port, args.seconds, args.warmup)
            print(f"{name}: {result.readings} readings in {result.elapsed:.2f} s: "
                  f"{result.rate:,.0f} readings/s ({result.rate / TARGET_PER_SECOND:.2f}x the "
                  f"{TARGET_PER_SECOND:,} target, "
                  f"{OFFERED_PER_SECOND:,} offered); client CPU {result.cores:.2f} cores")
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
