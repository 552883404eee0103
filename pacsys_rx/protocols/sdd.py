"""DMQ's SDD bodies: the DAQData message catalogue on the shared PC item layer (dmq.md §5-6).

Sans-I/O. One AMQP body is exactly one message (no length prefix). Requests (INIT bodies and
the unused list-management messages) and replies (every ``*Sample``, ``ErrorSample``) are
separate type-code families, so decoding names the family: :func:`decode_request` for INIT
bodies, :func:`decode_reply` for everything the server sends and for ``S.<drf>`` setting values.

Requests are frozen dataclasses with positional fields; replies are keyword-only frozen
dataclasses sharing the timing tail (``time``, ``return_time``, ``cycle_time``, ``ref_id``).
Optional fields are ``None`` when absent. Wire names map to snake case (``dataRequest`` ->
``data_request``, ``facilityCode`` -> ``facility_code``, ``errorNumber`` -> ``error_number``).
The struct values of status and alarm samples are the model's :class:`BasicStatus`,
:class:`AnalogAlarm` and :class:`DigitalAlarm`. Malformed input raises ``ProtocolError``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Union, cast

from pacsys_rx.model import AnalogAlarm, BasicStatus, DigitalAlarm
from pacsys_rx.protocols.pcitems import (
    BINARY,
    BOOL,
    DOUBLE,
    INT16,
    INT32,
    INT64,
    STRING,
    EnumType,
    Field,
    ItemType,
    LayoutCodec,
    PcProtocol,
    StructCodec,
    StructType,
    array_of,
)

__all__ = [
    "DAQDATA",
    "PROTOCOL_ID",
    "AddToListRequest",
    "AnalogAlarmArraySample",
    "AnalogAlarmSample",
    "BasicControl",
    "BasicControlSample",
    "BasicStatusArraySample",
    "BasicStatusSample",
    "BinarySample",
    "BooleanArraySample",
    "BooleanSample",
    "ClearListRequest",
    "DataSample",
    "DigitalAlarmArraySample",
    "DigitalAlarmSample",
    "DoubleArraySample",
    "DoubleSample",
    "ErrorSample",
    "IntegerArraySample",
    "IntegerSample",
    "LongArraySample",
    "LongSample",
    "OpenListReply",
    "OpenListRequest",
    "ProcListRequest",
    "ReadingRequest",
    "RemoveFromListRequest",
    "Reply",
    "Request",
    "ServiceDiscoveryReply",
    "ServiceDiscoveryRequest",
    "SettingRequest",
    "ShortArraySample",
    "ShortSample",
    "StringArraySample",
    "StringSample",
    "decode_reply",
    "decode_request",
    "encode_message",
]

PROTOCOL_ID = -289864039
"""DAQData's protocol id (0xEEB90699)."""


class BasicControl(enum.IntEnum):
    """Basic-control commands; the value is the wire value, the declaration order the ACNET command number."""

    RESET = 26767
    ON = 13987
    OFF = 1495
    POSITIVE = 10612
    NEGATIVE = 13679
    RAMP = -15441
    DC = -6841

    @property
    def command(self) -> int:
        """The ACNET basic-control command number (RESET 0 ... DC 6)."""
        return _CONTROL_ORDER.index(self)

    @classmethod
    def from_command(cls, command: int) -> BasicControl:
        """The member for ACNET command number 0..6 (LOCAL, REMOTE and TRIP have none)."""
        if not 0 <= command < len(_CONTROL_ORDER):
            raise ValueError(f"basic-control command {command} has no DAQData enum value")
        return _CONTROL_ORDER[command]


_CONTROL_ORDER: tuple[BasicControl, ...] = tuple(BasicControl)

# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceDiscoveryRequest:
    """DPM load-balancing discovery (not used by DMQ flows)."""


@dataclass(frozen=True)
class OpenListRequest:
    """DPM list opening (not used by DMQ flows)."""


@dataclass(frozen=True)
class AddToListRequest:
    """DPM list entry (not used by DMQ flows)."""

    list_id: int
    ref_id: int
    drf_request: str


@dataclass(frozen=True)
class RemoveFromListRequest:
    """DPM list entry removal (not used by DMQ flows)."""

    list_id: int
    ref_id: int


@dataclass(frozen=True)
class ClearListRequest:
    """DPM list clearing (not used by DMQ flows)."""

    list_id: int


@dataclass(frozen=True)
class ProcListRequest:
    """DPM list processing (not used by DMQ flows)."""

    list_id: int


@dataclass(frozen=True)
class ReadingRequest:
    """INIT of a read or subscription job; ``ref_id`` n of a reply names ``data_request[n - 1]``."""

    data_request: list[str]


@dataclass(frozen=True)
class SettingRequest:
    """INIT of a write session (one init DRF)."""

    data_request: list[str]


# --------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceDiscoveryReply:
    """DPM load figure (not used by DMQ flows)."""

    load: int


@dataclass(frozen=True)
class OpenListReply:
    """DPM list handle (not used by DMQ flows)."""

    list_id: int


@dataclass(frozen=True, kw_only=True)
class _Timed:
    """The timing tail every sample carries (epoch milliseconds) and the 1-based request index."""

    time: int
    return_time: int | None = None
    cycle_time: int | None = None
    ref_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class DataSample(_Timed):
    """Base of the samples that carry a value."""


@dataclass(frozen=True, kw_only=True)
class _Numeric(DataSample):
    unit: str | None = None
    format_hint: int | None = None


@dataclass(frozen=True, kw_only=True)
class BinarySample(DataSample):
    value: bytes


@dataclass(frozen=True, kw_only=True)
class BooleanSample(DataSample):
    value: bool


@dataclass(frozen=True, kw_only=True)
class BooleanArraySample(DataSample):
    value: list[bool]


@dataclass(frozen=True, kw_only=True)
class ShortSample(_Numeric):
    value: int


@dataclass(frozen=True, kw_only=True)
class ShortArraySample(_Numeric):
    value: list[int]


@dataclass(frozen=True, kw_only=True)
class IntegerSample(_Numeric):
    value: int


@dataclass(frozen=True, kw_only=True)
class IntegerArraySample(_Numeric):
    value: list[int]


@dataclass(frozen=True, kw_only=True)
class LongSample(_Numeric):
    value: int


@dataclass(frozen=True, kw_only=True)
class LongArraySample(_Numeric):
    value: list[int]


@dataclass(frozen=True, kw_only=True)
class DoubleSample(_Numeric):
    value: float


@dataclass(frozen=True, kw_only=True)
class DoubleArraySample(_Numeric):
    value: list[float]


@dataclass(frozen=True, kw_only=True)
class StringSample(DataSample):
    value: str


@dataclass(frozen=True, kw_only=True)
class StringArraySample(DataSample):
    value: list[str]


@dataclass(frozen=True, kw_only=True)
class BasicStatusSample(DataSample):
    value: BasicStatus


@dataclass(frozen=True, kw_only=True)
class BasicStatusArraySample(DataSample):
    value: list[BasicStatus]


@dataclass(frozen=True, kw_only=True)
class AnalogAlarmSample(DataSample):
    value: AnalogAlarm


@dataclass(frozen=True, kw_only=True)
class AnalogAlarmArraySample(DataSample):
    value: list[AnalogAlarm]


@dataclass(frozen=True, kw_only=True)
class DigitalAlarmSample(DataSample):
    value: DigitalAlarm


@dataclass(frozen=True, kw_only=True)
class DigitalAlarmArraySample(DataSample):
    value: list[DigitalAlarm]


@dataclass(frozen=True, kw_only=True)
class BasicControlSample(DataSample):
    value: BasicControl


@dataclass(frozen=True, kw_only=True)
class ErrorSample(_Timed):
    """An ACNET status instead of data: job status (PENDING, refusals) or a per-device error."""

    facility_code: int
    error_number: int
    message: str | None = None


Request = Union[
    ServiceDiscoveryRequest, OpenListRequest, AddToListRequest, RemoveFromListRequest, ClearListRequest,
    ProcListRequest, ReadingRequest, SettingRequest,
]
Reply = Union[
    ServiceDiscoveryReply, OpenListReply, BinarySample, BooleanSample, BooleanArraySample, ShortSample,
    ShortArraySample, IntegerSample, IntegerArraySample, LongSample, LongArraySample, DoubleSample,
    DoubleArraySample, StringSample, StringArraySample, BasicStatusSample, BasicStatusArraySample,
    AnalogAlarmSample, AnalogAlarmArraySample, DigitalAlarmSample, DigitalAlarmArraySample,
    BasicControlSample, ErrorSample,
]

# --------------------------------------------------------------------------------------------
# Declarations (field ids: dmq.md §6.2; declaration order = emission order)
# --------------------------------------------------------------------------------------------

FIELD_IDS = {
    "list_id": -6112, "ref_id": 7851, "drf_request": 25380, "dataRequest": 25212, "load": 7859,
    "value": -16032, "time": 26955, "return_time": 21190, "cycle_time": 4487, "unit": -16917,
    "format_hint": 32450, "facilityCode": -22154, "errorNumber": 24367, "message": 12546,
    "on": 23553, "ready": -21725, "remote": -7034, "positive": 10006, "ramp": -28104,
    "minimum": 9036, "maximum": -7544, "alarm_enable": -28896, "alarm_status": 24630, "abort": 18972,
    "abort_inhibit": -32398, "tries_needed": 306, "tries_now": 11070, "nominal": 20253, "mask": 4587,
}
"""Wire id of every DAQData field, keyed by its wire name."""

_ATTRIBUTES = {"dataRequest": "data_request", "facilityCode": "facility_code", "errorNumber": "error_number"}


def _field(wire_name: str, item_type: ItemType, optional: bool = False) -> Field:
    return Field(_ATTRIBUTES.get(wire_name, wire_name), FIELD_IDS[wire_name], item_type, optional)


_LIST_ID = _field("list_id", INT32)
_TIME = _field("time", INT64)
_TIMING = (_field("return_time", INT64, True), _field("cycle_time", INT64, True))
_REF_ID = _field("ref_id", INT16, True)
_PLAIN_TAIL = (_TIME, *_TIMING, _REF_ID)
_NUMERIC_TAIL = (_TIME, *_TIMING, _field("unit", STRING, True), _field("format_hint", INT16, True), _REF_ID)
_ALARM_FLAGS = (
    *(_field(name, BOOL) for name in ("alarm_enable", "alarm_status", "abort", "abort_inhibit")),
    _field("tries_needed", INT32),
    _field("tries_now", INT32),
)

_BASIC_STATUS = StructType(StructCodec(
    BasicStatus, [_field(name, BOOL, True) for name in ("on", "ready", "remote", "positive", "ramp")]))
_ANALOG_ALARM = StructType(StructCodec(
    AnalogAlarm, (_field("minimum", DOUBLE), _field("maximum", DOUBLE), *_ALARM_FLAGS)))
_DIGITAL_ALARM = StructType(StructCodec(
    DigitalAlarm, (_field("nominal", INT32), _field("mask", INT32), *_ALARM_FLAGS)))


def _sample(cls: type, value_type: ItemType, tail: tuple[Field, ...] = _PLAIN_TAIL) -> StructCodec:
    return StructCodec(cls, (_field("value", value_type), *tail))


def _stream_sample(cls: type, value_type: ItemType, tail: tuple[Field, ...] = _PLAIN_TAIL) -> StructCodec:
    """A sample type that streams carry by the thousand: decoded through its learned layouts."""
    return LayoutCodec(cls, (_field("value", value_type), *tail))


_REQUESTS = {
    -8230: StructCodec(ServiceDiscoveryRequest, ()),
    2076: StructCodec(OpenListRequest, ()),
    97: StructCodec(AddToListRequest, (_LIST_ID, _field("ref_id", INT32), _field("drf_request", STRING))),
    -3807: StructCodec(RemoveFromListRequest, (_LIST_ID, _field("ref_id", INT32))),
    -15607: StructCodec(ClearListRequest, (_LIST_ID,)),
    12593: StructCodec(ProcListRequest, (_LIST_ID,)),
    -22510: StructCodec(ReadingRequest, (_field("dataRequest", array_of(STRING)),)),
    20446: StructCodec(SettingRequest, (_field("dataRequest", array_of(STRING)),)),
}

_REPLIES = {
    -12930: StructCodec(ServiceDiscoveryReply, (_field("load", INT16),)),
    13470: StructCodec(OpenListReply, (_LIST_ID,)),
    -27130: _sample(BinarySample, BINARY),
    -12404: _stream_sample(BooleanSample, BOOL),
    9042: _sample(BooleanArraySample, array_of(BOOL)),
    29694: _stream_sample(ShortSample, INT16, _NUMERIC_TAIL),
    -13728: _sample(ShortArraySample, array_of(INT16), _NUMERIC_TAIL),
    32100: _stream_sample(IntegerSample, INT32, _NUMERIC_TAIL),
    27856: _sample(IntegerArraySample, array_of(INT32), _NUMERIC_TAIL),
    13506: _stream_sample(LongSample, INT64, _NUMERIC_TAIL),
    -8876: _sample(LongArraySample, array_of(INT64), _NUMERIC_TAIL),
    -32303: _stream_sample(DoubleSample, DOUBLE, _NUMERIC_TAIL),
    16395: _sample(DoubleArraySample, array_of(DOUBLE), _NUMERIC_TAIL),
    -29238: _sample(StringSample, STRING),
    -32478: _sample(StringArraySample, array_of(STRING)),
    -17277: _sample(BasicStatusSample, _BASIC_STATUS),
    13956: _sample(BasicStatusArraySample, array_of(_BASIC_STATUS)),
    9249: _sample(AnalogAlarmSample, _ANALOG_ALARM),
    6328: _sample(AnalogAlarmArraySample, array_of(_ANALOG_ALARM)),
    -13831: _sample(DigitalAlarmSample, _DIGITAL_ALARM),
    25840: _sample(DigitalAlarmArraySample, array_of(_DIGITAL_ALARM)),
    25157: _sample(BasicControlSample, EnumType(BasicControl)),
    1791: StructCodec(ErrorSample, (
        _field("facilityCode", INT32), _field("errorNumber", INT32), _TIME, *_TIMING,
        _field("message", STRING, True), _REF_ID,
    )),
}

DAQDATA = PcProtocol("DAQData", PROTOCOL_ID, _REQUESTS, _REPLIES)
"""The DAQData protocol: envelope and both catalogues."""


def encode_message(message: Request | Reply | DataSample) -> bytes:
    """The complete SDD body of a request or reply; ValueError/TypeError for unencodable values."""
    return DAQDATA.encode(message)


def decode_request(data: bytes | bytearray | memoryview) -> Request:
    """Decode an INIT body (request family)."""
    return cast(Request, DAQDATA.decode(data, "request"))


def decode_reply(data: bytes | bytearray | memoryview) -> Reply:
    """Decode a server message or a setting value (reply family)."""
    return cast(Reply, DAQDATA.decode(data, "reply"))
