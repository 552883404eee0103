"""Scale-out with real worker processes, the simulator and the local RabbitMQ's stream plugin.

Cluster test: 2 shards x 2 replicas over 2,000 devices; one replica is killed with SIGKILL and the
broker closes another replica's connection mid-run (that worker reconnects by itself and its own
producer publishes again); the merged transitions equal those of a single-process worker over the same
(epoch-aligned, deterministic) readings, with no duplicate; a late consumer has the state of all 2,000
devices within 1 s of subscribing.
Restart test: both replicas of a shard killed, one restarted after the outage: the outage is
reported as a gap (DISCONNECTED), latched alarms are latched again and an alarm acknowledged before
the outage stays acknowledged. Quick restart: a worker killed and restarted within the gap threshold
reports no gap.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pacsys_rx.operators import AlarmState
from polling import wait_until

from pacsys_rx.scaleout import (
    Action,
    Gap,
    Shard,
    StreamBroker,
    Transition,
    consume,
    create_stream,
    delete_stream,
    send_command,
)
from pacsys_rx.scaleout.broker import StreamSubscriber, publisher_sequence
from pacsys_rx.scaleout.stream import snapshot_reference
from pacsys_rx.sim import Simulator
from pacsys_rx.sim.broker import rabbitmqctl

pytestmark = pytest.mark.timeout(180)

PIPELINES = Path(__file__).with_name("scaleout_pipelines.py")
CATALOGUE = """
[bank]
prefix = "Z:BANK"
count = 2000
reading = { units = "mA", min = 0, max = 100, generator = { kind = "sine", offset = 50.0, amplitude = 10.0, \
period_ms = 6000 } }
"""
CATALOGUE += "".join(
    f'[devices."Z:SLOW{i:04d}"]\nindex = {700_000 + i}\nreading = {{ units = "mA", min = 0, max = 100, '
    f'generator = {{ kind = "sine", offset = 50.0, amplitude = 10.0, period_ms = 120000 }} }}\n'
    for i in range(100))
"""Z:SLOW0000..0099: 120 s sine periods, so a state lasts many seconds (OK spans of 20 s)."""
BROKER = StreamBroker()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    catalogue = tmp_path_factory.mktemp("scaleout") / "devices.toml"
    catalogue.write_text(CATALOGUE)
    with Simulator(devices=str(catalogue), servers=["dpm"]) as simulator:
        yield simulator


@pytest.fixture
def streams() -> Iterator[list[str]]:
    """Unique stream names for one test, deleted afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        delete_stream(BROKER, name)


def devices_file(tmp_path: Path, count: int, bank: str = "BANK") -> str:
    """``count`` devices of ``bank`` (BANK: 6 s sine period; SLOW: 120 s, so states last many seconds)."""
    path = tmp_path / f"devices-{bank}-{count}.txt"
    path.write_text("".join(f"Z:{bank}{i:04d}@P,1000,false\n" for i in range(count)))
    return str(path)


class WorkerProcess:
    """``pacsys-rx worker`` as a child process; its stderr lines are collected."""

    def __init__(self, sim: Simulator, pipeline: str, devices: str, shard: str, replica: str, stream: str,
                 snapshot_interval: float = 1.0) -> None:
        options = sim.client_options("dpm")
        path = os.pathsep.join(filter(None, [str(PIPELINES.parent), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.name = f"{shard}/{replica}"
        self.producer = f"{stream}.{shard.replace('/', '.')}.{replica}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pacsys_rx", "worker", f"scaleout_pipelines:{pipeline}",
             "--devices", devices, "--shard", shard, "--replica", replica, "--stream", stream,
             "--backend", "dpm",
             "--host", str(options["host"]), "--port", str(options["port"]),
             "--snapshot-interval", str(snapshot_interval), "--log-interval", "2"],
            stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def acquiring(self) -> bool:
        return any("acquiring" in line for line in self.lines)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class Collector:
    """Every merged record of a stream, with its arrival time."""

    def __init__(self, stream: str, start: str = "first") -> None:
        self.records: list[object] = []
        self.errors: list[BaseException] = []
        self.subscription = consume(stream, start, broker=BROKER).subscribe(self.records.append,
                                                                              self.errors.append)

    def transitions(self) -> list[Transition]:
        return [r for r in self.records if isinstance(r, Transition)]

    def settled(self, quiet_s: float = 1.5, timeout: float = 20.0) -> None:
        """Wait until nothing new arrived for ``quiet_s``."""
        seen = [len(self.records), time.monotonic()]

        def quiet() -> bool:
            if len(self.records) != seen[0]:
                seen[:] = [len(self.records), time.monotonic()]
            return time.monotonic() - seen[1] > quiet_s

        wait_until(quiet, timeout, "the stream to go quiet")

    def close(self) -> None:
        self.subscription.dispose()


def close_stream_connections(name: str) -> int:
    """Have the broker end the stream connections whose client name is ``name``; how many.

    ``rabbitmqctl close_connection`` cannot address stream-protocol connections on RabbitMQ 3.10,
    so the broker's own list of them is used and the matching connection processes are ended.
    """
    script = (f'length([exit(P, kill) || P <- rabbit_stream:list(<<"/">>), '
              f'lists:keyfind(<<"connection_name">>, 1, proplists:get_value(client_properties, '
              f'rabbit_stream_reader:info(P, [client_properties]))) =:= '
              f'{{<<"connection_name">>, longstr, <<"{name}">>}}]).')
    return int(rabbitmqctl("eval", script).strip())


def keys(transitions: list[Transition], start: datetime, end: datetime) -> list[tuple[object, ...]]:
    return sorted((t.event.device, t.event.state, t.event.severity, t.event.since) for t in transitions
                  if start <= t.event.since <= end)


def test_replicas_lose_and_double_nothing(sim: Simulator, streams: list[str], tmp_path: Path) -> None:
    run = uuid.uuid4().hex[:8]
    cluster, single = f"so-cluster-{run}", f"so-single-{run}"
    streams += [cluster, single]
    devices = devices_file(tmp_path, 2000)
    reference = WorkerProcess(sim, "limits_only", devices, "0/1", "a", single)
    workers = [WorkerProcess(sim, "limits_only", devices, f"{k}/2", r, cluster) for k in (0, 1) for r in "ab"]
    everyone = [reference, *workers]
    try:
        wait_until(lambda: all(w.acquiring for w in everyone), 60, "every worker acquiring")
        start = datetime.now(timezone.utc) + timedelta(seconds=3)
        wait_until(lambda: datetime.now(timezone.utc) > start + timedelta(seconds=2), 10, "first readings")
        workers[1].kill()
        published = publisher_sequence(BROKER, cluster, workers[2].producer)
        assert close_stream_connections(workers[2].producer) >= 1
        wait_until(lambda: publisher_sequence(BROKER, cluster, workers[2].producer) > published + 1000, 15,
                   "the disconnected worker's own producer publishing again")
        assert workers[2].process.poll() is None
        wait_until(lambda: datetime.now(timezone.utc) > start + timedelta(seconds=8), 15, "the run")

        began = time.monotonic()
        late = Collector(cluster, "snapshot")
        try:
            wait_until(lambda: len(late_devices(late)) == 2000, 10, "the late consumer's full state")
            assert time.monotonic() - began <= 1.0, "the late consumer's full state took over 1 s"
        finally:
            late.close()
        end = datetime.now(timezone.utc) - timedelta(seconds=1)
    finally:
        for worker in everyone:
            worker.stop()
    merged, alone = Collector(cluster), Collector(single)
    try:
        merged.settled()
        alone.settled()
        assert not merged.errors and not alone.errors
        got, expected = keys(merged.transitions(), start, end), keys(alone.transitions(), start, end)
        assert len(expected) > 1000
        assert len(got) == len(set(got)), "a transition was published twice"
        assert got == expected
    finally:
        merged.close()
        alone.close()


def late_devices(collector: Collector) -> set[str]:
    return {t.event.device for t in collector.transitions()}


def test_restart_after_an_outage_reports_a_gap_and_keeps_latched_and_acknowledged_alarms(
        sim: Simulator, streams: list[str], tmp_path: Path) -> None:
    stream = f"so-restart-{uuid.uuid4().hex[:8]}"
    streams.append(stream)
    create_stream(BROKER, stream)
    devices = devices_file(tmp_path, 100, "SLOW")
    replicas = [WorkerProcess(sim, "latched", devices, "0/1", r, stream) for r in "ab"]
    watcher = Collector(stream)
    try:
        wait_until(lambda: all(w.acquiring for w in replicas), 60, "both replicas acquiring")
        wait_until(lambda: len(latched(watcher)) >= 4, 30, "some latched alarms")
        acknowledged = newest_latched(watcher)
        send_command(BROKER, stream, Action.ACKNOWLEDGE, acknowledged)
        wait_until(lambda: current(watcher).get(acknowledged) is AlarmState.OK, 10,
                   "the acknowledgement applied")
        wait_for_snapshot(stream)
        for worker in replicas:
            worker.kill()
        before = latched(watcher)
        assert acknowledged not in before
        killed_at = datetime.now(timezone.utc)
        wait_until(lambda: datetime.now(timezone.utc) > killed_at + timedelta(seconds=4), 10, "the outage")
        replicas.append(WorkerProcess(sim, "latched", devices, "0/1", "a", stream))
        wait_until(lambda: any(isinstance(r, Gap) for r in watcher.records), 30, "the outage gap")
        gap = next(r for r in watcher.records if isinstance(r, Gap))
        assert gap.start <= killed_at <= gap.end
        wait_until(lambda: all(after_gap(watcher, d, gap) for d in before), 20, "latched after the gap")
        for device in before:
            states = after_gap(watcher, device, gap)
            assert states[0] is AlarmState.DISCONNECTED
            assert AlarmState.OK not in states, f"{device} lost its latched alarm"
        wait_until(lambda: after_gap(watcher, acknowledged, gap), 20, "the acknowledged device after the gap")
        assert after_gap(watcher, acknowledged, gap) == [AlarmState.DISCONNECTED, AlarmState.OK], \
            "the acknowledgement published before the outage was lost"
    finally:
        for worker in replicas:
            worker.stop()
        watcher.close()


def test_a_quick_restart_reports_no_gap(sim: Simulator, streams: list[str], tmp_path: Path) -> None:
    stream = f"so-quick-{uuid.uuid4().hex[:8]}"
    streams.append(stream)
    create_stream(BROKER, stream)
    devices = devices_file(tmp_path, 100, "SLOW")
    first = WorkerProcess(sim, "latched", devices, "0/1", "a", stream, snapshot_interval=4.0)
    workers = [first]
    watcher = Collector(stream)
    try:
        wait_until(lambda: first.acquiring and len(watcher.transitions()) >= 100, 60, "every device's state")
        first.kill()
        restarted_at = datetime.now(timezone.utc)
        workers.append(WorkerProcess(sim, "latched", devices, "0/1", "a", stream, snapshot_interval=4.0))
        wait_until(lambda: any(t.event.since > restarted_at for t in watcher.transitions()), 30,
                   "a transition after the restart (the gap threshold is 9 s)")
        sentinel = send_command(BROKER, stream, Action.ACKNOWLEDGE, "Z:SENTINEL")
        wait_until(lambda: sentinel in watcher.records, 10, "the watcher reading to the end")
        assert not [r for r in watcher.records if isinstance(r, Gap)]
        assert AlarmState.DISCONNECTED not in {t.event.state for t in watcher.transitions()}
    finally:
        for worker in workers:
            worker.stop()
        watcher.close()


def current(collector: Collector) -> dict[str, AlarmState]:
    states: dict[str, AlarmState] = {}
    for t in collector.transitions():
        states[t.event.device] = t.event.state
    return states


def latched(collector: Collector) -> set[str]:
    return {device for device, state in current(collector).items() if state is AlarmState.LATCHED}


def newest_latched(collector: Collector) -> str:
    """The device that entered LATCHED last: its data stays OK longest (20 s OK spans on the slow bank)."""
    return max((t for t in collector.transitions() if t.event.device in latched(collector)),
               key=lambda t: t.event.since).event.device


def wait_for_snapshot(stream: str) -> None:
    """Wait until the snapshot index of shard 0/1 moves on twice: a whole snapshot taken from now on."""
    subscriber = StreamSubscriber(BROKER, stream, lambda offset, data: None, lambda error: None)
    try:
        seen = [subscriber.query_offset(snapshot_reference(Shard(0, 1)))]

        def moved_twice() -> bool:
            offset = subscriber.query_offset(snapshot_reference(Shard(0, 1)))
            if offset != seen[-1]:
                seen.append(offset)
            return len(seen) >= 3

        wait_until(moved_twice, 10, "a snapshot taken after the acknowledgement")
    finally:
        subscriber.close()


def after_gap(collector: Collector, device: str, gap: Gap) -> list[AlarmState]:
    """States of ``device`` published at or after the gap's end, up to and including the first data state."""
    states = [t.event.state for t in collector.transitions()
              if t.event.device == device and t.event.since >= gap.end - timedelta(seconds=1)]
    return states if len(states) >= 2 else []
