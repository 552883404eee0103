"""Raw data formats of ACNET devices: how one element's raw value is laid out in bytes (pure
functions shared by the simulator's devices and the client's scaling).

* ``int``: a signed little-endian integer of 1, 2, 4 or 8 bytes;
* ``ieee``: an IEEE-754 float, little-endian, single (4 bytes) or double (8 bytes);
* ``dec_f``: a DEC F_float (4 bytes): two little-endian 16-bit words, the first holding the sign, the
  excess-128 exponent and the high fraction bits (45.0 is ``34 43 00 00``);
* ``ramp``: a ramp-table point (4 bytes): int16 value, then int16 delta time (both little-endian).
"""

from __future__ import annotations

import math
import struct
import sys

RAW_FORMATS = ("int", "ieee", "dec_f", "ramp")
FLOAT_FORMATS = ("ieee", "dec_f")
FORMAT_SIZES = {"int": (1, 2, 4, 8), "ieee": (4, 8), "dec_f": (4,), "ramp": (4,)}

_IEEE = {4: struct.Struct("<f"), 8: struct.Struct("<d")}
DEC_F_MAX = math.ldexp(1.0 - 2.0**-24, 127)
IEEE_MAX = {4: float.fromhex("0x1.fffffep127"), 8: sys.float_info.max}
_RAMP = struct.Struct("<hh")


def encode_dec_f(value: float) -> bytes:
    """``value`` as DEC F_float bytes; zero and values too small become 0, too large ones the largest."""
    if value == 0.0 or math.isnan(value):
        return bytes(4)
    sign = 0x80000000 if value < 0 else 0
    value = min(abs(value), DEC_F_MAX)
    mantissa, exponent = math.frexp(value)  # value = mantissa * 2**exponent, 0.5 <= mantissa < 1
    fraction = round(mantissa * (1 << 24))
    if fraction == 1 << 24:
        fraction, exponent = 1 << 23, exponent + 1
    biased = exponent + 128
    if biased <= 0:
        return bytes(4)
    if biased > 255:
        biased, fraction = 255, (1 << 24) - 1
    bits = sign | (biased << 23) | (fraction & 0x7FFFFF)
    return struct.pack("<HH", bits >> 16, bits & 0xFFFF)


def decode_dec_f(data: bytes) -> float:
    """The value of four DEC F_float bytes (a zero exponent reads as 0.0)."""
    high, low = struct.unpack("<HH", data)
    bits = (high << 16) | low
    biased = (bits >> 23) & 0xFF
    if biased == 0:
        return 0.0
    value = math.ldexp(((bits & 0x7FFFFF) | 0x800000) / (1 << 24), biased - 128)
    return -value if bits & 0x80000000 else value


def pack_raw(raw: float, size: int, fmt: str, delta: int = 0) -> bytes:
    """One element's raw value as bytes (``delta``: the delta time of a ramp point)."""
    if fmt == "ieee":
        return _IEEE[size].pack(raw)
    if fmt == "dec_f":
        return encode_dec_f(raw)
    if fmt == "ramp":
        return _RAMP.pack(int(raw), delta)
    return int(raw).to_bytes(size, "little", signed=True)


def unpack_raw(data: bytes, fmt: str) -> tuple[float, int]:
    """One element's raw value and (ramp points only, else 0) its delta time."""
    if fmt == "ieee":
        return _IEEE[len(data)].unpack(data)[0], 0
    if fmt == "dec_f":
        return decode_dec_f(data), 0
    if fmt == "ramp":
        value, delta = _RAMP.unpack(data)
        return float(value), delta
    return int.from_bytes(data, "little", signed=True), 0
