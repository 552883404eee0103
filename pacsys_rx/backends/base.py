"""The Observable backend contract and the machinery every backend shares.

A backend implements three hooks (``_start_reads``, ``_start_writes``, ``_open_stream``) and
optionally the credential checks ``_check_read_auth``/``_check_write_auth``; this class turns them
into lazy Observables (docs/concepts.md states the contract):

* DRF validation at call time (``DRFError``, the only exception a call raises besides argument
  ``TypeError``/``ValueError``), ``ensure_immediate`` for one-shot reads and the write conversion
  (READING->SETTING, STATUS->CONTROL, ``@N``) applied once, here;
* everything else on subscribe: closed backend, missing capability, credentials and connection
  failures reach ``on_error``;
* shared, isolated streams (``pacsys_rx.backends.streams``);
* a timeout on every one-shot operation (``BackendUnavailable`` when it passes); settings are sent
  at most once and never after their timeout fired (``OneShotSink.mark_sent``);
* ``close()`` (and leaving ``with``) completes every open stream and releases its subscription,
  from any thread.

Schedulers: stream readings are emitted on the backend's I/O thread or a delivery thread (see
``streams``); one-shot timeouts fire on the backend's timer scheduler (one ``EventLoopScheduler``
thread per backend unless one is injected).
"""

from __future__ import annotations

import abc
import enum
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import reactivex
from reactivex import Observable
from reactivex import abc as rxabc
from reactivex import operators as ops
from reactivex.disposable import CompositeDisposable, Disposable
from reactivex.scheduler import EventLoopScheduler

from pacsys_rx.backends.history import HISTORY_TIMEOUT, TimeSpec, history_samples, logger_drf
from pacsys_rx.backends.streams import (
    DEFAULT_HANDOFF,
    DEFAULT_OVERFLOW,
    ServerSubscription,
    StreamHub,
    StreamSink,
    SubscriberErrorHook,
    SubscriberStats,
    subscribe_stream,
)
from pacsys_rx.backends.value_rules import ValueRule, conform, rule_for
from pacsys_rx.drf import ensure_immediate, parse_request, prepare_for_write
from pacsys_rx.errors import BackendClosed, BackendUnavailable, NotSupported, WriteOutcomeUnknown
from pacsys_rx.flow import Overflow, check_overflow
from pacsys_rx.model import Reading, Value, WriteResult

if TYPE_CHECKING:
    from pacsys_rx.verify import Verify

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
    HISTORY = enum.auto()
    """Data-logger history (``history``, ``<-LOGGER`` reads)."""


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
    def mark_sent(self) -> bool:
        """Call right before sending settings: True means send (from now on a failure makes their outcome
        unknown); False means the operation already ended (timed out, disposed): send nothing."""


class _OneShot(OneShotSink):
    """Collects the answers of one read or write and ends the Observable when all arrived.

    Answers may arrive on several threads at once: each is emitted under the lock, so none can
    follow the completion (or be lost behind it).
    """

    def __init__(self, observer: rxabc.ObserverBase[Any], count: int, what: str) -> None:
        self._observer = observer
        self._pending = set(range(count))
        self._lock = threading.RLock()
        self._sent = False
        self._what = what
        self.timer: rxabc.DisposableBase = Disposable()

    def deliver(self, index: int, item: Any) -> None:
        with self._lock:
            if index not in self._pending:
                return
            self._pending.discard(index)
            self._observer.on_next(item)
            if self._pending:
                return
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

    def mark_sent(self) -> bool:
        with self._lock:
            if not self._pending:
                return False
            self._sent = True
            return True

    def time_out(self, timeout: float) -> None:
        self.fail(BackendUnavailable(f"{self._what} timed out after {timeout:g} s"))


class _Conforming(OneShotSink):
    """Passes one-shot readings through their value rules (``value_rules``) on the way to ``sink``."""

    def __init__(self, sink: OneShotSink, rules: dict[int, ValueRule]) -> None:
        self._sink = sink
        self._rules = rules

    def deliver(self, index: int, item: Any) -> None:
        rule = self._rules.get(index)
        self._sink.deliver(index, item if rule is None else conform(item, rule))

    def fail(self, error: Exception) -> None:
        self._sink.fail(error)

    def mark_sent(self) -> bool:
        return self._sink.mark_sent()


class Backend(abc.ABC):
    """Base of every backend: ``read``, ``read_many``, ``stream``, ``write``, ``write_many``."""

    name: ClassVar[str]
    capabilities: ClassVar[Capability]
    dedicated_stream_threads: ClassVar[bool] = False
    """Each server subscription delivers on its own thread (a subscriber alone on it is called directly)."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT,
                 scheduler: rxabc.SchedulerBase | None = None) -> None:
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)
        """Seconds a one-shot operation may take, and a new stream may take to connect, before it fails
        with ``BackendUnavailable``."""
        self._lock = threading.RLock()
        self._own_scheduler = scheduler is None
        self._scheduler = scheduler
        self._closed = False
        self._streams_hub = StreamHub(self.name, self._open_stream, self._schedule, self.timeout,
                                      self.dedicated_stream_threads)

    # ----------------------------------------------------------------- hooks for subclasses

    @abc.abstractmethod
    def _start_reads(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        """Send one-shot reads; deliver one ``Reading`` per request index (error readings too)."""

    def _start_writes(self, requests: Sequence[WriteRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        """Send settings; deliver one ``WriteResult`` per request index. Send only if ``sink.mark_sent()``
        returned True (False: the operation already timed out or was disposed)."""
        raise NotSupported(f"the {self.name} backend cannot write")

    def _open_stream(self, drfs: Sequence[str], sink: StreamSink) -> ServerSubscription:
        """Open one server-side subscription for these canonical DRFs, delivering to ``sink``; call
        ``sink.mark_connected()`` once the server accepted it. No blocking I/O here."""
        raise NotSupported(f"the {self.name} backend cannot stream")

    def _start_history(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        """Send one logger request; deliver its whole answer as one merged reading (default: a read)."""
        return self._start_reads(requests, sink)

    def _check_read_auth(self) -> None:
        """Raise ``AuthenticationError`` when this backend lacks the credentials for reading."""

    def _check_write_auth(self) -> None:
        """Raise ``AuthenticationError`` when this backend lacks the credentials for writing."""

    def _close_transport(self) -> None:
        """Release connections; called once by ``close`` after every stream was released. Must return
        without waiting for a thread that may be the caller (``close`` runs from callbacks too)."""

    # ------------------------------------------------------------------------- public API

    def read(self, drf: str, timeout: float | None = None) -> Observable[Reading]:
        """One reading of ``drf`` (sent with an immediate event), then completion."""
        return self.read_many([drf], timeout)

    def read_many(self, drfs: Iterable[str], timeout: float | None = None) -> Observable[Reading]:
        """One reading per DRF, in arrival order, then completion; the timeout covers the batch."""
        texts = _drf_list(drfs)
        requests = [ReadRequest(i, text, ensure_immediate(text)) for i, text in enumerate(texts)]
        rules = {r.index: rule for r in requests if not (rule := rule_for(r.drf)).plain}

        def start(batch: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
            return self._start_reads(batch, _Conforming(sink, rules) if rules else sink)

        return self._one_shot(requests, start, self._check_readable, timeout, f"{self.name} read")

    def write(self, drf: str, value: Value, timeout: float | None = None, *,
              verify: Verify | None = None) -> Observable[WriteResult]:
        """The acknowledgement of one setting (the DRF converted for writing), then completion.

        With ``verify`` the result is read back first (``verified``, ``readback``; pacsys_rx.verify).
        """
        if verify is not None:
            return verify.write(self, drf, value, timeout)
        return self.write_many([(drf, value)], timeout)

    def control(self, drf: str, command: str | int, *, commands: Sequence[str] | None = None,
                verify: Verify | None = None, timeout: float | None = None) -> Observable[WriteResult]:
        """Send a control command by name (DevDB's table, or ``commands``) or ordinal; a basic-control
        command is read back from STATUS (pacsys_rx.control, which also takes another backend's DevDB)."""
        from pacsys_rx.control import DEFAULT_VERIFY, control

        return control(self, drf, command, commands=commands, verify=verify or DEFAULT_VERIFY,
                       timeout=timeout)

    def write_alarm_block(self, drf: str, *, verify: Verify | None = None, timeout: float | None = None,
                          **changes: float | int | bool) -> Observable[WriteResult]:
        """Change some fields of an alarm block (``minimum=-5, alarm_enable=False``), keep the others, read
        it back (pacsys_rx.alarm_settings: one setting per field on DPM, the whole block on DMQ)."""
        from pacsys_rx.alarm_settings import DEFAULT_VERIFY, write_alarm_block

        return write_alarm_block(self, drf, changes, verify=verify or DEFAULT_VERIFY, timeout=timeout)

    def write_many(self, settings: Iterable[tuple[str, Value]],
                   timeout: float | None = None) -> Observable[WriteResult]:
        """One acknowledgement per setting, then completion. Credentials are checked on subscribe."""
        requests = [WriteRequest(i, prepare_for_write(_check_drf(drf)), value)
                    for i, (drf, value) in enumerate(_setting_pairs(settings))]
        return self._one_shot(requests, self._start_writes, self._check_writable, timeout,
                              f"{self.name} write")

    def history(self, drf: str, start: TimeSpec | None = None, end: TimeSpec | None = None, *,
                duration: timedelta | float | None = None, node: str | None = None,
                timeout: float | None = None) -> Observable[Reading]:
        """One Reading per logged sample of ``drf`` in ``[start, end)``, in time order, then completion.

        Times: see ``pacsys_rx.backends.history.TimeSpec`` (datetime, Unix seconds, ``"-1h"``, ISO-8601).
        ``duration`` asks for the last stretch up to now instead (``<-LOGGERDURATION``); a ``drf`` that
        already carries ``<-LOGGER``, ``<-LOGGERDURATION`` or ``<-LOGGERSINGLE`` is sent as it is.
        A device error arrives as one error Reading; ``timeout`` defaults to the larger of the
        backend's timeout and ``HISTORY_TIMEOUT``.
        """
        wire = logger_drf(_check_drf(drf), start, end, duration=duration, node=node)
        limit = max(self.timeout, HISTORY_TIMEOUT) if timeout is None else timeout
        merged = self._one_shot([ReadRequest(0, wire, wire)], self._start_history, self._check_historical,
                                limit, f"{self.name} history")
        return merged.pipe(ops.flat_map(history_samples))

    def stream(self, drfs: str | Iterable[str], *, maxsize: int = DEFAULT_HANDOFF,
               overflow: Overflow = DEFAULT_OVERFLOW) -> Observable[Reading]:
        """Readings of every DRF until disposed; shared with other subscribers of the same DRF.

        Readings carry the canonical DRF in ``drf``. Each subscriber has its own hand-off of
        ``maxsize`` readings with the ``overflow`` policy (see docs/concepts.md).
        """
        check_overflow(maxsize, overflow)
        canonical = list(dict.fromkeys(parse_request(t).to_canonical() for t in _drf_list(drfs)))
        if not canonical:
            raise ValueError("drfs must name at least one DRF to stream")

        def subscribe(observer: rxabc.ObserverBase[Reading],
                      _: rxabc.SchedulerBase | None = None) -> rxabc.DisposableBase:
            return subscribe_stream(self._streams_hub, canonical, observer, self._check_streamable,
                                    maxsize, overflow)

        return reactivex.create(subscribe)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def subscriber_error_hook(self) -> SubscriberErrorHook | None:
        """Called with ``(drf, exception)`` when a stream subscriber's callback raised (it is then
        unsubscribed; the others continue). The exception is logged on ``pacsys_rx.streams`` either way."""
        return self._streams_hub.error_hook

    @subscriber_error_hook.setter
    def subscriber_error_hook(self, hook: SubscriberErrorHook | None) -> None:
        self._streams_hub.error_hook = hook

    def subscription_count(self) -> int:
        """How many canonical DRFs currently hold a server-side subscription."""
        return len(self._streams_hub)

    def stream_stats(self) -> list[SubscriberStats]:
        """The hand-off counters of every current stream subscriber."""
        return self._streams_hub.stats()

    def close(self) -> None:
        """Complete every open stream, release its server-side subscription, close the transport.

        Returns from any thread, including from inside a callback of this backend.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._streams_hub.close()
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

    def _check_readable(self) -> None:
        self._check_open()
        self._check_read_auth()

    def _check_writable(self) -> None:
        self._check_open()
        if Capability.WRITE not in self.capabilities:
            raise NotSupported(f"the {self.name} backend is read-only; write through dpm, grpc or dmq")
        self._check_write_auth()

    def _check_historical(self) -> None:
        self._check_open()
        if Capability.HISTORY not in self.capabilities:
            raise NotSupported(f"the {self.name} backend cannot read logger history; use dpm, grpc or acl")
        self._check_read_auth()

    def _check_streamable(self) -> None:
        self._check_open()
        if Capability.STREAM not in self.capabilities:
            raise NotSupported(f"the {self.name} backend cannot stream; stream from dpm, grpc or dmq")
        self._check_read_auth()

    def _timer(self) -> rxabc.SchedulerBase:
        with self._lock:
            if self._scheduler is None:
                self._scheduler = EventLoopScheduler(
                    thread_factory=lambda target: threading.Thread(
                        target=target, name=f"pacsys-rx-{self.name}-timer", daemon=True))
            return self._scheduler

    def _schedule(self, seconds: float, action: Callable[[], None]) -> rxabc.DisposableBase:
        if self._closed:
            return Disposable()
        return self._timer().schedule_relative(seconds, lambda *_: action())

    def _one_shot(self, requests: Sequence[Any],
                  start: Callable[[Sequence[Any], OneShotSink], rxabc.DisposableBase],
                  check: Callable[[], None], timeout: float | None, what: str) -> Observable[Any]:
        limit = self.timeout if timeout is None else timeout
        if not isinstance(limit, (int, float)) or isinstance(limit, bool) or not limit > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if not requests:
            return reactivex.empty()

        def subscribe(observer: rxabc.ObserverBase[Any],
                      _: rxabc.SchedulerBase | None = None) -> rxabc.DisposableBase:
            sink = _OneShot(observer, len(requests), what)
            try:
                check()
            except Exception as error:
                sink.fail(error)
                return Disposable()
            sink.timer = self._timer().schedule_relative(limit, lambda *_: sink.time_out(limit))
            try:
                operation = start(requests, sink)
            except Exception as error:
                sink.fail(error)
                return Disposable()
            return CompositeDisposable(operation, sink.timer)

        return reactivex.create(subscribe)


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
