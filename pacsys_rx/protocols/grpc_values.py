"""Conversions between the DAQ service's protobuf messages and pacsys_rx's data model.

Used by the gRPC backend (replies -> ``Reading``, Python values -> ``Value`` for settings) and by the
simulator's gRPC server (``setting_value`` for plain values, ``value_from_proto`` for settings it
receives). Rules follow ``dpm-grpc.md`` §5.5 and §7.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Container, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import timestamp_pb2

from pacsys_rx.model import (
    OK,
    AcnetStatus,
    AnalogAlarm,
    BasicStatus,
    DeviceMeta,
    DigitalAlarm,
    Reading,
    TimedArray,
    ValueType,
)
from pacsys_rx.model import Value as ModelValue
from pacsys_rx.model.reading import utc_now
from pacsys_rx.protocols.proto import DAQ_pb2, device_pb2, status_pb2

BACKEND = "grpc"
GENERIC_ERROR = AcnetStatus.named("ACNET_RETRY")
TIMEOUT_ERROR = AcnetStatus.named("ACNET_REQTMO")
EMPTY_VALUE_MESSAGE = "Proto Value has no value set (empty oneof)"

_LABEL_ATTRIBUTE = {
    "on": "on", "ready": "ready", "remote": "remote", "positive": "positive", "ramp": "ramp",
    "polarity": "positive",
}
"""Basic-status display labels (lower-cased) recognised as the legacy attributes."""
_TRUE_TEXTS = frozenset({"true", "yes", "on", "ready", "remote", "positive", "plus", "+", "ramp", "1"})
_FALSE_TEXTS = frozenset({
    "false", "no", "off", "tripped", "not ready", "local", "negative", "minus", "-", "dc", "0",
})

_Value = device_pb2.Value
_Status = status_pb2.Status
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SCALAR_DATA = b"\x12\x09\x09"
"""``Reading.data`` (field 2, 9 bytes) holding only ``Value.scalar`` (field 1, a little-endian double)."""
_ENTRIES_PER_READ = 64
"""Scalar entries read by one ``struct`` call at most (bounds the work wasted where their size changes)."""
_MIN_ENTRIES_PER_READ = 3
"""Fewer entries left than this are read one by one (a ``struct`` call costs more for them)."""
_unpack_double = struct.Struct("<d").unpack_from
_SCALAR_ENTRY_SIZE = 15
"""Bytes of a scalar ``Readings.reading`` entry besides its timestamp body: the entry's key and length,
the timestamp's key and length, and ``Reading.data`` (:data:`_SCALAR_DATA` and eight value bytes)."""
_STAMP_CACHE_SIZE = 4096
_stamps: dict[bytes, datetime] = {}
"""Datetimes of the encoded ``Timestamp`` bodies seen lately: a stream's samples share few times."""
_parse_reply = DAQ_pb2.ReadingReply.FromString


class ValueConversionError(ValueError):
    """A Python value cannot be sent as a ``common.device.Value``."""


# ------------------------------------------------------------------------------- statuses


def status_from_proto(status: status_pb2.Status) -> AcnetStatus:
    """The ACNET status of a ``common.status.Status`` (unsigned error bytes become negative)."""
    return AcnetStatus.from_wire(status.facility_code, status.status_code)


def status_to_proto(status: AcnetStatus, message: str = "") -> status_pb2.Status:
    return _Status(facility_code=status.facility, status_code=status.error, message=message)


# ------------------------------------------------------------------ reading direction


def timestamp_of(sample: DAQ_pb2.Reading) -> datetime:
    """The sample's time as a UTC datetime; the receive time when the timestamp is unset."""
    stamp = sample.timestamp
    seconds, nanos = stamp.seconds, stamp.nanos
    if not seconds and not nanos:
        return utc_now()
    return _EPOCH + timedelta(0, seconds, nanos // 1000)


def _encoded_timestamp(body: bytes) -> datetime:
    """The datetime of an encoded ``Timestamp`` body, remembered unless it is unset (receive time)."""
    stamp = timestamp_pb2.Timestamp.FromString(body)
    seconds, nanos = stamp.seconds, stamp.nanos
    if not seconds and not nanos:
        return utc_now()
    if len(_stamps) >= _STAMP_CACHE_SIZE:
        _stamps.clear()
    moment = _stamps[body] = _EPOCH + timedelta(0, seconds, nanos // 1000)
    return moment


def micros_of(sample: DAQ_pb2.Reading) -> int:
    """The sample's time in Unix microseconds, 0 when unset."""
    stamp = sample.timestamp
    return stamp.seconds * 1_000_000 + stamp.nanos // 1000


def _basic_status(value: device_pb2.Value) -> BasicStatus:
    """Attributes recognised by label (``on``, ``On``, ``Polarity``...) and display text; others dropped."""
    attributes: dict[str, bool] = {}
    for label, text in value.basicStatus.value.items():
        attribute = _LABEL_ATTRIBUTE.get(label.strip().lower())
        if attribute is None:
            continue
        word = text.strip().lower()
        if word in _TRUE_TEXTS:
            attributes[attribute] = True
        elif word in _FALSE_TEXTS:
            attributes[attribute] = False
    return BasicStatus(**attributes)


def _analog_alarm(value: device_pb2.Value) -> AnalogAlarm:
    a = value.anaAlarm
    return AnalogAlarm(a.minimum, a.maximum, a.alarmEnable, a.alarmStatus, a.abort, a.abortInhibit,
                       a.triesNeeded, a.triesNow)


def _digital_alarm(value: device_pb2.Value) -> DigitalAlarm:
    d = value.digAlarm
    return DigitalAlarm(d.nominal, d.mask, d.alarmEnable, d.alarmStatus, d.abort, d.abortInhibit,
                        d.triesNeeded, d.triesNow)


_DECODERS: dict[str, tuple[Callable[[device_pb2.Value], ModelValue], ValueType]] = {
    "scalar": (lambda v: v.scalar, ValueType.SCALAR),
    "scalarArr": (lambda v: tuple(v.scalarArr.value), ValueType.SCALAR_ARRAY),
    "raw": (lambda v: v.raw, ValueType.RAW),
    "text": (lambda v: v.text, ValueType.TEXT),
    "textArr": (lambda v: tuple(v.textArr.value), ValueType.TEXT_ARRAY),
    "anaAlarm": (_analog_alarm, ValueType.ANALOG_ALARM),
    "digAlarm": (_digital_alarm, ValueType.DIGITAL_ALARM),
    "basicStatus": (_basic_status, ValueType.BASIC_STATUS),
}


def value_from_proto(value: device_pb2.Value) -> tuple[ModelValue, ValueType] | None:
    """The Python value and its type, or None when the oneof is empty."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    decode, value_type = _DECODERS[kind]
    return decode(value), value_type


class Target:
    """Who a reply is for: the DRF it reports under, its device, and DevDB metadata and units."""

    __slots__ = ("device", "drf", "meta", "units")

    def __init__(self, drf: str, device: str, meta: DeviceMeta | None = None,
                 units: str | None = None) -> None:
        self.drf = drf
        self.device = device
        self.meta = meta
        self.units = units


def sample_reading(sample: DAQ_pb2.Reading, target: Target) -> Reading:
    """One ``Reading`` from one sample (§5.5): warnings with data stay usable."""
    status = OK
    message = None
    if sample.HasField("status"):
        wire = sample.status
        status = AcnetStatus.from_wire(wire.facility_code, wire.status_code)
        message = wire.message or None
    data = sample.data
    kind = data.WhichOneof("value")
    timestamp = timestamp_of(sample)
    if status.error < 0 or (kind is None and status.error > 0):
        return Reading.error(target.drf, target.device, status, BACKEND, message, timestamp)
    if kind is None:
        return Reading.error(target.drf, target.device, GENERIC_ERROR, BACKEND, EMPTY_VALUE_MESSAGE,
                             timestamp)
    if kind == "scalar":
        value: ModelValue = data.scalar
        value_type = ValueType.SCALAR
    else:
        decode, value_type = _DECODERS[kind]
        value = decode(data)
    return Reading(target.drf, target.device, value, value_type, target.units, timestamp, None, status,
                   BACKEND, target.meta, message)


def status_reading(status: status_pb2.Status, target: Target) -> Reading:
    """The Reading for a terminal ``status`` reply; a code of 0 there means "no data" and is an error."""
    acnet = status_from_proto(status)
    if acnet.error == 0:
        message = status.message or "gRPC error"
        return Reading.error(target.drf, target.device, GENERIC_ERROR, BACKEND, message)
    return Reading.error(target.drf, target.device, acnet, BACKEND, status.message or None)


def timed_array_reading(samples: Sequence[DAQ_pb2.Reading], target: Target) -> Reading:
    """Several samples (at least one) as one TIMED_SCALAR_ARRAY reading; the first unusable sample wins."""
    values: list[float] = []
    micros: list[int] = []
    warning: Reading | None = None
    for sample in samples:
        reading = sample_reading(sample, target)
        if not reading.ok:
            return reading
        if not isinstance(reading.value, float):
            return Reading.error(target.drf, target.device, GENERIC_ERROR, BACKEND,
                                 f"cannot merge {reading.value_type} samples into a timed array",
                                 reading.timestamp)
        if warning is None and reading.is_warning:
            warning = reading
        values.append(reading.value)
        micros.append(micros_of(sample))
    timestamp = timestamp_of(samples[0])
    status, message = (warning.status, warning.message) if warning is not None else (OK, None)
    return Reading(target.drf, target.device, TimedArray(tuple(values), tuple(micros)),
                   ValueType.TIMED_SCALAR_ARRAY, target.units, timestamp, None, status, BACKEND, target.meta,
                   message)


def stream_readings(reply: DAQ_pb2.ReadingReply, target: Target) -> list[Reading]:
    """Every sample of a stream reply as its own Reading, in order (a status reply gives one)."""
    if reply.WhichOneof("value") == "status":
        return [status_reading(reply.status, target)]
    return [sample_reading(sample, target) for sample in reply.readings.reading]


def scalar_samples(data: bytes) -> tuple[int, list[float], list[datetime]] | None:
    """The index, values and times of an encoded ``ReadingReply`` made only of successful scalars with
    a timestamp (the bulk of any stream), read straight from the wire; None for any other reply, which
    then needs the generated classes.

    Where several entries of one size follow each other, up to :data:`_ENTRIES_PER_READ` are read with
    one ``struct`` call, which also yields every key and length byte for checking; a lone entry is
    checked byte by byte.
    """
    end = len(data)
    index = 0
    position = 0
    if end and data[0] == 0x08:
        index, position = _short_varint(data, 1)
        if index < 0:
            return None
    if position + 2 > end or data[position] != 0x12:
        return None
    length, position = _short_varint(data, position + 1)
    if length < 0 or position + length != end:
        return None
    values: list[float] = []
    moments: list[datetime] = []
    stamps = _stamps
    while position < end:
        left = end - position
        if left < _SCALAR_ENTRY_SIZE:
            return None
        entry = data[position + 1] + 2
        body = entry - _SCALAR_ENTRY_SIZE
        if body < 0 or entry >= 0x82:
            return None
        if left < _MIN_ENTRIES_PER_READ * entry:
            value_at = position + 4 + body
            if entry > left or data[position] != 0x12 or data[position + 2] != 0x0A \
                    or data[position + 3] != body or data[value_at:value_at + 3] != _SCALAR_DATA:
                return None
            stamp = data[position + 4:value_at]
            moments.append(stamps.get(stamp) or _encoded_timestamp(stamp))
            values.append(_unpack_double(data, value_at + 3)[0])
            position += entry
            continue
        count = left // entry
        if count > _ENTRIES_PER_READ:
            count = _ENTRIES_PER_READ
        fields = _entries_struct(entry, count).unpack_from(data, position)
        header = bytes((0x12, entry - 2, 0x0A, body))
        headers = fields[0::4]
        run = count if headers.count(header) == count else \
            next(i for i, found in enumerate(headers) if found != header)
        if run == 0 or fields[2:4 * run:4].count(_SCALAR_DATA) != run:
            return None
        run_stamps = fields[1:4 * run:4]
        try:
            moments += list(map(stamps.__getitem__, run_stamps))
        except KeyError:
            moments += [stamps.get(stamp) or _encoded_timestamp(stamp) for stamp in run_stamps]
        values += fields[3:4 * run:4]
        position += run * entry
    return index, values, moments


@functools.lru_cache(maxsize=512)
def _entries_struct(entry: int, count: int) -> struct.Struct:
    """Reads ``count`` scalar entries of ``entry`` bytes each as (keys and lengths, timestamp body,
    ``_SCALAR_DATA``, value) per entry."""
    return struct.Struct("<" + f"4s{entry - _SCALAR_ENTRY_SIZE}s3sd" * count)


def _short_varint(data: bytes, position: int) -> tuple[int, int]:
    """A varint of at most two bytes at ``position`` and the position after it; -1 for anything longer."""
    if position >= len(data):
        return -1, position
    first = data[position]
    if first < 0x80:
        return first, position + 1
    if position + 1 >= len(data) or data[position + 1] >= 0x80:
        return -1, position
    return (first & 0x7F) | (data[position + 1] << 7), position + 2


def decode_stream_reply(data: bytes, targets: Sequence[Target], live: Container[str]) -> list[Reading]:
    """The readings of an encoded stream reply for entry ``targets[index]``, none when that entry is
    unknown or its DRF is not in ``live``; ``DecodeError`` when the bytes are not a ``ReadingReply``."""
    fast = scalar_samples(data)
    if fast is None:
        reply = _parse_reply(data)
        index = reply.index
        if 0 <= index < len(targets) and targets[index].drf in live:
            return stream_readings(reply, targets[index])
        return []
    index, values, moments = fast
    if index >= len(targets):
        return []
    target = targets[index]
    drf = target.drf
    if drf not in live:
        return []
    device, units, meta, scalar = target.device, target.units, target.meta, ValueType.SCALAR
    if len(values) == 1:  # most replies of slow streams: no loop to set up
        return [Reading(drf, device, values[0], scalar, units, moments[0], None, OK, BACKEND, meta)]
    return [Reading(drf, device, value, scalar, units, moment, None, OK, BACKEND, meta)
            for value, moment in zip(values, moments, strict=True)]


# -------------------------------------------------------------------- writing direction


def _plain(value: Any) -> Any:
    """Numpy scalars (anything with ``item()`` and a ``dtype`` but no shape) as Python values."""
    if hasattr(value, "dtype") and hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    return value


def setting_value(value: Any) -> device_pb2.Value:
    """The ``Value`` for writing ``value`` (§7.4); ValueConversionError when it cannot be sent."""
    value = _plain(value)
    if isinstance(value, (bool, int, float)):
        return _Value(scalar=float(value))
    if isinstance(value, str):
        return _Value(text=value)
    if isinstance(value, (bytes, bytearray)):
        return _Value(raw=bytes(value))
    if hasattr(value, "ndim") and hasattr(value, "tolist"):
        if value.ndim != 1:
            raise ValueConversionError(f"only 1-D arrays can be written, got {value.ndim} dimensions")
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        items = [_plain(item) for item in value]
        if all(isinstance(item, (bool, int, float)) for item in items):
            return _Value(scalarArr=_Value.ScalarArray(value=[float(item) for item in items]))
        if all(isinstance(item, str) for item in items):
            return _Value(textArr=_Value.TextArray(value=items))
        raise ValueConversionError("cannot convert mixed list")
    if isinstance(value, (dict, AnalogAlarm, DigitalAlarm, BasicStatus)):
        raise ValueConversionError("alarm and status blocks are not supported via gRPC; write single fields")
    raise ValueConversionError(f"cannot write a {type(value).__name__} via gRPC")

