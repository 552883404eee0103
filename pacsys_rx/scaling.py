"""Raw ↔ primary ↔ common conversion with DevDB's scaling constants (``PropertyInfo``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pacsys_rx.errors import NotSupported
from pacsys_rx.protocols.raw_formats import FLOAT_FORMATS, FORMAT_SIZES, unpack_raw

if TYPE_CHECKING:
    from pacsys_rx.backends.grpc.backend import PropertyInfo

Units = Literal["raw", "primary", "common"]
"""Where a value stands: the device's raw number, primary units (volts) or common (engineering) units."""

LINEAR_TRANSFORM = 0
"""The transform index of the linear pair: ``primary = raw * C1 + C2``, ``common = primary * C3 + C4``."""

RawFormat = Literal["int", "ieee", "dec_f"]


@dataclass(frozen=True)
class Scaling:
    """The linear transforms of one property and the layout of its raw elements.

    ``primary = raw * primary_scale + primary_offset``; ``common = primary * common_scale +
    common_offset``. A raw element is ``raw_bytes`` bytes, little-endian: a signed integer
    (``raw_format="int"``), an IEEE float (``"ieee"``) or a DEC F_float (``"dec_f"``); DevDB does not
    say which, so it is given (see :mod:`pacsys_rx.protocols.raw_formats`).
    """

    primary_scale: float = 1.0
    primary_offset: float = 0.0
    common_scale: float = 1.0
    common_offset: float = 0.0
    raw_bytes: int = 2
    raw_format: RawFormat = "int"
    primary_units: str | None = None
    common_units: str | None = None

    def __post_init__(self) -> None:
        if self.raw_format == "ramp" or self.raw_bytes not in FORMAT_SIZES.get(self.raw_format, ()):
            raise ValueError(f"a raw {self.raw_format!r} element is not {self.raw_bytes} bytes")
        if self.primary_scale == 0 or self.common_scale == 0:
            raise ValueError("scale factors must not be zero")

    @classmethod
    def from_property(cls, prop: PropertyInfo, raw_bytes: int = 2,
                      raw_format: RawFormat = "int") -> Scaling:
        """The scaling of a DevDB property (``device_info(name).reading``); NotSupported for transform
        indices other than the linear pair (``p_index`` and ``c_index`` 0 with four constants)."""
        if (prop.p_index, prop.c_index) != (LINEAR_TRANSFORM, LINEAR_TRANSFORM) or len(prop.coeff) < 4:
            raise NotSupported(f"only the linear transforms (index {LINEAR_TRANSFORM}, four constants) are "
                               f"implemented, got p{prop.p_index}/c{prop.c_index} with {len(prop.coeff)}")
        c1, c2, c3, c4 = prop.coeff[:4]
        return cls(c1, c2, c3, c4, raw_bytes, raw_format, prop.primary_units, prop.common_units)

    def raw_elements(self, data: bytes) -> tuple[float, ...]:
        """The raw numbers of a ``.RAW`` value (one per ``raw_bytes`` bytes)."""
        size = self.raw_bytes
        if not data or len(data) % size:
            raise ValueError(f"{len(data)} raw bytes are not whole {size}-byte elements")
        return tuple(float(unpack_raw(data[i:i + size], self.raw_format)[0])
                     for i in range(0, len(data), size))

    def raw_to_primary(self, raw: float) -> float:
        return raw * self.primary_scale + self.primary_offset

    def primary_to_raw(self, primary: float) -> float:
        """The raw number (the nearest integer for ``int`` elements); ValueError outside the element."""
        raw = (primary - self.primary_offset) / self.primary_scale
        if self.raw_format in FLOAT_FORMATS:
            return raw
        raw = float(round(raw))
        half = 1 << (8 * self.raw_bytes - 1)
        if not -half <= raw < half:
            raise ValueError(f"{primary:g} is raw {raw:g}, outside a {self.raw_bytes}-byte integer")
        return raw

    def primary_to_common(self, primary: float) -> float:
        return primary * self.common_scale + self.common_offset

    def common_to_primary(self, common: float) -> float:
        return (common - self.common_offset) / self.common_scale

    def convert(self, value: float, source: Units, target: Units) -> float:
        """One number from ``source`` to ``target`` units (through primary)."""
        to_primary: dict[str, Callable[[float], float]] = {
            "raw": self.raw_to_primary, "primary": float, "common": self.common_to_primary}
        from_primary: dict[str, Callable[[float], float]] = {
            "raw": self.primary_to_raw, "primary": float, "common": self.primary_to_common}
        return from_primary[target](to_primary[source](value))

    def units(self, target: Units) -> str | None:
        """The units a value in ``target`` units carries (None for raw)."""
        return {"raw": None, "primary": self.primary_units, "common": self.common_units}[target]
