"""Conversions between DAQData samples and the data model, for the DMQ client (dmq.md §4.5.2, §6.6)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from pacsys_rx.drf import Property, parse_request
from pacsys_rx.model import OK, AcnetStatus, AnalogAlarm, DigitalAlarm, Reading, Value, ValueType
from pacsys_rx.model.reading import utc_now
from pacsys_rx.protocols import sdd

BACKEND = "dmq"
GENERIC_ERROR = AcnetStatus.named("ACNET_RETRY")
"""Status the client gives results it makes up itself (undecodable replies, a full session cache)."""
INT32_RANGE = range(-(2**31), 2**31)
LOCAL_REMOTE_TRIP = range(7, 10)
"""Basic-control commands without a DAQData enum value; they travel as a DoubleSample."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ANALOG_KEYS = frozenset({"minimum", "maximum"})
_DIGITAL_KEYS = frozenset({"nominal", "mask"})
_SHARED_WRITABLE = frozenset({"alarm_enable", "abort_inhibit", "tries_needed"})
_READ_ONLY_KEYS = frozenset({"alarm_status", "abort", "tries_now"})


_TIME_CACHE_SIZE = 4096
_times: dict[int, datetime] = {}
"""Datetimes of the sample times seen lately: the samples of one server tick share their time."""


def timestamp_of(milliseconds: int) -> datetime:
    """A sample's ``time`` as a UTC datetime; 0 (none) or an unrepresentable time gives the receive time."""
    moment = _times.get(milliseconds)
    if moment is not None:
        return moment
    if milliseconds:
        try:
            moment = _EPOCH + timedelta(milliseconds=milliseconds)
        except OverflowError:
            return utc_now()
        if len(_times) >= _TIME_CACHE_SIZE:
            _times.clear()
        _times[milliseconds] = moment
        return moment
    return utc_now()


def _scalar(value: Any) -> tuple[Value, ValueType]:
    return value, ValueType.SCALAR


def _array(values: list[Any]) -> tuple[Value, ValueType]:
    return tuple(values), ValueType.SCALAR_ARRAY


def _structs(values: list[Any], value_type: ValueType) -> tuple[Value, ValueType]:
    return cast(Value, tuple(values)), value_type


_VALUE_OF: dict[type, Callable[[Any], tuple[Value, ValueType]]] = {
    sdd.DoubleSample: _scalar,
    sdd.ShortSample: _scalar,
    sdd.IntegerSample: _scalar,
    sdd.LongSample: _scalar,
    sdd.BooleanSample: _scalar,
    sdd.DoubleArraySample: _array,
    sdd.ShortArraySample: _array,
    sdd.IntegerArraySample: _array,
    sdd.LongArraySample: _array,
    sdd.BooleanArraySample: _array,
    sdd.BinarySample: lambda value: (value, ValueType.RAW),
    sdd.StringSample: lambda value: (value, ValueType.TEXT),
    sdd.StringArraySample: lambda value: (tuple(value), ValueType.TEXT_ARRAY),
    sdd.BasicStatusSample: lambda value: (value, ValueType.BASIC_STATUS),
    sdd.AnalogAlarmSample: lambda value: (value, ValueType.ANALOG_ALARM),
    sdd.DigitalAlarmSample: lambda value: (value, ValueType.DIGITAL_ALARM),
    sdd.BasicStatusArraySample: lambda value: _structs(value, ValueType.BASIC_STATUS),
    sdd.AnalogAlarmArraySample: lambda value: _structs(value, ValueType.ANALOG_ALARM),
    sdd.DigitalAlarmArraySample: lambda value: _structs(value, ValueType.DIGITAL_ALARM),
    sdd.BasicControlSample: lambda value: (value.command, ValueType.SCALAR),
}


def status_of(sample: sdd.ErrorSample) -> AcnetStatus:
    return AcnetStatus.from_wire(sample.facility_code, sample.error_number)


def reading_of(drf: str, device: str, reply: sdd.Reply) -> Reading | None:
    """The Reading a reply carries for ``drf``; None for messages that are not samples."""
    if isinstance(reply, sdd.ErrorSample):
        return Reading.error(drf, device, status_of(reply), BACKEND, reply.message, timestamp_of(reply.time))
    convert = _VALUE_OF.get(type(reply))
    if convert is None:
        return None
    sample = cast(Any, reply)
    value, value_type = convert(sample.value)
    return Reading(drf, device, value, value_type, getattr(sample, "unit", None), timestamp_of(sample.time),
                   sample.cycle_time, OK, BACKEND)


def client_error(drf: str, status: AcnetStatus, message: str) -> Reading:
    """A reading the client makes up (an undecodable reply)."""
    return Reading.error(drf, parse_request(drf).device, status, BACKEND, message)


# ------------------------------------------------------------------------------ settings


def setting_sample(drf: str, value: Any) -> sdd.DataSample:
    """The sample sent on ``S.<drf>`` for ``value`` (``time`` 0; the sender stamps it).

    Raises TypeError/ValueError for values DMQ cannot set (bytes, status dicts, ints beyond int32...).
    """
    prop = parse_request(drf).property
    if prop is Property.CONTROL and isinstance(value, int) and not isinstance(value, bool):
        if value in LOCAL_REMOTE_TRIP:
            return sdd.DoubleSample(value=float(value), time=0, ref_id=1)
        return sdd.BasicControlSample(value=sdd.BasicControl.from_command(value), time=0, ref_id=1)
    if isinstance(value, bool):
        return sdd.IntegerSample(value=int(value), time=0, ref_id=1)
    if isinstance(value, int):
        if value not in INT32_RANGE:
            raise ValueError(f"{value} does not fit the 32-bit integer a DMQ setting carries")
        return sdd.IntegerSample(value=value, time=0, ref_id=1)
    if isinstance(value, float):
        return sdd.DoubleSample(value=value, time=0, ref_id=1)
    if isinstance(value, str):
        return sdd.StringSample(value=value, time=0, ref_id=1)
    if isinstance(value, AnalogAlarm):
        return sdd.AnalogAlarmSample(value=value, time=0, ref_id=1)
    if isinstance(value, DigitalAlarm):
        return sdd.DigitalAlarmSample(value=value, time=0, ref_id=1)
    if isinstance(value, Mapping):
        return _alarm_sample(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError("DMQ refuses raw byte settings; write an integer to a .SETTING.RAW request instead")
    if isinstance(value, Sequence):
        return _array_sample(value)
    raise TypeError(f"DMQ cannot set a value of type {type(value).__name__}")


def _array_sample(values: Sequence[Any]) -> sdd.DataSample:
    if values and all(isinstance(item, str) for item in values):
        return sdd.StringArraySample(value=list(values), time=0, ref_id=1)
    if not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in values):
        raise TypeError("a DMQ array setting must hold only numbers or only strings")
    return sdd.DoubleArraySample(value=[float(item) for item in values], time=0, ref_id=1)


def _alarm_sample(fields: Mapping[str, Any]) -> sdd.DataSample:
    """An alarm dict (data-model §2.1/2.2) as a full alarm block; unspecified fields are 0 / false."""
    keys = set(fields)
    if keys & _READ_ONLY_KEYS:
        raise ValueError(f"read-only alarm keys: {', '.join(sorted(keys & _READ_ONLY_KEYS))}")
    analog, digital = bool(keys & _ANALOG_KEYS), bool(keys & _DIGITAL_KEYS)
    if analog == digital:
        raise ValueError("an alarm dict needs minimum/maximum (analog) or nominal/mask (digital), not both")
    unknown = keys - (_ANALOG_KEYS if analog else _DIGITAL_KEYS) - _SHARED_WRITABLE
    if unknown:
        raise ValueError(f"unknown alarm keys: {', '.join(sorted(unknown))}")
    enable, inhibit = bool(fields.get("alarm_enable", False)), bool(fields.get("abort_inhibit", False))
    tries = int(fields.get("tries_needed", 0))
    if analog:
        minimum, maximum = float(fields.get("minimum", 0.0)), float(fields.get("maximum", 0.0))
        if math.isnan(minimum) or math.isnan(maximum):
            raise ValueError("alarm limits must be numbers")
        alarm = AnalogAlarm(minimum, maximum, enable, False, False, inhibit, tries, 0)
        return sdd.AnalogAlarmSample(value=alarm, time=0, ref_id=1)
    block = DigitalAlarm(int(fields.get("nominal", 0)), int(fields.get("mask", 0)), enable, False, False,
                         inhibit, tries, 0)
    return sdd.DigitalAlarmSample(value=block, time=0, ref_id=1)
