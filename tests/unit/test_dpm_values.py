"""The reply -> Reading mapping, the Scalar fast path and the setting conversion of the DPM backend."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pacsys_rx.backends.dpm.values import Clock, Entry, decode_client_frame, reply_reading, setting_for
from pacsys_rx.model import (
    AcnetStatus,
    AnalogAlarm,
    BasicStatus,
    DeviceMeta,
    DigitalAlarm,
    TimedArray,
    ValueType,
)
from pacsys_rx.protocols import pc
from pacsys_rx.protocols.pcitems import encode_int
from pacsys_rx.sim.dpm_server import sample_reply, scalar_frame, scalar_middle
from pacsys_rx.sim.model import Sample

MS = 1_704_067_200_000
WHEN = datetime(2024, 1, 1, tzinfo=timezone.utc)


def entry() -> Entry:
    e = Entry("M:OUTTMP@p,1000", "M:OUTTMP")
    e.learn(pc.DeviceInfoReply(1, 27235, "M:OUTTMP", "Outdoor temperature", "degF"))
    return e


@pytest.mark.parametrize(("ref_id", "timestamp", "cycle", "status", "value"), [
    (1, MS, 0, 0, 72.5),
    (2**40, MS, -5, 529, -0.0),
    (127, 0, 2**62, -4335, float("inf")),
])
def test_fast_path_reads_scalar_replies_like_the_codec(ref_id: int, timestamp: int, cycle: int, status: int,
                                                       value: float) -> None:
    body = pc.encode_message(pc.ScalarReply(ref_id, timestamp, cycle, status, value))
    assert decode_client_frame(body) == (ref_id, timestamp, cycle, status, value)


def test_fast_path_reads_every_integer_size_and_layouts_of_equal_length_alike() -> None:
    values = [0, -1, 1, 127, -128, 2**15, -(2**23), 2**31, -(2**39), 2**47 - 1, -(2**55), 2**62, MS]
    bodies = [pc.encode_message(pc.ScalarReply(ref_id, timestamp, cycle, status, 1.5))
              for ref_id in values for timestamp in values for cycle in values[::3] for status in (0, -4335)]
    for _ in range(2):  # the second round reads through the layouts the first one learnt
        for body in bodies:
            reply = pc.decode_reply(body)
            assert isinstance(reply, pc.ScalarReply)
            expected = (reply.ref_id, reply.timestamp, reply.cycle, reply.status, 1.5)
            assert decode_client_frame(body) == expected


def test_a_scalar_with_bytes_after_its_value_is_read_like_the_codec() -> None:
    body = pc.encode_message(pc.ScalarReply(1, MS, 3, 0, 72.5))
    decode_client_frame(body)
    assert decode_client_frame(body + b"\x00") == decode_client_frame(body) == (1, MS, 3, 0, 72.5)


def test_non_canonical_scalar_falls_back_to_the_codec() -> None:
    body = pc.encode_message(pc.ScalarReply(1, MS, 3, 0, 72.5))
    timestamp, cycle = bytes.fromhex("12d55b16018cc251f400"), bytes.fromhex("1207401103")
    reordered = body.replace(timestamp + cycle, cycle + timestamp)
    assert reordered != body
    assert decode_client_frame(reordered) == pc.ScalarReply(1, MS, 3, 0, 72.5)
    assert decode_client_frame(pc.encode_message(pc.ListStatusReply(3, 0))) == pc.ListStatusReply(3, 0)


def test_spec_example_scalar_becomes_a_reading_with_units_and_utc_time() -> None:
    body = bytes.fromhex("53444402510314b13a703a12d6ab510a121eab110112d55b16018cc251f40012074011001244541100"
                         "127f38284052200000000000")
    frame = decode_client_frame(body)
    assert isinstance(frame, tuple)
    reading = reply_reading(entry(), pc.ScalarReply(*frame), Clock())
    assert (reading.value, reading.value_type, reading.units, reading.timestamp) == (
        72.5, ValueType.SCALAR, "degF", WHEN)
    assert reading.meta == DeviceMeta(27235, "M:OUTTMP", "Outdoor temperature", "degF")
    assert reading.drf == "M:OUTTMP@p,1000" and reading.backend == "dpm" and reading.ok


@pytest.mark.parametrize(("reply", "value", "value_type"), [
    (pc.ScalarArrayReply(1, MS, 7, 0, [1.0, 2.0]), (1.0, 2.0), ValueType.SCALAR_ARRAY),
    (pc.RawReply(1, MS, 7, 0, b"\x01\x02"), b"\x01\x02", ValueType.RAW),
    (pc.TextReply(1, MS, 7, 0, "°F"), "°F", ValueType.TEXT),
    (pc.TextArrayReply(1, MS, 7, 0, ["a", "b"]), ("a", "b"), ValueType.TEXT_ARRAY),
    (pc.TimedScalarArrayReply(1, MS, 7, 0, [1.5], [MS * 1000]), TimedArray((1.5,), (MS * 1000,)),
     ValueType.TIMED_SCALAR_ARRAY),
    (pc.AnalogAlarmReply(1, MS, 7, -1.0, 1.0, True, False, False, True, 2, 0),
     AnalogAlarm(-1.0, 1.0, True, False, False, True, 2, 0), ValueType.ANALOG_ALARM),
    (pc.DigitalAlarmReply(1, MS, 7, 2, -1, True, True, False, False, 1, 1),
     DigitalAlarm(2, -1, True, True, False, False, 1, 1), ValueType.DIGITAL_ALARM),
    (pc.BasicStatusReply(1, MS, 7, on=True, ready=False), BasicStatus(on=True, ready=False),
     ValueType.BASIC_STATUS),
])
def test_every_data_reply_maps_to_its_value_type(reply: object, value: object, value_type: ValueType) -> None:
    reading = reply_reading(entry(), reply, Clock())  # type: ignore[arg-type]
    assert (reading.value, reading.value_type) == (value, value_type)
    assert (reading.cycle, reading.timestamp) == (7, WHEN)
    assert reading.status.is_ok


def test_negative_status_drops_the_value_and_positive_keeps_it() -> None:
    failed = reply_reading(entry(), pc.ScalarReply(1, MS, 0, -6639, 1.0), Clock())
    assert failed.value is None and failed.status == AcnetStatus.named("DPM_NO_SUCH_DEVICE")
    assert failed.message and "DPM_NO_SUCH_DEVICE" in failed.message
    stale = reply_reading(entry(), pc.ScalarReply(1, MS, 0, 529, 1.0), Clock())
    assert stale.value == 1.0 and stale.is_warning


def test_clock_uses_receive_time_for_missing_timestamps() -> None:
    clock = Clock()
    assert clock(MS) == WHEN and clock(MS) is clock(MS)
    assert clock(0) > WHEN


@pytest.mark.parametrize(("value", "setting"), [
    (45.0, pc.ScaledSetting(3, [45.0])),
    (True, pc.ScaledSetting(3, [1.0])),
    ([1, 2.5], pc.ScaledSetting(3, [1.0, 2.5])),
    ([], pc.ScaledSetting(3, [])),
    (b"\x34\x43\x00\x00", pc.RawSetting(3, b"\x34\x43\x00\x00")),
    ("hi", pc.TextSetting(3, ["hi"])),
    (("a", "b"), pc.TextSetting(3, ["a", "b"])),
])
def test_values_become_setting_structs(value: object, setting: object) -> None:
    assert setting_for(3, value) == setting


@pytest.mark.parametrize(("value", "error"), [
    (["a", 1], TypeError), ("snowman ☃", ValueError), ({"minimum": 1}, TypeError), (None, TypeError),
])
def test_values_without_a_setting_struct_are_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        setting_for(1, value)


def test_server_scalar_encoding_matches_the_codec() -> None:
    for ref_id, timestamp, cycle, status, value in [(1, MS, 0, 0, 72.5), (300, MS, 2**33, -4335, -1e300)]:
        frame = scalar_frame(encode_int(ref_id), scalar_middle(timestamp, cycle, status), value)
        assert frame == pc.encode_frame(pc.ScalarReply(ref_id, timestamp, cycle, status, value))


def test_server_maps_samples_to_replies() -> None:
    ok = Sample(("x", "y"), ValueType.TEXT_ARRAY, None, MS, 4)
    assert sample_reply(9, ok) == pc.TextArrayReply(9, MS, 4, 0, ["x", "y"])
    error = Sample.error(AcnetStatus.named("DPM_NO_SUCH_DEVICE"), MS)
    assert isinstance(sample_reply(9, error), pc.StatusReply)


class _Transport:
    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class _Writer:
    transport = _Transport()


class _Server:
    paused = False

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, session: object, data: bytes) -> None:
        self.sent.append(data)


def test_server_batch_encoding_matches_the_codec() -> None:
    """One tick's batch (scalars sharing or not their timestamp, other types, unknown refs) in one write."""
    from pacsys_rx.drf import parse_request
    from pacsys_rx.sim.dpm_server import _Entry, _Session

    server = _Server()
    session = _Session(server, _Writer(), 1)  # type: ignore[arg-type]
    for ref_id in (1, 300, 2**20):
        session.entries[ref_id] = _Entry("M:OUTTMP", parse_request("M:OUTTMP"), ref_id)
    warning = AcnetStatus.named("DPM_PEND")
    batch = [
        (1, Sample(72.5, ValueType.SCALAR, "degF", MS, 4)),
        (300, Sample(-1e300, ValueType.SCALAR, None, MS, 4)),
        (2**20, Sample(3, ValueType.SCALAR, None, MS, 4, warning)),
        (7, Sample(1.0, ValueType.SCALAR, None, MS, 4)),
        (1, Sample(("x", "y"), ValueType.TEXT_ARRAY, None, MS, 4)),
        (300, Sample(0.5, ValueType.SCALAR, None, MS + 2**31, 2**40)),
        (1, Sample.error(AcnetStatus.named("DPM_NO_SUCH_DEVICE"), MS)),
        (2**20, Sample(2.0, ValueType.SCALAR, None, MS, 4)),
    ]
    session.on_batch(batch)
    known = [(ref_id, sample) for ref_id, sample in batch if ref_id != 7]
    expected = b"".join(pc.encode_frame(sample_reply(ref_id, sample)) for ref_id, sample in known)
    assert server.sent == [expected]
