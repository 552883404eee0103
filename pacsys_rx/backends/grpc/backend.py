"""The DPM/gRPC backend: Fermilab's ``services.daq.DAQ`` service (``Read`` and ``Set``) and DevDB metadata.

Threading: every ``Read`` call (a one-shot read, or one of at most ``stream_calls`` calls carrying
streams) is consumed by its own daemon thread, which also polls the call's completion queue (gRPC's
single-threaded unary-stream mode: no hand-off through the channel's spin thread per message) and emits
the call's readings. ``Set``
acknowledgements are delivered on gRPC's callback thread. See ``docs/backends/grpc.md`` for defaults,
authentication and reconnect behaviour.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.experimental
from google.protobuf.message import DecodeError
from reactivex import abc as rxabc
from reactivex.disposable import Disposable, SerialDisposable

from pacsys_rx.auth import JWTAuth
from pacsys_rx.backends._gaps import Outage, gap_reading
from pacsys_rx.backends.base import (
    DEFAULT_TIMEOUT,
    Backend,
    Capability,
    OneShotSink,
    ReadRequest,
    ServerSubscription,
    StreamSink,
    WriteRequest,
)
from pacsys_rx.backends.grpc.devdb_alarms import (
    AlarmInfo,
    AlarmText,
    alarm_info_from_proto,
    alarm_text_from_proto,
)
from pacsys_rx.backends.health import ReportsHealth
from pacsys_rx.backends.history import is_chunked
from pacsys_rx.backends.streams import LaneSubscription
from pacsys_rx.drf import Field, Property, parse_request
from pacsys_rx.errors import AuthenticationError, BackendUnavailable, DeviceError, PacsysError
from pacsys_rx.model import AcnetStatus, DeviceMeta, Reading, TimedArray, ValueType, WriteResult
from pacsys_rx.model.reading import utc_now
from pacsys_rx.protocols.grpc_values import (
    BACKEND,
    GENERIC_ERROR,
    TIMEOUT_ERROR,
    Target,
    ValueConversionError,
    decode_stream_reply,
    sample_reading,
    setting_value,
    status_from_proto,
    status_reading,
    timed_array_reading,
)
from pacsys_rx.protocols.proto import DAQ_pb2, DAQ_pb2_grpc, DevDB_pb2, DevDB_pb2_grpc
from pacsys_rx.transport import Backoff, resolve_host, resolve_port

DEFAULT_HOST = "dce08.fnal.gov"
DEFAULT_PORT = 50051
DEFAULT_DEVDB_HOST = "ad-services.fnal.gov"
DEFAULT_DEVDB_PORT = 443
HOST_ENV, PORT_ENV = "PACSYS_GRPC_HOST", "PACSYS_GRPC_PORT"
DEVDB_HOST_ENV, DEVDB_PORT_ENV, DEVDB_TLS_ENV = "PACSYS_DEVDB_HOST", "PACSYS_DEVDB_PORT", "PACSYS_DEVDB_TLS"

CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 300_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
)
DEFAULT_BACKOFF = Backoff(initial=1.0, maximum=30.0, stable_after=30.0)
"""Stream re-issues: 1 s doubling to 30 s, +-20 % jitter, reset after a call stayed up 30 s."""
READ_METHOD = "/services.daq.DAQ/Read"
NOT_FOUND = AcnetStatus(0, -1)
NO_STATUS_MESSAGE = "No status received from server"

_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})
CONNECT_SETTLE = 0.25
"""A stream call alive this fraction of the backend's timeout counts as connected."""
MIN_REISSUE_INTERVAL = 0.1
"""Shortest time between two issues of one stream call for added DRFs (additions in between are batched)."""
DEFAULT_STREAM_CALLS = 4
SMALL_LANE = 100
"""A lane with at most this many DRFs merges into a new lane (rather than re-issuing another call)."""
_UNREACHABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
_WRITE_INTERRUPTED = _UNREACHABLE | {grpc.StatusCode.CANCELLED}
_REFUSED = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})
_UNIT_PROPERTIES = frozenset({Property.READING, Property.SETTING})
_UNIT_FIELDS = frozenset({None, Field.SCALED})
_META_CACHE_TTL = 3600.0
_META_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class PropertyInfo:
    """Scaling and limits of a READING or SETTING property (DevDB ``Property``)."""

    primary_units: str | None
    common_units: str | None
    min_val: float
    max_val: float
    p_index: int
    c_index: int
    coeff: tuple[float, ...]
    is_step_motor: bool
    is_destructive_read: bool
    is_fe_scaling: bool
    is_contr_setting: bool
    is_knobbable: bool


@dataclass(frozen=True)
class StatusBitDef:
    """One basic-status attribute: active when ``((~raw if invert else raw) & mask) == match``."""

    mask: int
    match: int
    invert: bool
    short_name: str
    long_name: str
    true_str: str
    false_str: str
    true_color: int
    true_char: str
    false_color: int
    false_char: str


@dataclass(frozen=True)
class ExtStatusBitDef:
    """One physical status bit with its texts for 0 and 1."""

    bit_no: int
    description: str
    name0: str
    name1: str
    color0: int
    color1: int


@dataclass(frozen=True)
class ControlCommandDef:
    """One basic-control command: the ``value`` written to CONTROL and its names."""

    value: int
    short_name: str
    long_name: str


@dataclass(frozen=True)
class DeviceInfoResult:
    """Device metadata from DevDB."""

    device_index: int
    description: str
    reading: PropertyInfo | None
    setting: PropertyInfo | None
    control: tuple[ControlCommandDef, ...] | None
    status_bits: tuple[StatusBitDef, ...] | None
    ext_status_bits: tuple[ExtStatusBitDef, ...] | None

    def meta(self, name: str, setting: bool = False) -> DeviceMeta:
        """The ``Reading.meta`` for a reading of this device (setting units for SETTING requests)."""
        prop = self.setting if setting and self.setting is not None else self.reading
        return DeviceMeta(self.device_index, name, self.description, prop.common_units if prop else None)


def _env_flag(value: bool | None, env: str, default: bool) -> bool:
    if value is not None:
        return value
    text = os.environ.get(env)
    if text is None or text == "":
        return default
    if text not in ("0", "1"):
        raise ValueError(f"{env} must be '0' or '1', got {text!r}")
    return text == "1"


def _open_channel(target: str, tls: bool, tls_ca: str | bytes | Path | None,
                  options: Sequence[tuple[str, int]] = CHANNEL_OPTIONS) -> grpc.Channel:
    if not tls:
        return grpc.insecure_channel(target, options=options)
    roots = Path(tls_ca).read_bytes() if isinstance(tls_ca, (str, Path)) else tls_ca
    credentials = grpc.ssl_channel_credentials(root_certificates=roots)
    return grpc.secure_channel(target, credentials, options=options)


def _failure_text(target: str, error: grpc.RpcError) -> str:
    code = error.code() if isinstance(error, grpc.Call) else None
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    return f"gRPC error ({target}): {code.name if code else 'UNKNOWN'}: {details}"


def _rpc_code(error: grpc.RpcError) -> grpc.StatusCode | None:
    return error.code() if isinstance(error, grpc.Call) else None


def _request_level_error(target: str, error: grpc.RpcError,
                         unreachable: frozenset[grpc.StatusCode] = _UNREACHABLE) -> PacsysError | None:
    """The exception that fails a whole operation, or None when the failure becomes per-entry results."""
    code = _rpc_code(error)
    if code in unreachable:
        return BackendUnavailable(_failure_text(target, error))
    if code in _REFUSED:
        return AuthenticationError(_failure_text(target, error))
    return None


def _entry_failure(error: grpc.RpcError) -> AcnetStatus:
    return TIMEOUT_ERROR if _rpc_code(error) is grpc.StatusCode.DEADLINE_EXCEEDED else GENERIC_ERROR


def _property_info(prop: DevDB_pb2.Property) -> PropertyInfo:
    return PropertyInfo(
        prop.primary_units if prop.HasField("primary_units") else None,
        prop.common_units if prop.HasField("common_units") else None,
        prop.min_val, prop.max_val, prop.p_index, prop.c_index, tuple(prop.coeff), prop.is_step_motor,
        prop.is_destructive_read, prop.is_fe_scaling, prop.is_contr_setting, prop.is_knobbable)


def device_info_from_proto(info: DevDB_pb2.DeviceInfo) -> DeviceInfoResult | None:
    """The user-facing record, or None for production's "not found" answer (an all-zero DeviceInfo)."""
    if info.ByteSize() == 0:
        return None
    status = info.status if info.HasField("status") else None
    return DeviceInfoResult(
        info.device_index, info.description,
        _property_info(info.reading) if info.HasField("reading") else None,
        _property_info(info.setting) if info.HasField("setting") else None,
        tuple(ControlCommandDef(c.value, c.short_name, c.long_name) for c in info.control.cmds)
        if info.HasField("control") else None,
        tuple(StatusBitDef(b.mask_val, b.match_val, b.invert, b.short_name, b.long_name, b.true_str,
                           b.false_str, b.true_color, b.true_char, b.false_color, b.false_char)
              for b in status.bits)
        if status is not None else None,
        tuple(ExtStatusBitDef(b.bit_no, b.description, b.name0, b.name1, b.color0, b.color1)
              for b in status.ext_bits) if status is not None else None,
    )


class _DevDB:
    """DevDB client with the reference cache (upper-cased names, one hour, 10 000 entries)."""

    def __init__(self, target: str, tls: bool, tls_ca: str | bytes | Path | None, timeout: float) -> None:
        self.target = target
        self._tls, self._tls_ca, self._timeout = tls, tls_ca, timeout
        self._lock = threading.Lock()
        self._channel: grpc.Channel | None = None
        self._cache: dict[str, tuple[float, DeviceInfoResult | str]] = {}

    def _stub(self) -> DevDB_pb2_grpc.DevDBStub:
        with self._lock:
            if self._channel is None:
                self._channel = _open_channel(self.target, self._tls, self._tls_ca)
            return DevDB_pb2_grpc.DevDBStub(self._channel)

    def lookup(self, names: Iterable[str]) -> dict[str, DeviceInfoResult | str]:
        """Each name's record or error text (cached answers first); BackendUnavailable on transport errors."""
        now = time.monotonic()
        wanted = list(dict.fromkeys(name.upper() for name in names))
        found: dict[str, DeviceInfoResult | str] = {}
        with self._lock:
            for key in wanted:
                entry = self._cache.get(key)
                if entry is not None and entry[0] > now:
                    found[key] = entry[1]
        missing = [key for key in wanted if key not in found]
        if missing:
            try:
                request = DevDB_pb2.DeviceList(device=missing)
                reply = self._stub().getDeviceInfo(request, timeout=self._timeout)
            except grpc.RpcError as error:
                raise BackendUnavailable(_failure_text(self.target, error)) from error
            if len(reply.set) != len(missing):
                raise BackendUnavailable(
                    f"DevDB ({self.target}) answered {len(reply.set)} of {len(missing)} names")
            for key, entry in zip(missing, reply.set, strict=True):
                found[key] = self._remember(key, entry, now)
        return found

    def call(self, method: str, request: Any) -> Any:
        """One unary DevDB call; BackendUnavailable on transport errors."""
        try:
            return getattr(self._stub(), method)(request, timeout=self._timeout)
        except grpc.RpcError as error:
            raise BackendUnavailable(_failure_text(self.target, error)) from error

    def _remember(self, key: str, entry: DevDB_pb2.InfoEntry, now: float) -> DeviceInfoResult | str:
        info = device_info_from_proto(entry.device) if entry.WhichOneof("result") == "device" else None
        result: DeviceInfoResult | str = info or entry.errMsg or f"Device '{key}' not found in DevDB"
        with self._lock:
            if len(self._cache) >= _META_CACHE_SIZE:
                for stale in [k for k, (expires, _) in self._cache.items() if expires <= now]:
                    del self._cache[stale]
                while len(self._cache) >= _META_CACHE_SIZE:
                    del self._cache[next(iter(self._cache))]
            self._cache[key] = (now + _META_CACHE_TTL, result)
        return result

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
                self._channel = None


class _OneShotRead:
    """One ``Read`` call answering a batch: the first result per index, logger chunks merged."""

    def __init__(self, backend: GRPCBackend, requests: Sequence[ReadRequest], sink: OneShotSink) -> None:
        self._backend = backend
        self._requests = requests
        self._sink = sink
        self._cancelled = False
        self._call: Any = None
        self._lock = threading.Lock()

    def start(self) -> rxabc.DisposableBase:
        threading.Thread(target=self._run, name="pacsys-rx-grpc-read", daemon=True).start()
        return Disposable(self._cancel)

    def _cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            call = self._call
        if call is not None:
            call.cancel()

    def _run(self) -> None:
        backend, requests, sink = self._backend, self._requests, self._sink
        targets = backend._targets([r.drf for r in requests])
        chunked = {i for i, r in enumerate(requests) if is_chunked(r.wire_drf)}
        chunks: dict[int, list[DAQ_pb2.Reading]] = {i: [] for i in chunked}
        pending = set(range(len(requests)))
        with self._lock:
            if self._cancelled:
                return
            self._call = call = backend._stub.Read(
                DAQ_pb2.ReadingList(drf=[r.wire_drf for r in requests]), metadata=backend._metadata())
        try:
            for reply in call:
                i = reply.index
                if i not in pending:
                    continue
                result = _chunk_result(reply, targets[i], chunks[i]) if i in chunked \
                    else _one_shot_result(reply, targets[i])
                if result is None:
                    continue
                pending.discard(i)
                sink.deliver(requests[i].index, result)
                if not pending:
                    call.cancel()
                    return
        except grpc.RpcError as error:
            if self._cancelled or not pending:
                return
            failure = _request_level_error(backend.target, error)
            if failure is not None:
                sink.fail(failure)
                return
            status, message = _entry_failure(error), _failure_text(backend.target, error)
        else:
            status, message = GENERIC_ERROR, "No response received"
        for i in sorted(pending):
            reading = Reading.error(targets[i].drf, targets[i].device, status, BACKEND, message)
            sink.deliver(requests[i].index, reading)


def _one_shot_result(reply: DAQ_pb2.ReadingReply, target: Target) -> Reading:
    kind = reply.WhichOneof("value")
    if kind == "status":
        return status_reading(reply.status, target)
    count = len(reply.readings.reading) if kind == "readings" else 0
    if count == 1:
        return sample_reading(reply.readings.reading[0], target)
    if count:
        return timed_array_reading(reply.readings.reading, target)
    return Reading.error(target.drf, target.device, GENERIC_ERROR, BACKEND, "reply without data")


def _chunk_result(reply: DAQ_pb2.ReadingReply, target: Target,
                  chunks: list[DAQ_pb2.Reading]) -> Reading | None:
    """Collect historical chunks; the merged reading once the terminator (empty chunk) arrives."""
    kind = reply.WhichOneof("value")
    if kind == "status" and reply.status.status_code != 0:
        return status_reading(reply.status, target)
    samples = reply.readings.reading if kind == "readings" else ()
    if samples:
        chunks.extend(samples)
        return None
    if chunks:
        return timed_array_reading(chunks, target)
    return Reading(target.drf, target.device, TimedArray((), ()), ValueType.TIMED_SCALAR_ARRAY, target.units,
                   utc_now(), backend=BACKEND, meta=target.meta)


class _CallLane:
    """One long-lived ``Read`` call carrying the DRFs of any number of stream sinks.

    Added DRFs re-issue the call with every live DRF, at most once per :data:`MIN_REISSUE_INTERVAL`
    (additions in between are batched); released DRFs are dropped from the call at the next re-issue
    (at once when half of the call is released). A lane can absorb another: it takes over the other's
    DRFs, and the other's call runs until the absorbing lane's new call is open. The call is also
    re-issued on UNAVAILABLE/CANCELLED and, with a ``heartbeat_timeout``, when it stays silent that long;
    each such outage shows as one gap reading per live DRF. The lane's thread ends when its last DRF is
    released.
    """

    def __init__(self, backend: GRPCBackend) -> None:
        self._backend = backend
        self._sinks: dict[str, StreamSink] = {}
        """The sink of every live DRF."""
        self._counts: dict[StreamSink, int] = {}
        self._targets: dict[str, Target] = {}
        self._outage = Outage(backend.health_board.link(backend.target))
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self._call: Any = None
        self._call_drfs: tuple[str, ...] = ()
        self._unconnected: list[StreamSink] = []
        self._reissuing: Any = None
        self._reissue_timer: rxabc.DisposableBase | None = None
        self._last_open = -MIN_REISSUE_INTERVAL
        self._last_reply = self._created = time.monotonic()
        self._silent = False
        self._absorber: _CallLane | None = None
        self._retiring: list[_CallLane] = []

    # ------------------------------------------------------------------ any thread

    @property
    def finished(self) -> bool:
        return self._stopped.is_set()

    @property
    def drf_count(self) -> int:
        return len(self._sinks)

    @property
    def sink_count(self) -> int:
        return len(self._counts)

    def reissue_wait(self, now: float) -> float:
        return max(0.0, self._last_open + MIN_REISSUE_INTERVAL - now)

    def young(self, now: float) -> bool:
        """Created less than :data:`MIN_REISSUE_INTERVAL` ago: new streams join it (batched)."""
        return now - self._created < MIN_REISSUE_INTERVAL

    def add(self, drfs: Sequence[str], sink: StreamSink) -> bool:
        """Carry ``drfs`` for ``sink`` (from the next re-issue on); False once the lane has stopped."""
        with self._lock:
            if self._stopped.is_set() or self._absorber is not None:
                return False
            for drf in drfs:
                self._sinks[drf] = sink
            self._counts[sink] = self._counts.get(sink, 0) + len(drfs)
            others = [other for other in self._counts if other is not sink]
            start, self._started = not self._started, True
        if start:
            threading.Thread(target=self._run, name="pacsys-rx-grpc-stream", daemon=True).start()
        else:
            self._request_reissue()
        if others:
            for shared in [*others, sink]:
                self._backend._streams_hub.set_shared(shared, True)
        return True

    def absorb(self, other: _CallLane) -> None:
        """Take over ``other``'s DRFs; ``other`` stops once this lane's next call is open."""
        with other._lock, self._lock:  # always in this order: a release on ``other`` sees all or nothing
            other._absorber = self
            for drf, sink in other._sinks.items():
                self._sinks[drf] = sink
                self._counts[sink] = self._counts.get(sink, 0) + 1
            self._retiring.append(other)
            sinks = list(self._counts)
        for sink in sinks if len(sinks) > 1 else ():
            self._backend._streams_hub.set_shared(sink, True)
        self._request_reissue()

    def release(self, drf: str, sink: StreamSink) -> None:
        with self._lock:
            absorber = self._absorber
            if absorber is None:
                if self._sinks.get(drf) is not sink:
                    return
                del self._sinks[drf]
                left = self._counts[sink] - 1
                if left:
                    self._counts[sink] = left
                else:
                    del self._counts[sink]
                alone = next(iter(self._counts)) if len(self._counts) == 1 else None
                emptied = not self._sinks
                stale = len(self._call_drfs) > 2 * len(self._sinks)
        if absorber is not None:
            absorber.release(drf, sink)
            return
        if emptied:
            self.stop()
        elif stale:
            self._request_reissue()
        if alone is not None:
            self._backend._streams_hub.set_shared(alone, False)

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            self._outage.close()
            call = self._call
        if call is not None:
            call.cancel()

    def _request_reissue(self) -> None:
        """Re-issue the call with the live DRFs now, or once the interval since the last issue passed."""
        with self._lock:
            if self._reissue_timer is not None or self._call is None:
                return  # already planned, or the call is being opened (with every live DRF)
            wait = self.reissue_wait(time.monotonic())
            if wait > 0:
                self._reissue_timer = self._backend._timer().schedule_relative(
                    wait, lambda *_: self._reissue())
                return
        self._reissue()

    def _reissue(self) -> None:
        with self._lock:
            self._reissue_timer = None
            call = self._call
            if call is None or self._stopped.is_set() or self._sinks.keys() == set(self._call_drfs):
                return
            self._reissuing = call
        call.cancel()

    # ------------------------------------------------------------------ lane thread

    def _open(self) -> Any:
        with self._lock:
            if self._stopped.is_set():
                return None
            # DRFs taken over from retiring lanes go last: those lanes serve them until this call is open
            moved = {drf for lane in self._retiring for drf in lane._sinks}
            self._call_drfs = (*(drf for drf in self._sinks if drf not in moved),
                               *(drf for drf in self._sinks if drf in moved))
            self._unconnected = list(self._counts)
            self._call = self._backend._read_encoded(DAQ_pb2.ReadingList(drf=self._call_drfs),
                                                      metadata=self._backend._metadata())
            self._last_open = self._last_reply = time.monotonic()
            self._silent = False
            call, retiring, self._retiring = self._call, self._retiring, []
        for lane in retiring:
            lane.stop()
        return call

    def _mark_connected(self) -> None:
        with self._lock:
            sinks, self._unconnected = self._unconnected, []
        for sink in sinks:
            sink.mark_connected()

    def _settle(self, call: Any) -> rxabc.DisposableBase:
        """Connected once ``call`` has run ``CONNECT_SETTLE`` of the timeout without failing, not at its
        first reply: a stream on a rare event may send nothing for longer than the never-connected
        bound, while a server that cannot be reached fails the call at once."""
        def settled(*_: Any) -> None:
            if self._call is call and not self._stopped.is_set():
                self._mark_connected()

        return self._backend._timer().schedule_relative(self._backend.timeout * CONNECT_SETTLE, settled)

    def _watch(self, call: Any) -> rxabc.DisposableBase:
        """Cancel ``call`` once no reply came for ``heartbeat_timeout`` seconds (checked on the timer)."""
        limit = self._backend.heartbeat_timeout
        if limit is None:
            return Disposable()
        timer = self._backend._timer()
        watch = SerialDisposable()

        def check(*_: Any) -> None:
            quiet = time.monotonic() - self._last_reply
            if quiet < limit:
                watch.disposable = timer.schedule_relative(limit - quiet, check)
                return
            self._silent = True
            call.cancel()

        watch.disposable = timer.schedule_relative(limit, check)
        return watch

    def _targets_of(self, drfs: Sequence[str]) -> list[Target]:
        new = [drf for drf in drfs if drf not in self._targets]
        if new:
            self._targets.update(zip(new, self._backend._targets(new), strict=True))
        return [self._targets[drf] for drf in drfs]

    def _run(self) -> None:
        backend = self._backend
        backoff = backend.backoff.fresh()
        outage = self._outage
        sinks = self._sinks
        while True:
            call = self._open()
            if call is None:
                return
            targets = self._targets_of(self._call_drfs)
            backoff.connected()
            watch = self._watch(call)
            settled = self._settle(call)
            try:
                for data in call:
                    self._last_reply = time.monotonic()
                    if self._unconnected:
                        outage.end()
                        self._mark_connected()
                    readings = decode_stream_reply(data, targets, sinks)
                    sink = sinks.get(readings[0].drf) if readings else None
                    if sink is not None:
                        emit = sink.emit
                        for reading in readings:
                            emit(reading)
                if not self._stopped.is_set():
                    self._end(None)  # the server ended the call: its streams complete
                return
            except grpc.RpcError as error:
                if self._stopped.is_set():
                    return
                if self._reissuing is call:
                    continue
                if _rpc_code(error) not in _RETRYABLE:
                    self._end(_request_level_error(backend.target, error) or BackendUnavailable(
                        _failure_text(backend.target, error)))
                    return
                reason = (f"no reply from {backend.target} for {backend.heartbeat_timeout:g} s"
                          if self._silent else _failure_text(backend.target, error))
            except DecodeError as error:
                call.cancel()
                reason = f"undecodable reply from {backend.target}: {error}"
            finally:
                settled.dispose()
                watch.dispose()
            if self._absorber is None and outage.begin(reason):
                for target in targets:
                    sink = sinks.get(target.drf)
                    if sink is not None:
                        sink.emit(gap_reading(target.drf, target.device, BACKEND, reason, units=target.units,
                                              meta=target.meta))
            if self._stopped.wait(backoff.next_delay()):
                return

    def _end(self, error: PacsysError | None) -> None:
        """Complete (``error`` None) or fail every live DRF's subscribers; the lane stops (quietly once
        absorbed: the DRFs are the absorbing lane's)."""
        with self._lock:
            self._stopped.set()
            if self._absorber is not None:
                return
            by_sink: dict[StreamSink, list[str]] = {}
            for drf, sink in self._sinks.items():
                by_sink.setdefault(sink, []).append(drf)
        self._outage.close()
        for sink, drfs in by_sink.items():
            if error is None:
                sink.complete(drfs)
            else:
                sink.fail(drfs, error)


class GRPCBackend(ReportsHealth, Backend):
    """DPM over gRPC: reads, streams and (with a JWT) writes; device metadata from DevDB.

    ``host``/``port`` default to ``PACSYS_GRPC_HOST``/``PACSYS_GRPC_PORT``, else ``dce08.fnal.gov:50051``.
    ``auth`` is a ``JWTAuth`` (default: ``JWTAuth()``, i.e. ``PACSYS_JWT_TOKEN``); its token goes out as
    ``authorization: Bearer <jwt>`` on every call. ``tls`` switches to TLS with certificate
    verification (``tls_ca``: PEM roots, as bytes or a file path; default: the system roots).
    DevDB: ``devdb_host``/``devdb_port``/``devdb_tls`` (defaults from ``PACSYS_DEVDB_*``, else
    ``ad-services.fnal.gov:443`` over TLS); ``reading_meta`` attaches DevDB metadata to readings
    (default: when a DevDB host was given explicitly or through the environment).
    ``backoff`` is the reconnect policy of streams (each call works on its own ``backoff.fresh()``);
    ``heartbeat_timeout`` (off by default: the DAQ service sends no heartbeats) re-issues a stream call
    that delivered nothing for that many seconds, so pick it above the slowest event of your streams.
    ``stream_calls`` bounds the ``Read`` calls (and their threads) that carry streams: ``stream()`` calls
    within 0.1 s share a new call; beyond ``stream_calls`` calls the smallest merges into the new call
    when it has at most ``SMALL_LANE`` (100) DRFs, else into the next smallest.
    """

    name = "grpc"
    capabilities = (Capability.READ | Capability.BATCH | Capability.STREAM | Capability.WRITE
                    | Capability.AUTH_JWT | Capability.HISTORY)
    dedicated_stream_threads = True

    def __init__(
        self, host: str | None = None, port: int | str | None = None, auth: JWTAuth | None = None,
        tls: bool = False, *, tls_ca: str | bytes | Path | None = None, timeout: float = DEFAULT_TIMEOUT,
        scheduler: rxabc.SchedulerBase | None = None, devdb_host: str | None = None,
        devdb_port: int | str | None = None, devdb_tls: bool | None = None, reading_meta: bool | None = None,
        backoff: Backoff | None = None, heartbeat_timeout: float | None = None,
        stream_calls: int = DEFAULT_STREAM_CALLS,
    ) -> None:
        super().__init__(timeout=timeout, scheduler=scheduler)
        if auth is not None and not isinstance(auth, JWTAuth):
            raise TypeError(f"the grpc backend authenticates with JWTAuth, got {type(auth).__name__}")
        if heartbeat_timeout is not None and not heartbeat_timeout > 0:
            raise ValueError(f"heartbeat_timeout must be positive or None, got {heartbeat_timeout!r}")
        self.host = resolve_host(host, HOST_ENV, DEFAULT_HOST)
        self.port = resolve_port(port, PORT_ENV, DEFAULT_PORT)
        self.target = f"{self.host}:{self.port}"
        self.auth = auth if auth is not None else JWTAuth()
        self.backoff = backoff or DEFAULT_BACKOFF
        self.heartbeat_timeout = heartbeat_timeout
        if not isinstance(stream_calls, int) or isinstance(stream_calls, bool) or stream_calls < 1:
            raise ValueError(f"stream_calls must be a positive integer, got {stream_calls!r}")
        self.stream_calls = stream_calls
        self._lanes: list[_CallLane] = []
        self._channel = _open_channel(self.target, tls, tls_ca, (
            *CHANNEL_OPTIONS,
            ("grpc.initial_reconnect_backoff_ms", round(self.backoff.initial * 1000)),
            ("grpc.max_reconnect_backoff_ms", round(self.backoff.maximum * 1000)),
            (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1),
        ))
        self._stub = DAQ_pb2_grpc.DAQStub(self._channel)
        self._read_encoded = self._channel.unary_stream(
            READ_METHOD, request_serializer=DAQ_pb2.ReadingList.SerializeToString, response_deserializer=None)
        """``Read`` answering with undecoded replies, which streams decode themselves (fast path)."""
        explicit_devdb = devdb_host or os.environ.get(DEVDB_HOST_ENV)
        devdb_target = (f"{explicit_devdb or DEFAULT_DEVDB_HOST}:"
                        f"{resolve_port(devdb_port, DEVDB_PORT_ENV, DEFAULT_DEVDB_PORT)}")
        self._devdb = _DevDB(devdb_target, _env_flag(devdb_tls, DEVDB_TLS_ENV, True), tls_ca, self.timeout)
        self.reading_meta = bool(explicit_devdb) if reading_meta is None else reading_meta

    def __repr__(self) -> str:
        return f"GRPCBackend({self.target!r}, devdb={self._devdb.target!r})"

    # ------------------------------------------------------------------------ DevDB

    def device_info(self, name: str) -> DeviceInfoResult:
        """DevDB metadata of one device; DeviceError when DevDB does not know it."""
        return self.device_info_many([name])[0]

    def device_info_many(self, names: Sequence[str]) -> list[DeviceInfoResult]:
        """DevDB metadata of several devices in one call; DeviceError for the first unknown one."""
        found = self._devdb.lookup(names)
        results = []
        for name in names:
            entry = found[name.upper()]
            if isinstance(entry, str):
                raise DeviceError(name, NOT_FOUND, entry)
            results.append(entry)
        return results

    def alarm_info(self, names: Sequence[str]) -> list[AlarmInfo]:
        """DevDB's alarm blocks of the devices (none for unknown devices or devices without alarms)."""
        reply = self._devdb.call("getAllAlarmInfo", DevDB_pb2.DeviceList(device=list(names)))
        return [alarm_info_from_proto(info) for info in reply.alarm_info]

    def alarm_texts(self, text_ids: Iterable[int]) -> dict[int, AlarmText]:
        """DevDB's alarm texts by id (unknown ids are left out)."""
        reply = self._devdb.call("getAlarmText", DevDB_pb2.AlarmTextIdList(alarm_text_id=list(text_ids)))
        return {text.alarm_text_id: alarm_text_from_proto(text) for text in reply.device_alarm_text}

    def _targets(self, drfs: Sequence[str]) -> list[Target]:
        """Per DRF: its device and, when enabled and available, DevDB metadata (lookups never fail a read)."""
        requests = [parse_request(drf) for drf in drfs]
        infos: dict[str, DeviceInfoResult | str] = {}
        if self.reading_meta:
            try:
                infos = self._devdb.lookup(r.device for r in requests)
            except BackendUnavailable:
                infos = {}
        targets = []
        for drf, request in zip(drfs, requests, strict=True):
            info = infos.get(request.device)
            if not isinstance(info, DeviceInfoResult):
                targets.append(Target(drf, request.device))
                continue
            meta = info.meta(request.device, request.property is Property.SETTING)
            scaled = request.property in _UNIT_PROPERTIES and request.field in _UNIT_FIELDS
            targets.append(Target(drf, request.device, meta, meta.units if scaled else None))
        return targets

    # ------------------------------------------------------------------------ hooks

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.auth.token}"),) if self.auth.has_token else ()

    def _check_write_auth(self) -> None:
        _ = self.auth.token

    def _start_reads(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        return _OneShotRead(self, requests, sink).start()

    def _start_writes(self, requests: Sequence[WriteRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        sent: list[WriteRequest] = []
        settings: list[DAQ_pb2.Setting] = []
        for request in requests:
            try:
                if request.drf.startswith("#") and len(request.drf) > 4 and request.drf[1] != ":":
                    raise ValueConversionError("DRFs starting with '#' are DPM list directives")
                settings.append(DAQ_pb2.Setting(device=request.drf, value=setting_value(request.value)))
                sent.append(request)
            except ValueConversionError as error:
                sink.deliver(request.index, WriteResult(request.drf, GENERIC_ERROR, BACKEND, str(error)))
        if not sent:
            return Disposable()
        if not sink.mark_sent():
            return Disposable()
        future = self._stub.Set.future(DAQ_pb2.SettingList(setting=settings), metadata=self._metadata())
        future.add_done_callback(self._write_callback(sent, sink))
        return Disposable(future.cancel)

    def _write_callback(self, sent: Sequence[WriteRequest], sink: OneShotSink) -> Callable[[Any], None]:
        def done(future: Any) -> None:
            if future.cancelled():
                return
            error = future.exception()
            if error is not None:
                failure = _request_level_error(self.target, error, _WRITE_INTERRUPTED)
                if failure is not None:
                    sink.fail(failure)
                    return
                status, text = _entry_failure(error), _failure_text(self.target, error)
                for request in sent:
                    sink.deliver(request.index, WriteResult(request.drf, status, BACKEND, text))
                return
            statuses = future.result().status
            for position, request in enumerate(sent):
                if position >= len(statuses):
                    result = WriteResult(request.drf, GENERIC_ERROR, BACKEND, NO_STATUS_MESSAGE)
                else:
                    wire = statuses[position]
                    status = status_from_proto(wire)
                    message = wire.message or (None if status.is_ok else status.describe())
                    result = WriteResult(request.drf, status, BACKEND, message)
                sink.deliver(request.index, result)

        return done

    def _open_stream(self, drfs: Sequence[str], sink: StreamSink) -> ServerSubscription:
        while True:
            lane = self._lane_for_new_stream()
            if lane.add(drfs, sink):
                return LaneSubscription(lane, sink)

    def _lane_for_new_stream(self) -> _CallLane:
        """The lane new streams join: the youngest while it is young (so a burst of ``stream()`` calls
        shares one call), else a new one. With ``stream_calls`` lanes running, the smallest lane merges
        first: into the new lane when it has at most :data:`SMALL_LANE` DRFs (the new call opens with
        them, so nothing is re-issued), else into the next smallest. New streams thus never wait for a
        large call to be re-issued, and streams arriving one by one beside large calls do not make a
        large call re-issue each time."""
        merge: tuple[_CallLane, _CallLane | None] | None = None
        with self._lock:
            self._lanes = [lane for lane in self._lanes if not lane.finished]
            now = time.monotonic()
            if self._lanes and self._lanes[-1].young(now):
                return self._lanes[-1]
            if len(self._lanes) >= self.stream_calls:
                if len(self._lanes) == 1:
                    return self._lanes[0]
                smallest, next_smallest = sorted(self._lanes, key=lambda lane: lane.drf_count)[:2]
                self._lanes.remove(smallest)
                merge = smallest, None if smallest.drf_count <= SMALL_LANE else next_smallest
            lane = _CallLane(self)
            self._lanes.append(lane)
        if merge is not None:
            (merge[1] or lane).absorb(merge[0])
        return lane

    def _close_transport(self) -> None:
        with self._lock:
            lanes, self._lanes = self._lanes, []
        for lane in lanes:
            lane.stop()
        self._channel.close()
        self._devdb.close()
