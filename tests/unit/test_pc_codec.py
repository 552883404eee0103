"""PC codec and DPM framing: round trips, malformed input, incremental frame decoding."""

from __future__ import annotations

import enum
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacsys_rx.errors import ProtocolError
from pacsys_rx.protocols import pc
from pacsys_rx.protocols.pcitems import (
    ArrayType,
    BinaryType,
    BoolType,
    DoubleType,
    EnumType,
    IntType,
    ItemType,
    StringType,
    StructCodec,
    StructType,
    encode_binary,
    encode_bool,
    encode_double,
    encode_int,
    encode_string,
    read_binary,
    read_double,
    read_int,
    read_string,
)

VECTORS = [
    bytes.fromhex(v["hex"])
    for v in json.loads((Path(__file__).parent.parent / "vectors" / "dpm_pc.json").read_text())["vectors"]
]
SMALL_VECTORS = [data for data in VECTORS if len(data) <= 128]
HEADER = pc.DPM.header
ALL_CODECS = [codec for direction in ("request", "reply") for codec in pc.DPM.codecs(direction).values()]
SCALAR = pc.ScalarReply(ref_id=1, timestamp=1704067200000, cycle=0, status=0, data=72.5)
SCALAR_BYTES = pc.encode_message(SCALAR)


def frame(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def decodes_or_protocol_error(data: bytes) -> None:
    try:
        pc.decode_message(data)
    except ProtocolError as exc:
        assert exc.offset is not None
        assert 0 <= exc.offset <= len(data)


# --------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------

INTEGER_TABLE = [
    (0, "1100"),
    (1, "1101"),
    (-1, "11ff"),
    (127, "117f"),
    (128, "120080"),
    (-128, "1180"),
    (-129, "12ff7f"),
    (255, "1200ff"),
    (256, "120100"),
    (32767, "127fff"),
    (-32768, "128000"),
    (65535, "1300ffff"),
    (2**31 - 1, "147fffffff"),
    (-(2**31), "1480000000"),
    (2**31, "150080000000"),
    (1704067200000, "16018cc251f400"),
    (2**55, "180080000000000000"),
    (2**63 - 1, "187fffffffffffffff"),
    (-(2**63), "188000000000000000"),
]


@pytest.mark.parametrize(("value", "encoded"), INTEGER_TABLE)
def test_integer_table(value: int, encoded: str) -> None:
    assert encode_int(value).hex() == encoded
    assert read_int(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)


def test_integer_limits_and_non_minimal_forms() -> None:
    with pytest.raises(ValueError):
        encode_int(2**63)
    with pytest.raises(ValueError):
        pc.encode_message(pc.StopListRequest(list_id=2**31))
    assert read_int(bytes.fromhex("120001"), 0) == (1, 3)
    assert encode_int(128, 0x40).hex() == "420080"


def test_scalar_items() -> None:
    assert encode_double(72.5).hex() == "284052200000000000"
    assert encode_double(math.nan).hex() == "287ff8000000000000"
    assert encode_double(-0.0).hex() == "288000000000000000"
    assert math.isnan(read_double(bytes.fromhex("287ff0000000000001"), 0)[0])
    assert encode_bool(True) == b"\x71"
    assert encode_string("°F").hex() == "4102b046"
    assert read_string(bytes.fromhex("4102b046"), 0) == ("°F", 4)
    assert encode_binary(b"").hex() == "3100"
    assert encode_binary(bytes(200))[:3].hex() == "3200c8"
    assert read_binary(bytes.fromhex("31020102"), 0) == (b"\x01\x02", 4)


def test_encoders_refuse_bad_values() -> None:
    with pytest.raises(ValueError):
        encode_string("€")
    with pytest.raises(TypeError):
        encode_string(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_bool(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_binary("ab")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encode_double("1.0")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        pc.encode_message(pc.ScalarReply(ref_id=1, timestamp=0, cycle=0, status=40000, data=0.0))
    with pytest.raises(TypeError):
        pc.encode_message(pc.ScaledSetting(ref_id=1, data=[1.0]))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pc.encode_message(pc.ApplySettingsRequest("u", 1, scaled_array=[pc.ScaledSetting(1, ["x"])]))  # type: ignore[list-item]


class Colour(enum.IntEnum):
    RED = 26767
    BLUE = -6841


def test_enum_items() -> None:
    colour = EnumType(Colour)
    assert colour.encode(Colour.RED).hex() == "82688f"
    assert colour.decode(bytes.fromhex("82e547"), 0) == (Colour.BLUE, 3)
    with pytest.raises(ProtocolError, match="unknown Colour value 5"):
        colour.decode(bytes.fromhex("8105"), 0)
    with pytest.raises(TypeError):
        colour.encode(26767)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Round trips of every message type
# --------------------------------------------------------------------------------------------


def values(item_type: ItemType) -> st.SearchStrategy[Any]:
    """Valid values of a declared type (NaN left out so that messages compare equal)."""
    if isinstance(item_type, IntType):
        return st.integers(item_type.minimum, item_type.maximum)
    if isinstance(item_type, DoubleType):
        return st.floats(allow_nan=False)
    if isinstance(item_type, BoolType):
        return st.booleans()
    if isinstance(item_type, BinaryType):
        return st.binary(max_size=200)
    if isinstance(item_type, StringType):
        return st.text(st.characters(max_codepoint=0xFF), max_size=200)
    if isinstance(item_type, ArrayType):
        return st.lists(values(item_type.element), max_size=12)
    assert isinstance(item_type, StructType)
    return instances(item_type.codec)


def instances(codec: StructCodec) -> st.SearchStrategy[Any]:
    fields = {
        field.name: st.none() | values(field.type) if field.optional else values(field.type)
        for field in codec.fields
    }
    return st.builds(codec.cls, **fields)


@pytest.mark.parametrize("codec", ALL_CODECS, ids=[codec.name for codec in ALL_CODECS])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(codec: StructCodec, data: st.DataObject) -> None:
    message = data.draw(instances(codec))
    encoded = pc.encode_message(message)
    decoded = pc.decode_message(encoded)
    assert decoded == message
    assert pc.encode_message(decoded) == encoded
    # The specialised decoders agree with the generic one.
    body = len(encoded) - len(codec.encode(message))
    assert StructCodec.decode(codec, encoded, body) == (message, len(encoded))


@given(st.floats(allow_nan=True), st.integers(-(2**63), 2**63 - 1))
def test_scalar_doubles_travel_bit_exactly(value: float, cycle: int) -> None:
    encoded = pc.encode_message(pc.ScalarReply(1, 0, cycle, 0, value))
    decoded = pc.decode_reply(encoded)
    assert isinstance(decoded, pc.ScalarReply)
    assert decoded.cycle == cycle
    assert pc.encode_message(decoded) == encoded


def body(*items: str) -> bytes:
    return bytes.fromhex(HEADER.hex() + "".join(items))


SCALAR_FIELDS = {
    "ref_id": "121eab1101",
    "timestamp": "12d55b16018cc251f400",
    "cycle": "1207401100",
    "status": "1244541100",
    "data": "127f38284052200000000000",
}


def test_generic_decoding_accepts_any_order_and_non_minimal_integers() -> None:
    reordered = body("12d6ab510a", *reversed(SCALAR_FIELDS.values()))
    assert pc.decode_message(reordered) == SCALAR
    non_minimal_status = body(
        "12d6ab510a", *list(SCALAR_FIELDS.values())[:3], "12445413000000", SCALAR_FIELDS["data"]
    )
    assert pc.decode_message(non_minimal_status) == SCALAR
    assert pc.decode_message(body("13ffd6ab52000a", *SCALAR_FIELDS.values())) == SCALAR


@pytest.mark.parametrize(
    ("data", "message", "offset"),
    [
        (b"SDE\x02" + SCALAR_BYTES[4:], "bad magic", 0),
        (bytes.fromhex("53444402510314eeb9069912d6ab") + SCALAR_BYTES[14:], "wrong protocol", 6),
        (SCALAR_BYTES[:4] + b"\x51\x02" + SCALAR_BYTES[6:], "envelope has", 4),
        (body("1201005100"), "unknown DPM message type code 256", 11),
        (body("12d6ab510b", *SCALAR_FIELDS.values()), "11 items", 14),
        (body("12d6ab5108", *list(SCALAR_FIELDS.values())[:4]), "8 items, expected 10", 14),
        (body("126fed5108121eab11011282dd110112f92c4100123dfb4100"), "missing: name", 14),
        (body("12d6ab510a", *list(SCALAR_FIELDS.values())[:4], "1201001100"), "unknown field", 41),
        (body("12d6ab510a", *list(SCALAR_FIELDS.values())[:4], SCALAR_FIELDS["cycle"]), "twice", 41),
        (body("12d6ab510a", *list(SCALAR_FIELDS.values())[:4], "127f381101"), "expected a double", 44),
        (
            body("12d6ab510a", *list(SCALAR_FIELDS.values())[:3], "12445412ffff", SCALAR_FIELDS["data"]),
            None,
            0,
        ),
        (body("12d6ab510a", *list(SCALAR_FIELDS.values())[:3], "1244541400010000"), "int16", 39),
        (SCALAR_BYTES + b"\x00", "unexpected bytes", 53),
        (body("1161510612e8201101121eab110112632448ffffffffffffff00"), "negative length", 28),
        (body("1161510612e8201101121eab1101126324480fffffffffffff0041"), "exceeds", 28),
        (body("12327b510a", *list(SCALAR_FIELDS.values())[:4], "127f38587fffffffffffffff41"), "exceeds", 44),
        (body("12f2f95106121eab1101", "12d55b1100", "1207401100", "125c0172"), None, 0),
        (body("12f2f95108121eab1101", "12d55b1100", "1207401100", "125c0172"), "expected a boolean", 34),
        (body("12d6ab5109", *SCALAR_FIELDS.values()), "9 items", 14),
        (body("12d6ab5f00"), "expected an item of kind sequence", 14),
    ],
)
def test_malformed_messages(data: bytes, message: str | None, offset: int) -> None:
    if message is None:
        decodes_or_protocol_error(data)
        return
    with pytest.raises(ProtocolError, match=message) as caught:
        pc.decode_message(data)
    assert caught.value.offset == offset


@pytest.mark.parametrize("data", VECTORS, ids=range(len(VECTORS)))
def test_every_truncation_is_a_protocol_error(data: bytes) -> None:
    for end in range(len(data)):
        with pytest.raises(ProtocolError) as caught:
            pc.decode_message(data[:end])
        assert caught.value.offset is not None
        assert 0 <= caught.value.offset <= end


@pytest.mark.parametrize("data", SMALL_VECTORS, ids=range(len(SMALL_VECTORS)))
def test_bit_flips_decode_or_raise_protocol_error(data: bytes) -> None:
    for position in range(len(data)):
        for bit in range(8):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            decodes_or_protocol_error(bytes(flipped))


@settings(max_examples=300)
@given(st.binary(max_size=64), st.sampled_from([b"", HEADER, SCALAR_BYTES[:14], SCALAR_BYTES[:19]]))
def test_random_bytes_only_raise_protocol_error(tail: bytes, prefix: bytes) -> None:
    decodes_or_protocol_error(prefix + tail)


def test_bytes_like_input() -> None:
    assert pc.decode_message(bytearray(SCALAR_BYTES)) == SCALAR
    assert pc.decode_message(memoryview(b"xx" + SCALAR_BYTES)[2:]) == SCALAR


# --------------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------------

STREAM = b"".join(frame(data) for data in VECTORS)

SESSION_REPLIES = [
    "0000001553444402510314b13a703a12349e510212e8201101",
    "0000001f53444402510314b13a703a128bac510612e8201101121eab11011244541100",
    "0000004953444402510314b13a703a126fed510a121eab11011282dd126a6312931c41084d3a4f5554544d5012f92c41134f75"
    "74646f6f722074656d7065726174757265123dfb410464656746",
    "0000001a53444402510314b13a703a129600510412e82011011244541100",
    "0000001a53444402510314b13a703a127370510412e82011011244541100",
    "0000003553444402510314b13a703a12d6ab510a121eab110112d55b16018cc251f40012074011001244541100127f382840522"
    "00000000000",
]


def test_example_session_replies() -> None:
    decoder = pc.FrameDecoder(decode=pc.decode_reply)
    assert decoder.feed(bytes.fromhex("".join(SESSION_REPLIES))) == [
        pc.OpenListReply(1),
        pc.AddToListReply(1, 1, 0),
        pc.DeviceInfoReply(1, 27235, "M:OUTTMP", "Outdoor temperature", units="degF"),
        pc.StartListReply(1, 0),
        pc.ListStatusReply(1, 0),
        SCALAR,
    ]


def test_example_session_requests() -> None:
    requests: list[pc.DpmRequest] = [
        pc.AddToListRequest(1, 1, "M:OUTTMP.READING@I"),
        pc.StartListRequest(1),
        pc.StopListRequest(1),
        pc.ClearListRequest(1),
    ]
    assert b"".join(pc.encode_frame(r) for r in requests).hex() == (
        "0000003053444402510314b13a703a1161510612e8201101121eab110112632441124d3a4f5554544d502e5245414449"
        "4e474049"
        "0000001553444402510314b13a703a12ddb5510212e8201101"
        "0000001553444402510314b13a703a1253a9510212e8201101"
        "0000001553444402510314b13a703a12c309510212e8201101"
    )
    stream = b"".join(pc.encode_frame(request) for request in requests)
    assert pc.FrameDecoder(decode=pc.decode_request).feed(stream) == requests


def test_frames_fed_byte_by_byte() -> None:
    decoder = pc.FrameDecoder()
    received = []
    for index in range(len(STREAM)):
        received += decoder.feed(STREAM[index : index + 1])
    assert [pc.encode_message(message) for message in received] == VECTORS
    assert decoder.buffered == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 3000), max_size=60))
def test_frames_fed_in_random_chunks(sizes: list[int]) -> None:
    decoder = pc.FrameDecoder()
    received = []
    position = 0
    for size in sizes:
        received += decoder.feed(STREAM[position : position + size])
        position += size
    received += decoder.feed(memoryview(STREAM)[position:])
    assert [pc.encode_message(message) for message in received] == VECTORS


def test_partial_frames_wait_cleanly() -> None:
    decoder = pc.FrameDecoder()
    one = frame(SCALAR_BYTES)
    for end in range(len(one)):
        partial = pc.FrameDecoder()
        assert partial.feed(one[:end]) == []
        assert partial.buffered == end
    assert decoder.feed(one * 3 + one[:10]) == [SCALAR] * 3
    assert decoder.buffered == 10
    assert decoder.feed(one[10:]) == [SCALAR]
    assert decoder.buffered == 0


@pytest.mark.parametrize("length", [0, pc.MAX_FRAME_LENGTH + 1, 2**32 - 1])
def test_bad_length_is_fatal(length: int) -> None:
    decoder = pc.FrameDecoder()
    one = frame(SCALAR_BYTES)
    with pytest.raises(ProtocolError, match="frame length") as caught:
        decoder.feed(one + length.to_bytes(4, "big") + b"\x00" * 10)
    assert caught.value.offset == len(one)
    with pytest.raises(ProtocolError):
        decoder.feed(one)


def test_oversize_is_rejected_from_the_prefix_alone() -> None:
    decoder = pc.FrameDecoder(max_length=100)
    assert decoder.feed(b"\x00\x00") == []
    with pytest.raises(ProtocolError, match=r"outside 1\.\.100"):
        decoder.feed(b"\x00\x65")


def test_bad_body_keeps_the_stream_usable() -> None:
    decoder = pc.FrameDecoder()
    one = frame(SCALAR_BYTES)
    bad = frame(b"SDD\x02\x51\x03garbage")
    with pytest.raises(pc.BadFrameError) as caught:
        decoder.feed(one + bad + one + one[:5])
    assert caught.value.messages == [SCALAR]
    assert caught.value.offset == len(one) + 4 + 6
    assert decoder.feed(one[5:]) == [SCALAR, SCALAR]


def test_http_refusal() -> None:
    answer = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\n"
    assert pc.is_http_answer(answer[:4])
    assert not pc.is_http_answer(frame(SCALAR_BYTES)[:4])
    assert pc.http_status_line(answer) == "HTTP/1.1 503 Service Unavailable"
    assert pc.http_status_line(b"HTTP/1.1 404 Not Fo") == "HTTP/1.1 404 Not Fo"
    with pytest.raises(ProtocolError):
        pc.FrameDecoder().feed(answer)
