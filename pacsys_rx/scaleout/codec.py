"""The binary encoding of what workers put on a stream (sans-I/O: bytes in, records out).

Every message starts with a version byte (``VERSION``) and a kind byte; then the fields of the
record in a fixed order. Integers are big-endian; a string is a 16-bit length and UTF-8; a time is
a signed 64-bit count of microseconds since the Unix epoch (UTC). A value is a tag byte and its data:
none, float64, int64, text, bool, time, duration (signed 64-bit microseconds), or anything else as
JSON text (``str`` of what JSON cannot hold).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Union

from pacsys_rx.errors import ProtocolError
from pacsys_rx.model import ValueType
from pacsys_rx.operators import AlarmEvent, AlarmState, Severity

from .sharding import Shard

VERSION = 1
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_STATES = tuple(AlarmState)
_SEVERITIES = tuple(Severity)
_INT64 = range(-(1 << 63), 1 << 63)
_VALUE_TYPES = tuple(ValueType)
_NO_VALUE_TYPE = 0xFF


class Kind(enum.IntEnum):
    """The kind byte of a message."""

    TRANSITION = 1
    SNAPSHOT = 2
    COMMAND = 3
    GAP = 4
    MARKER = 5
    RECENT = 6
    OUTPUT = 7


class Action(enum.IntEnum):
    """What an operator command asks of the workers."""

    ACKNOWLEDGE = 1
    DISABLE = 2
    ENABLE = 3


@dataclass(frozen=True, slots=True)
class Transition:
    """An alarm state change of one device, published by ``replica`` of ``shard``."""

    shard: Shard
    replica: str
    event: AlarmEvent


@dataclass(frozen=True, slots=True)
class SnapshotPart:
    """Part ``part`` (0-based) of ``parts`` of the full alarm state of ``shard`` taken at ``taken_at``."""

    shard: Shard
    replica: str
    taken_at: datetime
    part: int
    parts: int
    events: tuple[AlarmEvent, ...]


@dataclass(frozen=True, slots=True)
class Command:
    """An operator command; ``device`` None means every device."""

    action: Action
    device: str | None
    issued_at: datetime
    origin: str


@dataclass(frozen=True, slots=True)
class Gap:
    """No worker of ``shard`` was running from ``start`` to ``end``: its transitions then are unknown."""

    shard: Shard
    replica: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Marker:
    """Written by a starting worker; when it reads its own marker back it has caught up with the stream."""

    shard: Shard
    replica: str
    token: str


@dataclass(frozen=True, slots=True)
class RecentValue:
    """One reading kept for a restart: its time, value (None for an error reading), value type and status."""

    timestamp: datetime
    value: Any
    value_type: ValueType | None
    facility: int
    error: int


@dataclass(frozen=True, slots=True)
class RecentReadings:
    """The last readings of some devices of ``shard`` at ``taken_at``, oldest first, published right after
    a snapshot; a restarting worker replays them into its pipeline (tries counters, hysteresis)."""

    shard: Shard
    replica: str
    taken_at: datetime
    devices: tuple[tuple[str, tuple[RecentValue, ...]], ...]


@dataclass(frozen=True, slots=True)
class Output:
    """A pipeline output other than an alarm event: the name of its type, its device and its fields."""

    shard: Shard
    replica: str
    type: str
    device: str
    fields: tuple[tuple[str, Any], ...]


Record = Union[Transition, SnapshotPart, Command, Gap, Marker, RecentReadings, Output]


def output_of(shard: Shard, replica: str, item: object) -> Output:
    """The ``Output`` record of a pipeline output: a dataclass instance with a text ``device`` field."""
    device = getattr(item, "device", None)
    if not dataclasses.is_dataclass(item) or isinstance(item, type) or not isinstance(device, str):
        raise TypeError(f"a pipeline output is an AlarmEvent or a dataclass with a device field, "
                        f"got {type(item).__name__}")
    fields = tuple((f.name, getattr(item, f.name)) for f in dataclasses.fields(item) if f.name != "device")
    return Output(shard, replica, type(item).__name__, device, fields)


def encode(record: Record) -> bytes:
    """The message bytes of ``record``."""
    out = bytearray()
    if isinstance(record, Transition):
        _header(out, Kind.TRANSITION)
        _shard(out, record.shard, record.replica)
        _event(out, record.event)
    elif isinstance(record, SnapshotPart):
        _header(out, Kind.SNAPSHOT)
        _shard(out, record.shard, record.replica)
        _time(out, record.taken_at)
        out += struct.pack(">III", record.part, record.parts, len(record.events))
        for event in record.events:
            _event(out, event)
    elif isinstance(record, Command):
        _header(out, Kind.COMMAND)
        out.append(record.action)
        _text(out, record.device or "")
        _time(out, record.issued_at)
        _text(out, record.origin)
    elif isinstance(record, Gap):
        _header(out, Kind.GAP)
        _shard(out, record.shard, record.replica)
        _time(out, record.start)
        _time(out, record.end)
    elif isinstance(record, Marker):
        _header(out, Kind.MARKER)
        _shard(out, record.shard, record.replica)
        _text(out, record.token)
    elif isinstance(record, RecentReadings):
        _header(out, Kind.RECENT)
        _shard(out, record.shard, record.replica)
        _time(out, record.taken_at)
        out += struct.pack(">I", len(record.devices))
        for device, recent in record.devices:
            _text(out, device)
            out += struct.pack(">H", len(recent))
            for value in recent:
                _recent_value(out, value)
    else:
        _header(out, Kind.OUTPUT)
        _shard(out, record.shard, record.replica)
        _text(out, record.type)
        _text(out, record.device)
        out += struct.pack(">H", len(record.fields))
        for name, value in record.fields:
            _text(out, name)
            _value(out, value)
    return bytes(out)


def peek_kind(data: bytes) -> Kind:
    """The kind of a message without decoding the rest (ProtocolError for an unknown version or kind)."""
    if len(data) < 2:
        raise ProtocolError("message shorter than its header", offset=0)
    if data[0] != VERSION:
        raise ProtocolError(f"unknown encoding version {data[0]}", offset=0)
    try:
        return Kind(data[1])
    except ValueError:
        raise ProtocolError(f"unknown message kind {data[1]}", offset=1) from None


def decode(data: bytes) -> Record:
    """The record of one message; ProtocolError if the bytes are not a whole, valid message."""
    kind = peek_kind(data)
    reader = _Reader(data, 2)
    record: Record
    if kind is Kind.TRANSITION:
        shard, replica = reader.shard()
        record = Transition(shard, replica, reader.event())
    elif kind is Kind.SNAPSHOT:
        header, count = _snapshot_header(reader)
        events = tuple(reader.event() for _ in range(count))
        record = dataclasses.replace(header, events=events)
    elif kind is Kind.COMMAND:
        action = reader.choice(Action)
        device = reader.text()
        record = Command(action, device or None, reader.time(), reader.text())
    elif kind is Kind.GAP:
        shard, replica = reader.shard()
        record = Gap(shard, replica, reader.time(), reader.time())
    elif kind is Kind.MARKER:
        shard, replica = reader.shard()
        record = Marker(shard, replica, reader.text())
    elif kind is Kind.RECENT:
        shard, replica = reader.shard()
        taken_at = reader.time()
        (count,) = reader.unpack(">I")
        devices = tuple((reader.text(), reader.recent_values()) for _ in range(count))
        record = RecentReadings(shard, replica, taken_at, devices)
    else:
        shard, replica = reader.shard()
        type_name, device = reader.text(), reader.text()
        (count,) = reader.unpack(">H")
        record = Output(shard, replica, type_name, device,
                        tuple((reader.text(), reader.value()) for _ in range(count)))
    if reader.offset != len(data):
        raise ProtocolError("trailing bytes after the message", offset=reader.offset)
    return record


def peek_snapshot(data: bytes) -> SnapshotPart:
    """The snapshot part of ``data`` without its events (ProtocolError if it is not a snapshot part)."""
    if peek_kind(data) is not Kind.SNAPSHOT:
        raise ProtocolError("not a snapshot part", offset=1)
    return _snapshot_header(_Reader(data, 2))[0]


def _snapshot_header(reader: _Reader) -> tuple[SnapshotPart, int]:
    """A snapshot part with no events yet, and how many events follow."""
    shard, replica = reader.shard()
    taken_at = reader.time()
    part, parts, count = reader.unpack(">III")
    if part >= parts:
        raise ProtocolError(f"snapshot part {part} of {parts}", offset=reader.offset)
    return SnapshotPart(shard, replica, taken_at, part, parts, ()), count


def _header(out: bytearray, kind: Kind) -> None:
    out.append(VERSION)
    out.append(kind)


def _shard(out: bytearray, shard: Shard, replica: str) -> None:
    out += struct.pack(">HH", shard.index, shard.count)
    _text(out, replica)


def _text(out: bytearray, text: str) -> None:
    data = text.encode()
    if len(data) > 0xFFFF:
        raise ValueError(f"text longer than 65535 bytes: {text[:40]!r}...")
    out += struct.pack(">H", len(data))
    out += data


def _time(out: bytearray, when: datetime) -> None:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    out += struct.pack(">q", (when - EPOCH) // _MICROSECOND)


def _event(out: bytearray, event: AlarmEvent) -> None:
    _text(out, event.device)
    out.append(_STATES.index(event.state))
    out.append(_SEVERITIES.index(event.severity))
    _time(out, event.since)
    _value(out, event.value)
    _text(out, event.reason)


def _recent_value(out: bytearray, value: RecentValue) -> None:
    _time(out, value.timestamp)
    _value(out, value.value)
    out.append(_NO_VALUE_TYPE if value.value_type is None else _VALUE_TYPES.index(value.value_type))
    out += struct.pack(">Bb", value.facility, value.error)


def _value(out: bytearray, value: Any) -> None:
    if value is None:
        out.append(0)
    elif isinstance(value, bool):
        out.append(5 if value else 4)
    elif isinstance(value, float):
        out.append(1)
        out += struct.pack(">d", value)
    elif isinstance(value, int) and value in _INT64:
        out.append(2)
        out += struct.pack(">q", value)
    elif isinstance(value, str):
        out.append(3)
        _text(out, value)
    elif isinstance(value, datetime):
        out.append(7)
        _time(out, value)
    elif isinstance(value, timedelta):
        out.append(8)
        out += struct.pack(">q", value // _MICROSECOND)
    else:
        out.append(6)
        _text(out, json.dumps(value, default=str))


class _Reader:
    """Reads fields from ``data`` at ``offset``; ProtocolError (with the offset) when they run out."""

    def __init__(self, data: bytes, offset: int) -> None:
        self.data, self.offset = data, offset

    def unpack(self, layout: str) -> tuple[Any, ...]:
        size = struct.calcsize(layout)
        if self.offset + size > len(self.data):
            raise ProtocolError("message ends inside a field", offset=self.offset)
        fields = struct.unpack_from(layout, self.data, self.offset)
        self.offset += size
        return fields

    def byte(self) -> int:
        return int(self.unpack(">B")[0])

    def choice(self, options: type[enum.IntEnum]) -> Any:
        code = self.byte()
        try:
            return options(code)
        except ValueError:
            raise ProtocolError(f"unknown {options.__name__} {code}", offset=self.offset - 1) from None

    def indexed(self, options: tuple[Any, ...], what: str) -> Any:
        return self.indexed_at(options, self.byte(), what)

    def indexed_at(self, options: tuple[Any, ...], code: int, what: str) -> Any:
        if code >= len(options):
            raise ProtocolError(f"unknown {what} {code}", offset=self.offset - 1)
        return options[code]

    def text(self) -> str:
        (length,) = self.unpack(">H")
        if self.offset + length > len(self.data):
            raise ProtocolError("message ends inside a string", offset=self.offset)
        raw = self.data[self.offset:self.offset + length]
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise ProtocolError("string is not UTF-8", offset=self.offset) from None
        self.offset += length
        return text

    def time(self) -> datetime:
        (micros,) = self.unpack(">q")
        try:
            return EPOCH + micros * _MICROSECOND
        except OverflowError:
            raise ProtocolError(f"time out of range: {micros} us", offset=self.offset - 8) from None

    def shard(self) -> tuple[Shard, str]:
        index, count = self.unpack(">HH")
        if not index < count:
            raise ProtocolError(f"shard {index}/{count} out of range", offset=self.offset - 4)
        return Shard(index, count), self.text()

    def value(self) -> Any:
        tag = self.byte()
        if tag == 0:
            return None
        if tag in (4, 5):
            return tag == 5
        if tag == 1:
            return self.unpack(">d")[0]
        if tag == 2:
            return self.unpack(">q")[0]
        if tag == 3:
            return self.text()
        if tag == 7:
            return self.time()
        if tag == 8:
            return self.unpack(">q")[0] * _MICROSECOND
        if tag == 6:
            start = self.offset
            try:
                return json.loads(self.text())
            except ValueError:
                raise ProtocolError("value is not JSON", offset=start) from None
        raise ProtocolError(f"unknown value tag {tag}", offset=self.offset - 1)

    def recent_values(self) -> tuple[RecentValue, ...]:
        (count,) = self.unpack(">H")
        values = []
        for _ in range(count):
            timestamp, value = self.time(), self.value()
            code = self.byte()
            value_type = None if code == _NO_VALUE_TYPE else self.indexed_at(_VALUE_TYPES, code, "value type")
            facility, error = self.unpack(">Bb")
            values.append(RecentValue(timestamp, value, value_type, facility, error))
        return tuple(values)

    def event(self) -> AlarmEvent:
        device = self.text()
        state = self.indexed(_STATES, "alarm state")
        severity = self.indexed(_SEVERITIES, "severity")
        since = self.time()
        return AlarmEvent(device, state, severity, self.value(), since, self.text())
