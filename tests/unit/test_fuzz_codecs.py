"""Fuzzing the PC (DPM/HTTP) and SDD (DMQ) decoders: mutated golden vectors, random bytes, frames
fed in random chunks, and length claims that must not allocate.

Each ``TARGETS`` entry is ``(strategy, check)``; ``benchmarks/fuzz.py`` runs the same pairs for longer.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacsys_rx.errors import ProtocolError
from pacsys_rx.protocols import pc, sdd

VECTOR_DIR = Path(__file__).parents[1] / "vectors"


def golden_bodies(name: str) -> list[bytes]:
    return [bytes.fromhex(v["hex"]) for v in json.loads((VECTOR_DIR / name).read_text())["vectors"]]


PC_BODIES = golden_bodies("dpm_pc.json")
SDD_BODIES = golden_bodies("dmq_sdd.json")

FUZZ = settings(max_examples=150, deadline=timedelta(seconds=1), suppress_health_check=[HealthCheck.too_slow])
INTERESTING_BYTES = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0x11, 0x18, 0x19, 0x28, 0x31, 0x38, 0x41, 0x48, 0x51, 0x58,
                     0x70, 0x71, 0x81, 0x88]
HUGE_LENGTHS = [2**31 - 1, 2**31, 2**32 - 1, 2**62, 2**63 - 1]
LENGTH_FAMILIES = (0x30, 0x40, 0x50)
MEMORY_LIMIT = 256 * 1024


# ----------------------------------------------------------------------------- mutations


def _claim_huge_length(data: bytearray, position: int, length: int) -> None:
    """Rewrite the blob, string or sequence header at ``position`` (if any) to claim ``length``."""
    tag = data[position]
    family, size = tag & 0xF0, tag & 0x0F
    if family in LENGTH_FAMILIES and 0 < size <= 8:
        claim = length.to_bytes(8, "big", signed=True).lstrip(b"\x00") or b"\x00"
        if claim[0] & 0x80:
            claim = b"\x00" + claim
        data[position : position + 1 + size] = bytes((family | len(claim),)) + claim


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A golden vector damaged by one to four structure-aware edits."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            data = bytearray(draw(st.sampled_from(seeds)))
        position = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(["flip", "byte", "insert", "delete", "duplicate", "splice",
                                          "huge", "truncate"]))
        if operation == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif operation == "byte":
            data[position] = draw(st.sampled_from(INTERESTING_BYTES))
        elif operation == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif operation == "delete":
            del data[position : position + draw(st.integers(1, 16))]
        elif operation == "duplicate":
            data[position:position] = data[position : position + draw(st.integers(1, 32))]
        elif operation == "splice":
            other = draw(st.sampled_from(seeds))
            data = data[:position] + other[draw(st.integers(0, len(other))) :]
        elif operation == "huge":
            _claim_huge_length(data, position, draw(st.sampled_from(HUGE_LENGTHS)))
        else:
            del data[position:]
    return bytes(data)


def random_after_header(header: bytes) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=96).map(lambda tail: header + tail)


# --------------------------------------------------------------------------------- checks


def decodes_or_protocol_error(decode: Callable[[bytes], Any], encode: Callable[[Any], bytes],
                              data: bytes) -> None:
    """Only ProtocolError is allowed; whatever decodes must encode back to bytes that decode again."""
    try:
        message = decode(data)
    except ProtocolError:
        return
    written = encode(message)
    assert encode(decode(written)) == written


def check_pc(data: bytes) -> None:
    decodes_or_protocol_error(pc.decode_message, pc.encode_message, data)
    for decode in (pc.decode_reply, pc.decode_request):
        try:
            decode(data)
        except ProtocolError:
            pass


def check_sdd(data: bytes) -> None:
    decodes_or_protocol_error(sdd.decode_reply, sdd.encode_message, data)
    decodes_or_protocol_error(sdd.decode_request, sdd.encode_message, data)


def encoded(message: pc.DpmMessage | None) -> bytes | None:
    """A comparable form of a decoded message (NaN compares equal to itself as bytes)."""
    return None if message is None else pc.encode_message(message)


def body_or_none(body: bytes) -> bytes | None:
    try:
        return encoded(pc.decode_message(body))
    except ProtocolError:
        return None


@st.composite
def framed_streams(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    """Frames whose bodies are golden, mutated or random, and the chunk sizes to feed them in."""
    body = st.one_of(st.sampled_from(PC_BODIES), mutated(PC_BODIES), st.binary(min_size=1, max_size=40))
    bodies = [b for b in draw(st.lists(body, min_size=1, max_size=12)) if b]
    total = sum(4 + len(b) for b in bodies)
    sizes = draw(st.lists(st.integers(1, max(1, total // 2)), max_size=20))
    return bodies, sizes


def check_frame_decoder(case: tuple[list[bytes], list[int]]) -> None:
    """Valid lengths, any bodies: each good body decodes, each bad one gives one BadFrameError."""
    bodies, sizes = case
    stream = b"".join(len(body).to_bytes(4, "big") + body for body in bodies)
    expected = [body_or_none(body) for body in bodies]
    decoder = pc.FrameDecoder()
    received: list[pc.DpmMessage | None] = []
    position = 0
    for size in [*sizes, len(stream)]:
        chunk = stream[position : position + size]
        position += len(chunk)
        while True:
            try:
                received += decoder.feed(chunk)
            except pc.BadFrameError as error:
                received += [*error.messages, None]
                chunk = b""
                continue
            break
        assert decoder.buffered <= pc.MAX_FRAME_LENGTH + 4
    assert [encoded(message) for message in received] == expected
    assert decoder.buffered == 0


@st.composite
def chunked_bytes(draw: st.DrawFn) -> list[bytes]:
    """Random bytes, often behind a plausible frame prefix, cut into chunks."""
    prefix = draw(st.sampled_from([b"", b"\x00\x00", b"\x00\x00\x00\x35",
                                   pc.encode_frame(pc.OpenListReply(1))]))
    return draw(st.lists(st.binary(max_size=64), max_size=8).map(lambda chunks: [prefix, *chunks]))


def check_frame_decoder_garbage(chunks: list[bytes]) -> None:
    """Any byte stream: only ProtocolError, and a fatal one stays fatal."""
    decoder = pc.FrameDecoder()
    for chunk in chunks:
        try:
            decoder.feed(chunk)
        except pc.BadFrameError:
            continue
        except ProtocolError:
            with pytest.raises(ProtocolError):
                decoder.feed(b"\x00\x00\x00\x01x")
            return
        assert decoder.buffered <= pc.MAX_FRAME_LENGTH + 4


TARGETS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], None]]] = {
    "pc mutated vectors": (mutated(PC_BODIES), check_pc),
    "pc random bytes": (st.one_of(st.binary(max_size=96), random_after_header(pc.DPM.header)), check_pc),
    "pc frames in random chunks": (framed_streams(), check_frame_decoder),
    "pc frame decoder garbage": (chunked_bytes(), check_frame_decoder_garbage),
    "sdd mutated vectors": (mutated(SDD_BODIES), check_sdd),
    "sdd random bytes": (st.one_of(st.binary(max_size=96), random_after_header(sdd.DAQDATA.header)),
                         check_sdd),
}


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_target(name: str) -> None:
    strategy, check = TARGETS[name]
    FUZZ(given(strategy)(check))()


# ------------------------------------------------------------------- length claims and memory


def with_string(body: bytes, text: bytes, length: int) -> bytes:
    """``body`` with the string item holding ``text`` rewritten to claim ``length`` bytes."""
    item = bytes((0x41, len(text))) + text
    assert body.count(item) == 1
    return body.replace(item, bytes((0x48,)) + length.to_bytes(8, "big") + text)


def with_count(body: bytes, count: int, new_count: int) -> bytes:
    """``body`` with its last sequence header of ``count`` items claiming ``new_count``."""
    header = bytes((0x51, count))
    position = body.rindex(header)
    return body[:position] + bytes((0x58,)) + new_count.to_bytes(8, "big") + body[position + 2 :]


def pc_body(message: pc.DpmMessage) -> bytes:
    return pc.encode_message(message)


HUGE_CLAIMS: list[tuple[str, Callable[[bytes], Any], bytes]] = [
    ("pc string 2^31", pc.decode_message,
     with_string(pc_body(pc.AddToListRequest(1, 1, "M:OUTTMP")), b"M:OUTTMP", 2**31)),
    ("pc string 2^62", pc.decode_message,
     with_string(pc_body(pc.TextReply(1, 0, 0, 0, "abc")), b"abc", 2**62)),
    ("pc double array 2^31", pc.decode_message,
     with_count(pc_body(pc.ScalarArrayReply(1, 0, 0, 0, [1.0, 2.0])), 2, 2**31)),
    ("pc text array 2^62", pc.decode_message,
     with_count(pc_body(pc.TextArrayReply(1, 0, 0, 0, ["a", "b", "c"])), 3, 2**62)),
    ("pc struct array 2^31", pc.decode_message,
     with_count(pc_body(pc.ApplySettingsReply([pc.SettingStatus(1, 0)] * 5)), 5, 2**31)),
    ("sdd string 2^31", sdd.decode_reply,
     with_string(sdd.encode_message(sdd.StringSample(value="abc", time=0)), b"abc", 2**31)),
    ("sdd request array 2^62", sdd.decode_request,
     with_count(sdd.encode_message(sdd.ReadingRequest(["A:B", "C:D", "E:F"])), 3, 2**62)),
    ("sdd long array 2^31", sdd.decode_reply,
     with_count(sdd.encode_message(sdd.LongArraySample(value=[1, 2, 3, 4, 5, 6, 7], time=0)), 7, 2**31)),
]


def peak_allocation(work: Callable[[], object]) -> int:
    """Bytes allocated at the peak while ``work`` runs."""
    tracemalloc.start()
    try:
        work()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize(("decode", "data"), [pytest.param(d, b, id=n) for n, d, b in HUGE_CLAIMS])
def test_huge_length_claims_fail_without_allocating(decode: Callable[[bytes], Any], data: bytes) -> None:
    def work() -> None:
        with pytest.raises(ProtocolError, match="exceeds"):
            decode(data)

    assert peak_allocation(work) < MEMORY_LIMIT


@pytest.mark.parametrize("length", [pc.MAX_FRAME_LENGTH, 2**31, 2**32 - 1])
def test_frame_length_claims_do_not_allocate(length: int) -> None:
    decoder = pc.FrameDecoder()

    def work() -> None:
        try:
            decoder.feed(length.to_bytes(4, "big") + b"SDD\x02" * 16)
        except ProtocolError:
            return

    assert peak_allocation(work) < MEMORY_LIMIT
    assert decoder.buffered <= 4 + 64
