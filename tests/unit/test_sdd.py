"""SDD (DAQData) codec: golden vectors, MIC input strings, round trips and fuzzing."""

from __future__ import annotations

import dataclasses
import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pacsys_rx.errors import ProtocolError
from pacsys_rx.kerberos import dmq_signed_bytes
from pacsys_rx.model import AnalogAlarm, BasicStatus, DigitalAlarm
from pacsys_rx.protocols import sdd

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "dmq_sdd.json").read_text(encoding="utf-8"))
STRUCTS = {"BasicStatus": BasicStatus, "AnalogAlarm": AnalogAlarm, "DigitalAlarm": DigitalAlarm}
REQUEST_CLASSES = {
    "ServiceDiscovery": sdd.ServiceDiscoveryRequest, "OpenList": sdd.OpenListRequest,
    "AddToList": sdd.AddToListRequest, "RemoveFromList": sdd.RemoveFromListRequest,
    "ClearList": sdd.ClearListRequest, "ProcList": sdd.ProcListRequest,
    "ReadingRequest": sdd.ReadingRequest, "SettingRequest": sdd.SettingRequest,
}
REPLY_CLASSES: dict[str, type] = {
    "ServiceDiscovery": sdd.ServiceDiscoveryReply, "OpenList": sdd.OpenListReply,
    **{name: getattr(sdd, name) for name in VECTORS["constants"]["reply_type_codes"]
       if name not in ("ServiceDiscovery", "OpenList")},
}
ATTRIBUTES = {"dataRequest": "data_request", "facilityCode": "facility_code", "errorNumber": "error_number"}
SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def struct_of(message: str) -> type | None:
    for name, cls in STRUCTS.items():
        if message.startswith(name):
            return cls
    return None


def value_from_json(message: str, value: Any) -> Any:
    """The Python value of a vector's ``value`` field (see the vectors file's notes)."""
    if message == "BinarySample":
        return bytes.fromhex(value)
    if message == "BasicControlSample":
        return sdd.BasicControl[value.upper()]
    if message in ("DoubleSample", "DoubleArraySample"):
        return SPECIAL_DOUBLES.get(value, value) if message == "DoubleSample" else [
            SPECIAL_DOUBLES.get(v, v) for v in value]
    cls = struct_of(message)
    if cls is not None:
        return [cls(**item) for item in value] if isinstance(value, list) else cls(**value)
    return value


def message_from_vector(vector: dict[str, Any]) -> Any:
    name = vector["message"]
    table = REQUEST_CLASSES if vector["direction"] == "request" else REPLY_CLASSES
    fields = {ATTRIBUTES.get(key, key): value for key, value in vector["fields"].items()}
    if "value" in fields and name not in ("ServiceDiscovery", "OpenList"):
        fields["value"] = value_from_json(name, fields["value"])
    return table[name](**fields)


def canonical(message: Any) -> Any:
    """A comparable form: floats as their bytes (NaN equals NaN, the sign bit counts), inside structs too."""
    def fix(value: Any) -> Any:
        if isinstance(value, float):
            return ("float", struct.pack(">d", value))
        if isinstance(value, list):
            return [fix(v) for v in value]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return type(value), [fix(getattr(value, f.name)) for f in dataclasses.fields(value)]
        return value
    return type(message), {key: fix(value) for key, value in vars(message).items()}


def decode(direction: str, data: bytes) -> Any:
    return sdd.decode_request(data) if direction == "request" else sdd.decode_reply(data)


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: f"{v['message']}-{v['comment'][:40]}")
def test_vector_encodes_and_decodes(vector: dict[str, Any]) -> None:
    message = message_from_vector(vector)
    data = bytes.fromhex(vector["hex"])
    assert sdd.encode_message(message).hex() == vector["hex"]
    assert canonical(decode(vector["direction"], data)) == canonical(message)


@pytest.mark.parametrize("vector", VECTORS["decode_only_vectors"], ids=lambda v: v["comment"][:40])
def test_decode_only_vector(vector: dict[str, Any]) -> None:
    message = message_from_vector(vector)
    decoded = decode(vector["direction"], bytes.fromhex(vector["hex"]))
    assert canonical(decoded) == canonical(message)
    assert sdd.encode_message(decoded).hex() != vector["hex"]


def test_every_message_type_is_covered() -> None:
    assert len(VECTORS["vectors"]) == 69
    assert len(VECTORS["decode_only_vectors"]) == 2
    covered = {(v["direction"], v["message"]) for v in VECTORS["vectors"]}
    assert len(covered) == 31
    for name, code in VECTORS["constants"]["request_type_codes"].items():
        assert sdd.DAQDATA.type_code(REQUEST_CLASSES[name]) == code["int16"]
    for name, code in VECTORS["constants"]["reply_type_codes"].items():
        assert sdd.DAQDATA.type_code(REPLY_CLASSES[name]) == code["int16"]
    for name, entry in VECTORS["constants"]["basic_control_enum"].items():
        member = sdd.BasicControl[name.upper()]
        assert (member.value, member.command) == (entry["int16"], entry["ordinal"])


@pytest.mark.parametrize("vector", VECTORS["mic_signed_bytes"], ids=lambda v: v["purpose"][:40])
def test_mic_signed_bytes(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    signed = dmq_signed_bytes(
        bytes.fromhex(inputs["body_hex"]), message_id=inputs["message_id"] or None,
        correlation_id=inputs["correlation_id"] or None, reply_to=inputs["reply_to"] or None,
        app_id=inputs["app_id"] or None, host_address=bytes.fromhex(inputs["host_address_hex"]))
    assert signed.hex() == vector["signed_hex"]
    assert len(signed) == vector["signed_length"]


def test_basic_control_command_numbers() -> None:
    assert [member.command for member in sdd.BasicControl] == list(range(7))
    assert sdd.BasicControl.from_command(1) is sdd.BasicControl.ON
    with pytest.raises(ValueError):
        sdd.BasicControl.from_command(8)


def test_families_are_separate() -> None:
    body = sdd.encode_message(sdd.ReadingRequest(["M:OUTTMP@I"]))
    with pytest.raises(ProtocolError, match="type code"):
        sdd.decode_reply(body)
    reply = sdd.encode_message(sdd.DoubleSample(value=1.0, time=0))
    with pytest.raises(ProtocolError, match="type code"):
        sdd.decode_request(reply)


def test_characters_above_latin1_cannot_be_encoded() -> None:
    with pytest.raises(UnicodeEncodeError):
        sdd.encode_message(sdd.StringSample(value="\u20ac", time=0))


def test_out_of_range_integers_are_refused_both_ways() -> None:
    with pytest.raises(ValueError):
        sdd.encode_message(sdd.ShortSample(value=32768, time=0))
    data = bytes.fromhex("53444402510314eeb906991273fe510412c16013008000" "12694b1100")
    with pytest.raises(ProtocolError, match="int16"):
        sdd.decode_reply(data)


# ------------------------------------------------------------------------------ round trips

times = st.integers(-(2**63), 2**63 - 1)
optional_times = st.none() | times
int16s = st.integers(-(2**15), 2**15 - 1)
int32s = st.integers(-(2**31), 2**31 - 1)
latin1 = st.text(st.characters(max_codepoint=0xFF), max_size=40)
doubles = st.floats(allow_nan=True, allow_infinity=True)
booleans = st.booleans()
basic_status = st.builds(BasicStatus, *([st.none() | booleans] * 5))
analog = st.builds(AnalogAlarm, doubles, doubles, booleans, booleans, booleans, booleans, int32s, int32s)
digital = st.builds(DigitalAlarm, int32s, int32s, booleans, booleans, booleans, booleans, int32s, int32s)


def plain(cls: type, value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(cls, value=value, time=times, return_time=optional_times, cycle_time=optional_times,
                     ref_id=st.none() | int16s)


def numeric(cls: type, value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(cls, value=value, time=times, return_time=optional_times, cycle_time=optional_times,
                     unit=st.none() | latin1, format_hint=st.none() | int16s, ref_id=st.none() | int16s)


REPLIES = st.one_of(
    st.builds(sdd.ServiceDiscoveryReply, int16s),
    st.builds(sdd.OpenListReply, int32s),
    plain(sdd.BinarySample, st.binary(max_size=64)),
    plain(sdd.BooleanSample, booleans),
    plain(sdd.BooleanArraySample, st.lists(booleans, max_size=8)),
    numeric(sdd.ShortSample, int16s),
    numeric(sdd.ShortArraySample, st.lists(int16s, max_size=8)),
    numeric(sdd.IntegerSample, int32s),
    numeric(sdd.IntegerArraySample, st.lists(int32s, max_size=8)),
    numeric(sdd.LongSample, times),
    numeric(sdd.LongArraySample, st.lists(times, max_size=8)),
    numeric(sdd.DoubleSample, doubles),
    numeric(sdd.DoubleArraySample, st.lists(doubles, max_size=8)),
    plain(sdd.StringSample, latin1),
    plain(sdd.StringArraySample, st.lists(latin1, max_size=5)),
    plain(sdd.BasicStatusSample, basic_status),
    plain(sdd.BasicStatusArraySample, st.lists(basic_status, max_size=4)),
    plain(sdd.AnalogAlarmSample, analog),
    plain(sdd.AnalogAlarmArraySample, st.lists(analog, max_size=4)),
    plain(sdd.DigitalAlarmSample, digital),
    plain(sdd.DigitalAlarmArraySample, st.lists(digital, max_size=4)),
    plain(sdd.BasicControlSample, st.sampled_from(sdd.BasicControl)),
    st.builds(sdd.ErrorSample, facility_code=int32s, error_number=int32s, time=times,
              return_time=optional_times, cycle_time=optional_times, message=st.none() | latin1,
              ref_id=st.none() | int16s),
)
REQUESTS = st.one_of(
    st.just(sdd.ServiceDiscoveryRequest()),
    st.just(sdd.OpenListRequest()),
    st.builds(sdd.AddToListRequest, int32s, int32s, latin1),
    st.builds(sdd.RemoveFromListRequest, int32s, int32s),
    st.builds(sdd.ClearListRequest, int32s),
    st.builds(sdd.ProcListRequest, int32s),
    st.builds(sdd.ReadingRequest, st.lists(latin1, max_size=6)),
    st.builds(sdd.SettingRequest, st.lists(latin1, max_size=2)),
)


@given(REPLIES)
def test_reply_round_trip(message: Any) -> None:
    data = sdd.encode_message(message)
    assert canonical(sdd.decode_reply(data)) == canonical(message)


@given(REQUESTS)
def test_request_round_trip(message: Any) -> None:
    data = sdd.encode_message(message)
    assert sdd.decode_request(data) == message


# ------------------------------------------------------------------------------ fuzzing

ALL_BODIES = [(v["direction"], bytes.fromhex(v["hex"])) for v in VECTORS["vectors"]]


def decode_or_protocol_error(direction: str, data: bytes) -> None:
    try:
        decode(direction, data)
    except ProtocolError:
        pass


@pytest.mark.parametrize(("direction", "data"), ALL_BODIES)
def test_every_truncation_is_a_protocol_error(direction: str, data: bytes) -> None:
    for length in range(len(data)):
        with pytest.raises(ProtocolError):
            decode(direction, data[:length])


@settings(max_examples=400)
@given(st.sampled_from(ALL_BODIES), st.data())
def test_bit_flips_give_only_protocol_errors(body: tuple[str, bytes], data: st.DataObject) -> None:
    direction, original = body
    damaged = bytearray(original)
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(damaged) - 1))
        damaged[position] ^= 1 << data.draw(st.integers(0, 7))
    decode_or_protocol_error(direction, bytes(damaged))


@given(st.binary(max_size=80), st.sampled_from(["request", "reply"]))
def test_random_bytes_give_only_protocol_errors(data: bytes, direction: str) -> None:
    decode_or_protocol_error(direction, sdd.DAQDATA.header + data)
    decode_or_protocol_error(direction, data)


def test_trailing_bytes_are_refused() -> None:
    data = sdd.encode_message(sdd.DoubleSample(value=1.0, time=0)) + b"\x00"
    with pytest.raises(ProtocolError, match="unexpected bytes"):
        sdd.decode_reply(data)


# ------------------------------------------------------------------------------ learned layouts

STREAM_SAMPLES = st.one_of(
    plain(sdd.BooleanSample, booleans),
    numeric(sdd.ShortSample, int16s),
    numeric(sdd.IntegerSample, int32s),
    numeric(sdd.LongSample, times),
    numeric(sdd.DoubleSample, doubles),
)


@given(STREAM_SAMPLES, STREAM_SAMPLES)
def test_learned_layouts_decode_like_the_generic_decoder(first: Any, second: Any) -> None:
    for message in (first, second, first, second):
        assert canonical(sdd.decode_reply(sdd.encode_message(message))) == canonical(message)


def test_a_body_of_a_known_length_with_other_fixed_bytes_is_decoded_generically() -> None:
    for unit in ("mA", "mA", "mV", "mV", "mA"):
        for value in (1.5, -2.0):
            sample = sdd.DoubleSample(value=value, time=1_700_000_000_123, unit=unit, ref_id=3)
            assert sdd.decode_reply(sdd.encode_message(sample)) == sample


def test_a_learned_layout_still_refuses_out_of_range_and_damaged_bodies() -> None:
    good = sdd.encode_message(sdd.ShortSample(value=5, time=0, ref_id=1))
    assert sdd.decode_reply(good) == sdd.decode_reply(good)
    with pytest.raises(ProtocolError):
        sdd.decode_reply(good[:-2] + b"\x19\x01")
    test_out_of_range_integers_are_refused_both_ways()
