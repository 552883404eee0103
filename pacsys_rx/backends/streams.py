"""Shared streams: one server-side subscription per canonical DRF, many isolated subscribers.

Every backend's ``stream`` goes through :class:`StreamHub`, which enforces the stream part of the
backend contract (docs/concepts.md) once for all of them:

* **sharing**: the first subscriber of a canonical DRF opens the server-side subscription (through the
  backend's ``_open_stream``), the last one to leave releases it;
* **isolation**: a subscriber whose ``on_next`` raises is unsubscribed; the exception is logged with the
  DRF and passed to ``Backend.subscriber_error_hook``; every other subscriber continues;
* **hand-off**: each subscriber has its own bounded queue (:data:`DEFAULT_HANDOFF`, ``drop_oldest``;
  ``dropped`` counts losses), drained on a pool thread, so a slow subscriber never delays another.
  A subscriber alone on its server subscription, with nothing queued, is called directly on the I/O
  thread (nothing to isolate it from, and no thread hop on the hot path);
* **late joiners**: a subscriber joining a running stream gets its latest reading at once, as a
  :class:`ReplayedReading`;
* **value rules**: readings of DRFs whose rule is not plain go through ``value_rules.conform``;
* **lifetimes**: a stream that never connected fails with ``BackendUnavailable`` after the backend's
  ``timeout``; an ``@I`` stream completes after its reading; a stream the server ended completes;
  ``close()`` completes every subscriber from any thread, callbacks included.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, cast

from reactivex import abc as rxabc
from reactivex.disposable import Disposable

from pacsys_rx.backends.value_rules import conform, rule_for
from pacsys_rx.drf import ImmediateEvent, drf_list_text, parse_request
from pacsys_rx.errors import BackendClosed, BackendUnavailable
from pacsys_rx.flow import BufferOverflow, Overflow
from pacsys_rx.model import GapReading, Reading

log = logging.getLogger("pacsys_rx.streams")

DEFAULT_HANDOFF = 1000
"""Readings a subscriber may have waiting before the overflow policy applies."""
DEFAULT_OVERFLOW: Overflow = "drop_oldest"
"""What a full hand-off does with a new reading: drop the oldest waiting one (and count it)."""
POOL_IDLE_SECONDS = 2.0
"""A delivery thread with nothing to do for this long ends (a new one starts on demand)."""
POOL_MAX_THREADS = 3
"""Delivery threads at most; beyond that, subscribers with readings waiting queue for the next free one."""

SubscriberErrorHook = Callable[[str, BaseException], None]
"""Called with the DRF and the exception after a subscriber's callback raised and was unsubscribed."""


class ReplayedReading(Reading):
    """The latest reading of a shared stream, handed at once to a subscriber that joined late.

    It is the same acquisition the earlier subscribers already got (same timestamp and cycle); logic
    that counts events or aligns on them can skip it: ``reading.is_replayed`` is True.
    """

    __slots__ = ()
    is_replayed: ClassVar[bool] = True


def replayed(reading: Reading) -> ReplayedReading:
    return ReplayedReading(reading.drf, reading.device, reading.value, reading.value_type, reading.units,
                           reading.timestamp, reading.cycle, reading.status, reading.backend, reading.meta,
                           reading.message)


class ServerSubscription:
    """A server-side subscription opened by a backend for a group of canonical DRFs."""

    def release(self, drf: str) -> None:
        """Stop delivering ``drf``; the subscription closes on the server when none is left."""
        raise NotImplementedError


class SharedLane(Protocol):
    """A connection or call that carries the DRFs of several sinks."""

    def release(self, drf: str, sink: StreamSink) -> None: ...


class LaneSubscription(ServerSubscription):
    """One sink's DRFs on a shared lane (a DPM/HTTP connection, a gRPC call)."""

    def __init__(self, lane: SharedLane, sink: StreamSink) -> None:
        self.lane = lane
        self._sink = sink

    def release(self, drf: str) -> None:
        self.lane.release(drf, self._sink)


@dataclass(frozen=True, slots=True)
class SubscriberStats:
    """Counters of one subscriber's hand-off."""

    drfs: tuple[str, ...]
    queued: int
    dropped: int
    maxsize: int
    overflow: Overflow


class _Terminal:
    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _DeliveryPool:
    """Daemon threads that drain subscribers' hand-off queues: started on demand up to
    :data:`POOL_MAX_THREADS`, ended after :data:`POOL_IDLE_SECONDS` idle.

    Subscribers with readings waiting go on a ready-list that awake workers drain without a hand-over
    each: a producer wakes a worker only when none is looking at the list, so a burst of readings costs
    a few wakes, not one per reading. A worker that takes a subscriber while others still wait makes
    sure another worker looks (so a blocking subscriber never holds up the rest). Subscribers waiting
    for their first reading go on an urgent list that workers take first, so a new stream's first
    reading does not wait behind a burst of the running ones.
    """

    def __init__(self) -> None:
        self._ready: deque[Subscriber] = deque()
        self._urgent: deque[Subscriber] = deque()
        self._wakeups: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._looking: deque[None] = deque()
        """One token per awake worker not inside a subscriber's drain (it looks at the lists before it
        sleeps); a deque so that workers take and give back their token without the lock."""
        self._sleeping = 0
        self._threads = 0

    def run(self, subscriber: Subscriber, urgent: bool = False) -> None:
        (self._urgent if urgent else self._ready).append(subscriber)
        self._wake_if_nobody_looks()

    def _wake_if_nobody_looks(self) -> None:
        if not self._looking and (self._sleeping or self._threads < POOL_MAX_THREADS):
            self._wake()

    def _wake(self) -> None:
        """Make one worker look at the lists, unless one already does or every worker is busy."""
        with self._lock:
            if self._looking:
                return
            if self._sleeping:
                self._sleeping -= 1
                self._looking.append(None)
                self._wakeups.put(None)
                return
            if self._threads >= POOL_MAX_THREADS:
                return  # the first busy worker to finish looks
            self._threads += 1
            self._looking.append(None)
        threading.Thread(target=self._work, name="pacsys-rx-delivery", daemon=True).start()

    def _next(self) -> Subscriber | None:
        if self._urgent:
            try:
                return self._urgent.popleft()
            except IndexError:  # taken by another worker meanwhile
                pass
        try:
            return self._ready.popleft()
        except IndexError:
            return None

    def _work(self) -> None:
        lock, looking = self._lock, self._looking
        while True:
            subscriber = self._next()
            if subscriber is not None:
                looking.pop()
                if self._ready or self._urgent:
                    self._wake_if_nobody_looks()
                subscriber.drain()
                looking.append(None)
                continue
            with lock:
                looking.pop()
                self._sleeping += 1
            if self._ready or self._urgent:  # queued by a producer that still saw this worker looking
                self._wake()
            try:
                self._wakeups.get(timeout=POOL_IDLE_SECONDS)
            except queue.Empty:
                with lock:
                    try:
                        self._wakeups.get_nowait()  # woken just as the wait ended
                    except queue.Empty:
                        self._sleeping -= 1
                        self._threads -= 1
                        return


_POOL = _DeliveryPool()


class Subscriber:
    """One subscriber of one ``stream()`` call: serialized, isolated, with its own bounded hand-off."""

    __slots__ = ("_busy", "_drfs", "_ending", "_hub", "_lock", "_observer", "_queue", "_remaining",
                 "_stopped", "_waiting_first", "dropped", "inline", "maxsize", "overflow")

    def __init__(self, observer: rxabc.ObserverBase[Reading], drfs: Sequence[str], hub: StreamHub,
                 maxsize: int, overflow: Overflow) -> None:
        self._observer = observer
        self._drfs = tuple(drfs)
        self._remaining = set(drfs)
        self._hub = hub
        self._lock = threading.RLock()
        self._queue: deque[Reading | _Terminal] = deque()
        self._busy = False
        self._ending = False
        self._stopped = False
        self._waiting_first = True
        """Nothing was drained on a pool thread yet: its first hand-off goes ahead of running streams."""
        self.inline = False
        self.maxsize = maxsize
        self.overflow = overflow
        self.dropped = 0

    @property
    def drfs(self) -> tuple[str, ...]:
        return self._drfs

    def stats(self) -> SubscriberStats:
        return SubscriberStats(self._drfs, len(self._queue), self.dropped, self.maxsize, self.overflow)

    # ------------------------------------------------------------------ producers (any thread)

    def push(self, reading: Reading) -> None:
        """Hand one reading over: called directly when alone and idle, else queued for a pool thread.

        A direct call runs under the subscriber's (re-entrant) lock, so a terminal event raised from
        inside the callback (``close()``, disposal) is queued behind it, never delivered inside it.
        """
        with self._lock:
            if self._busy or self._queue or self._ending or not self.inline:
                overflowed = self._enqueue(reading)
            else:
                self._busy = True
                try:
                    self._observer.on_next(reading)
                except Exception as error:
                    self._isolate(reading.drf, error)
                if self._queue:
                    _POOL.run(self, self._waiting_first)
                else:
                    self._busy = False
                return
        if overflowed:
            self._overflowed()

    def end(self, drf: str | None, error: BaseException | None) -> None:
        """The stream of ``drf`` ended (every DRF when None); the subscriber ends with its last DRF."""
        with self._lock:
            if self._ending:
                return
            if error is None and drf is not None:
                self._remaining.discard(drf)
                if self._remaining:
                    return
            self._ending = True
            if self._busy:
                self._queue.append(_Terminal(error))
                return
            self._busy = True
        self._terminate(error)

    def cancel(self) -> None:
        """Stop delivering (disposal): nothing more reaches the observer."""
        with self._lock:
            self._ending = self._stopped = True
            self._queue.clear()

    def _enqueue(self, item: Reading) -> bool:
        """Queue under the lock; True when the ``error`` overflow policy tripped."""
        if self._ending:
            return False
        queued = self._queue
        if len(queued) >= self.maxsize:
            if self.overflow == "drop_newest":
                self.dropped += 1
                return False
            if self.overflow == "error":
                self._ending = True
                queued.clear()
                queued.append(_Terminal(BufferOverflow(
                    f"a subscriber of {drf_list_text(self._drfs)} fell {self.maxsize} readings behind")))
                self._schedule()
                return True
            queued.popleft()
            self.dropped += 1
        queued.append(item)
        self._schedule()
        return False

    def _schedule(self) -> None:
        if not self._busy:
            self._busy = True
            _POOL.run(self, self._waiting_first)

    def _overflowed(self) -> None:
        self._hub.detach(self, cancel=False)

    # ------------------------------------------------------------------ delivery

    def drain(self) -> None:
        """Deliver everything queued, in order (runs on one pool thread at a time)."""
        self._waiting_first = False
        while True:
            with self._lock:
                if not self._queue or self._stopped:
                    self._queue.clear()
                    self._busy = False
                    return
                item = self._queue.popleft()
            if type(item) is _Terminal:
                self._terminate(item.error)
            else:
                self._deliver(item)  # type: ignore[arg-type]

    def _deliver(self, reading: Reading) -> None:
        if self._stopped:
            return
        try:
            self._observer.on_next(reading)
        except Exception as error:
            self._isolate(reading.drf, error)

    def _terminate(self, error: BaseException | None) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            if error is None:
                self._observer.on_completed()
            else:
                self._observer.on_error(error)  # type: ignore[arg-type]
        except Exception as failure:
            self._hub.report(self._drfs[0], failure)

    def _isolate(self, drf: str, error: Exception) -> None:
        self.cancel()
        self._hub.detach(self)
        self._hub.report(drf, error)


class _Entry:
    """The subscribers of one canonical DRF, its group and its latest reading."""

    __slots__ = ("drf", "fast", "group", "immediate", "latest", "plain", "rule", "subscribers")

    def __init__(self, drf: str, group: StreamSink) -> None:
        self.drf = drf
        self.group = group
        self.subscribers: tuple[Subscriber, ...] = ()
        self.latest: Reading | None = None
        self.immediate = isinstance(parse_request(drf).event, ImmediateEvent)
        self.rule = rule_for(drf)
        self.plain = self.rule.plain
        self.fast = group.connected and self.plain and not self.immediate
        """Readings need no check at all: connected (gaps are real), plain rule, not ``@I``."""


class StreamSink:
    """The DRFs of one server-side subscription: where the backend delivers (any thread) with ``emit``,
    ``mark_connected``, ``fail`` and ``complete``."""

    __slots__ = ("connected", "entries", "hub", "last_failure", "shared", "subscription", "timer")

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub
        self.entries: dict[str, _Entry] = {}
        self.subscription: ServerSubscription | None = None
        self.connected = False
        self.last_failure: str | None = None
        """Why the latest attempt to connect failed (the reason of a gap before connecting)."""
        self.shared = False
        """Its delivering thread serves other sinks too: no direct calls (``StreamHub.set_shared``)."""
        self.timer: rxabc.DisposableBase = Disposable()

    def emit(self, reading: Reading) -> None:
        """Deliver one reading to every subscriber of ``reading.drf`` (its canonical DRF).

        A gap reading (``is_gap``) is delivered only once the stream had connected (before that there
        was nothing to lose) and is never replayed to late joiners.
        """
        entry = self.entries.get(reading.drf)
        if entry is None:
            return
        if entry.fast:  # connected, plain value rule, not @I: the hot path
            entry.latest = reading
            for subscriber in entry.subscribers:
                subscriber.push(reading)
            return
        if reading.is_gap:
            if not self.connected:
                self.last_failure = cast(GapReading, reading).reason
                return
        elif not entry.plain:
            reading = conform(reading, entry.rule)
        entry.latest = reading
        for subscriber in entry.subscribers:
            subscriber.push(reading)
        if entry.immediate and not reading.is_gap:
            self.complete([reading.drf])

    def mark_connected(self) -> None:
        """The server accepted the subscription: the never-connected bound no longer applies."""
        if self.connected:
            return
        with self.hub.lock:
            self.connected = True
            for entry in self.entries.values():
                entry.fast = entry.plain and not entry.immediate
        self.timer.dispose()

    def fail(self, drfs: Iterable[str], error: BaseException) -> None:
        """These DRFs failed beyond the backend's retry policy: their subscribers get ``on_error``."""
        self.hub.end(self, drfs, error)

    def complete(self, drfs: Iterable[str]) -> None:
        """The server ended these DRFs' stream: their subscribers complete."""
        self.hub.end(self, drfs, None)

    def never_connected(self, seconds: float) -> None:
        if not self.connected:
            cause = f": {self.last_failure}" if self.last_failure else ""
            self.fail(list(self.entries), BackendUnavailable(
                f"the {self.hub.name} stream did not connect within {seconds:g} s{cause}"))


class StreamHub:
    """The shared streams of one backend: entries per canonical DRF, subscribers, hand-off, lifetimes."""

    def __init__(self, name: str, open_stream: Callable[[Sequence[str], StreamSink], ServerSubscription],
                 schedule: Callable[[float, Callable[[], None]], rxabc.DisposableBase],
                 connect_timeout: float, inline: bool) -> None:
        self.name = name
        self._open_stream = open_stream
        self._schedule = schedule
        self._connect_timeout = connect_timeout
        self._inline = inline
        self.lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self._closed = False
        self.error_hook: SubscriberErrorHook | None = None

    def __len__(self) -> int:
        with self.lock:
            return len(self._entries)

    def stats(self) -> list[SubscriberStats]:
        with self.lock:
            subscribers = dict.fromkeys(s for e in self._entries.values() for s in e.subscribers)
        return [s.stats() for s in subscribers]

    def attach(self, drfs: Sequence[str], subscriber: Subscriber) -> None:
        """Add a subscriber; opens one server subscription for the DRFs nobody streams yet."""
        failure: Exception | None = None
        group: StreamSink | None = None
        replays: list[Reading] = []
        with self.lock:
            new = [drf for drf in drfs if drf not in self._entries]
            if self._closed:
                failure = BackendClosed(f"the {self.name} backend is closed")
            elif new:
                group = StreamSink(self)
                try:
                    group.subscription = self._open_stream(new, group)
                except Exception as error:
                    failure = error
            if failure is None:
                if group is not None:
                    for drf in new:
                        group.entries[drf] = self._entries[drf] = _Entry(drf, group)
                for drf in drfs:
                    entry = self._entries[drf]
                    entry.subscribers = (*entry.subscribers, subscriber)
                    if entry.latest is not None and not entry.latest.is_gap:
                        replays.append(replayed(entry.latest))
                self._update_inline({self._entries[drf].group for drf in drfs})
        if failure is not None:
            subscriber.end(None, failure)
            return
        if group is not None:
            opened = group
            opened.timer = self._schedule(self._connect_timeout,
                                          lambda: opened.never_connected(self._connect_timeout))
            if opened.connected:
                opened.timer.dispose()
        for reading in replays:
            subscriber.push(reading)

    def detach(self, subscriber: Subscriber, cancel: bool = True) -> None:
        """Remove a subscriber (disposal, isolation, overflow); releases DRFs nobody streams any more.

        ``cancel`` also drops what it has queued; without it a queued terminal event is still delivered.
        """
        if cancel:
            subscriber.cancel()
        released: list[tuple[str, StreamSink]] = []
        with self.lock:
            groups = set()
            for drf in subscriber.drfs:
                entry = self._entries.get(drf)
                if entry is None or subscriber not in entry.subscribers:
                    continue
                entry.subscribers = tuple(s for s in entry.subscribers if s is not subscriber)
                groups.add(entry.group)
                if not entry.subscribers:
                    del self._entries[drf]
                    del entry.group.entries[drf]
                    released.append((drf, entry.group))
            self._update_inline(groups)
        self._release(released)

    def end(self, group: StreamSink, drfs: Iterable[str], error: BaseException | None) -> None:
        """End these DRFs of ``group``: complete (``error`` None) or fail their subscribers."""
        ended: list[tuple[str, tuple[Subscriber, ...]]] = []
        released: list[tuple[str, StreamSink]] = []
        with self.lock:
            for drf in list(drfs):
                entry = group.entries.pop(drf, None)
                if entry is None:
                    continue
                if self._entries.get(drf) is entry:
                    del self._entries[drf]
                ended.append((drf, entry.subscribers))
                released.append((drf, group))
            if not group.entries:
                group.timer.dispose()
        self._release(released)
        for drf, subscribers in ended:
            for subscriber in subscribers:
                subscriber.end(drf, error)
                if error is not None:
                    self.detach(subscriber, cancel=False)

    def close(self) -> None:
        """Complete every subscriber and release every server subscription."""
        with self.lock:
            self._closed = True
            entries = list(self._entries.values())
            self._entries.clear()
            for entry in entries:
                entry.group.entries.pop(entry.drf, None)
                entry.group.timer.dispose()
        for entry in entries:
            for subscriber in entry.subscribers:
                subscriber.end(None, None)
        self._release([(entry.drf, entry.group) for entry in entries])

    def set_shared(self, group: StreamSink, shared: bool) -> None:
        """The backend now delivers ``group`` on a thread it shares with other groups (or no longer does):
        its subscribers are handed readings through the pool (or called directly again, when alone)."""
        with self.lock:
            if group.shared != shared:
                group.shared = shared
                self._update_inline([group])

    def report(self, drf: str, error: BaseException) -> None:
        """A subscriber's callback raised: log it with the DRF and pass it to the hook."""
        log.error("a subscriber of %s raised and was unsubscribed", drf, exc_info=error)
        hook = self.error_hook
        if hook is not None:
            try:
                hook(drf, error)
            except Exception:
                log.exception("the subscriber error hook raised")

    def _release(self, released: Iterable[tuple[str, StreamSink]]) -> None:
        for drf, group in released:
            if group.subscription is not None:
                try:
                    group.subscription.release(drf)
                except Exception:
                    log.exception("releasing the %s stream of %s failed", self.name, drf)

    def _update_inline(self, groups: Iterable[StreamSink]) -> None:
        """Direct calls only for a subscriber alone on every server subscription it uses."""
        for group in groups:
            subscribers = {s for e in group.entries.values() for s in e.subscribers}
            for subscriber in subscribers:
                subscriber.inline = self._inline and all(
                    not self._entries[drf].group.shared and self._alone(subscriber, self._entries[drf].group)
                    for drf in subscriber.drfs if drf in self._entries)

    @staticmethod
    def _alone(subscriber: Subscriber, group: StreamSink) -> bool:
        return all(s is subscriber for e in group.entries.values() for s in e.subscribers)


def subscribe_stream(hub: StreamHub, drfs: Sequence[str], observer: rxabc.ObserverBase[Reading],
                     check: Callable[[], None], maxsize: int = DEFAULT_HANDOFF,
                     overflow: Overflow = DEFAULT_OVERFLOW) -> rxabc.DisposableBase:
    """Subscribe one observer: ``check`` (closed, credentials) failing goes to ``on_error``."""
    subscriber = Subscriber(observer, drfs, hub, maxsize, overflow)
    try:
        check()
    except Exception as error:
        subscriber.end(None, error)
        return Disposable()
    hub.attach(drfs, subscriber)
    return Disposable(lambda: hub.detach(subscriber))

