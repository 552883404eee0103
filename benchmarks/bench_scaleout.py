"""Scale-out benchmarks against the local RabbitMQ with the rabbitmq_stream plugin (port 5552).

Run: ``.venv/bin/python benchmarks/bench_scaleout.py [--seconds S] [--quick] [--json FILE]``

* Workers: device readings/s processed by one worker process (shard 0/1) and by two worker
  processes at once (shards 0/2 and 1/2) over the same devices. Each worker reads a synthetic
  in-process source (a sine per device crossing the limits, no network), so the figure is the worker's
  own cost: pipeline (``limits`` + restore + ``latch``), state table and confirmed publishing of its
  transitions. Target: two workers reach at least 1.7x one. Each configuration runs ``--rounds`` times,
  alternating, and the best run counts; the cores the workers got are printed, and so is what the
  machine gives two pure-Python spinning processes against one at the same time (on a shared machine
  the second core is not always free).
* Latency: a publisher process sends transitions at 10,000/s through ``StreamPublisher`` (as a worker
  does); this process consumes them with ``consume`` and takes, for each, the time from its creation
  just before ``publish`` to its arrival. Target: p99 at most 50 ms.
* Late joiner: a worker builds the state of 50,000 devices and indexes its snapshot; then a new
  ``consume(stream, "snapshot")`` is timed from its subscription (connection and offset look-ups
  included) to the state of every device. Target: at most 1 s. The connection and look-ups alone
  are timed too.
* Client choice: confirmed publish rate of encoded transitions through the stream protocol
  (``rstream``, as ``StreamPublisher`` uses it) and through AMQP 0-9-1 (``pika``) to a stream queue.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

import pika
from _common import Figure, add_json_option, machine_cpu_seconds, publish
from pacsys_rx.operators import AlarmEvent, AlarmState, Severity
from reactivex import Observable, abc
from reactivex.disposable import Disposable

from pacsys_rx import operators as ops
from pacsys_rx.model import Reading, ValueType
from pacsys_rx.scaleout import (
    Shard,
    ShardInput,
    StreamBroker,
    Transition,
    Worker,
    WorkerOptions,
    consume,
    create_stream,
    delete_stream,
    encode,
)
from pacsys_rx.scaleout.broker import StreamPublisher, StreamSubscriber
from pacsys_rx.scaleout.stream import snapshot_reference, snapshot_start
from pacsys_rx.scaleout.worker import shard_drfs

BROKER = StreamBroker()
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
SECTION = "scale-out"
PERIOD = 4000
"""Readings of one device per sine period; it crosses a limit 4 times a period: 0.1 % of the readings
cause a transition."""


class SyntheticSource:
    """A backend stand-in: ``stream(drfs)`` sends readings of every DRF in turn, on its own thread, as
    fast as the subscriber takes them (``sweeps``: how many rounds, None for no end) until disposed."""

    def __init__(self, sweeps: int | None = None) -> None:
        self.sweeps = sweeps

    def stream(self, drfs: list[str]) -> Observable[Reading]:
        devices = [drf.split("@")[0] for drf in drfs]
        values = [50.0 + 12.0 * math.sin(2 * math.pi * step / PERIOD) for step in range(PERIOD)]

        def subscribe(observer: abc.ObserverBase[Reading], _: abc.SchedulerBase | None = None) -> Disposable:
            stopped = threading.Event()

            def produce() -> None:
                sweep = 0
                while not stopped.is_set() and (self.sweeps is None or sweep < self.sweeps):
                    now = datetime.now(timezone.utc)
                    for index, (drf, device) in enumerate(zip(drfs, devices, strict=True)):
                        value = values[(sweep + index) % PERIOD]
                        observer.on_next(Reading(drf, device, value, ValueType.SCALAR, "mA", now))
                    sweep += 1

            threading.Thread(target=produce, name="synthetic source", daemon=True).start()
            return Disposable(stopped.set)

        return Observable(subscribe)


def alarms(shard: ShardInput) -> Observable[AlarmEvent]:
    return shard.readings.pipe(ops.limits(40, 60, hysteresis=0.5), shard.restore,
                               ops.latch(shard.acknowledgements))


def device_drfs(count: int) -> list[str]:
    return [f"Z:BANK{i:05d}@P,1000,false" for i in range(count)]


def start_worker(stream: str, shard: Shard, drfs: list[str], sweeps: int | None,
                 snapshot_interval_s: float = 2.0) -> tuple[Worker, threading.Thread]:
    options = WorkerOptions(stream, shard, "a", snapshot_interval_s, log_interval_s=3600.0)
    worker = Worker(alarms, SyntheticSource(sweeps), shard_drfs(drfs, shard), options,  # type: ignore[arg-type]
                    BROKER)
    thread = threading.Thread(target=worker.run, name=f"worker {shard}", daemon=True)
    thread.start()
    return worker, thread


def run_worker_process(stream: str, shard: Shard, devices: int, warmup: float, seconds: float) -> None:
    """Child process: one worker; prints ``{"readings": n, "seconds": s}`` for the measuring window."""
    worker, thread = start_worker(stream, shard, device_drfs(devices), None)
    deadline = time.monotonic() + 60
    while worker.readings == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(warmup)
    before, began = worker.readings, time.perf_counter()
    cpu, busy = time.process_time(), machine_cpu_seconds()
    time.sleep(seconds)
    counted, elapsed = worker.readings - before, time.perf_counter() - began
    cpu, busy = time.process_time() - cpu, machine_cpu_seconds() - busy
    worker.stop()
    thread.join(20)
    print(json.dumps({"readings": counted, "seconds": elapsed, "cpu": cpu, "busy": busy}), flush=True)


def worker_rates(workers: int, devices: int, warmup: float, seconds: float) -> tuple[float, float, float]:
    """(readings/s, cores) of ``workers`` worker processes (shards K/workers) running at once, summed,
    and the cores the whole machine was busy meanwhile."""
    stream = f"bench-workers-{uuid.uuid4().hex[:8]}"
    create_stream(BROKER, stream)
    try:
        children = [subprocess.Popen([sys.executable, __file__, "--worker-process", stream, f"{k}/{workers}",
                                      str(devices), str(warmup), str(seconds)],
                                     stdout=subprocess.PIPE, text=True) for k in range(workers)]
        results = [json.loads(child.communicate(timeout=120 + seconds)[0]) for child in children]
        return (sum(result["readings"] / result["seconds"] for result in results),
                sum(result["cpu"] / result["seconds"] for result in results),
                max(result["busy"] / result["seconds"] for result in results))
    finally:
        delete_stream(BROKER, stream)


def spin(seconds: float) -> None:
    """Child process: count pure-Python loop turns for ``seconds``; prints the turns per second."""
    turns, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for _ in range(10_000):
            turns += 1
    print(json.dumps({"rate": turns / (time.perf_counter() - began)}), flush=True)


def machine_rate(processes: int, seconds: float) -> float:
    """Loop turns/s of ``processes`` spinning processes at once, summed: what the machine gives now."""
    children = [subprocess.Popen([sys.executable, __file__, "--spin", str(seconds)], stdout=subprocess.PIPE,
                                 text=True) for _ in range(processes)]
    return sum(json.loads(child.communicate(timeout=60 + seconds)[0])["rate"] for child in children)


def best_worker_rates(devices: int, warmup: float, seconds: float,
                      rounds: int) -> list[tuple[float, float, float]]:
    """The best (readings/s, cores, machine cores) of 1 and of 2 workers over ``rounds`` alternating runs."""
    best = [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
    for _ in range(rounds):
        for index, workers in enumerate((1, 2)):
            best[index] = max(best[index], worker_rates(workers, devices, warmup, seconds))
    return best


def best_machine_rates(seconds: float, rounds: int) -> tuple[float, float]:
    """The best loop turns/s of 1 and of 2 spinning processes over ``rounds`` alternating runs."""
    one = two = 0.0
    for _ in range(rounds):
        one, two = max(one, machine_rate(1, seconds)), max(two, machine_rate(2, seconds))
    return one, two


def run_latency_publisher(stream: str, rate: float, seconds: float) -> None:
    """Child process: transitions at ``rate`` per second for ``seconds``, each stamped when created."""
    publisher = StreamPublisher(BROKER, stream, f"{stream}.latency")
    shard, sent, began = Shard(0, 1), 0, time.monotonic()
    while (elapsed := time.monotonic() - began) < seconds:
        for _ in range(int(elapsed * rate) - sent):
            state = AlarmState.ALARM if (sent // 1000) % 2 == 0 else AlarmState.OK
            event = AlarmEvent(f"Z:LAT{sent % 1000:03d}", state, Severity.MAJOR, 61.0,
                               datetime.now(timezone.utc), "above 60")
            publisher.publish(encode(Transition(shard, "a", event)))
            sent += 1
        time.sleep(0.002)
    publisher.close(10.0)
    print(json.dumps({"sent": sent}), flush=True)


def transition_latency(rate: float, seconds: float, warmup: float) -> tuple[float, float, float, float]:
    """(p50 ms, p99 ms, max ms, received/s) of transitions from a publisher process to ``consume``."""
    stream = f"bench-latency-{uuid.uuid4().hex[:8]}"
    create_stream(BROKER, stream)
    latencies: list[float] = []

    def arrived(record: object) -> None:
        if isinstance(record, Transition):
            latencies.append((datetime.now(timezone.utc) - record.event.since).total_seconds() * 1000)

    subscription = consume(stream, "first", broker=BROKER).subscribe(arrived)
    try:
        child = subprocess.Popen([sys.executable, __file__, "--latency-publisher", stream, str(rate),
                                  str(warmup + seconds)], stdout=subprocess.PIPE, text=True)
        sent = json.loads(child.communicate(timeout=60 + warmup + seconds)[0])["sent"]
        deadline = time.monotonic() + 10
        while len(latencies) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        subscription.dispose()
        delete_stream(BROKER, stream)
    measured = sorted(latencies[int(warmup * rate):])
    p99 = measured[min(len(measured) - 1, int(len(measured) * 0.99))]
    return statistics.median(measured), p99, measured[-1], len(latencies) / (warmup + seconds)


def late_joiner(devices: int) -> tuple[float, float]:
    """(seconds to the full state of ``devices`` devices, seconds of connecting and offset look-ups)."""
    stream = f"bench-late-{uuid.uuid4().hex[:8]}"
    create_stream(BROKER, stream)
    shard = Shard(0, 1)
    try:
        worker, thread = start_worker(stream, shard, device_drfs(devices), 1, snapshot_interval_s=1.0)
        probe = StreamSubscriber(BROKER, stream, lambda offset, data: None, lambda error: None)
        try:
            deadline = time.monotonic() + 120
            while worker.transitions < devices and time.monotonic() < deadline:
                time.sleep(0.05)
            # two more indexed snapshots: the second was taken after the state was whole
            indexed: list[int | None] = [probe.query_offset(snapshot_reference(shard))]
            while len(indexed) < 3 and time.monotonic() < deadline:
                offset = probe.query_offset(snapshot_reference(shard))
                if offset != indexed[-1]:
                    indexed.append(offset)
                time.sleep(0.05)
        finally:
            probe.close()
            worker.stop()
            thread.join(30)

        began = time.perf_counter()
        lookup = StreamSubscriber(BROKER, stream, lambda offset, data: None, lambda error: None)
        snapshot_start(lookup)
        connect_s = time.perf_counter() - began
        lookup.close()

        seen: set[str] = set()
        whole = threading.Event()

        def arrived(record: object) -> None:
            if isinstance(record, Transition):
                seen.add(record.event.device)
                if len(seen) == devices:
                    whole.set()

        began = time.perf_counter()
        subscription = consume(stream, "snapshot", broker=BROKER).subscribe(arrived)
        try:
            if not whole.wait(30):
                raise RuntimeError(f"late joiner: {len(seen)} of {devices} devices after 30 s")
            return time.perf_counter() - began, connect_s
        finally:
            subscription.dispose()
    finally:
        delete_stream(BROKER, stream)


def client_messages(count: int) -> list[bytes]:
    now = datetime.now(timezone.utc)
    return [encode(Transition(Shard(0, 1), "a", AlarmEvent(f"Z:BANK{i % 1000:03d}", AlarmState.ALARM,
                                                              Severity.MAJOR, 57.5, now, "above 55")))
            for i in range(count)]


def bench_rstream(data: list[bytes]) -> float:
    stream = f"bench-rstream-{uuid.uuid4().hex[:8]}"
    create_stream(BROKER, stream)
    try:
        publisher = StreamPublisher(BROKER, stream, f"{stream}.bench")
        began = time.perf_counter()
        for message in data:
            publisher.publish(message)
        assert publisher.flush(60.0)
        elapsed = time.perf_counter() - began
        publisher.close()
        return len(data) / elapsed
    finally:
        delete_stream(BROKER, stream)


def bench_pika(data: list[bytes]) -> float:
    queue = f"bench-pika-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "stream"})
    channel.confirm_delivery()
    try:
        began = time.perf_counter()
        for message in data:  # BlockingChannel confirms each publish before returning
            channel.basic_publish("", queue, message, pika.BasicProperties(delivery_mode=2))
        return len(data) / (time.perf_counter() - began)
    finally:
        channel.queue_delete(queue)
        connection.close()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker-process":
        stream, shard, devices, warmup, seconds = sys.argv[2:7]
        index, count = shard.split("/")
        run_worker_process(stream, Shard(int(index), int(count)), int(devices), float(warmup), float(seconds))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--spin":
        spin(float(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--latency-publisher":
        stream, rate, seconds = sys.argv[2:5]
        run_latency_publisher(stream, float(rate), float(seconds))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring window of each run (default 8)")
    parser.add_argument("--devices", type=int, default=2000, help="devices of the worker runs (default 2000)")
    parser.add_argument("--late-devices", type=int, default=50_000,
                        help="devices of the late joiner (default 50,000)")
    parser.add_argument("--rate", type=float, default=10_000.0, help="transitions/s of the latency run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument("--quick", action="store_true", help="shorter windows, fewer client messages")
    add_json_option(parser)
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    args.rounds = 1 if args.quick else args.rounds
    warmup = 1.0 if args.quick else 2.0

    (one, one_cores, one_busy), (two, two_cores, two_busy) = best_worker_rates(args.devices, warmup, seconds,
                                                                               args.rounds)
    spin_one, spin_two = best_machine_rates(seconds, args.rounds)
    latency_runs = [transition_latency(args.rate, seconds, warmup) for _ in range(args.rounds)]
    print("latency runs (p50, p99, max ms; received/s): "
          + "; ".join(f"{a:.1f}, {b:.1f}, {c:.1f}; {d:,.0f}" for a, b, c, d in latency_runs))
    p50, p99, worst, received = min(latency_runs, key=lambda run: run[1])
    late_s, connect_s = min(late_joiner(args.late_devices) for _ in range(args.rounds))
    data = client_messages(5_000 if args.quick else 20_000)
    rstream_rate, pika_rate = bench_rstream(data), bench_pika(data)
    best = f"best of {args.rounds}"
    figures = [
        Figure(SECTION, f"1 worker, {args.devices:,} devices, synthetic source ({best}; "
               f"{one_cores:.2f} cores; machine busy {one_busy:.2f})", "readings/s", one),
        Figure(SECTION, f"2 workers (2 shards), {args.devices:,} devices ({best}; {two_cores:.2f} cores; "
               f"machine busy {two_busy:.2f})", "readings/s", two),
        Figure(SECTION, "2 workers / 1 worker", "x", two / one, target_min=1.7),
        Figure(SECTION, "2 workers / 1 worker per worker core (readings per CPU-second)", "x",
               (two / two_cores) / (one / one_cores)),
        Figure(SECTION, f"machine now: 2 / 1 spinning Python processes ({best})", "x", spin_two / spin_one),
        Figure(SECTION, f"transition latency p50 at {args.rate:,.0f}/s (received {received:,.0f}/s)", "ms",
               p50, higher_is_better=False),
        Figure(SECTION, f"transition latency p99 at {args.rate:,.0f}/s ({best} runs)", "ms", p99,
               higher_is_better=False, target_max=50),
        Figure(SECTION, f"transition latency max at {args.rate:,.0f}/s", "ms", worst, higher_is_better=False),
        Figure(SECTION, f"late joiner: full state of {args.late_devices:,} devices ({best})", "s", late_s,
               higher_is_better=False, target_max=1),
        Figure(SECTION, "late joiner: of which connecting and offset look-ups", "s", connect_s,
               higher_is_better=False),
        Figure(SECTION, "confirmed publish, rstream (stream protocol)", "messages/s", rstream_rate),
        Figure(SECTION, "confirmed publish, pika (AMQP stream queue)", "messages/s", pika_rate),
        Figure(SECTION, "rstream / pika", "x", rstream_rate / pika_rate),
    ]
    publish("bench_scaleout", figures, json_path=args.json)


if __name__ == "__main__":
    main()
