"""Stream the bank with the reference `pacsys` library against our simulator.

Runs in its own virtual environment (``.venv-bench``, made by ``scripts/setup.sh bench``), never
inside pacsys_rx's, and needs nothing but pacsys. Subscribes, warms up, prints ``measuring`` when
the window opens and one JSON line when it closes (readings, seconds, stream errors and, with
``--latency``, the milliseconds from each reading's server timestamp to its callback), then stops.

    .venv-bench/bin/python benchmarks/reference/pacsys_stream.py --backend dpm \
        --host 127.0.0.1 --port 6802 --devices 1000 --event p,5 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from typing import Any

import pacsys


def open_backend(args: argparse.Namespace) -> Any:
    """The pacsys backend named by ``--backend``; DMQ on a private vhost goes through DMQBackend."""
    dispatch = pacsys.DispatchMode(args.dispatch)
    if args.backend != "dmq":
        return getattr(pacsys, args.backend)(host=args.host, port=args.port, dispatch_mode=dispatch)
    if args.vhost is None:
        return pacsys.dmq(host=args.host, port=args.port, auth=pacsys.KerberosAuth(), dispatch_mode=dispatch)
    from pacsys.backends.dmq import DMQBackend

    return DMQBackend(host=args.host, port=args.port, vhost=args.vhost, auth=pacsys.KerberosAuth(),
                      dispatch_mode=dispatch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["dpm", "grpc", "dmq"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--vhost", help="RabbitMQ virtual host (DMQ only; default /)")
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--prefix", default="Z:BANK")
    parser.add_argument("--event", default="p,5")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--dispatch", choices=[mode.value for mode in pacsys.DispatchMode], default="worker")
    parser.add_argument("--latency", action="store_true", help="record the latency of every reading")
    args = parser.parse_args()

    drfs = [f"{args.prefix}{i:03d}@{args.event}" for i in range(args.devices)]
    backend = open_backend(args)
    state = {"counting": False, "count": 0}
    latencies: list[float] = []
    errors: list[str] = []

    def on_reading(reading: Any, _handle: object) -> None:
        """Counts as pacsys_rx's benchmarks do: one callback thread, only readings with a value."""
        if not state["counting"] or reading.value is None:
            return
        state["count"] += 1
        if args.latency:
            latencies.append((datetime.now(timezone.utc) - reading.timestamp).total_seconds() * 1000.0)

    def on_error(error: Exception, _handle: object) -> None:
        errors.append(f"{type(error).__name__}: {error}")

    handle = backend.subscribe(drfs, callback=on_reading, on_error=on_error)
    time.sleep(args.warmup)
    print("measuring", flush=True)
    state["counting"] = True
    start = time.perf_counter()
    time.sleep(args.seconds)
    state["counting"] = False
    elapsed = time.perf_counter() - start
    result = {"client": f"pacsys {pacsys.__version__} ({args.dispatch})", "readings": state["count"],
              "seconds": elapsed, "errors": errors[:5], "error_count": len(errors),
              "latencies_ms": [round(latency, 4) for latency in latencies]}
    print(json.dumps(result), flush=True)
    handle.stop()
    backend.close()


if __name__ == "__main__":
    main()
