"""Golden vectors of the DPM/HTTP PC encoding (tests/vectors/dpm_pc.json)."""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest

from pacsys_rx.errors import ProtocolError
from pacsys_rx.protocols import pc
from pacsys_rx.protocols.pcitems import (
    ArrayType,
    BinaryType,
    BoolType,
    DoubleType,
    IntType,
    ItemType,
    StringType,
    StructCodec,
    StructType,
)

VECTOR_FILE = json.loads((Path(__file__).parent.parent / "vectors" / "dpm_pc.json").read_text())
VECTORS = VECTOR_FILE["vectors"]
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def message_class(vector: dict[str, Any]) -> type:
    suffix = "Request" if vector["direction"] == "request" else "Reply"
    cls: type = getattr(pc, vector["message"] + suffix)
    return cls


def from_json(item_type: ItemType, value: Any) -> Any:
    """A vector's JSON field value as the Python value the codec uses."""
    if isinstance(item_type, (IntType, BoolType, StringType)):
        return value
    if isinstance(item_type, DoubleType):
        return NON_FINITE[value] if isinstance(value, str) else float(value)
    if isinstance(item_type, BinaryType):
        return bytes.fromhex(value)
    if isinstance(item_type, ArrayType):
        return [from_json(item_type.element, item) for item in value]
    assert isinstance(item_type, StructType)
    return build(item_type.codec, value)


def build(codec: StructCodec, fields: dict[str, Any]) -> Any:
    """An instance of ``codec.cls`` from wire field names (matched through the field ids)."""
    by_id = {field.field_id: field for field in codec.fields}
    kwargs = {}
    for wire_name, value in fields.items():
        field = by_id[pc.FIELD_IDS[wire_name]]
        kwargs[field.name] = from_json(field.type, value)
    return codec.cls(**kwargs)


def comparable(value: Any) -> Any:
    """Doubles as their bit patterns, so that NaN and -0.0 compare exactly."""
    if isinstance(value, float):
        return struct.pack(">d", value)
    if isinstance(value, list):
        return [comparable(item) for item in value]
    if dataclasses.is_dataclass(value):
        return (type(value), [comparable(getattr(value, f.name)) for f in dataclasses.fields(value)])
    return value


def vector_message(vector: dict[str, Any]) -> Any:
    return build(pc.DPM.codec_for(message_class(vector)), vector["fields"])


def test_vector_file_is_complete() -> None:
    assert len(VECTORS) == 76
    covered = {message_class(vector) for vector in VECTORS}
    catalogue = {
        codec.cls for direction in ("request", "reply") for codec in pc.DPM.codecs(direction).values()
    }
    assert covered == catalogue


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_encodes_byte_for_byte(vector: dict[str, Any]) -> None:
    message = vector_message(vector)
    encoded = pc.encode_message(message)
    assert encoded.hex() == vector["hex"]
    assert len(encoded) == vector["length"]
    assert pc.DPM.type_code(type(message)) == vector["type_code"]
    assert pc.encode_frame(message) == vector["length"].to_bytes(4, "big") + encoded


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_decodes_to_fields(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    expected = comparable(vector_message(vector))
    assert comparable(pc.decode_message(data)) == expected
    if vector["direction"] == "request":
        assert comparable(pc.decode_request(data)) == expected
        with pytest.raises(ProtocolError, match="unknown DPM reply type code"):
            pc.decode_reply(data)
    else:
        assert comparable(pc.decode_reply(data)) == expected
        with pytest.raises(ProtocolError, match="unknown DPM request type code"):
            pc.decode_request(data)


def test_handshake() -> None:
    assert pc.HANDSHAKE.hex() == VECTOR_FILE["handshake_hex"]
    assert len(pc.HANDSHAKE) == 51


def test_frame_example() -> None:
    frame = bytes.fromhex(VECTOR_FILE["frame_example"]["frame_hex"])
    assert pc.encode_frame(pc.OpenListReply(list_id=12345)) == frame
    assert pc.FrameDecoder().feed(frame) == [pc.OpenListReply(list_id=12345)]
