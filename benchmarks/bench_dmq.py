"""DMQ benchmark: sustained stream throughput and end-to-end latency through the real RabbitMQ broker.

Sets up a throwaway Kerberos realm (tests/kdc.py), a private vhost on the local broker (rabbitmqctl)
and the simulator in a separate process (``python -m pacsys_rx sim --amqp-url ... --keytab ...``) with
a catalogue of 1000 devices, then, per client:

* throughput: one stream of 1000 DRFs at an offered rate, readings counted over a window;
* latency: 1000 DRFs at 5 Hz (5,000 readings/s), receive time minus the sample's server timestamp.

Run: ``.venv/bin/python benchmarks/bench_dmq.py [--seconds 10]``. Each client is one function
taking the endpoint and returning its figures, so other clients can be added side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from kdc import KerberosRealm  # noqa: E402

import pacsys_rx as prx  # noqa: E402
from pacsys_rx.model import Reading  # noqa: E402

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


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    vhost: str


def device_names() -> list[str]:
    return [f"Z:BNK{i:03d}" for i in range(DEVICE_COUNT)]


@contextmanager
def environment(seconds_budget: float = 30.0) -> Iterator[Endpoint]:
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
            url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
            process = subprocess.Popen(
                [sys.executable, "-m", "pacsys_rx", "sim", "--seed", "1", "--amqp-url", url,
                 "--keytab", str(realm.service_keytab), "--devices", str(catalogue)],
                stdout=subprocess.PIPE, text=True, env={**os.environ, **realm.env})
            try:
                _wait_ready(process, seconds_budget)
                yield Endpoint("127.0.0.1", 5672, vhost)
            finally:
                process.terminate()
                process.wait(timeout=10)
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


def _wait_ready(process: subprocess.Popen[str], budget: float) -> None:
    assert process.stdout is not None
    deadline = time.monotonic() + budget
    for line in process.stdout:
        if line.startswith("dmq ") and "disabled" in line:
            raise RuntimeError(f"simulator: {line.strip()}")
        if line.strip() == "ready":
            return
        if time.monotonic() > deadline:
            break
    raise RuntimeError("simulator did not become ready")


def _stream_window(subscribe: Callable[[Callable[[Reading], None]], Callable[[], None]], warmup: float,
                   seconds: float, on_reading: Callable[[Reading, float], None] | None = None) -> int:
    """Readings received in ``seconds`` after ``warmup``; ``on_reading`` also gets each arrival time."""
    lock = threading.Lock()
    state = {"count": 0, "measuring": False}

    def received(reading: Reading) -> None:
        arrival = time.time()
        if state["measuring"]:
            with lock:
                state["count"] += 1
            if on_reading is not None:
                on_reading(reading, arrival)

    stop = subscribe(received)
    try:
        time.sleep(warmup)
        state["measuring"] = True
        time.sleep(seconds)
        state["measuring"] = False
    finally:
        stop()
    return state["count"]


def bench_pacsys_rx(endpoint: Endpoint, seconds: float) -> dict[str, float]:
    """pacsys_rx's DMQ backend: throughput at several offered rates, latency at 5,000 readings/s."""
    results: dict[str, float] = {}
    with prx.dmq(endpoint.host, endpoint.port, endpoint.vhost, auth=prx.KerberosAuth(), timeout=10.0) as dmq:

        def subscriber(period_ms: int) -> Callable[[Callable[[Reading], None]], Callable[[], None]]:
            def subscribe(callback: Callable[[Reading], None]) -> Callable[[], None]:
                drfs = [f"{name}@p,{period_ms}" for name in device_names()]
                return dmq.stream(drfs).subscribe(callback).dispose
            return subscribe

        for period_ms in (50, 25):
            offered = DEVICE_COUNT * 1000 / period_ms
            count = _stream_window(subscriber(period_ms), 2.0, seconds)
            results[f"throughput_readings_per_s@offered_{offered:.0f}"] = count / seconds
            time.sleep(1.0)

        latencies: list[float] = []

        def record(reading: Reading, arrival: float) -> None:
            latencies.append(arrival - reading.timestamp.timestamp())

        count = _stream_window(subscriber(200), 2.0, seconds, record)
        ordered = sorted(latencies)
        results["latency_rate_readings_per_s"] = count / seconds
        results["latency_p50_ms"] = 1000 * statistics.median(ordered)
        results["latency_p99_ms"] = 1000 * ordered[int(0.99 * (len(ordered) - 1))]
    return results


CLIENTS: dict[str, Callable[[Endpoint, float], dict[str, float]]] = {"pacsys_rx": bench_pacsys_rx}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="measurement window per figure")
    args = parser.parse_args()
    with environment() as endpoint:
        for client, bench in CLIENTS.items():
            for metric, value in bench(endpoint, args.seconds).items():
                print(f"{client:10s} {metric:45s} {value:12.1f}", flush=True)


if __name__ == "__main__":
    main()
