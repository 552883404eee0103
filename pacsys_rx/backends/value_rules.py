"""One value type and unit rule per property, whatever the backend (docs/concepts.md, "Value types").

The shared layer (``base`` for one-shot reads, ``streams`` for streams) passes every reading whose
rule is not plain through :func:`conform`, so that the same DRF gives the same Python type and units
on DPM/HTTP, gRPC, DMQ, ACL and FakeBackend:

* flags (``STATUS.ON``/``READY``/``REMOTE``/``POSITIVE``/``RAMP``, alarm ``ALARM_ENABLE``,
  ``ALARM_STATUS``, ``ABORT``, ``ABORT_INHIBIT``) are ``bool`` without units;
* counters and bit patterns (``TRIES_NEEDED``, ``TRIES_NOW``, ``NOM``/``MASK`` of a digital alarm,
  ``INDEX``) are ``int`` without units;
* alarm blocks are ``AnalogAlarm``/``DigitalAlarm`` and bit names a tuple of ``str``, also where a
  server sends them as text (ACL);
* only scaled READING/SETTING values and analog alarm limits (``MIN``, ``MAX``, ``NOM``, ``TOL``) carry
  engineering units; everything else (raw bytes, text, status, alarm blocks, bit names) has none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pacsys_rx.drf import Field, Property, parse_request
from pacsys_rx.model import AnalogAlarm, DigitalAlarm, Reading, ValueType

_FLAGS = frozenset({Field.ON, Field.READY, Field.REMOTE, Field.POSITIVE, Field.RAMP, Field.ALARM_ENABLE,
                    Field.ALARM_STATUS, Field.ABORT, Field.ABORT_INHIBIT})
_COUNTS = frozenset({Field.TRIES_NEEDED, Field.TRIES_NOW, Field.MASK})
_SCALED = frozenset({None, Field.SCALED, Field.PRIMARY})
_LIMITS = frozenset({Field.MIN, Field.MAX, Field.NOM, Field.TOL})
_CASTABLE = (ValueType.SCALAR, ValueType.TEXT)
_FLAG_TEXT = {"true": True, "false": False, "t": True, "f": False, "1": True, "0": False, "on": True,
              "off": False}


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return _FLAG_TEXT[value.strip().lower()]
    return bool(value)


def _count(value: Any) -> int:
    return int(float(value)) if isinstance(value, str) else int(value)


def _names(value: Any) -> tuple[str, ...]:
    """Bit names given as one text (ACL: ``"On, Ready, , Positive"``)."""
    return tuple(name.strip() for name in value.split(",")) if isinstance(value, str) else tuple(value)


def _block_fields(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split())


def _analog_block(value: Any) -> AnalogAlarm:
    """An analog alarm block given as ``key=value`` text (ACL)."""
    if isinstance(value, AnalogAlarm):
        return value
    f = _block_fields(value)
    return AnalogAlarm(float(f["minimum"]), float(f["maximum"]), _flag(f["alarm_enable"]),
                       _flag(f["alarm_status"]), _flag(f["abort"]), _flag(f["abort_inhibit"]),
                       _count(f["tries_needed"]), _count(f["tries_now"]))


def _digital_block(value: Any) -> DigitalAlarm:
    """A digital alarm block given as ``key=value`` text (ACL)."""
    if isinstance(value, DigitalAlarm):
        return value
    f = _block_fields(value)
    return DigitalAlarm(_count(f["nominal"]), _count(f["mask"]), _flag(f["alarm_enable"]),
                        _flag(f["alarm_status"]), _flag(f["abort"]), _flag(f["abort_inhibit"]),
                        _count(f["tries_needed"]), _count(f["tries_now"]))


@dataclass(frozen=True, slots=True)
class ValueRule:
    """How readings of one DRF look: ``cast`` applied to the value, and whether units are kept."""

    cast: Callable[[Any], Any] | None
    units: bool
    value_type: ValueType = ValueType.SCALAR
    """The value type of a cast value."""

    @property
    def plain(self) -> bool:
        """Nothing to change for a value with units (the hot path of READING streams)."""
        return self.cast is None and self.units


@functools.lru_cache(maxsize=4096)
def rule_for(drf: str) -> ValueRule:
    """The rule of one DRF (by its property and field)."""
    request = parse_request(drf)
    prop, field = request.property, request.field
    if field in _FLAGS:
        return ValueRule(_flag, False)
    if field is Field.BIT_NAMES:
        return ValueRule(_names, False, ValueType.TEXT_ARRAY)
    if prop is Property.ANALOG and field in (None, Field.ALL):
        return ValueRule(_analog_block, False, ValueType.ANALOG_ALARM)
    if prop is Property.DIGITAL and field in (None, Field.ALL):
        return ValueRule(_digital_block, False, ValueType.DIGITAL_ALARM)
    if field in _COUNTS or (prop is Property.DIGITAL and field is Field.NOM) or prop is Property.INDEX:
        return ValueRule(_count, False)
    if prop in (Property.READING, Property.SETTING) and field in _SCALED:
        return ValueRule(None, True)
    if prop is Property.ANALOG and field in _LIMITS:
        return ValueRule(None, True)
    return ValueRule(None, False)


def conform(reading: Reading, rule: ValueRule) -> Reading:
    """``reading`` with its value cast and its units dropped as the rule says (itself when unchanged)."""
    value, units = reading.value, reading.units
    if not rule.units:
        units = None
    if rule.cast is not None and value is not None and reading.value_type in _CASTABLE:
        try:
            value = rule.cast(value)
        except (KeyError, ValueError, TypeError, AttributeError):
            return reading
    if value is reading.value and units is reading.units:
        return reading
    return type(reading)(reading.drf, reading.device, value, rule.value_type if value is not reading.value
                         else reading.value_type, units, reading.timestamp, reading.cycle, reading.status,
                         reading.backend, reading.meta, reading.message)
