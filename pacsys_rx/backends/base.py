"""The Observable backend contract and the machinery every backend shares.

A backend implements three hooks (``_start_reads``, ``_start_writes``, ``_open_stream``) and
optionally the credential checks ``_check_read_auth``/``_check_write_auth``; this class turns them
into Observables with:

* DRF validation before any network traffic, ``ensure_immediate`` for one-shot reads and the
  write conversion (READING->SETTING, STATUS->CONTROL, ``@N``) applied once, here;
* one server-side subscription per canonical DRF, shared by every subscriber and ref-counted:
  the first subscriber opens it, the last disposal releases it;
* serialized emission per subscriber (``on_next`` is never called concurrently);
* a timeout on every one-shot operation (``BackendUnavailable`` when it passes);
* ``close()`` (and leaving ``with``) completes every open stream and releases its subscription.

Schedulers: stream readings are emitted on the backend's I/O thread; one-shot timeouts fire on
the backend's timer scheduler (one ``EventLoopScheduler`` thread per backend unless one is
injected). Use ``observe_on`` or ``ops.bounded_buffer`` for heavy work downstream.
"""

from __future__ import annotations

import abc
import enum
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar

import reactivex
from reactivex import Observable
from reactivex import abc as rxabc
from reactivex.disposable import CompositeDisposable, Disposable
from reactivex.scheduler import EventLoopScheduler

from pacsys_rx.drf import ensure_immediate, parse_request, prepare_for_write
from pacsys_rx.errors import BackendClosed, BackendUnavailable, NotSupported, WriteOutcomeUnknown
from pacsys_rx.model import Reading, Value, WriteResult

DEFAULT_TIMEOUT = 5.0


class Capability(enum.Flag):
    """What a backend can do."""

    READ = enum.auto()
    """One-shot reads."""
    BATCH = enum.auto()
    """Many devices in one request."""
    STREAM = enum.auto()
    """Periodic and event-driven streams."""
    WRITE = enum.auto()
    """Settings."""
    AUTH_KERBEROS = enum.auto()
    """Authenticates with Kerberos."""
    AUTH_JWT = enum.auto()
    """Authenticates with a JWT."""


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One entry of a one-shot read: ``drf`` as the user wrote it, ``wire_drf`` as sent."""

    index: int
    drf: str
    wire_drf: str


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """One setting: ``drf`` is already converted for writing (``...SETTING@N``)."""

    index: int
    drf: str
    value: Value


class OneShotSink(abc.ABC):
    """Where a backend delivers the answers of a one-shot operation (any thread)."""

    @abc.abstractmethod
    def deliver(self, index: int, item: Any) -> None:
        """The answer for request ``index``; later answers for the same index are ignored."""

    @abc.abstractmethod
    def fail(self, error: Exception) -> None:
        """The whole operation failed (answers already delivered stay delivered)."""

    @abc.abstractmethod
    def mark_sent(self) -> None:
        """Settings have left this process: from now on a failure makes their outcome unknown."""


class StreamSink(abc.ABC):
    """Where a backend delivers stream readings; ``reading.drf`` must be the canonical DRF."""

    @abc.abstractmethod
    def emit(self, reading: Reading) -> None:
        """Deliver one reading to every subscriber of ``reading.drf``."""

    @abc.abstractmethod
    def fail(self, drfs: Iterable[str], error: Exception) -> None:
        """These subscriptions failed beyond the backend's retry policy."""


class ServerSubscription(abc.ABC):
    """A server-side subscription opened by a backend for a group of canonical DRFs."""

    @abc.abstractmethod
    def release(self, drf: str) -> None:
        """Stop delivering ``drf``; the subscription closes on the server when none is left."""


class _SerializedObserver:
    """Forwards to an observer under a lock, so that emission from several threads is serialized."""

    __slots__ = ("_lock", "_observer", "_stopped")

    def __init__(self, observer: rxabc.ObserverBase[Any]) -> None:
        self._observer = observer
        self._lock = threading.Lock()
        self._stopped = False

    def on_next(self, item: Any) -> None:
        with self._lock:
            if not self._stopped:
                self._observer.on_next(item)

    def on_error(self, error: Exception) -> None:
        with self._lock:
            if not self._stopped:
                self._stopped = True
                self._observer.on_error(error)

    def on_completed(self) -> None:
        with self._lock:
            if not self._stopped:
                self._stopped = True
                self._observer.on_completed()


class _SharedStream:
    """Subscribers of one canonical DRF and the server-side subscription that feeds them."""

    __slots__ = ("observers", "subscription")

    def __init__(self) -> None:
        self.observers: tuple[_SerializedObserver, ...] = ()
        self.subscription: ServerSubscription | None = None


class _OneShot(OneShotSink):
    """Collects the answers of one read or write and ends the Observable when all arrived."""

    def __init__(self, observer: rxabc.ObserverBase[Any], count: int, what: str) -> None:
        self._observer = _SerializedObserver(observer)
        self._pending = set(range(count))
        self._lock = threading.Lock()
        self._sent = False
        self._what = what
        self.timer: rxabc.DisposableBase = Disposable()

    def deliver(self, index: int, item: Any) -> None:
        with self._lock:
            if index not in self._pending:
                return
            self._pending.discard(index)
            last = not self._pending
        self._observer.on_next(item)
        if last:
            self.timer.dispose()
            self._observer.on_completed()

    def fail(self, error: Exception) -> None:
        with self._lock:
            if not self._pending:
                return
            self._pending.clear()
            if self._sent and isinstance(error, BackendUnavailable) and not isinstance(
                    error, WriteOutcomeUnknown):
                error = WriteOutcomeUnknown(f"{error}; the settings were sent, their outcome is unknown")
        self.timer.dispose()
        self._observer.on_error(error)

    def mark_sent(self) -> None:
        with self._lock:
            self._sent = True

    def time_out(self, timeout: float) -> None:
        self.fail(BackendUnavailable(f"{self._what} timed out after {timeout:g} s"))


class _Router(StreamSink):
    """Routes readings from the backend to the subscribers of each canonical DRF."""

    def __init__(self, shared: dict[str, _SharedStream], lock: threading.RLock) -> None:
        self._shared = shared
        self._lock = lock

    def emit(self, reading: Reading) -> None:
        entry = self._shared.get(reading.drf)
        if entry is not None:
            for observer in entry.observers:
                observer.on_next(reading)

    def fail(self, drfs: Iterable[str], error: Exception) -> None:
        failed: list[_SerializedObserver] = []
        with self._lock:
            for drf in drfs:
                entry = self._shared.pop(drf, None)
                if entry is not None:
                    failed.extend(entry.observers)
        for observer in dict.fromkeys(failed):
            observer.on_error(error)


class Backend(abc.ABC):
    """Base of every backend: ``read``, ``read_many``, ``stream``, ``write``, ``write_many``."""

    name: ClassVar[str]
    capabilities: ClassVar[Capability]

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT,
                 scheduler: rxabc.SchedulerBase | None = None) -> None:
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)
        """Seconds a one-shot operation may take before it fails with ``BackendUnavailable``."""
        self._lock = threading.RLock()
        self._shared: dict[str, _SharedStream] = {}
        self._router = _Router(self._shared, self._lock)
        self._own_scheduler = scheduler is None
        self._scheduler = scheduler
        self._closed = False

    # ----------------------------------------------------------------- hooks for subclasses

    @abc.abstractmethod
    def _start_reads(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        """Send one-shot reads; deliver one ``Reading`` per request index (error readings too)."""

    def _start_writes(self, requests: Sequence[WriteRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        """Send settings; deliver one ``WriteResult`` per request index."""
        raise NotSupported(f"the {self.name} backend cannot write")

    def _open_stream(self, drfs: Sequence[str], sink: StreamSink) -> ServerSubscription:
        """Open one server-side subscription for these canonical DRFs, delivering to ``sink``."""
        raise NotSupported(f"the {self.name} backend cannot stream")

    def _check_read_auth(self) -> None:
        """Raise ``AuthenticationError`` when this backend lacks the credentials for reading."""

    def _check_write_auth(self) -> None:
        """Raise ``AuthenticationError`` when this backend lacks the credentials for writing."""

    def _close_transport(self) -> None:
        """Release connections; called once by ``close`` after every stream was released."""

    # ------------------------------------------------------------------------- public API

    def read(self, drf: str, timeout: float | None = None) -> Observable[Reading]:
        """One reading of ``drf`` (sent with an immediate event), then completion."""
        return self.read_many([drf], timeout)

    def read_many(self, drfs: Iterable[str], timeout: float | None = None) -> Observable[Reading]:
        """One reading per DRF, in arrival order, then completion; the timeout covers the batch."""
        self._check_open()
        texts = _drf_list(drfs)
        requests = [ReadRequest(i, text, ensure_immediate(text)) for i, text in enumerate(texts)]
        if requests:
            self._check_read_auth()
        return self._one_shot(requests, self._start_reads, timeout, f"{self.name} read")

    def write(self, drf: str, value: Value, timeout: float | None = None) -> Observable[WriteResult]:
        """The acknowledgement of one setting (the DRF converted for writing), then completion."""
        return self.write_many([(drf, value)], timeout)

    def write_many(self, settings: Iterable[tuple[str, Value]],
                   timeout: float | None = None) -> Observable[WriteResult]:
        """One acknowledgement per setting, then completion. Credentials are checked first."""
        self._check_open()
        if Capability.WRITE not in self.capabilities:
            raise NotSupported(f"the {self.name} backend is read-only; write through dpm, grpc or dmq")
        requests = [WriteRequest(i, prepare_for_write(_check_drf(drf)), value)
                    for i, (drf, value) in enumerate(_setting_pairs(settings))]
        if requests:
            self._check_write_auth()
        return self._one_shot(requests, self._start_writes, timeout, f"{self.name} write")

    def stream(self, drfs: str | Iterable[str]) -> Observable[Reading]:
        """Readings of every DRF until disposed; shared with other subscribers of the same DRF.

        Readings carry the canonical DRF in ``drf``. Emitted on the backend's I/O thread.
        """
        self._check_open()
        if Capability.STREAM not in self.capabilities:
            raise NotSupported(f"the {self.name} backend cannot stream; stream from dpm, grpc or dmq")
        canonical = list(dict.fromkeys(parse_request(t).to_canonical() for t in _drf_list(drfs)))
        if not canonical:
            raise ValueError("drfs must name at least one DRF to stream")
        self._check_read_auth()

        def subscribe(observer: rxabc.ObserverBase[Reading],
                      _: rxabc.SchedulerBase | None = None) -> rxabc.DisposableBase:
            serialized = _SerializedObserver(observer)
            self._attach(canonical, serialized)
            return Disposable(lambda: self._detach(canonical, serialized))

        return reactivex.create(subscribe)

    @property
    def closed(self) -> bool:
        return self._closed

    def subscription_count(self) -> int:
        """How many canonical DRFs currently hold a server-side subscription."""
        with self._lock:
            return len(self._shared)

    def close(self) -> None:
        """Complete every open stream, release its server-side subscription, close the transport."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            entries = list(self._shared.items())
            self._shared.clear()
        for drf, entry in entries:
            for observer in entry.observers:
                observer.on_completed()
            if entry.subscription is not None:
                entry.subscription.release(drf)
        self._close_transport()
        if self._own_scheduler and isinstance(self._scheduler, EventLoopScheduler):
            self._scheduler.dispose()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -------------------------------------------------------------------------- machinery

    def _check_open(self) -> None:
        if self._closed:
            raise BackendClosed(f"the {self.name} backend is closed")

    def _timer(self) -> rxabc.SchedulerBase:
        with self._lock:
            if self._scheduler is None:
                self._scheduler = EventLoopScheduler(
                    thread_factory=lambda target: threading.Thread(
                        target=target, name=f"pacsys-rx-{self.name}-timer", daemon=True))
            return self._scheduler

    def _one_shot(self, requests: Sequence[Any],
                  start: Callable[[Sequence[Any], OneShotSink], rxabc.DisposableBase],
                  timeout: float | None, what: str) -> Observable[Any]:
        if not requests:
            return reactivex.empty()
        limit = self.timeout if timeout is None else timeout
        if not isinstance(limit, (int, float)) or isinstance(limit, bool) or not limit > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")

        def subscribe(observer: rxabc.ObserverBase[Any],
                      _: rxabc.SchedulerBase | None = None) -> rxabc.DisposableBase:
            self._check_open()
            sink = _OneShot(observer, len(requests), what)
            sink.timer = self._timer().schedule_relative(limit, lambda *_: sink.time_out(limit))
            try:
                operation = start(requests, sink)
            except Exception as error:
                sink.fail(error)
                return Disposable()
            return CompositeDisposable(operation, sink.timer)

        return reactivex.create(subscribe)

    def _attach(self, drfs: Sequence[str], observer: _SerializedObserver) -> None:
        with self._lock:
            self._check_open()
            to_open = []
            for drf in drfs:
                entry = self._shared.get(drf)
                if entry is None:
                    entry = self._shared[drf] = _SharedStream()
                    to_open.append(drf)
                entry.observers = (*entry.observers, observer)
            if not to_open:
                return
            try:
                subscription = self._open_stream(to_open, self._router)
            except Exception:
                for drf in drfs:
                    self._remove_observer(drf, observer)
                raise
            for drf in to_open:
                self._shared[drf].subscription = subscription

    def _detach(self, drfs: Sequence[str], observer: _SerializedObserver) -> None:
        released: list[tuple[str, ServerSubscription]] = []
        with self._lock:
            for drf in drfs:
                subscription = self._remove_observer(drf, observer)
                if subscription is not None:
                    released.append((drf, subscription))
        for drf, subscription in released:
            subscription.release(drf)

    def _remove_observer(self, drf: str, observer: _SerializedObserver) -> ServerSubscription | None:
        """Drop one observer; returns the subscription to release when it was the last one."""
        entry = self._shared.get(drf)
        if entry is None:
            return None
        entry.observers = tuple(o for o in entry.observers if o is not observer)
        if entry.observers:
            return None
        del self._shared[drf]
        return entry.subscription


def _check_drf(drf: object) -> str:
    if not isinstance(drf, str):
        raise TypeError(f"a DRF must be a str, got {type(drf).__name__}")
    return drf


def _drf_list(drfs: str | Iterable[str]) -> list[str]:
    """The DRFs of a call as a list (type-checked; each is validated by the parse that follows)."""
    if isinstance(drfs, str):
        return [drfs]
    if isinstance(drfs, (bytes, bytearray)) or not isinstance(drfs, Iterable):
        raise TypeError(f"drfs must be a str or an iterable of str, got {type(drfs).__name__}")
    return [_check_drf(d) for d in drfs]


def _setting_pairs(settings: Iterable[tuple[str, Value]]) -> list[tuple[str, Value]]:
    """The settings of a ``write_many`` call as ``(drf, value)`` pairs (type-checked)."""
    if isinstance(settings, (str, bytes)) or not isinstance(settings, Iterable):
        raise TypeError(f"settings must be an iterable of (drf, value) pairs, got {type(settings).__name__}")
    pairs = list(settings)
    for pair in pairs:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(f"each setting must be a (drf, value) pair, got {pair!r}")
    return pairs
