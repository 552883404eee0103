"""Readings, write acknowledgements and the structured values they carry."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, ClassVar, Union

from pacsys_rx.model.status import OK, AcnetStatus


class ValueType(str, enum.Enum):
    """Shape of ``Reading.value``; the string values are the serialised names."""

    SCALAR = "scalar"
    SCALAR_ARRAY = "scalarArr"
    TIMED_SCALAR_ARRAY = "timedScalarArr"
    RAW = "raw"
    TEXT = "text"
    TEXT_ARRAY = "textArr"
    ANALOG_ALARM = "anaAlarm"
    DIGITAL_ALARM = "digAlarm"
    BASIC_STATUS = "basicStatus"


@dataclass(frozen=True, slots=True)
class AnalogAlarm:
    """An analog alarm block: limits, enable and abort flags, trip counters."""

    minimum: float
    maximum: float
    alarm_enable: bool
    alarm_status: bool
    abort: bool
    abort_inhibit: bool
    tries_needed: int
    tries_now: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DigitalAlarm:
    """A digital alarm block: nominal pattern and mask, enable and abort flags, trip counters."""

    nominal: int
    mask: int
    alarm_enable: bool
    alarm_status: bool
    abort: bool
    abort_inhibit: bool
    tries_needed: int
    tries_now: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BasicStatus:
    """Basic status bits; None where the device lacks the attribute."""

    on: bool | None = None
    ready: bool | None = None
    remote: bool | None = None
    positive: bool | None = None
    ramp: bool | None = None

    def to_dict(self) -> dict[str, bool]:
        """The legacy dict form: only the attributes the device has."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class DeviceMeta:
    """Device metadata sent along with data (DPM/HTTP DeviceInfo, or DevDB)."""

    device_index: int
    name: str
    description: str = ""
    units: str | None = None
    format_hint: int | None = None


@dataclass(frozen=True, slots=True)
class TimedArray:
    """Samples with their own times: ``data[i]`` was taken at ``micros[i]`` (Unix µs, 0 = unknown)."""

    data: tuple[float, ...]
    micros: tuple[int, ...]


Value = Union[
    float, bool, int, str, bytes, tuple[float, ...], tuple[str, ...],
    AnalogAlarm, DigitalAlarm, BasicStatus, TimedArray,
]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, slots=True, init=False)
class Reading:
    """One acquisition result for one request; error readings carry a status and no value.

    ``drf`` is the request as written for one-shot reads and the canonical DRF for shared streams.
    ``is_gap`` is True only for a :class:`GapReading` (a lost connection, not a device error).
    """

    is_gap: ClassVar[bool] = False
    """True when this reading marks a transport gap: the stream's connection was lost."""
    is_replayed: ClassVar[bool] = False
    """True when a shared stream handed this (earlier) reading to a subscriber that joined late."""

    drf: str
    device: str
    value: Value | None
    value_type: ValueType | None
    units: str | None
    timestamp: datetime
    cycle: int | None = None
    status: AcnetStatus = OK
    backend: str = ""
    meta: DeviceMeta | None = None
    message: str | None = None

    def __init__(
        self, drf: str, device: str, value: Value | None, value_type: ValueType | None, units: str | None,
        timestamp: datetime, cycle: int | None = None, status: AcnetStatus = OK, backend: str = "",
        meta: DeviceMeta | None = None, message: str | None = None,
    ) -> None:
        # Readings are built on every stream's hot path: setting the slots through their descriptors
        # costs half of the generated frozen __init__ (which goes through object.__setattr__).
        _set_drf(self, drf)
        _set_device(self, device)
        _set_value(self, value)
        _set_value_type(self, value_type)
        _set_units(self, units)
        _set_timestamp(self, timestamp)
        _set_cycle(self, cycle)
        _set_status(self, status)
        _set_backend(self, backend)
        _set_meta(self, meta)
        _set_message(self, message)

    @property
    def ok(self) -> bool:
        """True when the reading holds usable data (no error status and a value)."""
        return self.status.error >= 0 and self.value is not None

    @property
    def is_error(self) -> bool:
        return self.status.error < 0

    @property
    def is_warning(self) -> bool:
        return self.status.error > 0

    @classmethod
    def error(
        cls, drf: str, device: str, status: AcnetStatus, backend: str, message: str | None = None,
        timestamp: datetime | None = None,
    ) -> Reading:
        """A reading that carries only a status (and optionally the server's text)."""
        return cls(drf, device, None, None, None, timestamp or utc_now(), None, status, backend, None,
                   message or status.describe())


_GAP_PREFIX = "connection lost, resubscribing: "


class GapReading(Reading):
    """A transport gap: the stream's connection was lost and readings resume after the reconnect.

    A data-less error reading (status ``ACNET_DISCONNECTED``, ``is_error`` True) that says nothing
    about the device itself; alarm and health operators tell it from device errors by ``is_gap``.
    """

    __slots__ = ()
    is_gap: ClassVar[bool] = True

    @classmethod
    def of(cls, drf: str, device: str, backend: str, reason: str, *, units: str | None = None,
           meta: DeviceMeta | None = None, timestamp: datetime | None = None) -> GapReading:
        """The gap reading of one stream DRF; ``reason`` names the failure."""
        return cls(drf, device, None, None, units, timestamp or utc_now(), None, CONNECTION_LOST, backend,
                   meta, f"{_GAP_PREFIX}{reason}")

    @property
    def reason(self) -> str:
        """What failed (the message without its "connection lost" preamble)."""
        return (self.message or "").removeprefix(_GAP_PREFIX)


CONNECTION_LOST = AcnetStatus.named("ACNET_DISCONNECTED")
"""Status of every gap reading."""

(_set_drf, _set_device, _set_value, _set_value_type, _set_units, _set_timestamp, _set_cycle, _set_status,
 _set_backend, _set_meta, _set_message) = (getattr(Reading, name).__set__ for name in Reading.__slots__)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The acknowledgement of one setting; ``ok`` only when the status is exactly success.

    ``verified`` is None unless the setting was read back (``Verify``, ``ops.verify``): then True
    when the read-back value matched, and ``readback`` holds the value read back.
    """

    drf: str
    status: AcnetStatus = OK
    backend: str = ""
    message: str | None = None
    verified: bool | None = None
    readback: Value | None = None

    @property
    def ok(self) -> bool:
        return self.status.error == 0
