"""Scale-out workers in this process, fed by a scripted source, against the local broker's stream plugin.

A restarted worker replays each device's last readings (published after every snapshot), so the tries
counter of ``limits`` resumes: two bad readings before the restart and one after raise the alarm that
``tries=3`` asks for, and the restart reports no gap. Outputs other than alarm events are published
once per replica and reach a consumer once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
import reactivex
from pacsys_rx.operators import AlarmState
from polling import wait_until
from reactivex import Observable, abc
from reactivex import operators as rx
from reactivex.subject import Subject

from pacsys_rx import operators as ops
from pacsys_rx.cli import main
from pacsys_rx.model import Reading, ValueType
from pacsys_rx.model.reading import utc_now
from pacsys_rx.scaleout import (
    Action,
    Gap,
    Output,
    Shard,
    ShardInput,
    StreamBroker,
    Transition,
    Worker,
    WorkerOptions,
    consume,
    create_stream,
    delete_stream,
    send_command,
)

pytestmark = pytest.mark.timeout(60)

BROKER = StreamBroker()
DEVICE = "Z:TRIES"


class ScriptedSource:
    """A backend stand-in: ``stream(drfs)`` delivers the readings the test pushes."""

    def __init__(self) -> None:
        self.readings: Subject[Reading] = Subject()
        self.subscribers = 0

    def stream(self, drfs: list[str]) -> Observable[Reading]:
        def subscribe(observer: abc.ObserverBase[Reading],
                      scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
            subscription = self.readings.subscribe(observer)
            self.subscribers += 1
            return subscription

        return Observable(subscribe)

    def push(self, value: float) -> None:
        self.readings.on_next(Reading(f"{DEVICE}@P,1000", DEVICE, value, ValueType.SCALAR, "mA", utc_now()))


class RunningWorker:
    """A ``Worker`` on its own thread until ``stop``; ``errors`` holds what ``run`` raised."""

    def __init__(self, pipeline: object, source: ScriptedSource, stream: str, replica: str = "a") -> None:
        options = WorkerOptions(stream, Shard(0, 1), replica, snapshot_interval_s=2.0)
        self.worker = Worker(pipeline, source, [f"{DEVICE}@P,1000"], options, BROKER)  # type: ignore[arg-type]
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        except Exception as error:
            self.errors.append(error)

    def stop(self) -> None:
        self.worker.stop()
        self.thread.join(20)
        assert not self.thread.is_alive()


def tries_pipeline(shard: ShardInput) -> Observable[object]:
    return shard.readings.pipe(ops.limits(45, 55, tries=3), shard.restore, ops.latch(shard.acknowledgements))


@dataclass(frozen=True)
class Peak:
    """A reading above 55, as a pipeline output that is not an alarm event."""

    device: str
    value: float
    at: datetime


def peaks_pipeline(shard: ShardInput) -> Observable[object]:
    return shard.readings.pipe(rx.filter(lambda r: r.value > 55),  # type: ignore[operator]
                               rx.map(lambda r: Peak(r.device, r.value, r.timestamp)))  # type: ignore[arg-type]


@pytest.fixture
def stream() -> Iterator[str]:
    name = f"so-worker-{uuid.uuid4().hex[:8]}"
    create_stream(BROKER, name)
    yield name
    delete_stream(BROKER, name)


def tries_and_peaks_pipeline(shard: ShardInput) -> Observable[object]:
    """Two subscriptions of the readings: the replay must be kept once and cause no output in either."""
    return reactivex.merge(tries_pipeline(shard), peaks_pipeline(shard))


@pytest.mark.parametrize(("pipeline", "branches"), [(tries_pipeline, 1), (tries_and_peaks_pipeline, 2)])
def test_a_restart_resumes_the_tries_counter_and_reports_no_gap(stream: str, pipeline: object,
                                                                branches: int) -> None:
    records: list[object] = []
    subscription = consume(stream, "first", broker=BROKER).subscribe(records.append)
    source = ScriptedSource()
    try:
        first = RunningWorker(pipeline, source, stream)
        wait_until(lambda: source.subscribers == branches, 20, "the first worker acquiring")
        source.push(50.0)
        wait_until(lambda: states(records) == [AlarmState.OK], 10, "the initial OK")
        source.push(60.0)
        source.push(61.0)  # two of the three tries
        first.stop()

        second = RunningWorker(pipeline, source, stream)
        wait_until(lambda: source.subscribers == 2 * branches, 20, "the restarted worker acquiring")
        source.push(62.0)  # the third try, after the restart
        wait_until(lambda: states(records)[-1:] == [AlarmState.ALARM], 10, "the alarm after three tries")
        second.stop()
        everything_read(records, stream)
        assert states(records) == [AlarmState.OK, AlarmState.ALARM]
        assert not any(isinstance(record, Gap) for record in records)
        if pipeline is tries_and_peaks_pipeline:
            assert [dict(o.fields)["value"] for o in outputs(records)] == [60.0, 61.0, 62.0]
    finally:
        subscription.dispose()


def everything_read(records: list[object], stream: str) -> None:
    """Publish a command after everything else and wait until the consumer has it."""
    sentinel = send_command(BROKER, stream, Action.ACKNOWLEDGE, "Z:SENTINEL")
    wait_until(lambda: sentinel in records, 10, "the consumer reading to the end")


def states(records: list[object]) -> list[AlarmState]:
    return [r.event.state for r in records if isinstance(r, Transition)]


def test_other_outputs_are_published_and_replicas_merged(stream: str) -> None:
    records: list[object] = []
    subscription = consume(stream, "first", broker=BROKER).subscribe(records.append)
    source = ScriptedSource()
    replicas = [RunningWorker(peaks_pipeline, source, stream, replica) for replica in "ab"]
    try:
        wait_until(lambda: source.subscribers == 2, 20, "both replicas acquiring")
        for value in (50.0, 56.0, 57.0):
            source.push(value)
        wait_until(lambda: len(outputs(records)) == 2, 10, "the two peaks")
        for worker in replicas:
            worker.stop()
        everything_read(records, stream)
        peaks = outputs(records)
        assert [(o.type, o.device, dict(o.fields)["value"]) for o in peaks] == [
            ("Peak", DEVICE, 56.0), ("Peak", DEVICE, 57.0)]
    finally:
        subscription.dispose()


def test_an_output_without_a_device_stops_the_worker(stream: str) -> None:
    source = ScriptedSource()
    worker = RunningWorker(lambda shard: shard.readings.pipe(rx.map(lambda r: r.value)), source, stream)
    wait_until(lambda: source.subscribers == 1, 20, "the worker acquiring")
    source.push(50.0)
    worker.thread.join(20)
    assert not worker.thread.is_alive()
    assert isinstance(worker.errors[0], TypeError)


def outputs(records: list[object]) -> list[Output]:
    return [r for r in records if isinstance(r, Output)]


def test_disable_and_enable_commands_from_the_command_line(stream: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    records: list[object] = []
    subscription = consume(stream, "first", broker=BROKER).subscribe(records.append)
    source = ScriptedSource()
    worker = RunningWorker(tries_pipeline, source, stream)
    try:
        wait_until(lambda: source.subscribers == 1, 20, "the worker acquiring")
        source.push(50.0)
        wait_until(lambda: states(records) == [AlarmState.OK], 10, "the initial OK")
        assert main(["disable", DEVICE.lower(), "--stream", stream]) == 0
        assert capsys.readouterr().out.startswith(f"disabled {DEVICE.lower()} at ")
        wait_until(lambda: states(records)[-1:] == [AlarmState.DISABLED], 10, "the device disabled")
        for value in (60.0, 61.0, 62.0):
            source.push(value)
        assert main(["enable", DEVICE, "--stream", stream]) == 0
        wait_until(lambda: states(records)[-1:] == [AlarmState.ALARM], 10, "the alarm shown once enabled")
        worker.stop()
        everything_read(records, stream)
        assert states(records) == [AlarmState.OK, AlarmState.DISABLED, AlarmState.ALARM]
    finally:
        subscription.dispose()
