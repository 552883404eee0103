"""Stream throughput and latency of the reference `pacsys` library against our simulator.

Runs in its own virtual environment (``.venv-bench``, made by ``scripts/setup.sh bench``), never
inside pacsys_rx's. Prints one JSON line: readings, seconds, rate and latency percentiles.

    .venv-bench/bin/python benchmarks/reference/pacsys_stream.py --backend dpm \
        --host 127.0.0.1 --port 6802 --devices 1000 --event p,5 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import datetime, timezone

import pacsys


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["dpm", "grpc", "dmq"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--prefix", default="Z:BANK")
    parser.add_argument("--event", default="p,5")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--dispatch", choices=["worker", "direct"], default="worker")
    args = parser.parse_args()

    drfs = [f"{args.prefix}{i:03d}@{args.event}" for i in range(args.devices)]
    options: dict[str, object] = {"host": args.host, "port": args.port,
                                  "dispatch_mode": pacsys.DispatchMode(args.dispatch)}
    if args.backend == "dmq":
        options["auth"] = pacsys.KerberosAuth()
    backend = getattr(pacsys, args.backend)(**options)

    lock = threading.Lock()
    state = {"counting": False, "count": 0}
    latencies: list[float] = []

    def on_reading(reading: object, _handle: object) -> None:
        if not state["counting"]:
            return
        value = getattr(reading, "value", None)
        if value is None or not value > -1e300:
            return
        with lock:
            state["count"] += 1
            stamp = getattr(reading, "timestamp", None)
            if stamp is not None and len(latencies) < 200_000:
                latencies.append((datetime.now(timezone.utc) - stamp).total_seconds() * 1000)

    handle = backend.subscribe(drfs, callback=on_reading)
    time.sleep(args.warmup)
    state["counting"] = True
    start = time.perf_counter()
    time.sleep(args.seconds)
    state["counting"] = False
    elapsed = time.perf_counter() - start
    handle.stop()
    backend.close()
    print(json.dumps({
        "client": f"pacsys {pacsys.__version__} ({args.backend}, {args.dispatch})",
        "readings": state["count"], "seconds": elapsed, "rate": state["count"] / elapsed,
        "latency_p50_ms": _percentile(latencies, 0.5), "latency_p99_ms": _percentile(latencies, 0.99),
    }))


if __name__ == "__main__":
    main()
