"""Connection economy: 10,000 separate ``stream()`` calls (one DRF each, 1 Hz) on one backend.

For DPM/HTTP, gRPC and DMQ in turn, against a simulator in its own process (its counters read over a
pipe) with a catalogue of 10,100 devices:

* the 10,000 streams are subscribed in a loop; once every one has had its first reading (and lanes
  still merging have settled, at most 15 s), the figures are the simulator's connections (DPM/HTTP),
  ``Read`` calls (gRPC) or jobs (DMQ), the client's ``pacsys-rx`` threads, and the growth of the
  client's resident memory;
* then ``--probes`` new streams, one every ``--probe-interval`` seconds, each timed from ``stream()``
  to its first reading (p50, p99), and the client's full garbage collections meanwhile (each stops every
  client thread, so a first reading due during one waits for it);
* the client's CPU per reading over ``--seconds`` of the 10,000 readings/s;
* finally every stream is disposed, and the figure is what the simulator still holds after at most
  15 s (its subscriptions, list entries, calls or jobs, and connections).

Each backend runs in a process of its own (so its memory growth is its own).

DPM/HTTP adds new DRFs to a running list by restarting it, at most every 0.1 s per connection: a new
stream waits for no restart while streams arrive at most pool-size times per 0.1 s (40/s with the
default 4 connections); faster arrivals are batched and wait up to 0.1 s. A restart makes the server
re-send a reading only for the entries added since the previous restart (running entries are re-added
without their immediate first reading), not for the 2,500 running on the connection. gRPC and DMQ put
the streams of each 0.1 s into a new call or job and merge the two smallest beyond their bound.

Run: ``.venv/bin/python benchmarks/bench_streams.py [--count 10000] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _common import ROOT, Figure, add_json_option, load_results, percentile, publish

sys.path.insert(0, str(ROOT / "tests"))

import pacsys_rx as prx
from pacsys_rx.backends.base import Backend

PREFIX = "Z:BNK"
EXTRA = 100
CATALOGUE = """
[bank]
prefix = "Z:BNK"
count = {count}
first_index = 800000
description = "stream economy channel"
default_period_ms = 1000

[bank.reading]
units = "mA"
generator = {{ kind = "sine", offset = 50.0, amplitude = 10.0, period_ms = 10000 }}
"""
BROKER = ("127.0.0.1", 5672)
SETTLE_S = 15.0


DIGITS = 5
"""Digits of the catalogue's device numbers: as the simulator names them (at least 3)."""


def drf(index: int) -> str:
    return f"{PREFIX}{index:0{DIGITS}d}@p,1000"


def serve_simulator(pipe: Connection, options: dict[str, Any], env: dict[str, str]) -> None:
    """The simulator process: answers ``counters NAME`` until it is sent None."""
    os.environ.update(env)
    from pacsys_rx.sim import Simulator

    with Simulator(seed=1, **options) as sim:
        pipe.send(dict(sim.endpoints))
        while (request := pipe.recv()) is not None:
            pipe.send(sim.counters(request))


class RemoteSimulator:
    def __init__(self, options: dict[str, Any], env: dict[str, str]) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self.process = context.Process(target=serve_simulator, args=(child, options, env), daemon=True)
        self.process.start()
        if not self._pipe.poll(60.0):
            raise RuntimeError("the simulator did not start within 60 s")
        self.endpoints: dict[str, str] = self._pipe.recv()

    def address(self, server: str) -> tuple[str, int]:
        host, port = self.endpoints[server].rsplit(":", 1)
        return host, int(port)

    def counters(self, server: str) -> dict[str, int]:
        self._pipe.send(server)
        counters: dict[str, int] = self._pipe.recv()
        return counters

    def close(self) -> None:
        self._pipe.send(None)
        self.process.join(15.0)
        if self.process.is_alive():
            self.process.kill()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def client_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name.startswith("pacsys-rx"))


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class Tally:
    """Counts readings; the first reading of each stream sets its event."""

    def __init__(self, count: int) -> None:
        self.readings = 0
        self.first = [threading.Event() for _ in range(count)]

    def observer(self, index: int) -> Callable[[object], None]:
        seen = self.first[index]
        first = True

        def on_next(_: object) -> None:
            nonlocal first
            self.readings += 1
            if first:
                first = False
                seen.set()

        return on_next


class FullCollections:
    """The durations of the interpreter's full (generation 2) garbage collections, from ``gc.callbacks``:
    each one stops every client thread, so a first reading due meanwhile waits for it."""

    def __init__(self) -> None:
        self.ms: list[float] = []
        self._began = 0.0

    def observe(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.ms.append((time.perf_counter() - self._began) * 1000)


def measure(section: str, backend: Backend, sim: RemoteSimulator, server: str, channels: str,
            held: tuple[str, ...], count: int, probes: int, interval: float, seconds: float,
            channel_bound: int) -> list[Figure]:
    """One backend: subscribe ``count`` streams, measure, probe, dispose; ``held`` are the simulator
    counters that must come back to zero."""
    tally = Tally(count + probes)
    rss_before, threads_before = rss_mb(), client_threads()
    began = time.perf_counter()
    subscriptions = [backend.stream(drf(i)).subscribe(tally.observer(i)) for i in range(count)]
    subscribed_s = time.perf_counter() - began
    all_first = wait_for(lambda: all(event.is_set() for event in tally.first[:count]), 120.0)
    first_all_s = time.perf_counter() - began
    print(f"{section}: {count:,} streams subscribed in {subscribed_s:.1f} s, every first reading after "
          f"{first_all_s:.1f} s ({'all' if all_first else 'NOT all'})", flush=True)
    wait_for(lambda: sim.counters(server)[channels] <= channel_bound, SETTLE_S)  # merges may still run
    held_channels = sim.counters(server)[channels]
    threads = client_threads() - threads_before
    rss_growth = rss_mb() - rss_before

    readings, cpu = tally.readings, time.process_time()
    time.sleep(seconds)
    per_reading_us = (time.process_time() - cpu) / max(1, tally.readings - readings) * 1e6
    rate = (tally.readings - readings) / seconds

    delays_ms = []
    pauses = FullCollections()
    gc.callbacks.append(pauses.observe)
    for i in range(count, count + probes):
        started = time.perf_counter()
        subscriptions.append(backend.stream(drf(i)).subscribe(tally.observer(i)))
        if tally.first[i].wait(5.0):
            delays_ms.append((time.perf_counter() - started) * 1000)
        time.sleep(max(0.0, interval - (time.perf_counter() - started)))
    gc.callbacks.remove(pauses.observe)

    for subscription in subscriptions:
        subscription.dispose()
    wait_for(lambda: all(sim.counters(server)[name] == 0 for name in held), SETTLE_S)
    left = sum(sim.counters(server)[name] for name in held)
    print(f"{section}: {held_channels} {channels}, {threads} threads, RSS +{rss_growth:.0f} MB, "
          f"{rate:,.0f} readings/s at {per_reading_us:.2f} µs CPU/reading, first reading of "
          f"{len(delays_ms)}/{probes} new streams p50 {percentile(delays_ms, 0.5)} ms p99 "
          f"{percentile(delays_ms, 0.99)} ms, {left} left on the server after disposal", flush=True)
    print(f"{section}: first-reading delays (ms): {[round(d, 1) for d in delays_ms]}", flush=True)
    print(f"{section}: {len(pauses.ms)} full garbage collections during the probes: "
          f"{[round(d, 1) for d in pauses.ms]} ms", flush=True)
    workload = f"{count:,} separate streams"
    return [
        Figure(section, f"{channels.replace('_', ' ')} held by {workload}", "", held_channels,
               higher_is_better=False, target_max=channel_bound + 1),
        Figure(section, f"client threads for {workload}", "", threads, higher_is_better=False, target_max=9),
        Figure(section, f"client RSS growth for {workload}", "MB", rss_growth, higher_is_better=False,
               target_max=100),
        Figure(section, f"first reading of a new stream beside {workload}, p50 "
               f"(one every {interval:g} s)", "ms", percentile(delays_ms, 0.5), higher_is_better=False),
        Figure(section, f"first reading of a new stream beside {workload}, p99 "
               f"(one every {interval:g} s)", "ms", percentile(delays_ms, 0.99) if len(delays_ms) == probes
               else None, higher_is_better=False, target_max=50),
        Figure(section, f"longest full garbage collection in the client during the probes "
               f"({len(pauses.ms)} in all)", "ms", max(pauses.ms, default=0.0), higher_is_better=False),
        Figure(section, f"client CPU per reading, {workload} at 1 Hz", "µs", per_reading_us,
               higher_is_better=False),
        Figure(section, f"left on the simulator {SETTLE_S:g} s after disposing all", "", left,
               higher_is_better=False, target_max=1),
    ]


@contextmanager
def kerberos_broker() -> Iterator[tuple[str, dict[str, str], str]]:
    """A throwaway realm and a private vhost on the local broker: (vhost, realm env, keytab)."""
    from kdc import KerberosRealm

    vhost = f"pacsys-bench-{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True)
    try:
        with KerberosRealm() as realm:
            yield vhost, dict(realm.env), str(realm.service_keytab)
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


def run_alone(backend: str, args: argparse.Namespace) -> list[Figure]:
    """This script for one backend in a process of its own; its figures."""
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result.json"
        subprocess.run([sys.executable, __file__, "--backends", backend, "--count", str(args.count),
                        "--probes", str(args.probes), "--probe-interval", str(args.probe_interval),
                        "--seconds", str(args.seconds), "--json", str(result)], check=False)
        return load_results(result)[0] if result.exists() else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--probes", type=int, default=50)
    parser.add_argument("--probe-interval", type=float, default=0.1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--backends", default="dpm,grpc,dmq")
    add_json_option(parser)
    args = parser.parse_args()
    chosen = args.backends.split(",")
    if len(chosen) > 1:  # one process per backend: each one's memory growth is its own
        publish("bench_streams", [figure for backend in chosen for figure in run_alone(backend, args)], [],
                args.json, echo=False)
        return
    global DIGITS
    DIGITS = max(3, len(str(args.count + EXTRA - 1)))
    figures: list[Figure] = []
    window = {"count": args.count, "probes": args.probes, "interval": args.probe_interval,
              "seconds": args.seconds}
    with tempfile.TemporaryDirectory() as scratch:
        catalogue = Path(scratch) / "streams.toml"
        catalogue.write_text(CATALOGUE.format(count=args.count + EXTRA))
        broker = kerberos_broker() if "dmq" in chosen else nullcontext(None)
        with broker as kerberos:
            options: dict[str, Any] = {"devices": str(catalogue), "servers": list(chosen)}
            env: dict[str, str] = {}
            if kerberos is not None:
                vhost, env, keytab = kerberos
                os.environ.update(env)
                url = f"amqp://guest:guest@{BROKER[0]}:{BROKER[1]}/{vhost}"
                options |= {"amqp_url": url, "keytab": keytab}
            sim = RemoteSimulator(options, env)
            try:
                if "dpm" in chosen:
                    with prx.dpm(*sim.address("dpm"), timeout=10.0) as dpm:
                        figures += measure("DPM/HTTP", dpm, sim, "dpm", "connections", ("list_entries",
                                           "connections"), channel_bound=4, **window)
                if "grpc" in chosen:
                    with prx.grpc(*sim.address("grpc"), timeout=10.0) as grpc:
                        figures += measure("DPM/gRPC", grpc, sim, "grpc", "read_calls",
                                           ("subscriptions", "read_calls"), channel_bound=4, **window)
                if "dmq" in chosen and kerberos is not None:
                    with prx.dmq(*BROKER, kerberos[0], auth=prx.KerberosAuth(), timeout=10.0) as dmq:
                        figures += measure("DMQ", dmq, sim, "dmq", "jobs", ("jobs",), channel_bound=16,
                                           **window)
            finally:
                sim.close()
    publish("bench_streams", figures, [], args.json)


if __name__ == "__main__":
    main()
