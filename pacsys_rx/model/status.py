"""ACNET status: a facility number and a signed error number packed into 16 bits."""

from __future__ import annotations

from functools import lru_cache

from pacsys_rx.model.status_codes import NAME_ONLY_FACILITIES, NAMED_CODES

_BY_PAIR: dict[tuple[int, int], str] = {(fac, err): name for name, (fac, err, _) in NAMED_CODES.items()}


class AcnetStatus:
    """An immutable ACNET status; equal statuses are usually the same cached object.

    ``AcnetStatus.from_code(-4335).name == "DPM_PRIV"``; ``AcnetStatus.named("DPM_PRIV")``
    and the class attributes (``AcnetStatus.DPM_PRIV``) give every code of the status tables.
    """

    __slots__ = ("error", "facility")
    facility: int
    error: int

    def __new__(cls, facility: int, error: int) -> AcnetStatus:
        """``error`` is the signed error number; an unsigned byte (128..255) is read as negative."""
        if (type(facility) is not int or type(error) is not int
                or not 0 <= facility <= 255 or not -128 <= error <= 255):
            raise ValueError(f"ACNET status needs facility 0..255 and error -128..255, "
                             f"got ({facility!r}, {error!r})")
        return _make(facility, _signed8(error))

    @classmethod
    def _create(cls, facility: int, error: int) -> AcnetStatus:
        obj = object.__new__(cls)
        object.__setattr__(obj, "facility", facility)
        object.__setattr__(obj, "error", error)
        return obj

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("AcnetStatus is immutable")

    def __reduce__(self) -> tuple[type[AcnetStatus], tuple[int, int]]:
        return (AcnetStatus, (self.facility, self.error))

    @staticmethod
    def from_code(packed: int) -> AcnetStatus:
        """Build from the combined 16-bit value (signed or unsigned)."""
        if not isinstance(packed, int) or isinstance(packed, bool):
            raise TypeError(f"packed must be an int, got {type(packed).__name__}")
        if not -0x8000 <= packed <= 0xFFFF:
            raise ValueError(f"ACNET status {packed} does not fit in 16 bits")
        return AcnetStatus(packed & 0xFF, (packed >> 8) & 0xFF)

    @staticmethod
    def from_wire(facility: int, error: int) -> AcnetStatus:
        """Numbers received from a peer: the low byte of each, as ACNET packs them (never raises)."""
        return _make(facility & 0xFF, _signed8(error))

    @staticmethod
    def named(name: str) -> AcnetStatus:
        """The status with this name (``KeyError`` if the tables do not know it)."""
        if name in NAMED_CODES:
            facility, error, _ = NAMED_CODES[name]
            return AcnetStatus(facility, error)
        if name in NAME_ONLY_FACILITIES:
            facility = NAME_ONLY_FACILITIES[name]
            raise KeyError(f"{name} is known only by name (facility {facility}); it has no number")
        raise KeyError(f"unknown ACNET status name {name!r}")

    @property
    def packed(self) -> int:
        """The combined value as a signed 16-bit integer (``facility + 256 * error``)."""
        return self.facility + 256 * self.error

    @property
    def name(self) -> str | None:
        """The table name of this status, or None when it is not a named code."""
        if self.error == 0:
            return _BY_PAIR.get((self.facility, 0), "OK")
        return _BY_PAIR.get((self.facility, self.error))

    @property
    def is_ok(self) -> bool:
        return self.error == 0

    @property
    def is_warning(self) -> bool:
        return self.error > 0

    @property
    def is_error(self) -> bool:
        return self.error < 0

    def describe(self) -> str:
        """Human text: ``NAME: description`` when known, else a generic warning or error text."""
        name = self.name
        if self.error == 0:
            return "OK"
        if name is not None and name in NAMED_CODES:
            return f"{name}: {NAMED_CODES[name][2]}"
        return "Device error" if self.error < 0 else "Warning"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AcnetStatus):
            return self.facility == other.facility and self.error == other.error
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.facility, self.error))

    def __repr__(self) -> str:
        name = self.name
        label = f" {name}" if name else ""
        return f"AcnetStatus({self.facility}, {self.error}{label})"


def _signed8(value: int) -> int:
    value &= 0xFF
    return value - 256 if value > 127 else value


@lru_cache(maxsize=4096)
def _make(facility: int, error: int) -> AcnetStatus:
    return AcnetStatus._create(facility, error)


OK = AcnetStatus(0, 0)

for _name in NAMED_CODES:
    setattr(AcnetStatus, _name, AcnetStatus.named(_name))
