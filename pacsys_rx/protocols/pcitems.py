"""Item layer of the "protocol compiler" (PC / SDD) binary encoding, shared by DPM/HTTP and DMQ.

Every item starts with a tag byte: the high nibble names the kind, the low nibble the number
(1..8) of length/value bytes that follow. Integers, lengths and counts all use the minimal
big-endian two's-complement form. Structs (and message bodies) are sequences of alternating
field ids and values; a message is wrapped in the ``SDD`` envelope with a protocol id and a
type code.

Decoders work on ``bytes`` and a position and return ``(value, next_position)``; they raise
:class:`~pacsys_rx.errors.ProtocolError` with the offset of the offending item for any
malformed input. Encoders return ``bytes`` and raise ``ValueError``/``TypeError`` for values
the declared type cannot carry.

A protocol is described by :class:`StructCodec` objects (one per message or struct class,
built from :class:`Field` lists) collected in a :class:`PcProtocol` with its protocol id.
"""

from __future__ import annotations

import enum
import struct
import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pacsys_rx.errors import ProtocolError

__all__ = [
    "BINARY",
    "BINARY_FAMILY",
    "BOOL",
    "DOUBLE",
    "DOUBLE_TAG",
    "ENUM_FAMILY",
    "FALSE_TAG",
    "INT16",
    "INT32",
    "INT64",
    "INT_FAMILY",
    "MAGIC",
    "SEQUENCE_FAMILY",
    "STRING",
    "STRING_FAMILY",
    "TRUE_TAG",
    "ArrayType",
    "BinaryType",
    "BoolType",
    "Direction",
    "DoubleArrayType",
    "DoubleType",
    "EnumType",
    "Field",
    "IntType",
    "ItemType",
    "LayoutCodec",
    "PcProtocol",
    "StringType",
    "StructCodec",
    "StructType",
    "array_of",
    "encode_binary",
    "encode_bool",
    "encode_count",
    "encode_double",
    "encode_int",
    "encode_string",
    "read_binary",
    "read_bool",
    "read_count",
    "read_double",
    "read_int",
    "read_string",
]

INT_FAMILY = 0x10
BINARY_FAMILY = 0x30
STRING_FAMILY = 0x40
SEQUENCE_FAMILY = 0x50
ENUM_FAMILY = 0x80
DOUBLE_TAG = 0x28
FALSE_TAG = 0x70
TRUE_TAG = 0x71

MAGIC = b"SDD\x02"
"""Message magic: ``SDD`` plus format version 2."""

_KIND_NAMES = {
    0x1: "integer",
    0x2: "floating point",
    0x3: "binary",
    0x4: "string",
    0x5: "sequence",
    0x7: "boolean",
    0x8: "enum",
}

_DOUBLE = struct.Struct(">d")
_DOUBLE_ITEM = struct.Struct(">Bd")
_DOUBLE_TAG_BYTE = bytes((DOUBLE_TAG,))
_LITTLE_ENDIAN = sys.byteorder == "little"
_TRUE = bytes((TRUE_TAG,))
_FALSE = bytes((FALSE_TAG,))

Direction = Literal["request", "reply"]


def _describe_tag(tag: int) -> str:
    return f"0x{tag:02x} ({_KIND_NAMES.get(tag >> 4, 'no known kind')})"


# --------------------------------------------------------------------------------------------
# Scalar items
# --------------------------------------------------------------------------------------------


_TAG_BYTES = tuple(bytes((tag,)) for tag in range(256))
_ONE_BYTE_INTS = tuple(bytes((INT_FAMILY | 1, value & 0xFF)) for value in range(-128, 128))


def encode_int(value: int, family: int = INT_FAMILY) -> bytes:
    """Tag plus the minimal big-endian two's-complement bytes of ``value`` (at most 8)."""
    if -128 <= value < 128 and family == INT_FAMILY:
        return _ONE_BYTE_INTS[value + 128]
    size = (int.bit_length(value if value >= 0 else ~value) >> 3) + 1
    if size > 8:
        raise ValueError(f"{value} does not fit in 8 bytes")
    return _TAG_BYTES[family | size] + value.to_bytes(size, "big", signed=True)


def encode_count(count: int) -> bytes:
    """Sequence header (array, struct or envelope) for ``count`` items."""
    return encode_int(count, SEQUENCE_FAMILY)


def encode_double(value: float) -> bytes:
    """``28`` plus the IEEE-754 binary64, big-endian."""
    try:
        return _DOUBLE_ITEM.pack(DOUBLE_TAG, value)
    except struct.error:
        raise TypeError(f"a double must be a real number, not {type(value).__name__}") from None


def encode_bool(value: bool) -> bytes:
    """``71`` for True, ``70`` for False; anything that is not a bool is refused."""
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    raise TypeError(f"a boolean must be True or False, not {value!r}")


def encode_binary(value: bytes | bytearray | memoryview) -> bytes:
    """Blob: length header plus the raw bytes."""
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"binary data must be bytes-like, not {type(value).__name__}")
    data = bytes(value)
    return encode_int(len(data), BINARY_FAMILY) + data


def encode_string(value: str) -> bytes:
    """String: length header plus one ISO-8859-1 byte per character."""
    data = str.encode(value, "latin-1")
    return encode_int(len(data), STRING_FAMILY) + data


def _item_end(buf: bytes, pos: int, family: int) -> int:
    """Check the tag at ``pos`` belongs to ``family``; return the end of its length/value bytes."""
    kind = _KIND_NAMES[family >> 4]
    if pos >= len(buf):
        raise ProtocolError(f"message ends where an item of kind {kind} was expected", offset=pos)
    tag = buf[pos]
    size = tag - family
    if not 0 < size <= 8:
        raise ProtocolError(f"expected an item of kind {kind}, found tag {_describe_tag(tag)}", offset=pos)
    end = pos + 1 + size
    if end > len(buf):
        raise ProtocolError(f"truncated {kind} item", offset=pos)
    return end


def read_int(buf: bytes, pos: int, family: int = INT_FAMILY) -> tuple[int, int]:
    """Integer item of ``family`` at ``pos`` (non-minimal forms accepted)."""
    end = _item_end(buf, pos, family)
    return int.from_bytes(buf[pos + 1 : end], "big", signed=True), end


def _read_length(buf: bytes, pos: int, family: int) -> tuple[int, int]:
    """Length or count header; it must be non-negative and not exceed the bytes that remain."""
    length, end = read_int(buf, pos, family)
    if length < 0:
        raise ProtocolError(f"negative length {length}", offset=pos)
    if length > len(buf) - end:
        raise ProtocolError(f"length {length} exceeds the {len(buf) - end} bytes left", offset=pos)
    return length, end


def read_count(buf: bytes, pos: int) -> tuple[int, int]:
    """Sequence header: the item count (bounded by the bytes left, each item taking at least one)."""
    return _read_length(buf, pos, SEQUENCE_FAMILY)


def read_double(buf: bytes, pos: int) -> tuple[float, int]:
    """Double item (tag exactly ``28``)."""
    if pos >= len(buf):
        raise ProtocolError("message ends where a double was expected", offset=pos)
    if buf[pos] != DOUBLE_TAG:
        raise ProtocolError(f"expected a double (0x28), found tag {_describe_tag(buf[pos])}", offset=pos)
    if pos + 9 > len(buf):
        raise ProtocolError("truncated double", offset=pos)
    return _DOUBLE.unpack_from(buf, pos + 1)[0], pos + 9


def read_bool(buf: bytes, pos: int) -> tuple[bool, int]:
    """Boolean item (``70`` or ``71``)."""
    if pos >= len(buf):
        raise ProtocolError("message ends where a boolean was expected", offset=pos)
    tag = buf[pos]
    if tag == TRUE_TAG:
        return True, pos + 1
    if tag == FALSE_TAG:
        return False, pos + 1
    raise ProtocolError(f"expected a boolean (0x70/0x71), found tag {_describe_tag(tag)}", offset=pos)


def read_binary(buf: bytes, pos: int) -> tuple[bytes, int]:
    """Blob item."""
    length, start = _read_length(buf, pos, BINARY_FAMILY)
    end = start + length
    return buf[start:end], end


def read_string(buf: bytes, pos: int) -> tuple[str, int]:
    """String item, decoded as ISO-8859-1."""
    length, start = _read_length(buf, pos, STRING_FAMILY)
    end = start + length
    return buf[start:end].decode("latin-1"), end


# --------------------------------------------------------------------------------------------
# Item types (what a field or array element is declared as)
# --------------------------------------------------------------------------------------------


class ItemType:
    """Declared type of a field or array element: knows how to encode and decode one value."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def encode(self, value: Any) -> bytes:
        """The complete item (tag included) for ``value``."""
        raise NotImplementedError

    def decode(self, buf: bytes, pos: int) -> tuple[Any, int]:
        """The value of the item at ``pos`` and the position after it."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class IntType(ItemType):
    """Signed integer of a declared width; out-of-range values are refused both ways."""

    __slots__ = ("maximum", "minimum")

    def __init__(self, bits: int) -> None:
        super().__init__(f"int{bits}")
        self.minimum = -(1 << (bits - 1))
        self.maximum = (1 << (bits - 1)) - 1

    def encode(self, value: int) -> bytes:
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"{value} is outside the {self.name} range")
        return encode_int(value)

    def decode(self, buf: bytes, pos: int) -> tuple[int, int]:
        value, end = read_int(buf, pos)
        if not self.minimum <= value <= self.maximum:
            raise ProtocolError(f"{value} is outside the {self.name} range", offset=pos)
        return value, end


class DoubleType(ItemType):
    """IEEE-754 binary64; every bit pattern travels unchanged."""

    __slots__ = ()

    def encode(self, value: float) -> bytes:
        return encode_double(value)

    def decode(self, buf: bytes, pos: int) -> tuple[float, int]:
        return read_double(buf, pos)


class BoolType(ItemType):
    """Boolean (a tag byte without value bytes)."""

    __slots__ = ()

    def encode(self, value: bool) -> bytes:
        return encode_bool(value)

    def decode(self, buf: bytes, pos: int) -> tuple[bool, int]:
        return read_bool(buf, pos)


class BinaryType(ItemType):
    """Raw byte string; decodes to ``bytes``."""

    __slots__ = ()

    def encode(self, value: bytes) -> bytes:
        return encode_binary(value)

    def decode(self, buf: bytes, pos: int) -> tuple[bytes, int]:
        return read_binary(buf, pos)


class StringType(ItemType):
    """ISO-8859-1 text (characters above U+00FF cannot be encoded)."""

    __slots__ = ()

    def encode(self, value: str) -> bytes:
        return encode_string(value)

    def decode(self, buf: bytes, pos: int) -> tuple[str, int]:
        return read_string(buf, pos)


class EnumType(ItemType):
    """Enum item (family ``0x8n``) whose wire value is the member's integer value."""

    __slots__ = ("enum_class",)

    def __init__(self, enum_class: type[enum.IntEnum]) -> None:
        super().__init__(enum_class.__name__)
        self.enum_class = enum_class

    def encode(self, value: enum.IntEnum) -> bytes:
        if not isinstance(value, self.enum_class):
            raise TypeError(f"expected a {self.name} member, not {value!r}")
        return encode_int(int(value), ENUM_FAMILY)

    def decode(self, buf: bytes, pos: int) -> tuple[enum.IntEnum, int]:
        wire, end = read_int(buf, pos, ENUM_FAMILY)
        try:
            return self.enum_class(wire), end
        except ValueError:
            raise ProtocolError(f"unknown {self.name} value {wire}", offset=pos) from None


class ArrayType(ItemType):
    """Sequence of elements of one type; decodes to a ``list``."""

    __slots__ = ("element",)

    def __init__(self, element: ItemType) -> None:
        super().__init__(f"array of {element.name}")
        self.element = element

    def encode(self, value: Sequence[Any]) -> bytes:
        encode_element = self.element.encode
        return encode_count(len(value)) + b"".join([encode_element(item) for item in value])

    def decode(self, buf: bytes, pos: int) -> tuple[list[Any], int]:
        count, pos = read_count(buf, pos)
        decode_element = self.element.decode
        items = []
        for _ in range(count):
            item, pos = decode_element(buf, pos)
            items.append(item)
        return items, pos


class DoubleArrayType(ArrayType):
    """Array of doubles, converted in bulk: the tag bytes are checked and stripped in one step."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(DOUBLE)

    def encode(self, value: Sequence[float]) -> bytes:
        values = array("d", value)
        if _LITTLE_ENDIAN:
            values.byteswap()
        payload = values.tobytes()
        items = bytearray(9 * len(values))
        items[0::9] = _DOUBLE_TAG_BYTE * len(values)
        for byte in range(8):
            items[1 + byte :: 9] = payload[byte::8]
        return encode_count(len(values)) + bytes(items)

    def decode(self, buf: bytes, pos: int) -> tuple[list[Any], int]:
        count, start = read_count(buf, pos)
        end = start + 9 * count
        if end > len(buf) or buf[start:end:9] != _DOUBLE_TAG_BYTE * count:
            return super().decode(buf, pos)
        payload = bytearray(buf[start:end])
        del payload[::9]
        values = array("d", payload)
        if _LITTLE_ENDIAN:
            values.byteswap()
        return values.tolist(), end


class StructType(ItemType):
    """A struct embedded as a field value or array element."""

    __slots__ = ("codec",)

    def __init__(self, codec: StructCodec) -> None:
        super().__init__(codec.name)
        self.codec = codec

    def encode(self, value: Any) -> bytes:
        if type(value) is not self.codec.cls:
            raise TypeError(f"expected a {self.name}, not {type(value).__name__}")
        return self.codec.encode(value)

    def decode(self, buf: bytes, pos: int) -> tuple[Any, int]:
        return self.codec.decode(buf, pos)


INT16 = IntType(16)
INT32 = IntType(32)
INT64 = IntType(64)
DOUBLE = DoubleType("double")
BOOL = BoolType("bool")
BINARY = BinaryType("binary")
STRING = StringType("string")


def array_of(element: ItemType) -> ArrayType:
    """Array type of ``element`` (the specialised one for doubles)."""
    return DoubleArrayType() if element is DOUBLE else ArrayType(element)


# --------------------------------------------------------------------------------------------
# Structs, message bodies and the envelope
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One declared field: Python attribute name, wire id, type, and whether it may be absent."""

    name: str
    field_id: int
    type: ItemType
    optional: bool = False


class StructCodec:
    """Encodes and decodes one struct or message-body class from its declared fields.

    Present fields are written in declaration order; optional fields are absent when the
    attribute is ``None``. Decoding accepts any order but rejects an odd or out-of-range item
    count, unknown ids, duplicated fields and missing required fields. Subclasses may add a
    fast path for the canonical layout and fall back to :meth:`decode` here.
    """

    def __init__(self, cls: type, fields: Sequence[Field]) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.fields = tuple(fields)
        self._plan = tuple((f.name, encode_int(f.field_id), f.type.encode, f.optional) for f in self.fields)
        self._by_id = {f.field_id: f for f in self.fields}
        if len(self._by_id) != len(self.fields):
            raise ValueError(f"{self.name}: duplicate field ids")
        self._required = frozenset(f.name for f in self.fields if not f.optional)
        self._min_items = 2 * len(self._required)
        self._max_items = 2 * len(self.fields)

    def encode(self, obj: Any) -> bytes:
        """The struct's sequence header and its present fields."""
        parts = []
        for name, id_bytes, encode_value, optional in self._plan:
            value = getattr(obj, name)
            if value is None and optional:
                continue
            parts.append(id_bytes)
            parts.append(encode_value(value))
        return encode_count(len(parts)) + b"".join(parts)

    def decode(self, buf: bytes, pos: int) -> tuple[Any, int]:
        """The struct at ``pos`` as an instance of the class, and the position after it."""
        start = pos
        count, pos = read_count(buf, pos)
        if count & 1 or not self._min_items <= count <= self._max_items:
            expected = (
                str(self._min_items)
                if self._min_items == self._max_items
                else f"an even number in {self._min_items}..{self._max_items}"
            )
            raise ProtocolError(f"{self.name}: {count} items, expected {expected}", offset=start)
        values: dict[str, Any] = {}
        for _ in range(count >> 1):
            id_pos = pos
            field_id, pos = read_int(buf, pos)
            field = self._by_id.get(field_id)
            if field is None:
                raise ProtocolError(f"{self.name}: unknown field id {field_id}", offset=id_pos)
            if field.name in values:
                raise ProtocolError(f"{self.name}: field {field.name} appears twice", offset=id_pos)
            values[field.name], pos = field.type.decode(buf, pos)
        if not self._required.issubset(values):
            missing = ", ".join(sorted(self._required.difference(values)))
            raise ProtocolError(f"{self.name}: required field(s) missing: {missing}", offset=start)
        return self.cls(**values), pos


_INT_FORMATS = {1: "b", 2: "h", 4: "i", 8: "q"}


class _Layout:
    """One learned body layout: a Struct alternating fixed bytes (count header, field ids, tags and
    the items taken as constants) with the values of the varying fields."""

    __slots__ = ("constants", "fixed", "names", "size", "unpack_from", "wide")

    def __init__(self, formats: list[str], fixed: list[bytes], names: list[str], wide: list[int],
                 constants: dict[str, Any]) -> None:
        layout = struct.Struct(">" + "".join(formats))
        self.unpack_from = layout.unpack_from
        self.size = layout.size
        self.fixed = tuple(fixed)
        self.names = tuple(names)
        self.wide = tuple(wide)
        self.constants = constants


class LayoutCodec(StructCodec):
    """A StructCodec for messages whose bodies repeat one layout: the stream of one device.

    Each body the generic decoder reads teaches one layout (keyed by the body's length) in which
    integers no wider than declared and doubles vary, while booleans and strings are part of the
    layout; later bodies of that length that match it byte for byte outside the varying values are
    read with one ``struct`` call. Any other body, or a struct with other field types, takes the
    generic path.
    """

    MAX_LAYOUTS = 64

    def __init__(self, cls: type, fields: Sequence[Field]) -> None:
        super().__init__(cls, fields)
        self._layouts: dict[int, _Layout] = {}

    def decode(self, buf: bytes, pos: int) -> tuple[Any, int]:
        layout = self._layouts.get(len(buf) - pos)
        if layout is not None and len(buf) - pos >= layout.size:
            items = layout.unpack_from(buf, pos)
            if items[0::2] == layout.fixed:
                values = dict(zip(layout.names, items[1::2], strict=False))
                for index in layout.wide:
                    name = layout.names[index]
                    values[name] = int.from_bytes(values[name], "big", signed=True)
                return self.cls(**values, **layout.constants), pos + layout.size
        message, end = super().decode(buf, pos)
        layout = self._learn(buf, pos, end, message)
        if layout is not None:
            if len(self._layouts) >= self.MAX_LAYOUTS:
                self._layouts.clear()
            self._layouts[end - pos] = layout
        return message, end

    def _learn(self, buf: bytes, start: int, end: int, message: Any) -> _Layout | None:
        """The layout of the body just decoded, or None when one of its fields cannot be in one."""
        formats: list[str] = []
        fixed: list[bytes] = []
        names: list[str] = []
        wide: list[int] = []
        constants: dict[str, Any] = {}
        count, pos = read_count(buf, start)
        chunk_start = start
        for _ in range(count >> 1):
            field_id, pos = read_int(buf, pos)
            field = self._by_id[field_id]
            item_type = field.type
            if isinstance(item_type, (BoolType, StringType)):
                constants[field.name] = getattr(message, field.name)
                pos = item_type.decode(buf, pos)[1]
                continue
            if isinstance(item_type, DoubleType):
                size, value_format = 8, "d"
            elif isinstance(item_type, IntType) and (buf[pos] & 15) * 8 <= item_type.maximum.bit_length() + 1:
                size = buf[pos] & 15
                value_format = _INT_FORMATS.get(size, f"{size}s")
                if value_format.endswith("s"):
                    wide.append(len(names))
            else:
                return None
            value_at = pos + 1
            formats += (f"{value_at - chunk_start}s", value_format)
            fixed.append(buf[chunk_start:value_at])
            names.append(field.name)
            pos = chunk_start = value_at + size
        formats.append(f"{end - chunk_start}s")
        fixed.append(buf[chunk_start:end])
        return _Layout(formats, fixed, names, wide, constants)


class PcProtocol:
    """One PC protocol: its id plus the request and reply catalogues (type code -> codec).

    Builds and checks the envelope ``SDD 02 | 51 03 | protocol id | type code | body``.
    Request and reply type codes are separate namespaces, so decoding names the direction.
    """

    def __init__(
        self,
        name: str,
        protocol_id: int,
        requests: Mapping[int, StructCodec],
        replies: Mapping[int, StructCodec],
    ) -> None:
        self.name = name
        self.protocol_id = protocol_id
        self.header = MAGIC + encode_count(3) + encode_int(protocol_id)
        self._tables: dict[Direction | None, dict[int, StructCodec]] = {
            "request": dict(requests),
            "reply": dict(replies),
        }
        self._by_class: dict[type, tuple[bytes, StructCodec, int]] = {}
        # Fast dispatch on the first bytes of a canonical message: header, type code and, for
        # one-byte type codes, the usual first body byte, so that all keys have the same length.
        self._key_length = len(self.header) + 3
        self._by_key: dict[Direction | None, dict[bytes, tuple[StructCodec, int]]] = {
            "request": {},
            "reply": {},
        }
        for direction, table in self._tables.items():
            for type_code, codec in table.items():
                if codec.cls in self._by_class:
                    raise ValueError(f"{codec.name} is registered twice")
                head = self.header + encode_int(type_code)
                self._by_class[codec.cls] = (head, codec, type_code)
                key = (head + encode_count(0))[: self._key_length]
                self._by_key[direction][key] = (codec, len(head))
        if self._tables["request"].keys().isdisjoint(self._tables["reply"]):
            self._tables[None] = {**self._tables["request"], **self._tables["reply"]}
            self._by_key[None] = {**self._by_key["request"], **self._by_key["reply"]}

    def _entry(self, cls: type) -> tuple[bytes, StructCodec, int]:
        entry = self._by_class.get(cls)
        if entry is None:
            raise TypeError(f"{cls.__name__} is not a {self.name} message")
        return entry

    def codec_for(self, cls: type) -> StructCodec:
        """The codec of a message class of this protocol."""
        return self._entry(cls)[1]

    def type_code(self, cls: type) -> int:
        """The type code written in the envelope for messages of ``cls``."""
        return self._entry(cls)[2]

    def codecs(self, direction: Direction) -> Mapping[int, StructCodec]:
        """Type code -> codec for one direction."""
        return self._tables[direction]

    def encode(self, message: Any) -> bytes:
        """The complete message: envelope header, type code and body."""
        head, codec, _ = self._entry(type(message))
        return head + codec.encode(message)

    def decode(self, data: bytes | bytearray | memoryview, direction: Direction | None = None) -> Any:
        """Decode one complete message; any malformation raises ProtocolError.

        ``direction`` None accepts both requests and replies, which only works for protocols
        whose two type-code tables are disjoint.
        """
        if type(data) is not bytes:
            data = bytes(data)
        try:
            entry = self._by_key[direction].get(data[: self._key_length])
        except KeyError:
            raise ValueError(
                f"{self.name} request and reply type codes overlap: name the direction"
            ) from None
        codec, pos = self._read_envelope(data, direction) if entry is None else entry
        message, end = codec.decode(data, pos)
        if end != len(data):
            raise ProtocolError(f"{len(data) - end} unexpected bytes after the message", offset=end)
        return message

    def _read_envelope(self, data: bytes, direction: Direction | None) -> tuple[StructCodec, int]:
        """Check the envelope item by item (the slow path, with precise errors)."""
        if data[:4] != MAGIC:
            raise ProtocolError("not an SDD version 2 message (bad magic)", offset=0)
        count, pos = read_int(data, 4, SEQUENCE_FAMILY)
        if count != 3:
            raise ProtocolError(f"envelope has {count} items, expected 3", offset=4)
        id_pos = pos
        protocol_id, pos = read_int(data, pos)
        if protocol_id != self.protocol_id:
            raise ProtocolError(
                f"wrong protocol: id {protocol_id}, expected {self.protocol_id} ({self.name})", offset=id_pos
            )
        code_pos = pos
        type_code, pos = read_int(data, pos)
        codec = self._tables[direction].get(type_code)
        if codec is None:
            kind = "message" if direction is None else direction
            raise ProtocolError(f"unknown {self.name} {kind} type code {type_code}", offset=code_pos)
        return codec, pos
