"""Array ranges ``[...]`` and byte ranges ``{...}`` (drf.md §4)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pacsys_rx.errors import DRFError

INT31_MAX = 2_147_483_647
"""Largest index, length or time value a DRF may carry."""

_INT31_DIGITS = len(str(INT31_MAX))
_RANGE = re.compile(r"[\[{](\d*)(?::(\d*))?[\]}]", re.ASCII)


def parse_bounded(digits: str) -> int | None:
    """Decimal ``digits`` as an int, or None when the value exceeds :data:`INT31_MAX`."""
    significant = digits.lstrip("0")
    if len(significant) > _INT31_DIGITS:
        return None
    value = int(significant or "0")
    return value if value <= INT31_MAX else None


def _range_text(opening: str, closing: str, mode: str, first: int | None, second: int | None) -> str:
    if mode == "full":
        return f"{opening}:{closing}"
    if mode == "single":
        return f"{opening}{first}{closing}"
    return f"{opening}{'' if first is None else first}:{'' if second is None else second}{closing}"


@dataclass(frozen=True, slots=True)
class ArrayRange:
    """Element indices: all (``full``), one (``single``) or ``low..high`` inclusive (``std``)."""

    mode: str
    low: int | None = None
    high: int | None = None

    @property
    def text(self) -> str:
        """Canonical spelling, e.g. ``[:]``, ``[3]``, ``[0:10]``, ``[5:]``."""
        return _range_text("[", "]", self.mode, self.low, self.high)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Byte ``offset`` and ``length`` within the property's data."""

    mode: str
    offset: int | None = None
    length: int | None = None

    @property
    def text(self) -> str:
        """Canonical spelling, e.g. ``{:}``, ``{4}``, ``{4:8}``."""
        return _range_text("{", "}", self.mode, self.offset, self.length)


def _bound(text: str, digits: str | None, what: str) -> int | None:
    if not digits:
        return None
    value = parse_bounded(digits)
    if value is None:
        raise DRFError(
            f"{what} must be 0..{INT31_MAX}, got {text}", text=text, error_class="range_index_overflow"
        )
    return value


def _range_mode(first: str, second: str | None) -> str:
    if not (first or second):
        return "full"
    return "single" if second is None else "std"


def parse_range(text: str) -> ArrayRange | ByteRange:
    """Parse ``[...]`` or ``{...}`` whose inside is made only of digits and colons."""
    match = _RANGE.fullmatch(text)
    if match is None:
        raise DRFError(f"bad range {text}", text=text, error_class="bad_range_syntax")
    first, second = match.groups()
    mode = _range_mode(first, second)
    if text[0] == "[":
        low = _bound(text, first, "array range start")
        high = _bound(text, second, "array range end")
        if low is not None and high is not None and high < low:
            raise DRFError(
                f"array range end must not precede start, got {text}",
                text=text,
                error_class="range_end_before_start",
            )
        return ArrayRange(mode, low, high)
    offset = _bound(text, first, "byte range offset")
    length = _bound(text, second, "byte range length")
    if (offset or 0) + (length or 0) > INT31_MAX + 1:
        raise DRFError(
            f"byte range must end by {INT31_MAX + 1}, got {text}",
            text=text,
            error_class="range_index_overflow",
        )
    return ByteRange(mode, offset, length)
