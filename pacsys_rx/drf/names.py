"""DRF properties and fields, their aliases and which fields each property allows (drf.md §3, §5)."""

from __future__ import annotations

import enum


class Property(str, enum.Enum):
    """A device property: what part of the device a request addresses."""

    READING = "READING"
    SETTING = "SETTING"
    STATUS = "STATUS"
    CONTROL = "CONTROL"
    ANALOG = "ANALOG"
    DIGITAL = "DIGITAL"
    DESCRIPTION = "DESCRIPTION"
    INDEX = "INDEX"
    LONG_NAME = "LONG_NAME"
    ALARM_LIST_NAME = "ALARM_LIST_NAME"
    BIT_STATUS = "BIT_STATUS"


class Field(str, enum.Enum):
    """The flavour of a property's data (raw bytes, scaled value, one alarm attribute...)."""

    RAW = "RAW"
    PRIMARY = "PRIMARY"
    SCALED = "SCALED"
    UNITS = "UNITS"
    ALL = "ALL"
    TEXT = "TEXT"
    EXTENDED_TEXT = "EXTENDED_TEXT"
    ON = "ON"
    READY = "READY"
    REMOTE = "REMOTE"
    POSITIVE = "POSITIVE"
    RAMP = "RAMP"
    BIT_VALUE = "BIT_VALUE"
    BIT_NAMES = "BIT_NAMES"
    BIT_VALUES = "BIT_VALUES"
    MIN = "MIN"
    MAX = "MAX"
    NOM = "NOM"
    TOL = "TOL"
    RAW_MIN = "RAW_MIN"
    RAW_MAX = "RAW_MAX"
    RAW_NOM = "RAW_NOM"
    RAW_TOL = "RAW_TOL"
    ALARM_ENABLE = "ALARM_ENABLE"
    ALARM_STATUS = "ALARM_STATUS"
    TRIES_NEEDED = "TRIES_NEEDED"
    TRIES_NOW = "TRIES_NOW"
    ALARM_FTD = "ALARM_FTD"
    ABORT = "ABORT"
    ABORT_INHIBIT = "ABORT_INHIBIT"
    FLAGS = "FLAGS"
    MASK = "MASK"


_P = Property
_F = Field

PROPERTY_ALIASES: dict[str, Property] = {
    alias: prop
    for prop, aliases in (
        (_P.READING, ("READING", "READ", "PRREAD")),
        (_P.SETTING, ("SETTING", "SET", "PRSET")),
        (_P.STATUS, ("STATUS", "BASIC_STATUS", "STS", "PRBSTS")),
        (_P.CONTROL, ("CONTROL", "BASIC_CONTROL", "CTRL", "PRBCTL")),
        (_P.ANALOG, ("ANALOG", "ANALOG_ALARM", "AA", "PRANAB")),
        (_P.DIGITAL, ("DIGITAL", "DIGITAL_ALARM", "DA", "PRDABL")),
        (_P.DESCRIPTION, ("DESCRIPTION", "DESC", "PRDESC")),
        (_P.INDEX, ("INDEX", "IDX", "PRIDX")),
        (_P.LONG_NAME, ("LONG_NAME", "LNGNAM", "PRLNAM")),
        (_P.ALARM_LIST_NAME, ("ALARM_LIST_NAME", "LSTNAM", "PRALNM")),
        (_P.BIT_STATUS, ("BIT_STATUS", "BITSTATUS")),
    )
    for alias in aliases
}
"""Upper-case property word after a '.' → property."""

QUALIFIER_PROPERTY: dict[str, Property] = {
    ":": _P.READING,
    "?": _P.READING,
    "_": _P.SETTING,
    "|": _P.STATUS,
    "&": _P.CONTROL,
    "@": _P.ANALOG,
    "$": _P.DIGITAL,
    "~": _P.DESCRIPTION,
    "^": _P.INDEX,
    "#": _P.LONG_NAME,
    "!": _P.ALARM_LIST_NAME,
}
"""Second character of an ACNET device name → property it implies."""

PROPERTY_QUALIFIER: dict[Property, str] = {prop: char for char, prop in reversed(QUALIFIER_PROPERTY.items())}
"""Property → the qualifier character of its qualified spelling (BIT_STATUS has none)."""

FIELD_ALIASES: dict[str, Field] = {
    **{field.value: field for field in Field},
    "VOLTS": _F.PRIMARY,
    "COMMON": _F.SCALED,
    "MINIMUM": _F.MIN,
    "MAXIMUM": _F.MAX,
    "NOMINAL": _F.NOM,
    "TOLERANCE": _F.TOL,
    "RAWMIN": _F.RAW_MIN,
    "RAWMAX": _F.RAW_MAX,
    "RAWNOM": _F.RAW_NOM,
    "RAWTOL": _F.RAW_TOL,
    "ENABLE": _F.ALARM_ENABLE,
    "STATUS": _F.ALARM_STATUS,
    "FTD": _F.ALARM_FTD,
}
"""Upper-case field word → field."""

DEFAULT_FIELD: dict[Property, Field | None] = {
    _P.READING: _F.SCALED,
    _P.SETTING: _F.SCALED,
    _P.STATUS: None,
    _P.CONTROL: None,
    _P.ANALOG: _F.ALL,
    _P.DIGITAL: _F.ALL,
    _P.DESCRIPTION: None,
    _P.INDEX: None,
    _P.LONG_NAME: None,
    _P.ALARM_LIST_NAME: None,
    _P.BIT_STATUS: None,
}
"""Field implied when a request names none (None: no field is implied)."""

_VALUE_FIELDS = frozenset({_F.RAW, _F.PRIMARY, _F.SCALED, _F.MIN, _F.MAX, _F.UNITS})
_STATUS_BITS = frozenset(
    {_F.RAW, _F.ALL, _F.TEXT, _F.ON, _F.READY, _F.REMOTE, _F.POSITIVE, _F.RAMP}
    | {_F.BIT_VALUE, _F.BIT_NAMES, _F.BIT_VALUES}
)
_ALARM_COMMON = frozenset(
    {_F.RAW, _F.ALL, _F.TEXT, _F.NOM, _F.ALARM_ENABLE, _F.ALARM_STATUS, _F.TRIES_NEEDED, _F.TRIES_NOW}
    | {_F.ALARM_FTD, _F.ABORT, _F.ABORT_INHIBIT, _F.FLAGS}
)
_TEXT_ONLY = frozenset({_F.SCALED})

ALLOWED_FIELDS: dict[Property, frozenset[Field]] = {
    _P.READING: _VALUE_FIELDS,
    _P.SETTING: _VALUE_FIELDS,
    _P.STATUS: _STATUS_BITS | {_F.EXTENDED_TEXT},
    _P.CONTROL: frozenset({_F.RAW, _F.SCALED}),
    _P.ANALOG: _ALARM_COMMON | {_F.MIN, _F.MAX, _F.TOL, _F.RAW_MIN, _F.RAW_MAX, _F.RAW_NOM, _F.RAW_TOL},
    _P.DIGITAL: _ALARM_COMMON | {_F.MASK},
    _P.DESCRIPTION: _TEXT_ONLY,
    _P.INDEX: _TEXT_ONLY,
    _P.LONG_NAME: _TEXT_ONLY,
    _P.ALARM_LIST_NAME: _TEXT_ONLY,
    _P.BIT_STATUS: _STATUS_BITS,
}
"""Fields each property accepts (drf.md §5.2)."""

WRITE_PROPERTY: dict[Property, Property] = {_P.READING: _P.SETTING, _P.STATUS: _P.CONTROL}
"""Properties a write is redirected to (drf.md §10); others are written as they are."""

HISTORICAL_EXTRAS = frozenset({"LOGGER", "LOGGERSINGLE", "LOGGERDURATION"})
"""Extras that read data-logger history rather than live data."""

EXTRA_NAMES = HISTORICAL_EXTRAS | {"FTP", "LIVEDATA", "SRFILE", "SDAFILE", "REDIR", "MIRROR"}
"""Every data source accepted after '<-' (drf.md §7)."""
