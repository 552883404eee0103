"""``FakeBackend``: an in-memory backend honouring the whole contract, for testing pipelines offline.

Values live in a dict keyed by (device, property). Reads and writes are answered on the
subscribing thread (or never, with ``answer=False``, to exercise timeouts); stream readings are
emitted on the thread that calls ``emit``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from reactivex import abc as rxabc
from reactivex.disposable import Disposable

from pacsys_rx.backends.base import (
    Backend,
    Capability,
    OneShotSink,
    ReadRequest,
    ServerSubscription,
    StreamSink,
    WriteRequest,
)
from pacsys_rx.drf import Property, parse_request
from pacsys_rx.model import (
    OK,
    AcnetStatus,
    AnalogAlarm,
    BasicStatus,
    DigitalAlarm,
    Reading,
    TimedArray,
    Value,
    ValueType,
    WriteResult,
)
from pacsys_rx.model.reading import utc_now

_NO_PROPERTY = AcnetStatus.named("DBM_NOPROP")
_WRITE_TO = {Property.SETTING: Property.READING, Property.CONTROL: Property.STATUS}


def value_type_of(value: Value) -> ValueType:
    """The ValueType that describes a Python value."""
    if isinstance(value, (bool, int, float)):
        return ValueType.SCALAR
    if isinstance(value, str):
        return ValueType.TEXT
    if isinstance(value, bytes):
        return ValueType.RAW
    if isinstance(value, AnalogAlarm):
        return ValueType.ANALOG_ALARM
    if isinstance(value, DigitalAlarm):
        return ValueType.DIGITAL_ALARM
    if isinstance(value, BasicStatus):
        return ValueType.BASIC_STATUS
    if isinstance(value, TimedArray):
        return ValueType.TIMED_SCALAR_ARRAY
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value) and value:
        return ValueType.TEXT_ARRAY
    if isinstance(value, tuple):
        return ValueType.SCALAR_ARRAY
    raise TypeError(f"unsupported value type {type(value).__name__}")


class _FakeSubscription(ServerSubscription):
    def __init__(self, backend: FakeBackend, drfs: Sequence[str], sink: StreamSink) -> None:
        self._backend = backend
        self._live = set(drfs)
        self.sink = sink

    def release(self, drf: str) -> None:
        with self._backend._state_lock:
            if drf in self._live:
                self._live.discard(drf)
                self._backend.server_subscriptions[drf] -= 1
                if not self._backend.server_subscriptions[drf]:
                    del self._backend.server_subscriptions[drf]
                if not self._live:
                    self._backend._subscriptions.remove(self)


class FakeBackend(Backend):
    """An in-memory backend: ``set_value`` for reads, ``emit`` for streams, ``writes`` records settings.

    ``server_subscriptions`` counts the server-side subscriptions per canonical DRF, so tests can
    prove sharing and release. A setting also changes the readback property (SETTING->READING,
    CONTROL->STATUS), like a device that follows its setting at once.
    """

    name = "fake"
    capabilities = (Capability.READ | Capability.BATCH | Capability.STREAM | Capability.WRITE)
    dedicated_stream_threads = True

    def __init__(self, values: dict[str, Value] | None = None, *, answer: bool = True,
                 timeout: float = 5.0, scheduler: rxabc.SchedulerBase | None = None) -> None:
        super().__init__(timeout=timeout, scheduler=scheduler)
        self.answer = answer
        self.units: dict[str, str] = {}
        self.writes: list[tuple[str, Value]] = []
        self.server_subscriptions: Counter[str] = Counter()
        self.opened: list[tuple[str, ...]] = []
        self._values: dict[tuple[str, Property], Value] = {}
        self._state_lock = threading.Lock()
        self._subscriptions: list[_FakeSubscription] = []
        for drf, value in (values or {}).items():
            self.set_value(drf, value)

    def set_value(self, drf: str, value: Value, units: str | None = None) -> None:
        """Make reads of ``drf``'s device and property return ``value``."""
        request = parse_request(drf)
        with self._state_lock:
            self._values[(request.device, request.property)] = value
            if units is not None:
                self.units[request.device] = units

    def emit(self, drf: str, value: Value | None = None, *, status: AcnetStatus | None = None,
             timestamp: datetime | None = None, cycle: int | None = None) -> None:
        """Push one reading (or an error status) to the stream subscribers of ``drf``."""
        canonical = parse_request(drf).to_canonical()
        request = parse_request(canonical)
        stamp = timestamp or utc_now()
        if status is not None and status.is_error:
            reading = Reading.error(canonical, request.device, status, self.name, timestamp=stamp)
        else:
            if value is None:
                raise ValueError("emit needs a value unless it carries an error status")
            reading = Reading(canonical, request.device, value, value_type_of(value),
                              self.units.get(request.device), stamp, cycle,
                              status or OK, self.name)
        with self._state_lock:
            sinks = [s.sink for s in self._subscriptions]
        for sink in sinks:
            sink.emit(reading)

    def fail_streams(self, error: Exception) -> None:
        """Fail every open stream, as a backend does when its retry policy gives up."""
        with self._state_lock:
            sinks = [s.sink for s in self._subscriptions]
        for sink in sinks:
            sink.fail(list(self.server_subscriptions), error)

    def complete_streams(self) -> None:
        """End every open stream on the server side (its subscribers complete)."""
        with self._state_lock:
            sinks = [s.sink for s in self._subscriptions]
        for sink in sinks:
            sink.complete(list(self.server_subscriptions))

    def _reading_for(self, request: ReadRequest) -> Reading:
        parsed = parse_request(request.drf)
        with self._state_lock:
            value = self._values.get((parsed.device, parsed.property))
        if value is None:
            return Reading.error(request.drf, parsed.device, _NO_PROPERTY, self.name)
        return Reading(request.drf, parsed.device, value, value_type_of(value),
                       self.units.get(parsed.device), utc_now(), None, OK, self.name)

    def _start_reads(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        if self.answer:
            for request in requests:
                sink.deliver(request.index, self._reading_for(request))
        return Disposable()

    def _start_writes(self, requests: Sequence[WriteRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        if not sink.mark_sent():
            return Disposable()
        for request in requests:
            self.writes.append((request.drf, request.value))
            if not self.answer:
                continue
            parsed = parse_request(request.drf)
            with self._state_lock:
                self._values[(parsed.device, parsed.property)] = request.value
                readback = _WRITE_TO.get(parsed.property)
                if readback is not None:
                    self._values[(parsed.device, readback)] = request.value
            sink.deliver(request.index, WriteResult(request.drf, OK, self.name))
        return Disposable()

    def _open_stream(self, drfs: Sequence[str], sink: StreamSink) -> ServerSubscription:
        subscription = _FakeSubscription(self, drfs, sink)
        with self._state_lock:
            self.opened.append(tuple(drfs))
            for drf in drfs:
                self.server_subscriptions[drf] += 1
            self._subscriptions.append(subscription)
        sink.mark_connected()
        return subscription
