"""Cross-backend failover: stream from DPM/HTTP, fall back to DPM/gRPC when DPM goes silent, and back.

    python examples/failover.py [--seconds 9]

During the middle third of the run the simulator's DPM server stops answering (a fault injected
with ``Simulator.pause``); ``failover`` moves to gRPC after half a second without data and returns
to DPM as soon as it speaks again. Runs against its own embedded simulator.
"""

from __future__ import annotations

import argparse
import time

import reactivex
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.sim import Simulator

DEVICE = "M:OUTTMP@p,250"


def main(seconds: float) -> None:
    with Simulator() as sim:
        dpm_host, dpm_port = sim.endpoints["dpm"].rsplit(":", 1)
        grpc_host, grpc_port = sim.endpoints["grpc"].rsplit(":", 1)
        with prx.dpm(dpm_host, int(dpm_port)) as dpm, prx.grpc(grpc_host, int(grpc_port)) as grpc:
            readings = ops.failover(
                dpm.stream(DEVICE).pipe(ops.only_ok()),     # the primary: error readings count as silence
                grpc.stream(DEVICE),
                stall_after=0.5,
                switch_back=True,
            ).pipe(rxops.take_until(reactivex.timer(seconds)))
            reactivex.timer(seconds / 3).subscribe(lambda _: sim.pause("dpm"))
            reactivex.timer(2 * seconds / 3).subscribe(lambda _: sim.resume("dpm"))

            start, backend = time.monotonic(), None
            with prx.iterate(readings, timeout=5.0) as items:
                for reading in items:
                    if reading.backend != backend:
                        print(f"{time.monotonic() - start:4.1f} s  now reading from {reading.backend}")
                        backend = reading.backend
                    print(f"{time.monotonic() - start:4.1f} s  {reading.device} {reading.value:.3f} "
                          f"via {reading.backend}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=9.0, help="how long to run (default 9)")
    main(parser.parse_args().seconds)
