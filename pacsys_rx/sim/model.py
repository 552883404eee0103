"""The simulated device model: answers parsed DRF requests with :class:`Sample` objects and applies settings.

Time is always epoch milliseconds (``float``). Reading values are pure functions of (seed, device, time)
except where a setting is involved (``follow_setting`` readings, SETTING, status bits, alarm limits):
those depend on the settings applied so far, never on who asked first.

Not thread-safe: the simulator calls it from its event-loop thread only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from pacsys_rx.drf import ArrayRange, ByteRange, DataRequest, Field, NeverEvent, PeriodicEvent, Property
from pacsys_rx.model import (
    OK,
    AcnetStatus,
    AnalogAlarm,
    BasicStatus,
    DeviceMeta,
    DigitalAlarm,
    TimedArray,
    Value,
    ValueType,
)
from pacsys_rx.protocols.raw_formats import pack_raw, unpack_raw
from pacsys_rx.sim.catalogue import (
    COMMAND_EFFECTS,
    STATUS_ATTRIBUTES,
    AlarmSpec,
    Catalogue,
    DeviceSpec,
    Scaling,
    ValueSpec,
)
from pacsys_rx.sim.generators import FollowSetting, TimeFunction, device_key
from pacsys_rx.sim.permissions import Identity, Permissions

CYCLES_PER_MS = 15.0 / 1000.0
"""The cycle number of a sample is the count of 15 Hz ($0F) ticks since the epoch."""

BIT_NAMES = {"on": "On", "ready": "Ready", "remote": "Remote", "positive": "Positive", "ramp": "Ramp"}
BIT_TEXTS = {
    "on": ("On", "Off"),
    "ready": ("Ready", "Tripped"),
    "remote": ("Remote", "Local"),
    "positive": ("Positive", "Negative"),
    "ramp": ("Ramp", "DC"),
}
ALARM_BLOCK_BYTES = 20
_FLAG_ENABLE, _FLAG_IN_ALARM, _FLAG_ABORT, _FLAG_ABORT_INHIBIT = 1, 2, 4, 8

_S = AcnetStatus.named
NO_SUCH_DEVICE = _S("DPM_NO_SUCH_DEVICE")
NO_PROPERTY = _S("DBM_NOPROP")
NO_ATTRIBUTE = _S("DIO_NOATT")
NO_SUCH_FIELD = _S("DPM_NO_SUCH_FIELD")
BAD_RANGE = _S("DPM_BAD_RANGE")
OUT_OF_BOUNDS = _S("DPM_OUT_OF_BOUNDS")
BAD_FRAMING = _S("DPM_BAD_FRAMING")
SET_ONLY = _S("DIO_SETONLY")
READ_ONLY = _S("DIO_READONLY")
OUT_OF_RANGE = _S("DIO_RANGE")
INVALID_DATA = _S("DIO_INVDATA")
INVALID_LENGTH = _S("DIO_INVLEN")
NOT_A_NUMBER = _S("DIO_NOT_A_NUMBER")
BAD_ARGUMENT = _S("DIO_BADARG")
UNSUPPORTED_FREQUENCY = _S("FTP_UNSFREQ")
UNSUPPORTED_DEVICE = _S("FTP_UNSDEV")

FTP_DEFAULT_RATE_HZ = 100.0
FTP_MAX_RATE_HZ = 1440.0
"""Fast Time Plot sample rates: the default of ``<-FTP`` and the fastest ``<-FTP:rate`` served."""


class Sample:
    """One answer of the model: value, its type and units, epoch-ms timestamp, cycle and status.

    Error samples carry ``value``/``value_type``/``units`` None and a negative (or data-less warning)
    status.
    """

    __slots__ = ("cycle", "status", "timestamp", "units", "value", "value_type")

    def __init__(
        self,
        value: Value | None,
        value_type: ValueType | None,
        units: str | None,
        timestamp: int,
        cycle: int,
        status: AcnetStatus = OK,
    ) -> None:
        self.value = value
        self.value_type = value_type
        self.units = units
        self.timestamp = timestamp
        self.cycle = cycle
        self.status = status

    @classmethod
    def error(cls, status: AcnetStatus, now: float) -> Sample:
        return cls(None, None, None, int(now), int(now * CYCLES_PER_MS), status)

    @property
    def ok(self) -> bool:
        return self.status.error >= 0 and self.value is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sample):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in Sample.__slots__)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Sample({self.value!r}, {self.value_type}, units={self.units!r}, timestamp={self.timestamp}, "
            f"cycle={self.cycle}, status={self.status!r})"
        )


Reader = Callable[[float], Sample]


class CompiledRequest:
    """A request resolved against the catalogue once: ``read(now)`` is the fast path.

    ``error`` is set when the request can never produce data (unknown device, missing property, bad
    range or field); ``read`` then returns that error.
    """

    __slots__ = ("device", "error", "read")

    def __init__(self, device: str, read: Reader, error: AcnetStatus | None = None) -> None:
        self.device = device
        self.read = read
        self.error = error


class AlarmState:
    """The mutable configuration of one alarm block (limits, flags, tries needed)."""

    __slots__ = (
        "abort",
        "abort_inhibit",
        "enable",
        "mask",
        "maximum",
        "minimum",
        "nominal",
        "scan_ms",
        "tries_needed",
    )

    def __init__(self, spec: AlarmSpec) -> None:
        self.minimum, self.maximum = spec.minimum, spec.maximum
        self.nominal, self.mask = spec.nominal, spec.mask
        self.enable, self.abort, self.abort_inhibit = spec.enable, spec.abort, spec.abort_inhibit
        self.tries_needed, self.scan_ms = spec.tries_needed, spec.scan_ms

    def tries_now(self, now: float, out_of_limits: Callable[[float], bool]) -> int:
        """Consecutive out-of-limit alarm scans (every ``scan_ms``, epoch aligned), capped at tries needed."""
        if not self.enable:
            return 0
        scan = math.floor(now / self.scan_ms)
        tries = 0
        while tries < self.tries_needed and out_of_limits((scan - tries) * self.scan_ms):
            tries += 1
        return tries

    def flags(self, in_alarm: bool) -> int:
        return (
            (_FLAG_ENABLE if self.enable else 0)
            | (_FLAG_IN_ALARM if in_alarm else 0)
            | (_FLAG_ABORT if self.abort else 0)
            | (_FLAG_ABORT_INHIBIT if self.abort_inhibit else 0)
        )


class Device:
    """A catalogue device plus its mutable state (setting, status bits, alarm blocks, reading lag)."""

    def __init__(self, spec: DeviceSpec, seed: int) -> None:
        self.spec = spec
        self.setting: list[float] = list(spec.setting.initial) if spec.setting else []
        self.setting_text: str | None = spec.setting.text if spec.setting else None
        self.status: dict[str, bool] = dict(spec.status.initial) if spec.status else {}
        self.analog = AlarmState(spec.analog_alarm) if spec.analog_alarm else None
        self.digital = AlarmState(spec.digital_alarm) if spec.digital_alarm else None
        reading = spec.reading
        self.lag: FollowSetting | None = None
        self.channels: list[TimeFunction] = []
        if reading is not None and reading.generator is not None:
            if isinstance(reading.generator, FollowSetting):
                self.lag = reading.generator
                self.channels = [self._follower(i) for i in range(reading.length)]
            else:
                self.channels = [
                    reading.generator.bind(device_key(seed, spec.name, i)) for i in range(reading.length)
                ]
        self.lag_start_ms = -math.inf
        self.lag_from: list[float] = list(self.setting)
        self.deltas: list[int] = [0] * len(self.setting)
        """Delta times of a ramp table's points (raw format ``ramp``)."""

    def _follower(self, channel: int) -> TimeFunction:
        tau = self.lag.tau_ms if self.lag else 1.0
        exp = math.exp

        def follow(t: float) -> float:
            target = self.setting[channel]
            elapsed = t - self.lag_start_ms
            if elapsed <= 0:
                return self.lag_from[channel]
            return target + (self.lag_from[channel] - target) * exp(-elapsed / tau)

        return follow

    def retarget(
        self, values: Sequence[float], first: int, now: float, deltas: Sequence[int] | None = None
    ) -> None:
        """Apply new setting values (and ramp delta times) from element ``first``; a following reading
        starts its lag at ``now``."""
        if self.lag is not None:
            self.lag_from = [channel(now) for channel in self.channels]
            self.lag_start_ms = now
        self.setting[first : first + len(values)] = values
        if deltas is not None:
            self.deltas[first : first + len(deltas)] = deltas

    def setting_channel(self, element: int) -> TimeFunction:
        """Element ``element`` of the setting, as a (constant in time) channel."""
        return lambda t: self.setting[element]

    def status_word(self) -> int:
        """The raw status word: each set attribute's bit (the catalogue's per-device bit masks)."""
        status = self.spec.status
        if status is None:
            return 0
        return sum(status.bits[name] for name in STATUS_ATTRIBUTES if self.status.get(name))

    def reading_value(self, now: float) -> float:
        """The first element of the scaled reading (what alarms watch)."""
        return self.channels[0](now) if self.channels else (self.setting[0] if self.setting else 0.0)

    def analog_out_of_limits(self, t: float) -> bool:
        alarm = self.analog
        return alarm is not None and not alarm.minimum <= self.reading_value(t) <= alarm.maximum

    def digital_word(self, t: float) -> int:
        if self.spec.status is not None:
            return self.status_word()
        reading = self.spec.reading
        if reading is None or reading.is_text:
            return 0
        return reading.scaling.primary_to_raw(reading.scaling.common_to_primary(self.reading_value(t)))

    def digital_out_of_limits(self, t: float) -> bool:
        alarm = self.digital
        return alarm is not None and ((self.digital_word(t) ^ alarm.nominal) & alarm.mask) != 0


class DeviceModel:
    """All simulated devices; :meth:`read` answers a request, :meth:`apply_setting` changes the model.

    ``clock`` (epoch ms) supplies the time when a caller passes none; listeners registered with
    :meth:`add_listener` are told ``(device_name, now)`` after every applied setting.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        seed: int = 0,
        permissions: Permissions | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.seed = seed
        self.permissions = permissions if permissions is not None else Permissions.default()
        self.clock: Callable[[], float] = clock or (lambda: time.time() * 1000.0)
        self.devices = {name: Device(spec, seed) for name, spec in catalogue.devices.items()}
        self._compiled: dict[tuple[Any, ...], CompiledRequest] = {}
        self._listeners: list[Callable[[str, float], None]] = []

    # ------------------------------------------------------------------ reading

    def read(self, request: DataRequest, now: float | None = None) -> Sample:
        """The value ``request`` asks for at ``now`` (epoch ms; default: the model clock)."""
        return self.compile(request).read(self.clock() if now is None else now)

    def compile(self, request: DataRequest) -> CompiledRequest:
        """Resolve ``request`` once (cached); the engine keeps the result per subscribed request."""
        key: tuple[Any, ...] = (
            request.device,
            request.property,
            request.range,
            request.field,
            request.epics_fields,
        )
        if is_fast_time_plot(request):
            key += (request.event, request.extra)
        compiled = self._compiled.get(key)
        if compiled is None:
            if len(self._compiled) > 100_000:
                self._compiled.clear()
            compiled = self._compiled[key] = self._compile(request)
        return compiled

    def _compile(self, request: DataRequest) -> CompiledRequest:
        device = self.devices.get(request.device)
        if device is None:
            return _failed(request.device, NO_SUCH_DEVICE)
        if not request.is_acnet and request.epics_fields and any(request.epics_fields):
            return _failed(request.device, NO_SUCH_FIELD)
        prop, field = request.property, request.field
        if is_fast_time_plot(request):
            return _compile_fast_time_plot(device, request)
        if prop in (Property.READING, Property.SETTING):
            return _compile_value(device, prop, request.range, field)
        if prop in (Property.ANALOG, Property.DIGITAL):
            if _alarm_of(device, prop) is None:
                return _failed(device.spec.name, NO_PROPERTY)
            span = _block_span(request.range, field)
            if isinstance(span, AcnetStatus):
                return _failed(device.spec.name, span)
            compile_alarm = _compile_analog if prop is Property.ANALOG else _compile_digital
            return compile_alarm(device, field, span)
        if request.range is not None and request.range.mode != "full":
            return _failed(device.spec.name, BAD_RANGE)
        if prop in (Property.STATUS, Property.BIT_STATUS):
            return _compile_status(device, field)
        if prop is Property.CONTROL:
            return _failed(device.spec.name, SET_ONLY if device.spec.status else NO_PROPERTY)
        spec = device.spec
        if prop is Property.INDEX:
            return _constant(spec.name, spec.index, ValueType.SCALAR)
        text = {
            Property.DESCRIPTION: spec.description,
            Property.LONG_NAME: spec.long_name,
            Property.ALARM_LIST_NAME: spec.alarm_list_name,
        }.get(prop)
        return _failed(spec.name, NO_PROPERTY) if text is None else _constant(spec.name, text, ValueType.TEXT)

    def entry_error(self, request: DataRequest) -> AcnetStatus | None:
        """Why a list entry for ``request`` can never be served, or None.

        A ``@N`` entry produces no data and exists to carry settings, so a set-only property (CONTROL)
        is acceptable there.
        """
        error = self.compile(request).error
        if error == SET_ONLY and isinstance(request.event, NeverEvent):
            return None
        return error

    def device_meta(self, name: str) -> DeviceMeta | None:
        """Index, name, description and reading units of a device (for DPM's DeviceInfo), or None."""
        device = self.devices.get(name)
        if device is None:
            return None
        spec = device.spec
        units = spec.reading.units if spec.reading else spec.setting.units if spec.setting else None
        return DeviceMeta(spec.index, spec.name, spec.description, units)

    def default_period_ms(self, name: str) -> float:
        """The period of the device's default event (``@U`` or no event); 1000 ms for unknown devices."""
        device = self.devices.get(name)
        return device.spec.default_period_ms if device else 1000.0

    def state_value(self, name: str, now: float) -> float | None:
        """What a state event (``@S``) watches: the device's setting, else its reading; None if unknown."""
        device = self.devices.get(name)
        if device is None:
            return None
        return device.setting[0] if device.setting else device.reading_value(now)

    # ------------------------------------------------------------------ settings

    def add_listener(self, listener: Callable[[str, float], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str, float], None]) -> None:
        self._listeners.remove(listener)

    def apply_setting(
        self,
        request: DataRequest,
        value: Any,
        identity: Identity,
        now: float | None = None,
    ) -> AcnetStatus:
        """Set what ``request`` names to ``value`` if ``identity`` may; the status says what happened.

        READING is treated as SETTING and STATUS as CONTROL (the implicit write conversion).
        """
        now = self.clock() if now is None else now
        device = self.devices.get(request.device)
        if device is None:
            return NO_SUCH_DEVICE
        prop = {Property.READING: Property.SETTING, Property.STATUS: Property.CONTROL}.get(
            request.property, request.property
        )
        spec = device.spec
        apply: Callable[[], AcnetStatus]
        if prop is Property.SETTING and spec.setting is not None:
            apply = partial(_set_value, device, spec.setting, request, value, now)
        elif prop is Property.CONTROL and spec.status is not None and spec.status.control:
            apply = partial(_control, device, value)
        elif request.field is Field.RAW and _alarm_of(device, prop) is not None:
            apply = partial(_set_alarm_block, device, prop, request.range, value, now)
        elif prop is Property.ANALOG and device.analog is not None:
            apply = partial(_set_alarm, device.analog, True, request.field, value)
        elif prop is Property.DIGITAL and device.digital is not None:
            apply = partial(_set_alarm, device.digital, False, request.field, value)
        elif prop in (Property.SETTING, Property.CONTROL, Property.ANALOG, Property.DIGITAL):
            return NO_PROPERTY
        else:
            return READ_ONLY
        status = self.permissions.check(identity, spec.name, spec.protection_mask)
        if status.is_error:
            return status
        status = apply()
        if not status.is_error:
            for listener in list(self._listeners):
                listener(spec.name, now)
        return status


# ---------------------------------------------------------------------- compiled readers


def _failed(device: str, status: AcnetStatus) -> CompiledRequest:
    return CompiledRequest(device, lambda t: Sample.error(status, t), status)


def _constant(device: str, value: Value, value_type: ValueType, units: str | None = None) -> CompiledRequest:
    return CompiledRequest(device, lambda t: Sample(value, value_type, units, int(t), int(t * CYCLES_PER_MS)))


def _dynamic(
    device: str, value: Callable[[float], Value], value_type: ValueType, units: str | None = None
) -> CompiledRequest:
    return CompiledRequest(
        device, lambda t: Sample(value(t), value_type, units, int(t), int(t * CYCLES_PER_MS))
    )


def _elements(spec: ValueSpec, selection: Any) -> tuple[int, int, bool] | AcnetStatus:
    """``(first, stop, single)`` element indices for a range, or the error status."""
    length = spec.length
    if selection is None or selection.mode == "full":
        return 0, length, length == 1 and selection is None
    if isinstance(selection, ArrayRange):
        first = selection.low or 0
        if selection.mode == "single":
            return (first, first + 1, True) if first < length else OUT_OF_BOUNDS
        last = length - 1 if selection.high is None else selection.high
        return (first, last + 1, False) if last < length else OUT_OF_BOUNDS
    size = spec.scaling.raw_bytes
    offset = selection.offset or 0
    if selection.mode == "single":
        byte_length = size
    else:
        byte_length = length * size - offset if selection.length is None else selection.length
    if offset % size or byte_length % size or byte_length <= 0:
        return BAD_FRAMING
    first, stop = offset // size, (offset + byte_length) // size
    return (first, stop, selection.mode == "single") if stop <= length else OUT_OF_BOUNDS


def _compile_value(device: Device, prop: Property, selection: Any, field: Field | None) -> CompiledRequest:
    name = device.spec.name
    spec = device.spec.reading if prop is Property.READING else device.spec.setting
    if spec is None:
        return _failed(name, NO_PROPERTY)
    if field is Field.UNITS:
        return _constant(name, spec.units or "", ValueType.TEXT)
    if field in (Field.MIN, Field.MAX):
        return _constant(
            name, spec.minimum if field is Field.MIN else spec.maximum, ValueType.SCALAR, spec.units
        )
    if spec.is_text:
        return _compile_text(device, prop, selection, field)
    span = _elements(spec, selection)
    if isinstance(span, AcnetStatus):
        return _failed(name, span)
    first, stop, single = span
    channels = (
        device.channels[first:stop]
        if prop is Property.READING
        else [device.setting_channel(i) for i in range(first, stop)]
    )
    scaling = spec.scaling
    if field is Field.RAW:
        pack, to_primary = scaling.pack, scaling.common_to_primary
        deltas = device.deltas if prop is Property.SETTING else [0] * stop
        return _dynamic(
            name,
            lambda t: b"".join(
                pack(to_primary(channel(t)), deltas[first + i]) for i, channel in enumerate(channels)
            ),
            ValueType.RAW,
        )
    if field is Field.PRIMARY:
        convert, units = scaling.common_to_primary, spec.primary_units
    elif field in (None, Field.SCALED):
        convert, units = None, spec.units
    else:
        return _failed(name, NO_SUCH_FIELD)
    if single:
        channel = channels[0]
        if convert is None:
            return CompiledRequest(
                name, lambda t: Sample(channel(t), ValueType.SCALAR, units, int(t), int(t * CYCLES_PER_MS))
            )
        return _dynamic(name, lambda t: convert(channel(t)), ValueType.SCALAR, units)
    if convert is None:
        return _dynamic(
            name, lambda t: tuple([channel(t) for channel in channels]), ValueType.SCALAR_ARRAY, units
        )
    return _dynamic(
        name, lambda t: tuple([convert(channel(t)) for channel in channels]), ValueType.SCALAR_ARRAY, units
    )


def is_fast_time_plot(request: DataRequest) -> bool:
    """True for requests routed through the Fast Time Plot service (``<-FTP``)."""
    return request.extra is not None and request.extra.name == "FTP"


def fast_time_plot_rate(request: DataRequest) -> float | None:
    """The sample rate (Hz) of a ``<-FTP[:rate]`` request, or None when it is not a supported rate."""
    assert request.extra is not None
    parameters = request.extra.text.split(":")[1:]
    try:
        rate = float(parameters[0]) if parameters and parameters[0] else FTP_DEFAULT_RATE_HZ
    except ValueError:
        return None
    return rate if 0 < rate <= FTP_MAX_RATE_HZ else None


def _compile_fast_time_plot(device: Device, request: DataRequest) -> CompiledRequest:
    """``<-FTP[:rate]``: each reply is a timed array of the samples taken at ``rate`` Hz (epoch aligned)
    during the last completed window; the window is the event's period, or the device's default
    period for other events. Only a scalar numeric READING or SETTING can be plotted."""
    name = device.spec.name
    rate = fast_time_plot_rate(request)
    if rate is None:
        return _failed(name, UNSUPPORTED_FREQUENCY)
    spec = device.spec.reading if request.property is Property.READING else device.spec.setting
    if request.property not in (Property.READING, Property.SETTING) or spec is None:
        return _failed(name, NO_PROPERTY)
    if spec.is_text or spec.length != 1 or request.field not in (None, Field.SCALED):
        return _failed(name, UNSUPPORTED_DEVICE)
    if request.range is not None and request.range.mode != "full":
        return _failed(name, BAD_RANGE)
    channel = device.channels[0] if request.property is Property.READING else device.setting_channel(0)
    event = request.event
    window = float(event.period_ms) if isinstance(event, PeriodicEvent) and event.period_ms > 0 else None
    window = window or device.spec.default_period_ms
    step = 1000.0 / rate

    def plot(t: float) -> TimedArray:
        end = math.floor(t / window) * window
        first, last = math.floor((end - window) / step) + 1, math.floor(end / step)
        times = [k * step for k in range(first, last + 1)]
        return TimedArray(tuple(channel(at) for at in times), tuple(round(at * 1000) for at in times))

    return _dynamic(name, plot, ValueType.TIMED_SCALAR_ARRAY, spec.units)


def _compile_text(device: Device, prop: Property, selection: Any, field: Field | None) -> CompiledRequest:
    """A text device: READING shows the text setting when the device has one, else the catalogue text."""
    name = device.spec.name
    if selection is not None and selection.mode != "full":
        return _failed(name, BAD_RANGE)
    fixed = device.spec.reading.text if device.spec.reading and device.spec.reading.text else ""

    def text(t: float) -> str:
        return device.setting_text if device.setting_text is not None else fixed

    if prop is Property.SETTING and device.setting_text is None:
        return _failed(name, NO_PROPERTY)
    if field is Field.RAW:
        return _dynamic(name, lambda t: text(t).encode("latin-1", "replace"), ValueType.RAW)
    if field in (None, Field.SCALED):
        return _dynamic(name, text, ValueType.TEXT)
    return _failed(name, NO_SUCH_FIELD)


def _compile_status(device: Device, field: Field | None) -> CompiledRequest:
    name = device.spec.name
    if device.spec.status is None:
        return _failed(name, NO_PROPERTY)
    status = device.status
    present = [attr for attr in STATUS_ATTRIBUTES if attr in status]
    if field in (None, Field.ALL):
        return _dynamic(
            name, lambda t: BasicStatus(**{attr: status[attr] for attr in present}), ValueType.BASIC_STATUS
        )
    attribute = field.value.lower() if field is not None else ""
    if attribute in STATUS_ATTRIBUTES:
        if attribute not in status:
            return _failed(name, NO_ATTRIBUTE)
        return _dynamic(name, lambda t: status[attribute], ValueType.SCALAR)
    if field is Field.BIT_VALUE:
        return _dynamic(name, lambda t: device.status_word(), ValueType.SCALAR)
    if field is Field.RAW:
        return _dynamic(name, lambda t: device.status_word().to_bytes(2, "little"), ValueType.RAW)
    if field is Field.BIT_NAMES:
        return _constant(
            name, tuple(BIT_NAMES[a] if a in status else "" for a in STATUS_ATTRIBUTES), ValueType.TEXT_ARRAY
        )

    def texts(t: float) -> tuple[str, ...]:
        return tuple(BIT_TEXTS[a][0 if status[a] else 1] if a in status else "" for a in STATUS_ATTRIBUTES)

    if field is Field.BIT_VALUES:
        return _dynamic(name, texts, ValueType.TEXT_ARRAY)
    if field is Field.TEXT:
        return _dynamic(name, lambda t: " ".join(text for text in texts(t) if text), ValueType.TEXT)
    if field is Field.EXTENDED_TEXT:
        return _dynamic(
            name,
            lambda t: ", ".join(f"{BIT_NAMES[a]}: {BIT_TEXTS[a][0 if status[a] else 1]}" for a in present),
            ValueType.TEXT,
        )
    return _failed(name, NO_SUCH_FIELD)


def _alarm_reader(
    name: str,
    alarm: AlarmState,
    field: Field | None,
    out_of_limits: Callable[[float], bool],
    whole: Callable[[float, int], Value],
    whole_type: ValueType,
    limits: Mapping[Field, Callable[[], Value]],
    units: str | None,
    limit_bytes: Callable[[], bytes],
    span: slice,
) -> CompiledRequest:
    """Fields shared by analog and digital alarm blocks; ``limits`` adds the block-specific ones."""
    tries = alarm.tries_now
    if field in (None, Field.ALL):
        return _dynamic(name, lambda t: whole(t, tries(t, out_of_limits)), whole_type)
    if field in limits:
        limit = limits[field]
        return _dynamic(
            name,
            lambda t: limit(),
            ValueType.SCALAR,
            units if field in (Field.MIN, Field.MAX, Field.NOM, Field.TOL) else None,
        )
    flags: dict[Field, Callable[[float], Value]] = {
        Field.ALARM_ENABLE: lambda t: alarm.enable,
        Field.ALARM_STATUS: lambda t: tries(t, out_of_limits) >= alarm.tries_needed,
        Field.ABORT: lambda t: alarm.abort,
        Field.ABORT_INHIBIT: lambda t: alarm.abort_inhibit,
        Field.TRIES_NEEDED: lambda t: alarm.tries_needed,
        Field.TRIES_NOW: lambda t: tries(t, out_of_limits),
        Field.ALARM_FTD: lambda t: round(alarm.scan_ms * 60 / 1000),
        Field.FLAGS: lambda t: alarm.flags(tries(t, out_of_limits) >= alarm.tries_needed),
    }
    if field in flags:
        return _dynamic(name, flags[field], ValueType.SCALAR)

    def block(t: float) -> bytes:
        now_tries = tries(t, out_of_limits)
        return (
            alarm.flags(now_tries >= alarm.tries_needed).to_bytes(2, "little")
            + limit_bytes()
            + bytes((alarm.tries_needed & 0xFF, now_tries & 0xFF))
            + round(alarm.scan_ms * 60 / 1000).to_bytes(2, "little")
            + bytes(6)
        )[span]

    if field is Field.RAW:
        return _dynamic(name, block, ValueType.RAW)
    if field is Field.TEXT:
        return _dynamic(name, lambda t: _alarm_text(whole(t, tries(t, out_of_limits))), ValueType.TEXT)
    return _failed(name, NO_SUCH_FIELD)


def _alarm_text(block: Value) -> str:
    fields = block.to_dict() if isinstance(block, (AnalogAlarm, DigitalAlarm)) else {}
    return " ".join(f"{key}={value}" for key, value in fields.items())


def _alarm_of(device: Device, prop: Property) -> AlarmState | None:
    """The device's analog or digital alarm block (an analog one needs a numeric reading)."""
    if prop is Property.ANALOG:
        reading = device.spec.reading
        return device.analog if reading is not None and not reading.is_text else None
    return device.digital if prop is Property.DIGITAL else None


def _block_span(selection: Any, field: Field | None) -> slice | AcnetStatus:
    """The bytes of the 20-byte alarm block a range selects: byte ranges of the RAW field only."""
    if selection is None or selection.mode == "full":
        return slice(0, ALARM_BLOCK_BYTES)
    if field is not Field.RAW or not isinstance(selection, ByteRange):
        return BAD_RANGE
    offset = selection.offset or 0
    if selection.mode == "single":
        length = 1
    else:
        length = ALARM_BLOCK_BYTES - offset if selection.length is None else selection.length
    if length <= 0 or offset + length > ALARM_BLOCK_BYTES:
        return OUT_OF_BOUNDS
    return slice(offset, offset + length)


class _AnalogLimits:
    """Analog alarm limits as the block stores them: raw values of the reading, 4 bytes each (a 32-bit
    integer, or the reading's float format)."""

    def __init__(self, scaling: Scaling) -> None:
        self.scaling = scaling
        self.format = scaling.raw_format if scaling.raw_format in ("ieee", "dec_f") else "int"

    def raw(self, common: float) -> int:
        return self.scaling.primary_to_raw(self.scaling.common_to_primary(common))

    def pack(self, common: float) -> bytes:
        primary = self.scaling.common_to_primary(common)
        if self.format == "int":
            raw = max(-(1 << 31), min((1 << 31) - 1, self.scaling.primary_to_raw(primary)))
            return raw.to_bytes(4, "little", signed=True)
        return pack_raw(self.scaling.primary_to_raw_value(primary), 4, self.format)

    def unpack(self, data: bytes) -> float:
        return self.scaling.primary_to_common(self.scaling.raw_to_primary(unpack_raw(data, self.format)[0]))


def _compile_analog(device: Device, field: Field | None, span: slice) -> CompiledRequest:
    name, alarm, reading = device.spec.name, device.analog, device.spec.reading
    assert alarm is not None and reading is not None
    limit = _AnalogLimits(reading.scaling)
    raw = limit.raw
    limits: dict[Field, Callable[[], Value]] = {
        Field.MIN: lambda: alarm.minimum,
        Field.MAX: lambda: alarm.maximum,
        Field.NOM: lambda: (alarm.minimum + alarm.maximum) / 2,
        Field.TOL: lambda: (alarm.maximum - alarm.minimum) / 2,
        Field.RAW_MIN: lambda: raw(alarm.minimum),
        Field.RAW_MAX: lambda: raw(alarm.maximum),
        Field.RAW_NOM: lambda: raw((alarm.minimum + alarm.maximum) / 2),
        Field.RAW_TOL: lambda: raw((alarm.maximum - alarm.minimum) / 2) - raw(0.0),
    }
    return _alarm_reader(
        name,
        alarm,
        field,
        device.analog_out_of_limits,
        lambda t, tries: AnalogAlarm(
            alarm.minimum,
            alarm.maximum,
            alarm.enable,
            tries >= alarm.tries_needed,
            alarm.abort,
            alarm.abort_inhibit,
            alarm.tries_needed,
            tries,
        ),
        ValueType.ANALOG_ALARM,
        limits,
        reading.units,
        lambda: limit.pack(alarm.minimum) + limit.pack(alarm.maximum),
        span,
    )


def _digital_word_bytes(word: int) -> bytes:
    return (word & 0xFFFFFFFF).to_bytes(4, "little")


def _compile_digital(device: Device, field: Field | None, span: slice) -> CompiledRequest:
    name, alarm = device.spec.name, device.digital
    assert alarm is not None
    limits: dict[Field, Callable[[], Value]] = {
        Field.NOM: lambda: alarm.nominal,
        Field.MASK: lambda: alarm.mask,
    }
    return _alarm_reader(
        name,
        alarm,
        field,
        device.digital_out_of_limits,
        lambda t, tries: DigitalAlarm(
            alarm.nominal,
            alarm.mask,
            alarm.enable,
            tries >= alarm.tries_needed,
            alarm.abort,
            alarm.abort_inhibit,
            alarm.tries_needed,
            tries,
        ),
        ValueType.DIGITAL_ALARM,
        limits,
        None,
        lambda: _digital_word_bytes(alarm.nominal) + _digital_word_bytes(alarm.mask),
        span,
    )


# ---------------------------------------------------------------------- settings


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    return None


def _set_value(device: Device, spec: ValueSpec, request: DataRequest, value: Any, now: float) -> AcnetStatus:
    field = request.field
    if field in (Field.MIN, Field.MAX, Field.UNITS):
        return READ_ONLY
    if spec.is_text:
        if not isinstance(value, str):
            return INVALID_DATA
        device.setting_text = value
        return OK
    span = _elements(spec, request.range)
    if isinstance(span, AcnetStatus):
        return span
    first, stop, _ = span
    count = stop - first
    scaling = spec.scaling
    deltas: list[int] | None = None
    if field is Field.RAW:
        if not isinstance(value, (bytes, bytearray)):
            return INVALID_DATA
        size = scaling.raw_bytes
        if len(value) != count * size:
            return INVALID_LENGTH
        unpacked = [scaling.unpack(bytes(value[i : i + size])) for i in range(0, len(value), size)]
        values = [scaling.primary_to_common(primary) for primary, _ in unpacked]
        deltas = [delta for _, delta in unpacked] if scaling.raw_format == "ramp" else None
    else:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        numbers = [_number(item) for item in items]
        if any(number is None for number in numbers):
            return INVALID_DATA
        if len(numbers) != count:
            return INVALID_LENGTH
        values = [n for n in numbers if n is not None]
        if field is Field.PRIMARY:
            values = [scaling.primary_to_common(v) for v in values]
        if any(math.isnan(v) for v in values):
            return NOT_A_NUMBER
    if any(not spec.minimum <= v <= spec.maximum for v in values):
        return OUT_OF_RANGE
    device.retarget(values, first, now, deltas)
    return OK


def _control(device: Device, value: Any) -> AcnetStatus:
    """A control write: ``value`` is the command's ordinal in the device's control table."""
    number = _number(value)
    if number is None or not number.is_integer():
        return INVALID_DATA
    commands = device.spec.status.commands if device.spec.status else ()
    if not 0 <= number < len(commands):
        return BAD_ARGUMENT
    effect = COMMAND_EFFECTS.get(commands[int(number)].name)
    if effect is None:
        return OK
    attribute, state = effect
    if attribute not in device.status:
        return NO_ATTRIBUTE
    device.status[attribute] = state
    return OK


def _set_alarm_block(device: Device, prop: Property, selection: Any, value: Any, now: float) -> AcnetStatus:
    """A raw write of (part of) the 20-byte alarm block: the enable and abort-inhibit flags, the limits,
    tries needed and the FTD are taken from it; the in-alarm and abort flags and tries now are ignored."""
    if not isinstance(value, (bytes, bytearray)):
        return INVALID_DATA
    span = _block_span(selection, Field.RAW)
    if isinstance(span, AcnetStatus):
        return span
    if len(value) != span.stop - span.start:
        return INVALID_LENGTH
    analog = prop is Property.ANALOG
    alarm = _alarm_of(device, prop)
    assert alarm is not None
    compile_alarm = _compile_analog if analog else _compile_digital
    block = bytearray(compile_alarm(device, Field.RAW, slice(0, ALARM_BLOCK_BYTES)).read(now).value)  # type: ignore[arg-type]
    block[span] = value
    if block[10] == 0:
        return OUT_OF_RANGE
    if analog:
        assert device.spec.reading is not None
        limits = _AnalogLimits(device.spec.reading.scaling)
        alarm.minimum, alarm.maximum = limits.unpack(bytes(block[2:6])), limits.unpack(bytes(block[6:10]))
    else:
        alarm.nominal = int.from_bytes(block[2:6], "little")
        alarm.mask = int.from_bytes(block[6:10], "little")
    flags = int.from_bytes(block[0:2], "little")
    alarm.enable, alarm.abort_inhibit = bool(flags & _FLAG_ENABLE), bool(flags & _FLAG_ABORT_INHIBIT)
    alarm.tries_needed = block[10]
    ftd = int.from_bytes(block[12:14], "little")
    if ftd:
        alarm.scan_ms = ftd * 1000 / 60
    return OK


_ANALOG_KEYS = {"minimum": Field.MIN, "maximum": Field.MAX}
_DIGITAL_KEYS = {"nominal": Field.NOM, "mask": Field.MASK}
_SHARED_KEYS = {
    "alarm_enable": Field.ALARM_ENABLE,
    "abort_inhibit": Field.ABORT_INHIBIT,
    "tries_needed": Field.TRIES_NEEDED,
}
_READ_ONLY_KEYS = {"alarm_status", "abort", "tries_now"}


def _set_alarm(alarm: AlarmState, analog: bool, field: Field | None, value: Any) -> AcnetStatus:
    """One writable alarm field, or (``ALL``) a mapping of the writable alarm keys of data-model §2."""
    if field in (None, Field.ALL):
        if not isinstance(value, Mapping) or not value:
            return INVALID_DATA
        keys = {**(_ANALOG_KEYS if analog else _DIGITAL_KEYS), **_SHARED_KEYS}
        if set(value) & _READ_ONLY_KEYS:
            return READ_ONLY
        if not set(value) <= set(keys):
            return INVALID_DATA
        for key, item in value.items():
            status = _set_alarm(alarm, analog, keys[key], item)
            if status.is_error:
                return status
        return OK
    number = _number(value)
    if number is None:
        return INVALID_DATA
    if math.isnan(number):
        return NOT_A_NUMBER
    if field is Field.ALARM_ENABLE:
        alarm.enable = bool(number)
    elif field is Field.ABORT_INHIBIT:
        alarm.abort_inhibit = bool(number)
    elif field is Field.TRIES_NEEDED:
        if not number.is_integer() or not 1 <= number <= 255:
            return OUT_OF_RANGE
        alarm.tries_needed = int(number)
    elif analog and field in (Field.MIN, Field.MAX):
        if field is Field.MIN:
            alarm.minimum = number
        else:
            alarm.maximum = number
    elif not analog and field in (Field.NOM, Field.MASK):
        if not number.is_integer():
            return INVALID_DATA
        if field is Field.NOM:
            alarm.nominal = int(number)
        else:
            alarm.mask = int(number)
    else:
        return READ_ONLY
    return OK
