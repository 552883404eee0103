"""One worker: shard K of N of a user pipeline, its alarm state restored from and published to a stream.

Start-up order: publish a marker, read the stream from the shard's latest snapshot up to that marker
(restoring the state table, each device's last readings and the commands nobody answered), report an
outage as a ``Gap`` (and as gap readings, so every device of the shard shows DISCONNECTED), and only
then acquire the devices. The pipeline's readings start with the restored last readings (a replay that
rebuilds counters such as ``limits``' tries; ``restore`` holds back what the replay produces), then
the gap readings, then live data.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex import operators as ops
from reactivex.subject import Subject

from pacsys_rx.backends.base import Backend
from pacsys_rx.drf import parse_request
from pacsys_rx.errors import BackendUnavailable
from pacsys_rx.model import AcnetStatus, GapReading, Reading
from pacsys_rx.model.reading import utc_now
from pacsys_rx.operators import AlarmEvent

from .broker import StreamBroker, StreamPublisher, StreamSubscriber, create_stream
from .codec import (
    Action,
    Command,
    Gap,
    Kind,
    Marker,
    RecentReadings,
    RecentValue,
    Record,
    SnapshotPart,
    Transition,
    decode,
    encode,
    output_of,
    peek_kind,
    peek_snapshot,
)
from .sharding import Shard
from .state import ShardState
from .stream import SHARDS_REFERENCE, snapshot_reference, snapshot_start

log = logging.getLogger("pacsys_rx.worker")


@dataclass
class ShardInput:
    """What a worker's pipeline function receives.

    ``readings``: the shard's devices (acquired when subscribed, after the state was restored),
    starting with each device's last readings restored from the latest snapshot (a replay);
    ``acknowledgements``: operator acknowledgements for ``latch`` (a device, or None for all);
    ``restore``: an operator, placed just before ``latch``, that drops the events the replay causes
    and then puts the restored alarm state ahead of the live events, so latched and acknowledged
    alarms stay so after a restart while the operators before it resume from the replayed readings.
    """

    shard: Shard
    drfs: list[str]
    readings: Observable[Reading]
    acknowledgements: Observable[str | None]
    restore: Callable[[Observable[AlarmEvent]], Observable[AlarmEvent]]


Pipeline = Callable[[ShardInput], Observable[Any]]
"""Alarm events go through the shard's state table; any other output (a dataclass with a ``device``
field, e.g. ``WindowStats``) is published as an ``Output`` record."""


@dataclass
class WorkerOptions:
    stream: str
    shard: Shard
    replica: str = "a"
    snapshot_interval_s: float = 5.0
    restore_timeout_s: float = 60.0
    log_interval_s: float = 10.0
    retention_s: float | None = None
    recent_readings: int = 4
    """Readings per device kept, published after each snapshot and replayed after a restart."""

    @property
    def producer(self) -> str:
        return f"{self.stream}.{self.shard.index}.{self.shard.count}.{self.replica}"

    @property
    def outage_after(self) -> timedelta:
        """Silence of the shard longer than this, seen at start-up, is reported as a gap."""
        return timedelta(seconds=2 * self.snapshot_interval_s + 1.0)


def shard_drfs(drfs: Sequence[str], shard: Shard) -> list[str]:
    """The DRFs whose device belongs to ``shard``."""
    return [drf for drf in drfs if shard.owns(parse_request(drf).device)]


def read_devices_file(path: str) -> list[str]:
    """One DRF per line; blank lines and ``#`` comments are skipped."""
    with open(path, encoding="utf-8") as file:
        lines = (line.split("#", 1)[0].strip() for line in file)
        return [line for line in lines if line]


@dataclass
class Worker:
    """Runs ``pipeline`` for ``options.shard`` against ``backend`` until ``stop``."""

    pipeline: Pipeline
    backend: Backend
    drfs: list[str]
    options: WorkerOptions
    broker: StreamBroker
    readings: int = 0
    transitions: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _stopped: threading.Event = field(default_factory=threading.Event)
    _failure: list[BaseException] = field(default_factory=list)
    _recent: dict[str, deque[Reading]] = field(default_factory=dict)
    _replaying_on: int | None = None
    """The thread replaying restored readings into the pipeline (what it causes there is not published)."""

    def run(self) -> None:
        """Restore, acquire, publish; returns after ``stop`` (raises the pipeline's error, if any)."""
        options = self.options
        create_stream(self.broker, options.stream, options.retention_s)
        self.state = ShardState(options.shard, options.replica)
        self.acks: Subject[str | None] = Subject()
        self.publisher = StreamPublisher(self.broker, options.stream, options.producer)
        self.subscriber = StreamSubscriber(self.broker, options.stream, self._deliver, self._fail)
        self._snapshot_starts: dict[tuple[str, datetime], int] = {}
        self._restoring = True
        self._caught_up = threading.Event()
        self._token = uuid.uuid4().hex
        self._replaying_on = None
        try:
            self._restore()
            self._run_pipeline()
        finally:
            self.subscriber.close()
            self.publisher.close()
        if self._failure:
            raise self._failure[0]

    def stop(self) -> None:
        self._stopped.set()

    def _publish(self, record: Record) -> None:
        self.publisher.publish(encode(record))

    def _fail(self, error: BaseException) -> None:
        self._failure.append(error)
        self._stopped.set()
        self._caught_up.set()

    def _restore(self) -> None:
        options = self.options
        self._publish(Marker(options.shard, options.replica, self._token))
        self.subscriber.start(snapshot_start(self.subscriber, options.shard))
        if not self._caught_up.wait(options.restore_timeout_s):
            raise BackendUnavailable(
                f"stream {options.stream}: not caught up within {options.restore_timeout_s:g} s")
        with self._lock:
            self._restoring = False
        log.info("shard %s replica %s: restored %d device states", options.shard, options.replica,
                 len(self.state.states))

    def _deliver(self, offset: int, data: bytes) -> None:
        if not self._restoring:
            kind = peek_kind(data)
            if kind is Kind.SNAPSHOT:  # only indexed: the events are not decoded
                with self._lock:
                    self._index_snapshot(offset, peek_snapshot(data))
            if kind is not Kind.COMMAND:
                return
        record = decode(data)
        with self._lock:
            self._index_snapshot(offset, record)
            if self._restoring:
                if isinstance(record, Marker) and record.token == self._token:
                    self._caught_up.set()
                else:
                    self.state.restore(record)
            elif isinstance(record, Command):
                self._apply(record)

    def _index_snapshot(self, offset: int, record: Record) -> None:
        """Store the offset of each whole snapshot of this shard (the start of later restores)."""
        if not isinstance(record, SnapshotPart) or record.shard != self.options.shard:
            return
        key = (record.replica, record.taken_at)
        if record.part == 0:
            self._snapshot_starts = {key: offset}
        if record.part == record.parts - 1 and key in self._snapshot_starts:
            self.subscriber.store_offset(snapshot_reference(record.shard), self._snapshot_starts.pop(key))
            self.subscriber.store_offset(SHARDS_REFERENCE, record.shard.count)

    def _apply(self, command: Command) -> None:
        if command.action is Action.ACKNOWLEDGE:
            if command.device is None or self.options.shard.owns(command.device):
                self.acks.on_next(command.device)
            return
        for event in self.state.command(command):
            self._publish_transition(event)

    def _publish_transition(self, event: AlarmEvent) -> None:
        self.transitions += 1
        self._publish(Transition(self.options.shard, self.options.replica, event))

    def _on_output(self, item: object) -> None:
        with self._lock:
            if self._replaying():
                return
            if isinstance(item, AlarmEvent):
                changed = self.state.accept(item)
                if changed is not None:
                    self._publish_transition(changed)
            else:
                try:
                    record = output_of(self.options.shard, self.options.replica, item)
                except TypeError as error:  # stops the worker: run() raises it
                    self._fail(error)
                    return
                self._publish(record)

    def _replaying(self) -> bool:
        return self._replaying_on == threading.get_ident()

    def _observe(self, reading: Reading) -> None:
        """Count ``reading`` and keep it among its device's last readings if its value is a number, a
        bool or none (an error); a gap empties them. Arrays and text are not kept (message size)."""
        self.readings += 1
        kept = self._recent.get(reading.device)
        if kept is None:
            kept = self._recent[reading.device] = deque(maxlen=self.options.recent_readings)
        if reading.is_gap:
            kept.clear()
        elif reading.value is None or isinstance(reading.value, (int, float)):
            kept.append(reading)

    def _replayed_readings(self) -> list[Reading]:
        """The restored last readings of the shard's devices, as readings of their DRFs."""
        replay = []
        for drf in self.drfs:
            device = parse_request(drf).device
            for kept in self.state.recent.get(device, ()):
                replay.append(Reading(drf, device, kept.value, kept.value_type, None, kept.timestamp,
                                      status=AcnetStatus(kept.facility, kept.error), backend="scaleout"))
        return replay

    def _publish_snapshot(self) -> None:
        """The state table's parts, then every device's last readings (at most 1000 devices a message)."""
        options, now = self.options, utc_now()
        for part in self.state.snapshot(now):
            self._publish(part)
        if options.recent_readings <= 0:
            return
        kept = [(device, tuple(readings)) for device, readings in sorted(list(self._recent.items()))]
        for start in range(0, len(kept), 1000):
            devices = tuple((device, tuple(RecentValue(r.timestamp, r.value, r.value_type, r.status.facility,
                                                       r.status.error) for r in readings))
                            for device, readings in kept[start:start + 1000] if readings)
            self._publish(RecentReadings(options.shard, options.replica, now, devices))

    def _outage_readings(self) -> list[Reading]:
        """Gap readings for every device when the shard was silent too long before this start."""
        options, last_seen, now = self.options, self.state.last_seen, utc_now()
        if last_seen is None or now - last_seen <= options.outage_after:
            return []
        self._publish(Gap(options.shard, options.replica, last_seen, now))
        log.warning("shard %s: no worker from %s to %s; reported as a gap", options.shard,
                    last_seen.isoformat(), now.isoformat())
        reason = f"no worker of shard {options.shard} from {last_seen.isoformat()} to {now.isoformat()}"
        return [GapReading.of(drf, parse_request(drf).device, "scaleout", reason, timestamp=now)
                for drf in self.drfs]

    def _run_pipeline(self) -> None:
        options = self.options
        restored = [self.state.states[device] for device in sorted(self.state.states)]
        replay = self._replayed_readings()
        replay_ended: list[Callable[[], None]] = []

        def replay_readings() -> Observable[Reading]:
            self._replaying_on = threading.get_ident()
            return reactivex.from_iterable(replay)

        def end_replay() -> None:
            self._replaying_on = None
            while replay_ended:
                replay_ended.pop(0)()

        def restore(source: Observable[AlarmEvent]) -> Observable[AlarmEvent]:
            def subscribe(observer: abc.ObserverBase[AlarmEvent],
                          scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
                released = [False]

                def release() -> None:
                    if not released[0]:
                        released[0] = True
                        for event in restored:
                            observer.on_next(event)

                def on_next(event: AlarmEvent) -> None:
                    if not self._replaying():
                        release()
                        observer.on_next(event)

                replay_ended.append(release)
                return source.subscribe(on_next, observer.on_error, observer.on_completed,
                                        scheduler=scheduler)

            return Observable(subscribe)

        outage = self._outage_readings()
        subscriptions = itertools.count()

        def shard_readings(_: abc.SchedulerBase | None) -> Observable[Reading]:
            """Replay, outage gap, live data; the first subscription is the one counted and kept."""
            source = reactivex.concat(
                reactivex.defer(lambda _: replay_readings()).pipe(ops.do_action(on_completed=end_replay)),
                reactivex.from_iterable(outage), self.backend.stream(self.drfs))
            return source.pipe(ops.do_action(self._observe)) if next(subscriptions) == 0 else source

        readings = reactivex.defer(shard_readings)
        events = self.pipeline(ShardInput(options.shard, self.drfs, readings, self.acks, restore))
        log.info("shard %s replica %s: acquiring %d devices (%d restored readings replayed)", options.shard,
                 options.replica, len(self.drfs), len(replay))
        subscription = events.subscribe(self._on_output, self._fail, self._stopped.set)
        with self._lock:
            for command in self.state.unapplied:
                self._apply(command)
        try:
            self._publish_periodically()
        finally:
            subscription.dispose()
            with self._lock:
                self._publish_snapshot()

    def _publish_periodically(self) -> None:
        options = self.options
        next_snapshot = time.monotonic() + options.snapshot_interval_s
        next_log = time.monotonic() + options.log_interval_s
        counted = (time.monotonic(), 0, 0)
        while not self._stopped.wait(max(0.0, min(next_snapshot, next_log) - time.monotonic())):
            now = time.monotonic()
            if now >= next_snapshot:
                next_snapshot = now + options.snapshot_interval_s
                with self._lock:
                    self._publish_snapshot()
            if now >= next_log:
                next_log = now + options.log_interval_s
                since, readings, transitions = counted
                span = max(now - since, 1e-9)
                log.info("shard %s replica %s: %d devices, %.0f readings/s, %.1f transitions/s, "
                         "%d unconfirmed",
                         options.shard, options.replica, len(self.drfs), (self.readings - readings) / span,
                         (self.transitions - transitions) / span, self.publisher.unconfirmed)
                counted = (now, self.readings, self.transitions)

