from __future__ import annotations

import dataclasses
from collections.abc import Callable

from reactivex import Observable
from reactivex import operators as rxops

from pacsys_rx.model import Reading, ValueType
from pacsys_rx.scaling import Scaling, Units


def scale(scaling: Scaling, source: Units = "raw", target: Units = "common",
          ) -> Callable[[Observable[Reading]], Observable[Reading]]:
    """Each good reading with its value converted from ``source`` to ``target`` units
    (``Scaling.from_property(grpc.device_info(name).reading)``) and the units of ``target``.

    A raw value may be the bytes of ``.RAW`` (split into ``raw_bytes`` elements) or numbers; arrays
    convert element by element, one element gives a number. Error readings pass unchanged; a value
    that cannot be converted ends the stream with ValueError or TypeError.

        readings: -b'\\x80\\x1b'-----err-|
        output:   -70.4 DegF------err-|      (raw to common, 0.001 V/count, 10 DegF/V)
    """

    def elements(value: object) -> tuple[tuple[float, ...], bool]:
        if isinstance(value, (bytes, bytearray)):
            if source != "raw":
                raise TypeError(f"bytes are raw data, not {source} values")
            raw = scaling.raw_elements(bytes(value))
            return raw, len(raw) > 1
        if isinstance(value, tuple):
            return tuple(float(v) for v in value), True
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (float(value),), False
        raise TypeError(f"cannot scale a {type(value).__name__}")

    def convert(reading: Reading) -> Reading:
        if not reading.ok:
            return reading
        numbers, is_array = elements(reading.value)
        converted = tuple(scaling.convert(number, source, target) for number in numbers)
        return dataclasses.replace(
            reading, value=converted if is_array else converted[0], units=scaling.units(target),
            value_type=ValueType.SCALAR_ARRAY if is_array else ValueType.SCALAR)

    return rxops.map(convert)
