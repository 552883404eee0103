"""DPM/HTTP replies -> ``Reading`` values, and user values -> setting structs (dpm-http.md §4.5, §6.6).

The stream hot path is :func:`decode_client_frame`: a Scalar reply in the canonical layout is read
straight into a ``(ref_id, timestamp, cycle, status, value)`` tuple; every other frame goes
through the shared codec.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Union

from pacsys_rx.backends.value_rules import rule_for
from pacsys_rx.model import (
    OK,
    AcnetStatus,
    AnalogAlarm,
    BasicStatus,
    DeviceMeta,
    DigitalAlarm,
    Reading,
    TimedArray,
    Value,
    ValueType,
)
from pacsys_rx.model.reading import utc_now
from pacsys_rx.protocols import pc

BACKEND_NAME = "dpm"

ScalarTuple = tuple[int, int, int, int, float]
"""A Scalar reply read by the fast path: ref_id, timestamp (ms), cycle, status, value."""
ClientFrame = Union[ScalarTuple, pc.DpmReply]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_INT_SIZES = bytes(tag - 0x10 if 0x11 <= tag <= 0x18 else 0 for tag in range(256))
_DOUBLE_DATA = pc.DATA_FIELD + b"\x28"
_HEAD_LENGTH = len(pc.SCALAR_PREFIX)
_DOUBLE = struct.Struct(">d")
_from_bytes = int.from_bytes


_NATIVE_INTS = {1: "b", 2: "h", 4: "i", 8: "q"}
_LAYOUT_LIMIT = 256
"""Scalar layouts remembered at most (frame length x ref_id size; a stream uses a handful)."""


class _ScalarLayout:
    """One canonical Scalar layout (the byte sizes of its four integers) read with one ``unpack``.

    The field ids and size tags are unpacked too and must equal :attr:`markers`, which proves the frame
    has this layout; integers of 3, 5, 6 or 7 bytes come out as bytes and are converted.
    """

    __slots__ = ("markers", "unpack")

    def __init__(self, sizes: tuple[int, int, int, int]) -> None:
        ref_size, *rest = sizes
        pieces = [f">{_HEAD_LENGTH + 1}x", _NATIVE_INTS.get(ref_size, f"{ref_size}s")]
        markers = []
        for field, size in zip((pc.TIMESTAMP_FIELD, pc.CYCLE_FIELD, pc.STATUS_FIELD), rest, strict=True):
            markers.append(field + bytes((0x10 + size,)))
            pieces += [f"{len(markers[-1])}s", _NATIVE_INTS.get(size, f"{size}s")]
        markers.append(_DOUBLE_DATA)
        pieces.append(f"{len(_DOUBLE_DATA)}sd")
        self.markers = tuple(markers)
        self.unpack = struct.Struct("".join(pieces)).unpack


_LAYOUTS: dict[tuple[int, int], _ScalarLayout] = {}
"""Layouts by (frame length, ref_id size tag); a dict read or write of one entry is atomic."""


def decode_client_frame(body: bytes) -> ClientFrame:
    """One frame body from a DPM server: a Scalar tuple on the fast path, else the codec's reply."""
    if body.startswith(pc.SCALAR_PREFIX):
        try:
            layout = _LAYOUTS.get((len(body), body[_HEAD_LENGTH]))
        except IndexError:
            return pc.decode_reply(body)
        if layout is not None:
            ref_id, m1, timestamp, m2, cycle, m3, status, m4, value = layout.unpack(body)
            if (m1, m2, m3, m4) == layout.markers:
                if type(timestamp) is bytes:
                    timestamp = _from_bytes(timestamp, "big", signed=True)
                if type(ref_id) is bytes:
                    ref_id = _from_bytes(ref_id, "big", signed=True)
                if type(cycle) is bytes:
                    cycle = _from_bytes(cycle, "big", signed=True)
                return ref_id, timestamp, cycle, status, value
        scalar = _read_scalar(body)
        if scalar is not None:
            return scalar
    return pc.decode_reply(body)


def _read_scalar(body: bytes) -> ScalarTuple | None:
    """A Scalar reply in the canonical layout, read field by field (its layout is remembered)."""
    try:
        pos = _HEAD_LENGTH
        ref_size = size = _INT_SIZES[body[pos]]
        end = pos + 1 + size
        ref_id = _from_bytes(body[pos + 1 : end], "big", signed=True)
        if size and body.startswith(pc.TIMESTAMP_FIELD, end):
            pos = end + 3
            timestamp_size = size = _INT_SIZES[body[pos]]
            end = pos + 1 + size
            timestamp = _from_bytes(body[pos + 1 : end], "big", signed=True)
            if size and body.startswith(pc.CYCLE_FIELD, end):
                pos = end + 3
                cycle_size = size = _INT_SIZES[body[pos]]
                end = pos + 1 + size
                cycle = _from_bytes(body[pos + 1 : end], "big", signed=True)
                if size and body.startswith(pc.STATUS_FIELD, end):
                    pos = end + 3
                    size = _INT_SIZES[body[pos]]
                    end = pos + 1 + size
                    status = _from_bytes(body[pos + 1 : end], "big", signed=True)
                    if 0 < size <= 2 and body.startswith(_DOUBLE_DATA, end) and len(body) >= end + 12:
                        if len(body) == end + 12 and len(_LAYOUTS) < _LAYOUT_LIMIT:
                            _LAYOUTS[len(body), body[_HEAD_LENGTH]] = _ScalarLayout(
                                (ref_size, timestamp_size, cycle_size, size))
                        return ref_id, timestamp, cycle, status, _DOUBLE.unpack_from(body, end + 4)[0]
    except IndexError:
        pass
    return None


class StatusCache:
    """Packed 16-bit status -> AcnetStatus, one dict lookup on the hot path."""

    __slots__ = ("_by_code",)

    def __init__(self) -> None:
        self._by_code: dict[int, AcnetStatus] = {0: OK}

    def __call__(self, code: int) -> AcnetStatus:
        status = self._by_code.get(code)
        if status is None:
            status = self._by_code[code] = AcnetStatus.from_code(code)
        return status


STATUS = StatusCache()
"""Shared status cache (dict reads and writes of whole entries are atomic)."""


class Clock:
    """Millisecond timestamps -> UTC datetimes, remembering the last one (a tick shares its time).

    One instance per I/O thread. Timestamp 0 means "none": the receive time is used instead.
    """

    __slots__ = ("_last", "_last_ms")

    def __init__(self) -> None:
        self._last_ms = 0
        self._last = _EPOCH

    def __call__(self, ms: int) -> datetime:
        if ms == self._last_ms:
            return self._last if ms else utc_now()
        if not ms:
            return utc_now()
        when = _EPOCH + timedelta(milliseconds=ms)
        self._last_ms = ms
        self._last = when
        return when


@dataclass(slots=True)
class Entry:
    """What a client knows about one list entry: the DRF to report, the device and its DeviceInfo."""

    drf: str
    device: str
    meta: DeviceMeta | None = None
    units: str | None = None
    def learn(self, info: pc.DeviceInfoReply) -> None:
        """Remember a DeviceInfo reply as this entry's metadata, and its units where the value rules keep
        them (``value_rules``)."""
        self.meta = DeviceMeta(info.di, info.name, info.description, info.units, info.format_hint)
        if rule_for(self.drf).units:
            self.units = info.units


def scalar_reading(entry: Entry, frame: ScalarTuple, clock: Clock) -> Reading:
    """The Reading of a fast-path Scalar reply."""
    _, timestamp, cycle, code, value = frame
    status = STATUS(code)
    if code and status.error < 0:
        return Reading(entry.drf, entry.device, None, None, entry.units, clock(timestamp), cycle, status,
                       BACKEND_NAME, entry.meta, status.describe())
    return Reading(entry.drf, entry.device, value, ValueType.SCALAR, entry.units, clock(timestamp), cycle,
                   status, BACKEND_NAME, entry.meta, None)


def status_reading(entry: Entry, code: int, clock: Clock, timestamp: int = 0, cycle: int | None = None,
                   message: str | None = None) -> Reading:
    """A data-less reading for a ``Status`` reply, a refused ``AddToList`` or a client-side failure."""
    status = STATUS(code)
    return Reading(entry.drf, entry.device, None, None, entry.units, clock(timestamp), cycle, status,
                   BACKEND_NAME, entry.meta, message or status.describe())


_DATA_VALUE: dict[type, tuple[ValueType, Any]] = {
    pc.ScalarReply: (ValueType.SCALAR, float),
    pc.ScalarArrayReply: (ValueType.SCALAR_ARRAY, tuple),
    pc.RawReply: (ValueType.RAW, bytes),
    pc.TextReply: (ValueType.TEXT, str),
    pc.TextArrayReply: (ValueType.TEXT_ARRAY, tuple),
}

DataReply = Union[
    pc.ScalarReply, pc.ScalarArrayReply, pc.RawReply, pc.TextReply, pc.TextArrayReply,
    pc.TimedScalarArrayReply, pc.AnalogAlarmReply, pc.DigitalAlarmReply, pc.BasicStatusReply,
]
DATA_REPLIES = (
    pc.ScalarReply, pc.ScalarArrayReply, pc.RawReply, pc.TextReply, pc.TextArrayReply,
    pc.TimedScalarArrayReply, pc.AnalogAlarmReply, pc.DigitalAlarmReply, pc.BasicStatusReply,
)
"""Every reply type that carries data for an entry."""


def reply_reading(entry: Entry, reply: DataReply, clock: Clock) -> Reading:
    """The Reading of any data reply (Scalar, arrays, raw, text, timed arrays, alarms, basic status)."""
    value: Value
    code = 0
    if isinstance(reply, pc.AnalogAlarmReply):
        value_type = ValueType.ANALOG_ALARM
        value = AnalogAlarm(reply.minimum, reply.maximum, reply.alarm_enable, reply.alarm_status, reply.abort,
                            reply.abort_inhibit, reply.tries_needed, reply.tries_now)
    elif isinstance(reply, pc.DigitalAlarmReply):
        value_type = ValueType.DIGITAL_ALARM
        value = DigitalAlarm(reply.nominal, reply.mask, reply.alarm_enable, reply.alarm_status, reply.abort,
                             reply.abort_inhibit, reply.tries_needed, reply.tries_now)
    elif isinstance(reply, pc.BasicStatusReply):
        value_type = ValueType.BASIC_STATUS
        value = BasicStatus(reply.on, reply.ready, reply.remote, reply.positive, reply.ramp)
    elif isinstance(reply, pc.TimedScalarArrayReply):
        value_type = ValueType.TIMED_SCALAR_ARRAY
        value = TimedArray(tuple(reply.data), tuple(reply.micros))
        code = reply.status
    else:
        value_type, convert = _DATA_VALUE[type(reply)]
        value = convert(reply.data)
        code = reply.status
    status = STATUS(code)
    when = clock(reply.timestamp)
    if status.error < 0:
        return Reading(entry.drf, entry.device, None, None, entry.units, when, reply.cycle, status,
                       BACKEND_NAME, entry.meta, status.describe())
    return Reading(entry.drf, entry.device, value, value_type, entry.units, when, reply.cycle, status,
                   BACKEND_NAME, entry.meta, None)


class LoggerAnswer:
    """The chunks of one chunked logger entry merged into one timed array (dpm-http.md §5.6): timed
    scalar arrays are concatenated, array records (``ScalarArray``, µs timestamps) become rows; the
    first error chunk is the result, the first warning is kept."""

    __slots__ = ("_data", "_micros", "_warning")

    def __init__(self) -> None:
        self._data: list[Any] = []
        self._micros: list[int] = []
        self._warning: AcnetStatus | None = None

    def add(self, entry: Entry, reply: DataReply, clock: Clock) -> Reading | None:
        """Take one reply; the entry's result once its answer ended, else None."""
        data: list[Any]
        if isinstance(reply, pc.TimedScalarArrayReply):
            data, micros = list(reply.data), list(reply.micros)
        elif isinstance(reply, pc.ScalarArrayReply):
            data, micros = ([tuple(reply.data)], [reply.timestamp]) if reply.data else ([], [])
        else:
            return reply_reading(entry, reply, clock)
        status = STATUS(reply.status)
        if status.error < 0:
            return status_reading(entry, reply.status, clock, reply.timestamp if not micros else 0)
        if status.error > 0 and self._warning is None:
            self._warning = status
        if data:
            self._data.extend(data)
            self._micros.extend(micros)
            return None
        return self.result(entry, clock)

    def result(self, entry: Entry, clock: Clock) -> Reading:
        """The merged answer (empty when the window held no samples)."""
        micros = self._micros
        when = _EPOCH + timedelta(microseconds=micros[0]) if micros and micros[0] else clock(0)
        return Reading(entry.drf, entry.device, TimedArray(tuple(self._data), tuple(micros)),
                       ValueType.TIMED_SCALAR_ARRAY, entry.units, when, None, self._warning or OK,
                       BACKEND_NAME, entry.meta, None)


def stream_readings(entry: Entry, reply: DataReply, clock: Clock) -> list[Reading]:
    """The Readings a stream delivers for a data reply: one per sample of a timed array (a Fast Time
    Plot or logger chunk; each sample at its own time, 0 micros meaning the reply's time), else one."""
    reading = reply_reading(entry, reply, clock)
    if not isinstance(reply, pc.TimedScalarArrayReply) or reading.value is None:
        return [reading]
    return [
        Reading(entry.drf, entry.device, value, ValueType.SCALAR, entry.units,
                _EPOCH + timedelta(microseconds=micros) if micros else reading.timestamp, reply.cycle,
                reading.status, BACKEND_NAME, entry.meta, None)
        for value, micros in zip(reply.data, reply.micros, strict=True)
    ]


# ------------------------------------------------------------------------------------------- settings

Setting = Union[pc.RawSetting, pc.ScaledSetting, pc.TextSetting]


def setting_for(ref_id: int, value: object) -> Setting:
    """The setting struct for one user value (dpm-http.md §6.6); TypeError/ValueError when it has none."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return pc.RawSetting(ref_id, bytes(value))
    if isinstance(value, str):
        return pc.TextSetting(ref_id, [_latin1(value)])
    if isinstance(value, (bool, int, float)):
        return pc.ScaledSetting(ref_id, [float(value)])
    if isinstance(value, (list, tuple)):
        return _sequence_setting(ref_id, value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and getattr(value, "ndim", None) == 1:
        return _sequence_setting(ref_id, tolist())
    if getattr(value, "ndim", 1) != 1 and callable(tolist):
        raise ValueError("only one-dimensional arrays can be written")
    raise TypeError(f"cannot write a {type(value).__name__} over DPM/HTTP")


def _sequence_setting(ref_id: int, values: Sequence[object]) -> Setting:
    texts = [isinstance(v, str) for v in values]
    if values and all(texts):
        return pc.TextSetting(ref_id, [_latin1(str(v)) for v in values])
    if any(texts):
        raise TypeError("a setting array must hold only strings or only numbers")
    numbers = []
    for v in values:
        if not isinstance(v, (bool, int, float)):
            raise TypeError(f"cannot write an array element of type {type(v).__name__}")
        numbers.append(float(v))
    return pc.ScaledSetting(ref_id, numbers)


def _latin1(text: str) -> str:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"text settings must be Latin-1 encodable: {text!r}") from exc
    return text
