"""Value, status and error mapping of the gRPC backend, and the simulator's reply encoding (no sockets)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import grpc
import pytest
from google.protobuf.message import DecodeError

from pacsys_rx.auth import JWTAuth
from pacsys_rx.backends.grpc import backend as grpc_backend
from pacsys_rx.errors import AuthenticationError, BackendUnavailable
from pacsys_rx.model import OK, AcnetStatus, AnalogAlarm, BasicStatus, DigitalAlarm, TimedArray, ValueType
from pacsys_rx.protocols.grpc_values import (
    EMPTY_VALUE_MESSAGE,
    Target,
    ValueConversionError,
    decode_stream_reply,
    sample_reading,
    scalar_samples,
    setting_value,
    status_reading,
    stream_readings,
    value_from_proto,
)
from pacsys_rx.protocols.proto import DAQ_pb2, DevDB_pb2, device_pb2, status_pb2
from pacsys_rx.sim.grpc_server import encode_sample, model_value, readings_reply
from pacsys_rx.sim.model import Sample

V = device_pb2.Value
TARGET = Target("M:OUTTMP", "M:OUTTMP")


def sample(value: V | None = None, seconds: int = 1_700_000_000, nanos: int = 250_000_000,
           status: tuple[int, int, str] | None = None) -> DAQ_pb2.Reading:
    reading = DAQ_pb2.Reading()
    if value is not None:
        reading.data.CopyFrom(value)
    reading.timestamp.seconds, reading.timestamp.nanos = seconds, nanos
    if status is not None:
        reading.status.CopyFrom(status_pb2.Status(facility_code=status[0], status_code=status[1],
                                                  message=status[2]))
    return reading


def reply(index: int, *samples: DAQ_pb2.Reading) -> DAQ_pb2.ReadingReply:
    return DAQ_pb2.ReadingReply(index=index, readings=DAQ_pb2.Readings(reading=samples))


class FakeRpcError(grpc.RpcError, grpc.Call):
    def __init__(self, code: grpc.StatusCode, details: str = "boom") -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def initial_metadata(self) -> Any:
        return ()

    def trailing_metadata(self) -> Any:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> float | None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


# ----------------------------------------------------------------------------- reading direction


@pytest.mark.parametrize(("value", "expected", "value_type"), [
    (V(scalar=72.5), 72.5, ValueType.SCALAR),
    (V(scalarArr=V.ScalarArray(value=[1.0, 2.5])), (1.0, 2.5), ValueType.SCALAR_ARRAY),
    (V(raw=b"\x01\x02"), b"\x01\x02", ValueType.RAW),
    (V(text="Outdoor Temperature"), "Outdoor Temperature", ValueType.TEXT),
    (V(textArr=V.TextArray(value=["On", "Ready"])), ("On", "Ready"), ValueType.TEXT_ARRAY),
    (V(anaAlarm=V.AnalogAlarm(minimum=-1.0, maximum=5.0, alarmEnable=True, triesNeeded=2, triesNow=1)),
     AnalogAlarm(-1.0, 5.0, True, False, False, False, 2, 1), ValueType.ANALOG_ALARM),
    (V(digAlarm=V.DigitalAlarm(nominal=-2, mask=3, abort=True, abortInhibit=True)),
     DigitalAlarm(-2, 3, False, False, True, True, 0, 0), ValueType.DIGITAL_ALARM),
    (V(basicStatus=V.BasicStatus(value={"on": "True", "ready": "False"})),
     BasicStatus(on=True, ready=False), ValueType.BASIC_STATUS),
    (V(basicStatus=V.BasicStatus(value={"On": "Yes", "Ready": "Tripped", "Polarity": "Minus", "Other": "x"})),
     BasicStatus(on=True, ready=False, positive=False), ValueType.BASIC_STATUS),
])
def test_value_from_proto(value: V, expected: Any, value_type: ValueType) -> None:
    assert value_from_proto(value) == (expected, value_type)


def test_empty_value_is_none() -> None:
    assert value_from_proto(V()) is None


def test_sample_with_data() -> None:
    reading = sample_reading(sample(V(scalar=3.0)), TARGET)
    assert reading.ok and reading.value == 3.0 and reading.value_type is ValueType.SCALAR
    assert reading.timestamp == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=timezone.utc)
    assert reading.status == OK and reading.backend == "grpc" and reading.drf == "M:OUTTMP"


def test_warning_with_data_is_usable() -> None:
    reading = sample_reading(sample(V(scalar=3.0), status=(17, 2, "")), TARGET)
    assert reading.ok and reading.is_warning and reading.status == AcnetStatus.named("DPM_STALE")


def test_warning_without_data_is_unusable() -> None:
    reading = sample_reading(sample(status=(17, 1, "pending")), TARGET)
    assert not reading.ok and reading.value is None and reading.message == "pending"


def test_negative_sample_status_and_unsigned_spelling() -> None:
    reading = sample_reading(sample(V(scalar=1.0), status=(17, 230, "")), TARGET)
    assert reading.is_error and reading.status == AcnetStatus.named("DPM_NO_SUCH_DEVICE")


def test_empty_oneof_is_an_error_reading() -> None:
    reading = sample_reading(sample(), TARGET)
    assert reading.status == AcnetStatus(1, -1) and reading.message == EMPTY_VALUE_MESSAGE


def test_unset_timestamp_is_receive_time() -> None:
    before = datetime.now(timezone.utc)
    assert sample_reading(sample(V(scalar=1.0), seconds=0, nanos=0), TARGET).timestamp >= before


def test_status_replies() -> None:
    pend = status_reading(status_pb2.Status(facility_code=17, status_code=1), TARGET)
    assert pend.status == AcnetStatus.named("DPM_PEND") and not pend.ok
    zero = status_reading(status_pb2.Status(facility_code=17, status_code=0, message=""), TARGET)
    assert zero.status == AcnetStatus(1, -1) and zero.message == "gRPC error"


def test_stream_reply_unpacks_every_sample_in_order() -> None:
    samples = [sample(V(scalar=float(i)), nanos=i * 1000) for i in range(5)]
    readings = stream_readings(reply(0, *samples), TARGET)
    assert [r.value for r in readings] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_one_shot_several_samples_become_a_timed_array() -> None:
    result = grpc_backend._one_shot_result(reply(0, sample(V(scalar=1.0), nanos=0),
                                                 sample(V(scalar=2.0), nanos=5000)), TARGET)
    assert result.value_type is ValueType.TIMED_SCALAR_ARRAY
    assert result.value == TimedArray((1.0, 2.0), (1_700_000_000_000_000, 1_700_000_000_000_005))


def test_one_shot_timed_array_reports_the_unusable_sample() -> None:
    samples = reply(0, sample(V(scalar=1.0)), sample(status=(17, -29, "")))
    result = grpc_backend._one_shot_result(samples, TARGET)
    assert result.status == AcnetStatus.named("DPM_OUT_OF_BOUNDS")


def test_logger_chunks_merge_until_the_empty_chunk() -> None:
    chunks: list[DAQ_pb2.Reading] = []
    first = reply(0, sample(V(scalar=1.0), nanos=0), sample(V(scalar=2.0), nanos=1000))
    assert grpc_backend._chunk_result(first, TARGET, chunks) is None
    assert grpc_backend._chunk_result(reply(0, sample(V(scalar=3.0), nanos=2000)), TARGET, chunks) is None
    merged = grpc_backend._chunk_result(reply(0), TARGET, chunks)
    assert merged is not None and merged.value.data == (1.0, 2.0, 3.0)
    empty = grpc_backend._chunk_result(reply(0), TARGET, [])
    assert empty is not None and empty.ok and empty.value == TimedArray((), ())
    refused = DAQ_pb2.ReadingReply(index=0, status=status_pb2.Status(facility_code=66, status_code=-64))
    failed = grpc_backend._chunk_result(refused, TARGET, [])
    assert failed is not None and failed.status == AcnetStatus.named("DAE_LJ_NO_DATA")


# ----------------------------------------------------------------------------- writing direction


class FakeArray:
    def __init__(self, items: list[Any], ndim: int = 1) -> None:
        self._items, self.ndim = items, ndim

    def tolist(self) -> list[Any]:
        return self._items


class FakeScalar:
    dtype = "float32"
    ndim = 0

    def item(self) -> float:
        return 1.5


@pytest.mark.parametrize(("value", "expected"), [
    (1.5, V(scalar=1.5)),
    (3, V(scalar=3.0)),
    (True, V(scalar=1.0)),
    (FakeScalar(), V(scalar=1.5)),
    ("on", V(text="on")),
    (b"\x00\x01", V(raw=b"\x00\x01")),
    ([1, 2.5], V(scalarArr=V.ScalarArray(value=[1.0, 2.5]))),
    ((), V(scalarArr=V.ScalarArray())),
    (("a", "b"), V(textArr=V.TextArray(value=["a", "b"]))),
    (FakeArray([1.0, 2.0]), V(scalarArr=V.ScalarArray(value=[1.0, 2.0]))),
])
def test_setting_value(value: Any, expected: V) -> None:
    encoded = setting_value(value)
    assert encoded == expected and encoded.WhichOneof("value") == expected.WhichOneof("value")


@pytest.mark.parametrize("value", [
    [1, "a"], FakeArray([[1.0]], ndim=2), {"minimum": 1.0},
    AnalogAlarm(0, 1, True, False, False, False, 1, 0), BasicStatus(on=True), None, object(),
])
def test_unsupported_setting_values(value: Any) -> None:
    with pytest.raises(ValueConversionError):
        setting_value(value)


# ----------------------------------------------------------------------------- error mapping


@pytest.mark.parametrize(("code", "expected"), [
    (grpc.StatusCode.UNAVAILABLE, BackendUnavailable),
    (grpc.StatusCode.DEADLINE_EXCEEDED, BackendUnavailable),
    (grpc.StatusCode.UNAUTHENTICATED, AuthenticationError),
    (grpc.StatusCode.PERMISSION_DENIED, AuthenticationError),
    (grpc.StatusCode.UNKNOWN, None),
    (grpc.StatusCode.INVALID_ARGUMENT, None),
    (grpc.StatusCode.CANCELLED, None),
])
def test_request_level_errors(code: grpc.StatusCode, expected: type | None) -> None:
    error = grpc_backend._request_level_error("h:1", FakeRpcError(code, "why"))
    if expected is None:
        assert error is None
    else:
        assert isinstance(error, expected) and str(error) == f"gRPC error (h:1): {code.name}: why"


def test_entry_failures() -> None:
    assert grpc_backend._entry_failure(FakeRpcError(grpc.StatusCode.DEADLINE_EXCEEDED)) == AcnetStatus(1, -6)
    assert grpc_backend._entry_failure(FakeRpcError(grpc.StatusCode.INTERNAL)) == AcnetStatus(1, -1)
    assert {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED} == grpc_backend._RETRYABLE


# ----------------------------------------------------------------------------- configuration and DevDB


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PACSYS_GRPC_HOST", "PACSYS_GRPC_PORT", "PACSYS_DEVDB_HOST", "PACSYS_JWT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with grpc_backend.GRPCBackend() as backend:
        assert backend.target == "dce08.fnal.gov:50051" and not backend.reading_meta
        assert backend._devdb.target == "ad-services.fnal.gov:443"
    monkeypatch.setenv("PACSYS_GRPC_HOST", "envhost")
    monkeypatch.setenv("PACSYS_GRPC_PORT", "6000")
    monkeypatch.setenv("PACSYS_DEVDB_HOST", "devdb")
    with grpc_backend.GRPCBackend() as backend:
        assert backend.target == "envhost:6000" and backend.reading_meta
    with grpc_backend.GRPCBackend("explicit", 7000) as backend:
        assert backend.target == "explicit:7000"
    monkeypatch.setenv("PACSYS_GRPC_PORT", "70000")
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        grpc_backend.GRPCBackend()
    monkeypatch.setenv("PACSYS_DEVDB_TLS", "yes")
    with pytest.raises(ValueError, match="PACSYS_DEVDB_TLS"):
        grpc_backend.GRPCBackend(port=1)


def test_token_metadata_and_missing_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PACSYS_JWT_TOKEN", raising=False)
    with grpc_backend.GRPCBackend("127.0.0.1", 1) as backend:
        assert backend._metadata() == ()
        with pytest.raises(AuthenticationError):
            backend.write("Z:ACLTST", 1.0).run()
    with grpc_backend.GRPCBackend("127.0.0.1", 1, auth=JWTAuth("a.b.c")) as backend:
        assert backend._metadata() == (("authorization", "Bearer a.b.c"),)
    monkeypatch.setenv("PACSYS_JWT_TOKEN", "e.n.v")
    with grpc_backend.GRPCBackend("127.0.0.1", 1) as backend:
        assert backend._metadata() == (("authorization", "Bearer e.n.v"),)


def test_device_info_conversion() -> None:
    info = DevDB_pb2.DeviceInfo(device_index=27235, description="Outdoor Temperature",
                                reading=DevDB_pb2.Property(common_units="DegF", min_val=-50, max_val=150,
                                                           coeff=[1.0, 2.0]))
    result = grpc_backend.device_info_from_proto(info)
    assert result is not None and result.reading is not None
    assert result.reading.common_units == "DegF" and result.reading.primary_units is None
    assert result.reading.coeff == (1.0, 2.0) and result.setting is None and result.status_bits is None
    assert result.meta("M:OUTTMP").units == "DegF"
    assert grpc_backend.device_info_from_proto(DevDB_pb2.DeviceInfo()) is None
    described = DevDB_pb2.DeviceInfo(device_index=0, description="x")
    assert grpc_backend.device_info_from_proto(described) is not None


# ----------------------------------------------------------------------------- simulator encoding


@pytest.mark.parametrize(("value", "value_type", "status"), [
    (72.5, ValueType.SCALAR, OK),
    (True, ValueType.SCALAR, OK),
    (1.5, ValueType.SCALAR, AcnetStatus.named("DPM_STALE")),
    ((1.0, 2.0), ValueType.SCALAR_ARRAY, OK),
    ("text", ValueType.TEXT, OK),
    (BasicStatus(on=True, ready=False), ValueType.BASIC_STATUS, OK),
])
def test_fast_sample_encoding_matches_protobuf(value: Any, value_type: ValueType,
                                               status: AcnetStatus) -> None:
    for timestamp in (1_700_000_000_123, 1_700_000_000_000, 999):
        encoded = encode_sample(Sample(value, value_type, None, timestamp, 0, status))
        expected = DAQ_pb2.Reading(data=model_value(value, value_type))
        expected.timestamp.seconds, expected.timestamp.nanos = divmod(timestamp, 1000)
        expected.timestamp.nanos *= 1_000_000
        if status.error:
            expected.status.facility_code, expected.status.status_code = status.facility, status.error
        assert DAQ_pb2.Readings.FromString(encoded).reading[0] == expected
        for index in (0, 7, 300):
            decoded = DAQ_pb2.ReadingReply.FromString(readings_reply(index, [encoded, encoded]))
            assert decoded.index == index and list(decoded.readings.reading) == [expected, expected]


def test_basic_status_round_trip_through_display_texts() -> None:
    encoded = model_value(BasicStatus(on=True, ready=False, remote=True, positive=False, ramp=True),
                          ValueType.BASIC_STATUS)
    assert dict(encoded.basicStatus.value) == {"On": "On", "Ready": "Tripped", "Remote": "Remote",
                                               "Positive": "Negative", "Ramp": "Ramp"}
    assert value_from_proto(encoded) == (BasicStatus(True, False, True, False, True), ValueType.BASIC_STATUS)


# ----------------------------------------------------------------------------- encoded stream replies

SCALAR = Sample(72.5, ValueType.SCALAR, None, 1_700_000_000_250, 0, OK)
TARGETS = [Target(f"Z:BANK{i:03d}.READING@p,5", f"Z:BANK{i:03d}") for i in range(20_001)]
LIVE = frozenset(target.drf for target in TARGETS)


@pytest.mark.parametrize("index", [0, 7, 300, 20_000])
@pytest.mark.parametrize("samples", [
    [SCALAR],
    [SCALAR, Sample(-1.0, ValueType.SCALAR, None, 1_700_000_000_255, 0, OK), SCALAR],
    [SCALAR, Sample(1.5, ValueType.SCALAR, None, 1_700_000_000_000, 0, AcnetStatus.named("DPM_STALE"))],
    [Sample(float(i), ValueType.SCALAR, None, 1_700_000_000_000 + 5 * i, 0, OK) for i in range(150)],
    [Sample(float(i), ValueType.SCALAR, None, 1_700_000_000_300 + 5 * i, 0, OK) for i in range(20)],
    [Sample((1.0, 2.0), ValueType.SCALAR_ARRAY, None, 1_700_000_000_250, 0, OK)],
    [],
])
def test_encoded_replies_decode_like_the_generated_classes(index: int, samples: list[Sample]) -> None:
    data = readings_reply(index, [encode_sample(sample) for sample in samples])
    expected = stream_readings(DAQ_pb2.ReadingReply.FromString(data), TARGETS[index])
    assert [(r.value, r.status, r.timestamp) for r in decode_stream_reply(data, TARGETS, LIVE)] == \
        [(r.value, r.status, r.timestamp) for r in expected]


def test_an_unset_time_is_the_receive_time_on_the_wire_path_too() -> None:
    before = datetime.now(timezone.utc)
    data = readings_reply(0, [encode_sample(Sample(2.0, ValueType.SCALAR, None, 0, 0, OK))])
    assert scalar_samples(data) is not None
    assert all(r.timestamp >= before for r in decode_stream_reply(data, TARGETS, LIVE))


def test_only_plain_scalars_with_a_time_take_the_wire_path() -> None:
    assert scalar_samples(readings_reply(300, [encode_sample(SCALAR)] * 2)) == (
        300, [72.5, 72.5], [datetime(2023, 11, 14, 22, 13, 20, 250_000, tzinfo=timezone.utc)] * 2)
    stale = Sample(1.5, ValueType.SCALAR, None, 1_700_000_000_000, 0, AcnetStatus.named("DPM_STALE"))
    assert scalar_samples(readings_reply(0, [encode_sample(stale)])) is None
    assert scalar_samples(readings_reply(20_000, [encode_sample(SCALAR)])) is None
    status = DAQ_pb2.ReadingReply(index=3, status=status_pb2.Status(facility_code=17, status_code=-29))
    assert scalar_samples(status.SerializeToString()) is None
    assert scalar_samples(b"") is None


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 15, 16, 17])
def test_entries_of_one_size_with_any_key_or_length_byte_changed_leave_the_wire_path(offset: int) -> None:
    """The entries (26 bytes each here: keys and lengths, an 11-byte time, the value's key) are read in
    one go; any of their fixed bytes being off, in any entry, sends the reply to the generated classes."""
    data = bytearray(readings_reply(0, [encode_sample(SCALAR)] * 3))
    assert scalar_samples(bytes(data)) is not None
    data[2 + 26 + offset] ^= 0x40
    assert scalar_samples(bytes(data)) is None


def test_replies_for_unknown_or_released_entries_give_no_readings() -> None:
    data = readings_reply(5, [encode_sample(SCALAR)])
    assert decode_stream_reply(data, TARGETS[:5], LIVE) == []
    assert decode_stream_reply(data, TARGETS, LIVE - {TARGETS[5].drf}) == []
    reading, = decode_stream_reply(data, TARGETS, LIVE)
    assert (reading.drf, reading.value, reading.value_type, reading.status) == \
        (TARGETS[5].drf, 72.5, ValueType.SCALAR, OK)


def test_undecodable_replies_raise_decode_error() -> None:
    with pytest.raises(DecodeError):
        decode_stream_reply(b"\x12\x05\x12\x03\x0a", TARGETS, LIVE)
