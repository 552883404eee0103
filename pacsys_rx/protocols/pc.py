"""DPM/HTTP: the DPM message catalogue in the PC binary encoding, its framing and handshake.

Sans-I/O: everything here turns messages into bytes and back. A connection sends
:data:`HANDSHAKE`, checks the first four bytes it receives with :func:`is_http_answer`, then
exchanges frames (4-byte big-endian length + message) built by :func:`encode_frame` and
split by :class:`FrameDecoder`.

Message classes are frozen dataclasses named after the spec with a ``Request``/``Reply``
suffix. Optional fields are ``None`` when absent; binary fields are ``bytes``, arrays lists.
The spec's ``MIC``, ``serviceName`` and ``serviceLocation`` are ``mic``, ``service_name`` and
``service_location`` here.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

from pacsys_rx.errors import ProtocolError
from pacsys_rx.protocols.pcitems import (
    BINARY,
    BOOL,
    DOUBLE,
    DOUBLE_TAG,
    INT16,
    INT32,
    INT64,
    STRING,
    Field,
    ItemType,
    PcProtocol,
    StructCodec,
    StructType,
    array_of,
    encode_count,
    encode_double,
    encode_int,
)

__all__ = [
    "DPM",
    "FIELD_IDS",
    "HANDSHAKE",
    "HTTP_ANSWER_LIMIT",
    "MAX_FRAME_LENGTH",
    "PROTOCOL_ID",
    "AddToListReply",
    "AddToListRequest",
    "AnalogAlarmReply",
    "ApplySettingsReply",
    "ApplySettingsRequest",
    "AuthenticateReply",
    "AuthenticateRequest",
    "BadFrameError",
    "BasicStatusReply",
    "ClearListRequest",
    "DeviceInfoReply",
    "DigitalAlarmReply",
    "DpmMessage",
    "DpmReply",
    "DpmRequest",
    "EnableSettingsRequest",
    "FrameDecoder",
    "ListStatusReply",
    "OpenListReply",
    "OpenListRequest",
    "RawReply",
    "RawSetting",
    "RemoveFromListReply",
    "RemoveFromListRequest",
    "ScalarArrayReply",
    "ScalarReply",
    "ScaledSetting",
    "ServiceDiscoveryReply",
    "ServiceDiscoveryRequest",
    "SettingStatus",
    "StartListReply",
    "StartListRequest",
    "StatusReply",
    "StopListRequest",
    "TextArrayReply",
    "TextReply",
    "TextSetting",
    "TimedScalarArrayReply",
    "decode_message",
    "decode_reply",
    "decode_request",
    "encode_frame",
    "encode_message",
    "http_status_line",
    "is_http_answer",
]

PROTOCOL_ID = -1321570246
"""DPM's protocol id (0xB13A703A)."""

HANDSHAKE = b"GET /dpm HTTP/1.1\r\nContent-Type: application/pc\r\n\r\n"
"""The 51 bytes a client sends right after connecting."""

MAX_FRAME_LENGTH = 1_048_576
"""Largest frame body the reference client accepts (1 MiB)."""

HTTP_ANSWER_LIMIT = 4096
"""Bytes of an HTTP refusal worth collecting before giving up on its end."""

_LENGTH = struct.Struct(">I")

# --------------------------------------------------------------------------------------------
# Embedded structs (array elements of ApplySettings)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawSetting:
    """Raw bytes to set, exactly as the device stores them."""

    ref_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ScaledSetting:
    """Engineering-unit values to set (one for a scalar, several for an array range)."""

    ref_id: int
    data: list[float]


@dataclass(frozen=True, slots=True)
class TextSetting:
    """Text to set (one string, or several for text arrays)."""

    ref_id: int
    data: list[str]


@dataclass(frozen=True, slots=True)
class SettingStatus:
    """Result of one setting; ``ref_id`` 0 applies to the whole request."""

    ref_id: int
    status: int


# --------------------------------------------------------------------------------------------
# Requests (client -> server)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceDiscoveryRequest:
    """Asks a DPM to announce itself (ACNET transport only)."""


@dataclass(frozen=True, slots=True)
class OpenListRequest:
    """Opens a list (ACNET transport only; over TCP the server opens it)."""

    location: str | None = None


@dataclass(frozen=True, slots=True)
class AddToListRequest:
    """Adds (or replaces) entry ``ref_id``: a DRF, or a ``#NAME:value`` list property with ref 0."""

    list_id: int
    ref_id: int
    drf_request: str


@dataclass(frozen=True, slots=True)
class AuthenticateRequest:
    """One GSS-API step; an empty token asks for the server's service name."""

    list_id: int
    token: bytes


@dataclass(frozen=True, slots=True)
class EnableSettingsRequest:
    """Enables settings on the list with a MIC over ``message``."""

    list_id: int
    mic: bytes
    message: bytes


@dataclass(frozen=True, slots=True)
class RemoveFromListRequest:
    """Removes one entry."""

    list_id: int
    ref_id: int


@dataclass(frozen=True, slots=True)
class StartListRequest:
    """(Re)starts acquisition for all entries."""

    list_id: int
    model: str | None = None


@dataclass(frozen=True, slots=True)
class ClearListRequest:
    """Removes all entries."""

    list_id: int


@dataclass(frozen=True, slots=True)
class StopListRequest:
    """Stops acquisition; entries stay."""

    list_id: int


@dataclass(frozen=True, slots=True)
class ApplySettingsRequest:
    """Settings to apply; each array is None when absent."""

    user_name: str
    list_id: int
    raw_array: list[RawSetting] | None = None
    scaled_array: list[ScaledSetting] | None = None
    text_array: list[TextSetting] | None = None


# --------------------------------------------------------------------------------------------
# Replies (server -> client)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceDiscoveryReply:
    """A DPM announcing itself."""

    load: int
    service_location: str


@dataclass(frozen=True, slots=True)
class OpenListReply:
    """The list bound to this connection (the first frame on TCP)."""

    list_id: int


@dataclass(frozen=True, slots=True)
class AddToListReply:
    """Whether an entry was accepted."""

    list_id: int
    ref_id: int
    status: int


@dataclass(frozen=True, slots=True)
class RemoveFromListReply:
    """Whether an entry was removed."""

    list_id: int
    ref_id: int
    status: int


@dataclass(frozen=True, slots=True)
class StartListReply:
    """Answer to StartList."""

    list_id: int
    status: int


@dataclass(frozen=True, slots=True)
class ListStatusReply:
    """Heartbeat (about every 2 s)."""

    list_id: int
    status: int


@dataclass(frozen=True, slots=True)
class StatusReply:
    """Per-entry status without data; ``ref_id`` 0 is list/job level."""

    ref_id: int
    timestamp: int
    cycle: int
    status: int


@dataclass(frozen=True, slots=True)
class DeviceInfoReply:
    """Entry metadata."""

    ref_id: int
    di: int
    name: str
    description: str
    units: str | None = None
    format_hint: int | None = None


@dataclass(frozen=True, slots=True)
class ScalarReply:
    """One scaled value."""

    ref_id: int
    timestamp: int
    cycle: int
    status: int
    data: float


@dataclass(frozen=True, slots=True)
class ScalarArrayReply:
    """Scaled array (or one logged record of an array device, timestamp in µs)."""

    ref_id: int
    timestamp: int
    cycle: int
    status: int
    data: list[float]


@dataclass(frozen=True, slots=True)
class RawReply:
    """Raw bytes."""

    ref_id: int
    timestamp: int
    cycle: int
    status: int
    data: bytes


@dataclass(frozen=True, slots=True)
class TextReply:
    """Text value."""

    ref_id: int
    timestamp: int
    cycle: int
    status: int
    data: str


@dataclass(frozen=True, slots=True)
class TextArrayReply:
    """Text array."""

    ref_id: int
    timestamp: int
    cycle: int
    status: int
    data: list[str]


@dataclass(frozen=True, slots=True)
class TimedScalarArrayReply:
    """Samples with their own timestamps (``micros``, µs since the epoch)."""

    ref_id: int
    timestamp: int
    cycle: int
    status: int
    data: list[float]
    micros: list[int]


@dataclass(frozen=True, slots=True)
class AnalogAlarmReply:
    """Analog alarm block."""

    ref_id: int
    timestamp: int
    cycle: int
    minimum: float
    maximum: float
    alarm_enable: bool
    alarm_status: bool
    abort: bool
    abort_inhibit: bool
    tries_needed: int
    tries_now: int


@dataclass(frozen=True, slots=True)
class DigitalAlarmReply:
    """Digital alarm block."""

    ref_id: int
    timestamp: int
    cycle: int
    nominal: int
    mask: int
    alarm_enable: bool
    alarm_status: bool
    abort: bool
    abort_inhibit: bool
    tries_needed: int
    tries_now: int


@dataclass(frozen=True, slots=True)
class BasicStatusReply:
    """Basic status bits; None where the device does not define the attribute."""

    ref_id: int
    timestamp: int
    cycle: int
    on: bool | None = None
    ready: bool | None = None
    remote: bool | None = None
    positive: bool | None = None
    ramp: bool | None = None


@dataclass(frozen=True, slots=True)
class ApplySettingsReply:
    """One result per setting."""

    status: list[SettingStatus]


@dataclass(frozen=True, slots=True)
class AuthenticateReply:
    """Service name (first step) and/or a GSS-API token; both absent when accepted."""

    service_name: str | None = None
    token: bytes | None = None


DpmRequest = Union[
    ServiceDiscoveryRequest,
    OpenListRequest,
    AddToListRequest,
    AuthenticateRequest,
    EnableSettingsRequest,
    RemoveFromListRequest,
    StartListRequest,
    ClearListRequest,
    StopListRequest,
    ApplySettingsRequest,
]
DpmReply = Union[
    ServiceDiscoveryReply,
    OpenListReply,
    AddToListReply,
    RemoveFromListReply,
    StartListReply,
    ListStatusReply,
    StatusReply,
    DeviceInfoReply,
    ScalarReply,
    ScalarArrayReply,
    RawReply,
    TextReply,
    TextArrayReply,
    AnalogAlarmReply,
    DigitalAlarmReply,
    BasicStatusReply,
    TimedScalarArrayReply,
    ApplySettingsReply,
    AuthenticateReply,
]
DpmMessage = Union[DpmRequest, DpmReply]

# --------------------------------------------------------------------------------------------
# Field ids (by wire name) and declarations
# --------------------------------------------------------------------------------------------

FIELD_IDS = {
    "abort": 18972,
    "abort_inhibit": -32398,
    "alarm_enable": -28896,
    "alarm_status": 24630,
    "cycle": 1856,
    "data": 32568,
    "description": -1748,
    "di": -32035,
    "drf_request": 25380,
    "format_hint": 32450,
    "list_id": -6112,
    "load": 7859,
    "location": -25120,
    "mask": 4587,
    "maximum": -7544,
    "message": 12546,
    "MIC": 8141,
    "micros": 13357,
    "minimum": 9036,
    "model": 24163,
    "name": -27876,
    "nominal": 20253,
    "on": 23553,
    "positive": 10006,
    "ramp": -28104,
    "raw_array": 769,
    "ready": -21725,
    "ref_id": 7851,
    "remote": -7034,
    "scaled_array": 25550,
    "serviceLocation": 4527,
    "serviceName": 25400,
    "status": 17492,
    "text_array": -12657,
    "timestamp": -10917,
    "token": -29279,
    "tries_needed": 306,
    "tries_now": 11070,
    "units": 15867,
    "user_name": 22088,
}
"""Field id of every DPM field, keyed by its name on the wire (spec §4.2)."""


def _field(
    wire_name: str, item_type: ItemType, *, optional: bool = False, attribute: str | None = None
) -> Field:
    return Field(attribute or wire_name, FIELD_IDS[wire_name], item_type, optional)


def _optional(wire_name: str, item_type: ItemType, *, attribute: str | None = None) -> Field:
    return _field(wire_name, item_type, optional=True, attribute=attribute)


_REF_ID = _field("ref_id", INT64)
_LIST_ID = _field("list_id", INT32)
_STATUS = _field("status", INT16)
_SAMPLE_HEAD = (_REF_ID, _field("timestamp", INT64), _field("cycle", INT64))
_DATA_HEAD = (*_SAMPLE_HEAD, _STATUS)
_ALARM_TAIL = (
    _field("alarm_enable", BOOL),
    _field("alarm_status", BOOL),
    _field("abort", BOOL),
    _field("abort_inhibit", BOOL),
    _field("tries_needed", INT32),
    _field("tries_now", INT32),
)

_RAW_SETTING = StructCodec(RawSetting, (_REF_ID, _field("data", BINARY)))
_SCALED_SETTING = StructCodec(ScaledSetting, (_REF_ID, _field("data", array_of(DOUBLE))))
_TEXT_SETTING = StructCodec(TextSetting, (_REF_ID, _field("data", array_of(STRING))))
_SETTING_STATUS = StructCodec(SettingStatus, (_REF_ID, _STATUS))

# --------------------------------------------------------------------------------------------
# Fast paths for data replies
# --------------------------------------------------------------------------------------------

_REF_ID_BYTES = encode_int(FIELD_IDS["ref_id"])
_TIMESTAMP_BYTES = encode_int(FIELD_IDS["timestamp"])
_CYCLE_BYTES = encode_int(FIELD_IDS["cycle"])
_STATUS_BYTES = encode_int(FIELD_IDS["status"])
_DATA_BYTES = encode_int(FIELD_IDS["data"])
# struct formats for an n-byte big-endian integer; the "s" ones go through int.from_bytes.
_INT_FORMATS = {1: "b", 2: "h", 3: "3s", 4: "i", 5: "5s", 6: "6s", 7: "7s", 8: "q"}


class _NotCanonical(Exception):
    """The bytes do not have the usual layout; the generic decoder must handle them."""


class _HeadLayout:
    """One Struct that reads a canonical data-reply head for one combination of integer sizes.

    The Struct alternates fixed bytes (count header, field ids) and values, skipping the
    integer tags, which the combination itself stands for.
    """

    __slots__ = ("fixed", "size", "unpack_from", "wide")

    def __init__(self, count: bytes, sizes: tuple[int, ...], tail_id: bytes, tail_format: str) -> None:
        formats = [">"]
        fixed = []
        for id_bytes, size in zip(
            (count + _REF_ID_BYTES, _TIMESTAMP_BYTES, _CYCLE_BYTES, _STATUS_BYTES), sizes, strict=True
        ):
            formats += (f"{len(id_bytes)}s", "x", _INT_FORMATS[size])
            fixed.append(id_bytes)
        if tail_id:
            formats += (f"{len(tail_id)}s", tail_format)
            fixed.append(tail_id)
        layout = struct.Struct("".join(formats))
        self.unpack_from = layout.unpack_from
        self.size = layout.size
        self.fixed = tuple(fixed)
        self.wide = tuple(i for i, size in enumerate(sizes) if _INT_FORMATS[size].endswith("s"))


class _DataHead:
    """Reads ref_id, timestamp, cycle, status (and optionally one fixed-size tail field) when
    they come in declaration order with an int16-sized status; raises _NotCanonical otherwise.
    """

    __slots__ = ("_count", "_layouts", "_ref_tag_offset", "_tail_format", "_tail_id")

    def __init__(self, field_count: int, tail_id: bytes = b"", tail_format: str = "") -> None:
        self._count = encode_count(2 * field_count)
        self._ref_tag_offset = len(self._count) + len(_REF_ID_BYTES)
        self._tail_id = tail_id
        self._tail_format = tail_format
        self._layouts: dict[tuple[int, int, int, int], _HeadLayout] = {}

    def read(self, buf: bytes, pos: int) -> tuple[list[Any], int]:
        """The head's values and the position after them."""
        # Each tag is followed by its value bytes, the next 3-byte field id, then the next tag.
        tag_pos = pos + self._ref_tag_offset
        ref_tag = buf[tag_pos]
        tag_pos += (ref_tag & 15) + 4
        timestamp_tag = buf[tag_pos]
        tag_pos += (timestamp_tag & 15) + 4
        cycle_tag = buf[tag_pos]
        tags = (ref_tag, timestamp_tag, cycle_tag, buf[tag_pos + (cycle_tag & 15) + 4])
        layout = self._layouts.get(tags) or self._add_layout(tags)
        fields = layout.unpack_from(buf, pos)
        if fields[0::2] != layout.fixed:
            raise _NotCanonical
        values = list(fields[1::2])
        for index in layout.wide:
            values[index] = int.from_bytes(values[index], "big", signed=True)
        return values, pos + layout.size

    def _add_layout(self, tags: tuple[int, int, int, int]) -> _HeadLayout:
        if not (all(0x11 <= tag <= 0x18 for tag in tags) and tags[3] <= 0x12):
            raise _NotCanonical
        layout = _HeadLayout(self._count, tuple(tag & 15 for tag in tags), self._tail_id, self._tail_format)
        self._layouts[tags] = layout
        return layout


class _DataReplyCodec(StructCodec):
    """Replies that start with ref_id, timestamp, cycle and status, then required tail fields."""

    def __init__(self, cls: type, tail: tuple[Field, ...]) -> None:
        super().__init__(cls, (*_DATA_HEAD, *tail))
        self._head = _DataHead(len(self.fields))
        self._tail = tuple((encode_int(field.field_id), field.type.decode) for field in tail)

    def decode(self, buf: bytes, pos: int) -> tuple[Any, int]:
        try:
            values, end = self._head.read(buf, pos)
            for id_bytes, decode_value in self._tail:
                if not buf.startswith(id_bytes, end):
                    raise _NotCanonical
                value, end = decode_value(buf, end + len(id_bytes))
                values.append(value)
        except (_NotCanonical, IndexError, struct.error):
            pass
        else:
            return self.cls(*values), end
        return super().decode(buf, pos)


class _ScalarCodec(StructCodec):
    """Scalar replies: the hot path of every stream, specialised both ways."""

    def __init__(self) -> None:
        super().__init__(ScalarReply, (*_DATA_HEAD, _field("data", DOUBLE)))
        self._head = _DataHead(5, _DATA_BYTES + bytes((DOUBLE_TAG,)), "d")
        self._start = encode_count(10) + _REF_ID_BYTES

    def encode(self, obj: ScalarReply) -> bytes:
        status = obj.status
        if not -32768 <= status <= 32767:
            raise ValueError(f"{status} is outside the int16 range")
        return b"".join(
            (
                self._start,
                encode_int(obj.ref_id),
                _TIMESTAMP_BYTES,
                encode_int(obj.timestamp),
                _CYCLE_BYTES,
                encode_int(obj.cycle),
                _STATUS_BYTES,
                encode_int(status),
                _DATA_BYTES,
                encode_double(obj.data),
            )
        )

    def decode(self, buf: bytes, pos: int) -> tuple[Any, int]:
        try:
            values, end = self._head.read(buf, pos)
        except (_NotCanonical, IndexError, struct.error):
            pass
        else:
            return ScalarReply(*values), end
        return super().decode(buf, pos)


# --------------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------------

_REQUESTS = {
    -8230: StructCodec(ServiceDiscoveryRequest, ()),
    2076: StructCodec(OpenListRequest, (_optional("location", STRING),)),
    97: StructCodec(AddToListRequest, (_LIST_ID, _REF_ID, _field("drf_request", STRING))),
    -15277: StructCodec(AuthenticateRequest, (_LIST_ID, _field("token", BINARY))),
    21346: StructCodec(
        EnableSettingsRequest,
        (_LIST_ID, _field("MIC", BINARY, attribute="mic"), _field("message", BINARY)),
    ),
    -3807: StructCodec(RemoveFromListRequest, (_LIST_ID, _REF_ID)),
    -8779: StructCodec(StartListRequest, (_LIST_ID, _optional("model", STRING))),
    -15607: StructCodec(ClearListRequest, (_LIST_ID,)),
    21417: StructCodec(StopListRequest, (_LIST_ID,)),
    -14728: StructCodec(
        ApplySettingsRequest,
        (
            _field("user_name", STRING),
            _LIST_ID,
            _optional("raw_array", array_of(StructType(_RAW_SETTING))),
            _optional("scaled_array", array_of(StructType(_SCALED_SETTING))),
            _optional("text_array", array_of(StructType(_TEXT_SETTING))),
        ),
    ),
}

_REPLIES = {
    -12930: StructCodec(
        ServiceDiscoveryReply,
        (_field("load", INT16), _field("serviceLocation", STRING, attribute="service_location")),
    ),
    13470: StructCodec(OpenListReply, (_LIST_ID,)),
    -29780: StructCodec(AddToListReply, (_LIST_ID, _REF_ID, _STATUS)),
    -3046: StructCodec(RemoveFromListReply, (_LIST_ID, _REF_ID, _STATUS)),
    -27136: StructCodec(StartListReply, (_LIST_ID, _STATUS)),
    29552: StructCodec(ListStatusReply, (_LIST_ID, _STATUS)),
    -10579: _DataReplyCodec(StatusReply, ()),
    28653: StructCodec(
        DeviceInfoReply,
        (
            _REF_ID,
            _field("di", INT32),
            _field("name", STRING),
            _field("description", STRING),
            _optional("units", STRING),
            _optional("format_hint", INT16),
        ),
    ),
    -10581: _ScalarCodec(),
    23036: _DataReplyCodec(ScalarArrayReply, (_field("data", array_of(DOUBLE)),)),
    -12450: _DataReplyCodec(RawReply, (_field("data", BINARY),)),
    -28878: _DataReplyCodec(TextReply, (_field("data", STRING),)),
    12923: _DataReplyCodec(TextArrayReply, (_field("data", array_of(STRING)),)),
    30088: StructCodec(
        AnalogAlarmReply,
        (*_SAMPLE_HEAD, _field("minimum", DOUBLE), _field("maximum", DOUBLE), *_ALARM_TAIL),
    ),
    -14437: StructCodec(
        DigitalAlarmReply,
        (*_SAMPLE_HEAD, _field("nominal", INT32), _field("mask", INT32), *_ALARM_TAIL),
    ),
    -3335: StructCodec(
        BasicStatusReply,
        (*_SAMPLE_HEAD, *(_optional(name, BOOL) for name in ("on", "ready", "remote", "positive", "ramp"))),
    ),
    31282: _DataReplyCodec(
        TimedScalarArrayReply, (_field("data", array_of(DOUBLE)), _field("micros", array_of(INT64)))
    ),
    17344: StructCodec(ApplySettingsReply, (_field("status", array_of(StructType(_SETTING_STATUS))),)),
    7286: StructCodec(
        AuthenticateReply,
        (_optional("serviceName", STRING, attribute="service_name"), _optional("token", BINARY)),
    ),
}

DPM = PcProtocol("DPM", PROTOCOL_ID, _REQUESTS, _REPLIES)


# The usual Scalar reply (ref_id, timestamp, cycle, status, data in that order), as byte pieces for
# the specialised encoder of the simulator and the fast decoder of the client.
SCALAR_PREFIX = (
    DPM.header + encode_int(DPM.type_code(ScalarReply)) + encode_count(10) + encode_int(FIELD_IDS["ref_id"])
)
"""Envelope, type code, field count and the ``ref_id`` field id: what precedes the ref_id value."""
TIMESTAMP_FIELD = encode_int(FIELD_IDS["timestamp"])
CYCLE_FIELD = encode_int(FIELD_IDS["cycle"])
STATUS_FIELD = encode_int(FIELD_IDS["status"])
DATA_FIELD = encode_int(FIELD_IDS["data"])
"""The DPM protocol: envelope and both catalogues."""


def encode_message(message: DpmMessage) -> bytes:
    """The PC encoding of a request or reply (envelope included, no length prefix)."""
    return DPM.encode(message)


def decode_message(data: bytes | bytearray | memoryview) -> DpmMessage:
    """Decode a request or a reply (their type codes are disjoint)."""
    return DPM.decode(data)


def decode_request(data: bytes | bytearray | memoryview) -> DpmRequest:
    """Decode a message a client sent (server side)."""
    return DPM.decode(data, "request")


def decode_reply(data: bytes | bytearray | memoryview) -> DpmReply:
    """Decode a message a server sent (client side)."""
    return DPM.decode(data, "reply")


# --------------------------------------------------------------------------------------------
# Framing and handshake
# --------------------------------------------------------------------------------------------


def encode_frame(message: DpmMessage) -> bytes:
    """One frame: the 4-byte big-endian body length, then the encoded message."""
    body = DPM.encode(message)
    return _LENGTH.pack(len(body)) + body


def is_http_answer(first_bytes: bytes) -> bool:
    """True when the first four bytes received are ``HTTP``: the proxy refused the handshake."""
    return first_bytes[:4] == b"HTTP"


def http_status_line(answer: bytes) -> str:
    """The status line of an HTTP refusal (what precedes the first CR LF, at most 4096 bytes)."""
    return answer[:HTTP_ANSWER_LIMIT].split(b"\r\n", 1)[0].decode("latin-1").strip()


class BadFrameError(ProtocolError):
    """A frame's body did not decode; the stream itself is intact and decoding can go on.

    ``messages`` holds the messages decoded from the same :meth:`FrameDecoder.feed` call
    before the bad frame.
    """

    def __init__(self, message: str, *, offset: int, messages: list[DpmMessage]) -> None:
        super().__init__(message, offset=offset)
        self.messages = messages


class FrameDecoder:
    """Splits a byte stream into frames and decodes them.

    Frames may be split across or packed into chunks arbitrarily. A length of 0 or above
    ``max_length`` is fatal (the stream position is lost): that and every later call raise
    ProtocolError. A body that fails to decode raises :class:`BadFrameError` after skipping
    the frame; frames after it are decoded by the next call (``feed(b"")`` will do). Offsets
    in errors count bytes from the start of the stream.
    """

    __slots__ = ("_decode", "_failure", "_max_length", "_needed", "_pending", "_stream_offset")

    def __init__(
        self,
        *,
        max_length: int = MAX_FRAME_LENGTH,
        decode: Callable[[bytes], DpmMessage] = decode_message,
    ) -> None:
        self._decode = decode
        self._max_length = max_length
        self._pending = bytearray()
        self._needed = 4
        self._stream_offset = 0
        self._failure: tuple[str, int] | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame (0 at a frame boundary)."""
        return len(self._pending)

    def feed(self, data: bytes | bytearray | memoryview) -> list[DpmMessage]:
        """Messages of every frame completed by ``data``, in order."""
        if self._failure is not None:
            message, offset = self._failure
            raise ProtocolError(message, offset=offset)
        if self._pending:
            self._pending += data
            if len(self._pending) < self._needed:
                return []
            buf = bytes(self._pending)
            self._pending.clear()
        else:
            buf = data if type(data) is bytes else bytes(data)
        messages: list[DpmMessage] = []
        decode = self._decode
        size = len(buf)
        pos = 0
        needed = 4
        while size - pos >= 4:
            length = _LENGTH.unpack_from(buf, pos)[0]
            if not 0 < length <= self._max_length:
                self._failure = (
                    f"frame length {length} outside 1..{self._max_length}",
                    self._stream_offset + pos,
                )
                raise ProtocolError(self._failure[0], offset=self._failure[1])
            end = pos + 4 + length
            if end > size:
                needed = 4 + length
                break
            try:
                messages.append(decode(buf[pos + 4 : end]))
            except ProtocolError as exc:
                offset = self._stream_offset + pos + 4 + (exc.offset or 0)
                self._keep(buf, end, 4)
                raise BadFrameError(f"bad frame body: {exc}", offset=offset, messages=messages) from exc
            pos = end
        self._keep(buf, pos, needed)
        return messages

    def _keep(self, buf: bytes, pos: int, needed: int) -> None:
        """Buffer the incomplete rest of ``buf`` from ``pos`` on."""
        self._stream_offset += pos
        self._pending += memoryview(buf)[pos:]
        self._needed = needed
