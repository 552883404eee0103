"""DMQ benchmark through the real RabbitMQ broker, pacsys_rx and the reference `pacsys` side by side.

Sets up a throwaway Kerberos realm (tests/kdc.py), a private vhost on the local broker (rabbitmqctl)
and the simulator in a separate process (``python -m pacsys_rx sim --servers dmq --amqp-url ...
--keytab ...``) with a catalogue of 1000 devices, then, one client after the other, each once the
simulator is idle again:

* throughput: one stream of 1000 DRFs at an offered rate (20,000 and 40,000 readings/s for ours,
  40,000 for pacsys), readings counted over ``--seconds`` after ``--warmup``;
* capacity: the same at 100,000 readings/s offered (``@p,10``), more than either client takes, with
  the client CPU per reading;
* latency: 1000 DRFs at 5 Hz (5,000 readings/s), receive time minus the sample's server timestamp.

pacsys runs in ``.venv-bench`` through ``reference/pacsys_stream.py`` with the realm's ticket, in
each of its dispatch modes; its best run is the reference.

Run: ``.venv/bin/python benchmarks/bench_dmq.py [--seconds 10] [--warmup 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import (
    ROOT,
    Counter,
    LatencyRecorder,
    Run,
    Simulator,
    add_window_options,
    compare,
    measure,
    publish,
    rabbitmq_pid,
    reference_runs,
    run_reference,
    simulator,
)

sys.path.insert(0, str(ROOT / "tests"))

from kdc import KerberosRealm

import pacsys_rx as prx

SECTION = "DMQ"
BROKER = ("127.0.0.1", 5672)
PREFIX = "Z:BNK"
DEVICE_COUNT = 1000
CATALOGUE = """
[bank]
prefix = "Z:BNK"
count = 1000
first_index = 800000
description = "DMQ benchmark channel"
default_period_ms = 1000
reading = { units = "mA", generator = { kind = "sine", offset = 50.0, amplitude = 10.0, period_ms = 10000 } }
"""
HEADLINE_PERIOD_MS = 25
CAPACITY_PERIOD_MS = 10
LATENCY_PERIOD_MS = 200


def workload(period_ms: int) -> str:
    return f"{DEVICE_COUNT} devices @p,{period_ms} ({DEVICE_COUNT * 1000 // period_ms:,}/s offered)"


@dataclass(frozen=True)
class Environment:
    sim: Simulator
    vhost: str
    kerberos_env: dict[str, str]


@contextmanager
def environment() -> Iterator[Environment]:
    """Realm, private vhost and simulator process; everything is torn down on exit."""
    vhost = f"pacsys-bench-{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True)
    try:
        with KerberosRealm() as realm, tempfile.TemporaryDirectory() as scratch:
            os.environ.update(realm.env)
            catalogue = Path(scratch) / "bench.toml"
            catalogue.write_text(CATALOGUE)
            url = f"amqp://guest:guest@{BROKER[0]}:{BROKER[1]}/{vhost}"
            with simulator("--servers", "dmq", "--amqp-url", url, "--keytab", str(realm.service_keytab),
                           "--devices", str(catalogue), env={**os.environ, **realm.env},
                           broker_pid=rabbitmq_pid()) as sim:
                yield Environment(sim, vhost, realm.env)
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


def pacsys_rx_stream(env: Environment, period_ms: int, seconds: float, warmup: float,
                     latency: bool = False) -> Run:
    """Our DMQ backend streaming every device at ``@p,<period_ms>``; with ``latency``, also its latency."""
    counter = LatencyRecorder() if latency else Counter()
    drfs = [f"{PREFIX}{i:03d}@p,{period_ms}" for i in range(DEVICE_COUNT)]
    with prx.dmq(*BROKER, env.vhost, auth=prx.KerberosAuth(), timeout=10.0) as dmq:
        subscription = dmq.stream(drfs).subscribe(counter.add)
        try:
            return measure(SECTION, workload(period_ms), counter, env.sim, seconds, warmup)
        finally:
            subscription.dispose()


def pacsys_stream(env: Environment, period_ms: int, seconds: float, warmup: float,
                  latency: bool = False) -> list[Run]:
    """The reference client on the same workload, once per dispatch mode."""
    return reference_runs(lambda dispatch: run_reference(
        SECTION, workload(period_ms), "dmq", BROKER, env.sim, devices=DEVICE_COUNT, prefix=PREFIX,
        event=f"p,{period_ms}", dispatch=dispatch, latency=latency, vhost=env.vhost, env=env.kerberos_env,
        seconds=seconds, warmup=warmup), env.sim)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_window_options(parser)
    args = parser.parse_args()
    window = {"seconds": args.seconds, "warmup": args.warmup}
    runs: list[Run] = []
    with environment() as env:
        for period_ms in (50, HEADLINE_PERIOD_MS):
            env.sim.wait_idle()
            runs.append(pacsys_rx_stream(env, period_ms, **window))
            print(runs[-1].line(), flush=True)
        theirs = pacsys_stream(env, HEADLINE_PERIOD_MS, **window)
        env.sim.wait_idle()
        ours_capacity = pacsys_rx_stream(env, CAPACITY_PERIOD_MS, **window)
        print(ours_capacity.line(), flush=True)
        theirs_capacity = pacsys_stream(env, CAPACITY_PERIOD_MS, **window)
        env.sim.wait_idle()
        ours_latency = pacsys_rx_stream(env, LATENCY_PERIOD_MS, latency=True, **window)
        print(ours_latency.line(), flush=True)
        theirs_latency = pacsys_stream(env, LATENCY_PERIOD_MS, latency=True, **window)
    ours = runs[-1]
    figures = [
        compare(SECTION, f"stream {workload(50)}", "readings/s", runs[0], [], lambda run: run.rate),
        compare(SECTION, f"stream {workload(HEADLINE_PERIOD_MS)}", "readings/s", ours, theirs,
                lambda run: run.rate, target_min=20_000, target_ratio=1.0),
        compare(SECTION, "client CPU per reading, same stream", "µs", ours, theirs,
                lambda run: run.cpu_us_per_reading, higher_is_better=False),
        compare(SECTION, f"capacity: stream {workload(CAPACITY_PERIOD_MS)}", "readings/s", ours_capacity,
                theirs_capacity, lambda run: run.rate, target_ratio=1.0),
        compare(SECTION, "client CPU per reading, capacity stream", "µs", ours_capacity, theirs_capacity,
                lambda run: run.cpu_us_per_reading, higher_is_better=False, target_max=5.0, target_ratio=4.0),
        compare(SECTION, f"latency p50, {workload(LATENCY_PERIOD_MS)}", "ms", ours_latency, theirs_latency,
                lambda run: run.latency_p50_ms, higher_is_better=False, target_max=5.0),
        compare(SECTION, f"latency p99, {workload(LATENCY_PERIOD_MS)}", "ms", ours_latency, theirs_latency,
                lambda run: run.latency_p99_ms, higher_is_better=False, target_max=20.0),
    ]
    publish("bench_dmq", figures, [*runs, *theirs, ours_capacity, *theirs_capacity, ours_latency,
                                   *theirs_latency], args.json)


if __name__ == "__main__":
    main()
