"""The device catalogue: immutable device definitions loaded from TOML (or JSON), with a generated bank.

The format is described in ``docs/simulator.md``; :func:`load_catalogue` reads the packaged default
(``pacsys_rx/sim/devices.toml``) or a replacement file and raises :class:`CatalogueError` with the
file and the offending entry on any mistake.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pacsys_rx.digital import BASIC_CONTROL_EFFECTS
from pacsys_rx.protocols.raw_formats import (
    DEC_F_MAX,
    FLOAT_FORMATS,
    FORMAT_SIZES,
    IEEE_MAX,
    RAW_FORMATS,
    pack_raw,
    unpack_raw,
)
from pacsys_rx.sim.generators import CatalogueError, Generator, generator_from_table

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ACNET_NAME = re.compile(r"^[A-Za-z0#][:?_|&@$~^#!][A-Za-z0-9_:-]{1,62}$")
CANONICAL_ACNET_NAME = re.compile(r"^[A-Z0#]:[A-Z0-9_:-]{1,62}$")
OTHER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:-]{2,63}$")
STATUS_ATTRIBUTES = ("on", "ready", "remote", "positive", "ramp")
DEFAULT_STATUS_BITS = {name: 1 << bit for bit, name in enumerate(STATUS_ATTRIBUTES)}
DEFAULT_BIT_NAMES = {"on": "On", "ready": "Ready", "remote": "Remote", "positive": "Positive", "ramp": "Ramp"}
COMMAND_EFFECTS = BASIC_CONTROL_EFFECTS
"""What a basic-control command of that name does to the status; other names change nothing."""
RAMP_PRIMARY_SCALE = 1.0 / 3276.8
"""A ramp card's raw to primary factor (the common transform adds C1/C2)."""
DEFAULT_CLOCK_EVENTS = {0x02: (5000.0, 0.0), 0x0C: (1000.0 / 15.0, 0.0), 0x0F: (1000.0 / 15.0, 0.0)}


@dataclass(frozen=True)
class Scaling:
    """Linear transforms: ``primary = raw * primary_scale + primary_offset``,
    ``common = primary * common_scale + common_offset``; ``raw_format`` says how a raw value is laid
    out in ``raw_bytes`` bytes (:mod:`pacsys_rx.protocols.raw_formats`)."""

    raw_bytes: int = 4
    primary_scale: float = 1.0
    primary_offset: float = 0.0
    common_scale: float = 1.0
    common_offset: float = 0.0
    raw_format: str = "int"

    @property
    def raw_limits(self) -> tuple[float, float]:
        if self.raw_format in FLOAT_FORMATS:
            largest = DEC_F_MAX if self.raw_format == "dec_f" else IEEE_MAX[self.raw_bytes]
            return -largest, largest
        half = 1 << (8 * (2 if self.raw_format == "ramp" else self.raw_bytes) - 1)
        return -half, half - 1

    def common_to_primary(self, common: float) -> float:
        return (common - self.common_offset) / self.common_scale

    def primary_to_common(self, primary: float) -> float:
        return primary * self.common_scale + self.common_offset

    def primary_to_raw(self, primary: float) -> int:
        """The nearest raw integer, clamped to what the raw format can hold (alarm limits, digital words)."""
        return round(self.primary_to_raw_value(primary))

    def primary_to_raw_value(self, primary: float) -> float:
        """The raw value: a float for float formats, else the nearest integer; clamped to the format."""
        raw = (primary - self.primary_offset) / self.primary_scale
        low, high = self.raw_limits
        if self.raw_format not in FLOAT_FORMATS:
            raw = round(raw)
        return min(high, max(low, raw))

    def pack(self, primary: float, delta: int = 0) -> bytes:
        """One element's raw bytes for a primary value (``delta``: a ramp point's delta time)."""
        return pack_raw(self.primary_to_raw_value(primary), self.raw_bytes, self.raw_format, delta)

    def unpack(self, data: bytes) -> tuple[float, int]:
        """The primary value of one element's raw bytes, and its delta time (ramp points, else 0)."""
        raw, delta = unpack_raw(data, self.raw_format)
        return self.raw_to_primary(raw), delta

    def raw_to_primary(self, raw: float) -> float:
        return raw * self.primary_scale + self.primary_offset


@dataclass(frozen=True)
class ValueSpec:
    """A READING or SETTING property: numeric (scalar or array of ``length``) or text."""

    length: int = 1
    units: str | None = None
    primary_units: str | None = None
    scaling: Scaling = field(default_factory=Scaling)
    minimum: float = -1e9
    maximum: float = 1e9
    generator: Generator | None = None
    initial: tuple[float, ...] = (0.0,)
    text: str | None = None

    @property
    def is_text(self) -> bool:
        return self.text is not None


@dataclass(frozen=True)
class ControlCommand:
    """One entry of a device's control table: the value written to the front end and its name."""

    value: int
    name: str


DEFAULT_COMMANDS = tuple(ControlCommand(value, name) for value, name in enumerate(COMMAND_EFFECTS))


@dataclass(frozen=True)
class StatusSpec:
    """Basic status: the attributes the device has with their initial values, the mask of each
    attribute's bit in the status word, DevDB's bit names, and the control table (by ordinal)."""

    initial: Mapping[str, bool]
    control: bool = True
    bits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_STATUS_BITS))
    bit_names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_BIT_NAMES))
    commands: tuple[ControlCommand, ...] = DEFAULT_COMMANDS


@dataclass(frozen=True)
class AlarmSpec:
    """An analog (``minimum``/``maximum``) or digital (``nominal``/``mask``) alarm block."""

    minimum: float = 0.0
    maximum: float = 0.0
    nominal: int = 0
    mask: int = 0
    enable: bool = True
    abort: bool = False
    abort_inhibit: bool = False
    tries_needed: int = 1
    scan_ms: float = 1000.0


@dataclass(frozen=True)
class DeviceSpec:
    """One device as the catalogue defines it (the model keeps the mutable state separately)."""

    name: str
    index: int
    description: str = ""
    long_name: str = ""
    alarm_list_name: str = ""
    default_period_ms: float = 1000.0
    protection_mask: int = 0
    reading: ValueSpec | None = None
    setting: ValueSpec | None = None
    status: StatusSpec | None = None
    analog_alarm: AlarmSpec | None = None
    digital_alarm: AlarmSpec | None = None


@dataclass(frozen=True)
class ClockEventSpec:
    """A simulated TCLK event: occurrences at ``offset_ms + k * period_ms`` (epoch milliseconds)."""

    number: int
    period_ms: float
    offset_ms: float = 0.0


@dataclass(frozen=True)
class Catalogue:
    devices: Mapping[str, DeviceSpec]
    clock_events: Mapping[int, ClockEventSpec]


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load the packaged default catalogue, or ``path`` (``.toml`` or ``.json``) instead of it."""
    if path is None:
        text = resources.files("pacsys_rx.sim").joinpath("devices.toml").read_text(encoding="utf-8")
        return parse_catalogue(_parse_toml(text, "devices.toml"), "devices.toml")
    return parse_catalogue(read_config_file(path), str(path))


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML or JSON file (chosen by suffix; TOML otherwise) into a dict."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogueError(f"{path}: invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise CatalogueError(f"{path}: the top level must be an object")
        return data
    return _parse_toml(text, str(path))


def _parse_toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{where}: invalid TOML: {exc}") from None


def parse_catalogue(data: Mapping[str, Any], where: str) -> Catalogue:
    """Validate a decoded catalogue document and build the immutable :class:`Catalogue`."""
    _check_keys(data, {"clock", "devices", "bank"}, where)
    devices: dict[str, DeviceSpec] = {}
    for name, table in _table(data, "devices", where).items():
        spec = _device(name, _as_table(table, f"{where}: devices.{name}"), f"{where}: device {name}")
        devices[spec.name] = spec
    if "bank" in data:
        for spec in _bank(_table(data, "bank", where), f"{where}: bank"):
            if spec.name in devices:
                raise CatalogueError(f"{where}: bank device {spec.name} is also defined in [devices]")
            devices[spec.name] = spec
    indexes: dict[int, str] = {}
    for spec in devices.values():
        if spec.index in indexes:
            raise CatalogueError(
                f"{where}: devices {indexes[spec.index]} and {spec.name} share index {spec.index}"
            )
        indexes[spec.index] = spec.name
    return Catalogue(devices, _clock(data.get("clock"), where))


def _device(name: str, table: Mapping[str, Any], where: str) -> DeviceSpec:
    _check_name(name, where)
    _check_keys(
        table,
        {
            "index",
            "description",
            "long_name",
            "alarm_list_name",
            "default_period_ms",
            "protection_mask",
            "reading",
            "setting",
            "status",
            "analog_alarm",
            "digital_alarm",
        },
        where,
    )
    if "index" not in table:
        raise CatalogueError(f"{where}: missing index")
    reading = _value_spec(table["reading"], f"{where}.reading", None) if "reading" in table else None
    setting = _value_spec(table["setting"], f"{where}.setting", reading) if "setting" in table else None
    if reading is not None and reading.generator is None and not reading.is_text:
        raise CatalogueError(f"{where}.reading: needs a generator or a text value")
    follows = (
        reading is not None and reading.generator is not None and reading.generator.kind == "follow_setting"
    )
    if follows and (
        setting is None or setting.is_text or reading is None or setting.length != reading.length
    ):
        raise CatalogueError(f"{where}.reading: follow_setting needs a numeric setting of the same length")
    if setting is not None and setting.generator is not None:
        raise CatalogueError(f"{where}.setting: a setting has an initial value, not a generator")
    if "analog_alarm" in table and (reading is None or reading.is_text):
        raise CatalogueError(f"{where}.analog_alarm: needs a numeric reading")
    description = str(table.get("description", ""))
    return DeviceSpec(
        name=name,
        index=_int(table["index"], f"{where}.index"),
        description=description,
        long_name=str(table.get("long_name", description)),
        alarm_list_name=str(table.get("alarm_list_name", "")),
        default_period_ms=_positive(table.get("default_period_ms", 1000.0), f"{where}.default_period_ms"),
        protection_mask=_int(table.get("protection_mask", 0), f"{where}.protection_mask"),
        reading=reading,
        setting=setting,
        status=_status(table["status"], f"{where}.status") if "status" in table else None,
        analog_alarm=_alarm(table["analog_alarm"], f"{where}.analog_alarm", analog=True)
        if "analog_alarm" in table
        else None,
        digital_alarm=_alarm(table["digital_alarm"], f"{where}.digital_alarm", analog=False)
        if "digital_alarm" in table
        else None,
    )


def _value_spec(raw: Any, where: str, reading: ValueSpec | None) -> ValueSpec:
    """Parse a reading/setting table; a setting inherits length, units and scaling from the reading."""
    table = _as_table(raw, where)
    _check_keys(
        table,
        {
            "length",
            "units",
            "primary_units",
            "raw_bytes",
            "raw_format",
            "primary_scale",
            "primary_offset",
            "common_scale",
            "common_offset",
            "min",
            "max",
            "generator",
            "initial",
            "text",
        },
        where,
    )
    base = reading if reading is not None else ValueSpec()
    if "text" in table:
        return ValueSpec(text=str(table["text"]), units=table.get("units"))
    inherited = base.scaling
    raw_format = str(table.get("raw_format", inherited.raw_format))
    if raw_format not in RAW_FORMATS:
        raise CatalogueError(f"{where}.raw_format: must be one of {', '.join(RAW_FORMATS)}")
    default_bytes = inherited.raw_bytes if inherited.raw_bytes in FORMAT_SIZES[raw_format] else 4
    default_scale = RAMP_PRIMARY_SCALE if raw_format == "ramp" else inherited.primary_scale
    scaling = Scaling(
        raw_bytes=_int(table.get("raw_bytes", default_bytes), f"{where}.raw_bytes"),
        raw_format=raw_format,
        primary_scale=_number(table.get("primary_scale", default_scale), f"{where}.primary_scale"),
        primary_offset=_number(
            table.get("primary_offset", inherited.primary_offset), f"{where}.primary_offset"
        ),
        common_scale=_number(table.get("common_scale", inherited.common_scale), f"{where}.common_scale"),
        common_offset=_number(table.get("common_offset", inherited.common_offset), f"{where}.common_offset"),
    )
    sizes = FORMAT_SIZES[raw_format]
    if scaling.raw_bytes not in sizes:
        raise CatalogueError(
            f"{where}.raw_bytes: {raw_format} data is {' or '.join(str(size) for size in sizes)} bytes"
        )
    if scaling.primary_scale == 0 or scaling.common_scale == 0:
        raise CatalogueError(f"{where}: scale factors must not be zero")
    length = _int(table.get("length", base.length), f"{where}.length")
    if length < 1:
        raise CatalogueError(f"{where}.length: must be at least 1")
    minimum = _number(table.get("min", base.minimum), f"{where}.min")
    maximum = _number(table.get("max", base.maximum), f"{where}.max")
    if minimum > maximum:
        raise CatalogueError(f"{where}: min is above max")
    initial_raw = table.get("initial", 0.0)
    initial = (
        tuple(_number(v, f"{where}.initial") for v in initial_raw)
        if isinstance(initial_raw, list)
        else (_number(initial_raw, f"{where}.initial"),) * length
    )
    if len(initial) != length:
        raise CatalogueError(f"{where}.initial: {len(initial)} values for length {length}")
    generator = (
        generator_from_table(_as_table(table["generator"], f"{where}.generator"), f"{where}.generator")
        if "generator" in table
        else None
    )
    return ValueSpec(
        length=length,
        units=table.get("units", base.units),
        primary_units=table.get("primary_units", base.primary_units),
        scaling=scaling,
        minimum=minimum,
        maximum=maximum,
        generator=generator,
        initial=initial,
    )


def _status(raw: Any, where: str) -> StatusSpec:
    table = _as_table(raw, where)
    _check_keys(table, {*STATUS_ATTRIBUTES, "control", "bits", "bit_names", "commands"}, where)
    initial = {name: _bool(table[name], f"{where}.{name}") for name in STATUS_ATTRIBUTES if name in table}
    bits = _as_table(table.get("bits", {}), f"{where}.bits")
    names = _as_table(table.get("bit_names", {}), f"{where}.bit_names")
    _check_keys(bits, set(STATUS_ATTRIBUTES), f"{where}.bits")
    _check_keys(names, set(STATUS_ATTRIBUTES), f"{where}.bit_names")
    commands = table.get("commands")
    if commands is not None and (not isinstance(commands, list) or not commands):
        raise CatalogueError(f"{where}.commands: expected a non-empty list of {{ name, value }} tables")
    return StatusSpec(
        initial=initial,
        control=_bool(table.get("control", True), f"{where}.control"),
        bits={**DEFAULT_STATUS_BITS, **{k: _int(v, f"{where}.bits.{k}") for k, v in bits.items()}},
        bit_names={**DEFAULT_BIT_NAMES, **{k: str(v) for k, v in names.items()}},
        commands=DEFAULT_COMMANDS
        if commands is None
        else tuple(_command(item, f"{where}.commands[{i}]") for i, item in enumerate(commands)),
    )


def _command(raw: Any, where: str) -> ControlCommand:
    table = _as_table(raw, where)
    _check_keys(table, {"name", "value"}, where)
    if "name" not in table or "value" not in table:
        raise CatalogueError(f"{where}: needs a name and a value")
    return ControlCommand(_int(table["value"], f"{where}.value"), str(table["name"]).upper())


def _alarm(raw: Any, where: str, analog: bool) -> AlarmSpec:
    table = _as_table(raw, where)
    limits = {"min", "max"} if analog else {"nominal", "mask"}
    _check_keys(table, {*limits, "enable", "abort", "abort_inhibit", "tries_needed", "scan_ms"}, where)
    common: dict[str, Any] = {
        "enable": _bool(table.get("enable", True), f"{where}.enable"),
        "abort": _bool(table.get("abort", False), f"{where}.abort"),
        "abort_inhibit": _bool(table.get("abort_inhibit", False), f"{where}.abort_inhibit"),
        "tries_needed": _int(table.get("tries_needed", 1), f"{where}.tries_needed"),
        "scan_ms": _positive(table.get("scan_ms", 1000.0), f"{where}.scan_ms"),
    }
    if common["tries_needed"] < 1:
        raise CatalogueError(f"{where}.tries_needed: must be at least 1")
    if analog:
        return AlarmSpec(
            minimum=_number(table.get("min", 0.0), f"{where}.min"),
            maximum=_number(table.get("max", 0.0), f"{where}.max"),
            **common,
        )
    return AlarmSpec(
        nominal=_int(table.get("nominal", 0), f"{where}.nominal"),
        mask=_int(table.get("mask", 0), f"{where}.mask"),
        **common,
    )


def _bank(table: Mapping[str, Any], where: str) -> list[DeviceSpec]:
    """Generate ``count`` identical-shape devices ``PREFIX000``.. sharing one reading definition."""
    _check_keys(
        table, {"prefix", "count", "first_index", "description", "default_period_ms", "reading"}, where
    )
    prefix = str(table.get("prefix", "Z:BANK"))
    count = _int(table.get("count", 1000), f"{where}.count")
    first_index = _int(table.get("first_index", 900_000), f"{where}.first_index")
    digits = max(3, len(str(count - 1)))
    reading = _value_spec(table.get("reading", {}), f"{where}.reading", None)
    if reading.generator is None or reading.generator.kind == "follow_setting":
        raise CatalogueError(f"{where}.reading: needs a time generator")
    period = _positive(table.get("default_period_ms", 1000.0), f"{where}.default_period_ms")
    description = str(table.get("description", "Simulated bank device"))
    _check_name(f"{prefix}{0:0{digits}d}", where)
    return [
        DeviceSpec(
            name=f"{prefix}{i:0{digits}d}",
            index=first_index + i,
            description=f"{description} {i}",
            long_name=f"{description} {i}",
            default_period_ms=period,
            reading=reading,
        )
        for i in range(count)
    ]


def _check_name(name: str, where: str) -> None:
    """Canonical ACNET names (``M:OUTTMP``) or names DRF treats as non-ACNET (EPICS-style PVs)."""
    if ACNET_NAME.match(name) and not CANONICAL_ACNET_NAME.match(name):
        raise CatalogueError(f"{where}: {name} is not canonical (upper case, ':' as second character)")
    if not ACNET_NAME.match(name) and not OTHER_NAME.match(name):
        raise CatalogueError(f"{where}: {name} is not a device name DRF can address")


def _clock(raw: Any, where: str) -> dict[int, ClockEventSpec]:
    if raw is None:
        return {n: ClockEventSpec(n, period, offset) for n, (period, offset) in DEFAULT_CLOCK_EVENTS.items()}
    events = {}
    for key, value in _as_table(raw, f"{where}: clock").items():
        at = f"{where}: clock event {key}"
        try:
            number = int(str(key), 16)
        except ValueError:
            raise CatalogueError(f'{at}: the key must be a hexadecimal event number such as "0F"') from None
        table = _as_table(value, at)
        _check_keys(table, {"period_ms", "rate_hz", "offset_ms"}, at)
        if ("period_ms" in table) == ("rate_hz" in table):
            raise CatalogueError(f"{at}: give exactly one of period_ms and rate_hz")
        period = (
            _positive(table["period_ms"], f"{at}.period_ms")
            if "period_ms" in table
            else 1000.0 / _positive(table["rate_hz"], f"{at}.rate_hz")
        )
        events[number] = ClockEventSpec(
            number, period, _number(table.get("offset_ms", 0.0), f"{at}.offset_ms")
        )
    return events


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    return _as_table(data.get(key, {}), f"{where}: {key}")


def _as_table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CatalogueError(f"{where}: expected a table, got {type(value).__name__}")
    return value


def _check_keys(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CatalogueError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CatalogueError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _positive(value: Any, where: str) -> float:
    number = _number(value, where)
    if number <= 0:
        raise CatalogueError(f"{where}: must be positive")
    return number


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CatalogueError(f"{where}: expected an integer, got {value!r}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise CatalogueError(f"{where}: expected true or false, got {value!r}")
    return value
