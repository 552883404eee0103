"""Flame graphs (py-spy) of each backend's client hot path at capacity, written to docs/profiles/.

For DPM/HTTP one stream of the 1000-device bank at ``@p,2`` (500,000 readings/s offered), for gRPC at
``@p,5`` (200,000/s: beyond that the simulator's gRPC server is the limit), for DMQ at ``@p,10``
(100,000/s offered, through the local broker and a throwaway Kerberos realm), each against its own
simulator process, so the profile shows where the client's CPU goes at its highest rate. py-spy samples
this process for ``--seconds`` after ``--warmup``; the SVG is ``docs/profiles/<backend>.svg``, and the
frames with the most samples of their own are printed and written to ``docs/profiles/<backend>.txt``.

Needs the ``py-spy`` executable next to this interpreter (``pip install py-spy``, in the ``dev`` extra).
Run: ``.venv/bin/python benchmarks/profile_hot_paths.py [--seconds 8] [--warmup 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import ROOT, Counter, Figure, add_json_option, publish, simulator

import pacsys_rx as prx
from pacsys_rx.backends.base import Backend

PROFILES = ROOT / "docs" / "profiles"
PY_SPY = Path(sys.executable).with_name("py-spy")


def spy(seconds: float, output_format: str, output: Path) -> None:
    """py-spy this process for ``seconds`` (100 samples/s, without pausing it)."""
    duration = str(max(1, round(seconds)))
    subprocess.run([str(PY_SPY), "record", "-p", str(os.getpid()), "-d", duration, "-r", "100",
                    "--nonblocking", "-f", output_format, "-o", str(output)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 60, check=False)


def record(name: str, seconds: float) -> list[str]:
    """An SVG flame graph over ``seconds``, then the top frames by own samples over a third of that."""
    PROFILES.mkdir(parents=True, exist_ok=True)
    spy(seconds, "flamegraph", PROFILES / f"{name}.svg")
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.txt"
        spy(seconds / 3, "raw", raw)
        return top_frames(raw.read_text() if raw.exists() else "")


IDLE = ("select (", "poll (", "wait (threading", "get (queue", "_wait_for_tstate_lock", "sleep (")


def top_frames(collapsed: str, count: int = 8) -> list[str]:
    """The frames with the most samples of their own (threads waiting in a poll or a queue left out)."""
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, samples = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1]
        if not samples.isdigit() or any(marker in leaf for marker in IDLE):
            continue
        own[leaf] += int(samples)
        total += int(samples)
    return [f"{100 * n / total:4.1f}% {frame}" for frame, n in own.most_common(count)] if total else []


def profile(name: str, make: Callable[[], Backend], drfs: list[str], seconds: float, warmup: float) -> Figure:
    counter = Counter()
    with make() as backend:
        subscription = backend.stream(drfs).subscribe(counter.add)
        try:
            time.sleep(warmup)
            first, cpu, began = counter.count, time.process_time(), time.perf_counter()
            frames = record(name, seconds)
            rate = (counter.count - first) / (time.perf_counter() - began)
            per_reading = (time.process_time() - cpu) / max(1, counter.count - first) * 1e6
        finally:
            subscription.dispose()
    summary = [f"{rate:,.0f} readings/s while profiled, {per_reading:.2f} µs CPU/reading (py-spy included); "
               "frames with the most samples of their own:", *frames]
    (PROFILES / f"{name}.txt").write_text("\n".join(summary) + "\n", encoding="utf-8")
    print(f"{name}: flame graph docs/profiles/{name}.svg", flush=True)
    for line in summary:
        print(f"    {line}", flush=True)
    return Figure(name, "hot path at capacity while profiled (py-spy running)", "readings/s", rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--backends", default="dpm,grpc,dmq")
    add_json_option(parser)
    args = parser.parse_args()
    if not PY_SPY.exists():
        raise SystemExit(f"py-spy not found at {PY_SPY}: pip install py-spy")
    chosen = args.backends.split(",")
    window = {"seconds": args.seconds, "warmup": args.warmup}
    bank = [f"Z:BANK{i:03d}" for i in range(1000)]
    figures = []
    if "dpm" in chosen:
        with simulator("--servers", "dpm") as sim:
            sim.wait_idle()
            figures.append(profile("dpm", lambda: prx.dpm(*sim.address("dpm")),
                                   [f"{name}@p,2" for name in bank], **window))
    if "grpc" in chosen:
        with simulator("--servers", "grpc") as sim:
            sim.wait_idle()
            figures.append(profile("grpc", lambda: prx.grpc(*sim.address("grpc")),
                                   [f"{name}@p,5" for name in bank], **window))
    if "dmq" in chosen:
        import bench_dmq

        with bench_dmq.environment() as env:
            env.sim.wait_idle()
            def make() -> Backend:
                return prx.dmq(*bench_dmq.BROKER, env.vhost, auth=prx.KerberosAuth(), timeout=10.0)

            figures.append(profile("dmq", make, [f"{bench_dmq.PREFIX}{i:03d}@p,10" for i in range(1000)],
                                   **window))
    publish("profile_hot_paths", figures, [], args.json, echo=False)


if __name__ == "__main__":
    main()
