"""DMQ client conversions (samples <-> model) and backend arguments, without a broker."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import pacsys_rx as prx
from pacsys_rx.backends.dmq import DMQBackend
from pacsys_rx.backends.dmq.io import FALLBACK_HOST_ADDRESS, host_address
from pacsys_rx.backends.dmq.values import reading_of, setting_sample, timestamp_of
from pacsys_rx.model import AcnetStatus, AnalogAlarm, BasicStatus, DigitalAlarm, ValueType
from pacsys_rx.protocols import sdd

T = 1767225600000


@pytest.mark.parametrize(("reply", "value", "value_type"), [
    (sdd.DoubleSample(value=72.5, time=T, unit="degF"), 72.5, ValueType.SCALAR),
    (sdd.IntegerSample(value=-3, time=T), -3, ValueType.SCALAR),
    (sdd.ShortSample(value=7, time=T), 7, ValueType.SCALAR),
    (sdd.LongSample(value=2**40, time=T), 2**40, ValueType.SCALAR),
    (sdd.BooleanSample(value=True, time=T), True, ValueType.SCALAR),
    (sdd.DoubleArraySample(value=[1.0, 2.0], time=T), (1.0, 2.0), ValueType.SCALAR_ARRAY),
    (sdd.IntegerArraySample(value=[1, 2], time=T), (1, 2), ValueType.SCALAR_ARRAY),
    (sdd.BooleanArraySample(value=[True], time=T), (True,), ValueType.SCALAR_ARRAY),
    (sdd.BinarySample(value=b"\x01\x02", time=T), b"\x01\x02", ValueType.RAW),
    (sdd.StringSample(value="\u00b5A", time=T), "\u00b5A", ValueType.TEXT),
    (sdd.StringArraySample(value=["a", "b"], time=T), ("a", "b"), ValueType.TEXT_ARRAY),
    (sdd.BasicStatusSample(value=BasicStatus(on=True), time=T), BasicStatus(on=True), ValueType.BASIC_STATUS),
    (sdd.BasicControlSample(value=sdd.BasicControl.OFF, time=T), 2, ValueType.SCALAR),
])
def test_samples_become_readings(reply: sdd.Reply, value: object, value_type: ValueType) -> None:
    reading = reading_of("M:OUTTMP", "M:OUTTMP", reply)
    assert reading is not None and reading.ok
    assert (reading.value, reading.value_type, reading.backend) == (value, value_type, "dmq")
    assert reading.timestamp == datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_alarm_samples_keep_their_blocks() -> None:
    analog = AnalogAlarm(0.0, 1.0, True, False, False, False, 2, 0)
    reading = reading_of("N@H801", "N:H801", sdd.AnalogAlarmSample(value=analog, time=T, cycle_time=9))
    assert reading is not None and reading.value == analog and reading.cycle == 9
    digital = DigitalAlarm(1, 3, True, False, False, False, 1, 0)
    reading = reading_of("N$H801", "N:H801", sdd.DigitalAlarmSample(value=digital, time=T))
    assert reading is not None and reading.value_type is ValueType.DIGITAL_ALARM


def test_error_sample_becomes_an_error_reading() -> None:
    reply = sdd.ErrorSample(facility_code=16, error_number=-13, time=T, message="property not found")
    reading = reading_of("M:OUTTMP", "M:OUTTMP", reply)
    assert reading is not None and reading.is_error and reading.value is None
    assert reading.status == AcnetStatus(16, -13) and reading.message == "property not found"


def test_non_samples_are_not_readings_and_odd_times_fall_back() -> None:
    assert reading_of("M:OUTTMP", "M:OUTTMP", sdd.OpenListReply(list_id=1)) is None
    assert timestamp_of(0).year >= 2024
    assert timestamp_of(2**63 - 1).year >= 2024


@pytest.mark.parametrize(("drf", "value", "expected"), [
    ("Z:ACLTST.SETTING@N", 45.0, sdd.DoubleSample(value=45.0, time=0, ref_id=1)),
    ("Z:ACLTST.SETTING@N", 45, sdd.IntegerSample(value=45, time=0, ref_id=1)),
    ("Z:ACLTST.SETTING@N", True, sdd.IntegerSample(value=1, time=0, ref_id=1)),
    ("Z:ACLTS4.SETTING@N", "text", sdd.StringSample(value="text", time=0, ref_id=1)),
    ("Z:ACLTST.SETTING@N", ("a", "b"), sdd.StringArraySample(value=["a", "b"], time=0, ref_id=1)),
    ("Z:ACLTST.SETTING@N", [1, 2.5], sdd.DoubleArraySample(value=[1.0, 2.5], time=0, ref_id=1)),
    ("Z:ACLTST.SETTING@N", [], sdd.DoubleArraySample(value=[], time=0, ref_id=1)),
    ("Z:ACLTST.CONTROL@N", 1, sdd.BasicControlSample(value=sdd.BasicControl.ON, time=0, ref_id=1)),
    ("Z:ACLTST.CONTROL@N", 8, sdd.DoubleSample(value=8.0, time=0, ref_id=1)),
    ("Z:ACLTST.ANALOG@N", {"minimum": 10.0}, sdd.AnalogAlarmSample(
        value=AnalogAlarm(10.0, 0.0, False, False, False, False, 0, 0), time=0, ref_id=1)),
    ("Z:ACLTST.DIGITAL@N", {"nominal": 2, "mask": 3, "alarm_enable": True}, sdd.DigitalAlarmSample(
        value=DigitalAlarm(2, 3, True, False, False, False, 0, 0), time=0, ref_id=1)),
])
def test_setting_values_become_samples(drf: str, value: object, expected: sdd.DataSample) -> None:
    sample = setting_sample(drf, value)
    assert sample == expected
    assert sdd.decode_reply(sdd.encode_message(sample)) == expected


@pytest.mark.parametrize(("value", "error"), [
    (b"\x00", TypeError), (2**31, ValueError), ({"alarm_status": True}, ValueError),
    ({"minimum": 1.0, "nominal": 2}, ValueError), ({"tries_needed": 2}, ValueError),
    ([1, "a"], TypeError), (BasicStatus(on=True), TypeError), (object(), TypeError),
])
def test_unsettable_values_are_refused(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        setting_sample("Z:ACLTST.SETTING@N", value)


def test_host_address_is_four_bytes_and_private_addresses_are_hidden() -> None:
    address = host_address(("127.0.0.1", 9))
    assert address == FALLBACK_HOST_ADDRESS


def test_backend_arguments_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACSYS_DMQ_HOST", "broker.example")
    monkeypatch.setenv("PACSYS_DMQ_PORT", "5673")
    with DMQBackend() as backend:
        settings = backend.settings
        assert (settings.host, settings.port, settings.vhost) == ("broker.example", 5673, "/")
        assert backend.name == "dmq" and prx.Capability.AUTH_KERBEROS in backend.capabilities
        assert backend.timeout == 10.0
        assert backend.connection_name.startswith("pacsys_rx-dmq-")
    with pytest.raises(ValueError, match="port"):
        DMQBackend("h", 70000)
    with pytest.raises(TypeError, match="KerberosAuth"):
        DMQBackend("h", 5672, auth=prx.JWTAuth("a.b.c"))  # type: ignore[arg-type]


def test_every_operation_without_auth_fails_on_subscribe_before_any_traffic() -> None:
    with DMQBackend("127.0.0.1", 1) as backend:
        with pytest.raises(prx.AuthenticationError, match="Kerberos"):
            backend.read("M:OUTTMP").run()
        with pytest.raises(prx.AuthenticationError):
            backend.write("Z:ACLTST", 1.0).run()
        with pytest.raises(prx.AuthenticationError):
            backend.stream("M:OUTTMP@p,1000").run()
        assert backend.subscription_count() == 0
