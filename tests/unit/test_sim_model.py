"""The device model in stepped time: values, fields, errors, settings, control, alarms, determinism."""

from __future__ import annotations

import math

import pytest

from pacsys_rx.drf import parse_request
from pacsys_rx.model import AcnetStatus, AnalogAlarm, BasicStatus, DigitalAlarm, ValueType
from pacsys_rx.sim import ANONYMOUS, DeviceModel, Identity, Permissions, load_catalogue

T0 = 1_700_000_000_000.0
CATALOGUE = load_catalogue()
PERMISSIONS = Permissions.default()
USER = PERMISSIONS.identity("user@FNAL.GOV")
TESTER = PERMISSIONS.identity("tester@FNAL.GOV", role="testing")
OPERATOR = Identity("op@FNAL.GOV", None, 0x8000)


@pytest.fixture
def model() -> DeviceModel:
    return DeviceModel(CATALOGUE, seed=1, clock=lambda: T0)


def read(model: DeviceModel, drf: str, now: float = T0):  # type: ignore[no-untyped-def]
    return model.read(parse_request(drf), now)


def status(name: str) -> AcnetStatus:
    return AcnetStatus(0, 0) if name == "OK" else AcnetStatus.named(name)


def test_scalar_reading_has_units_timestamp_and_cycle(model: DeviceModel) -> None:
    sample = read(model, "M:OUTTMP")
    assert sample.value_type is ValueType.SCALAR and sample.units == "DegF"
    assert 70.0 <= sample.value <= 75.0
    assert sample.timestamp == int(T0) and sample.cycle == int(T0 * 15 / 1000)
    assert sample.status.is_ok and sample.ok


def test_raw_and_primary_follow_the_linear_scaling(model: DeviceModel) -> None:
    scaled = read(model, "M:OUTTMP").value
    primary = read(model, "M:OUTTMP.VOLTS")
    raw = read(model, "M:OUTTMP.RAW")
    assert primary.units == "Volts" and primary.value == pytest.approx(scaled / 10.0)
    assert raw.value_type is ValueType.RAW and len(raw.value) == 2
    assert int.from_bytes(raw.value, "little", signed=True) == round(primary.value / 0.001)
    assert read(model, "M:OUTTMP.UNITS").value == "DegF"
    assert read(model, "M:OUTTMP.MAX").value == 150.0


def test_arrays_ranges_and_errors(model: DeviceModel) -> None:
    whole = read(model, "B:IRMS06")
    assert whole.value_type is ValueType.SCALAR_ARRAY and len(whole.value) == 32
    assert read(model, "B:IRMS06[0:3]").value == whole.value[0:4]
    assert read(model, "B:IRMS06[5]").value == whole.value[5]
    assert read(model, "B:IRMS06{4:4}").value == whole.value[2:4]
    assert read(model, "B:IRMS06[0:3].RAW").value.__len__() == 8
    assert read(model, "B:IRMS06[32]").status == status("DPM_OUT_OF_BOUNDS")
    assert read(model, "B:IRMS06{1:2}").status == status("DPM_BAD_FRAMING")
    assert read(model, "M:OUTTMP[:]").value_type is ValueType.SCALAR_ARRAY


def test_text_description_index_and_status_devices(model: DeviceModel) -> None:
    assert read(model, "B:BOOSBP").value == "BEAM PERMIT OK"
    assert read(model, "M~OUTTMP").value == "Outdoor Temperature"
    assert read(model, "M:FOO.DESCRIPTION").value == "Temperature - external sensor"
    assert read(model, "M^OUTTMP").value == 27235
    basic = read(model, "N|LGXS")
    assert basic.value_type is ValueType.BASIC_STATUS
    assert basic.value == BasicStatus(on=False, ready=False, remote=True, positive=True, ramp=False)
    assert read(model, "N|LGXS.REMOTE").value is True
    assert read(model, "Z|ACLTST").value.to_dict() == {
        "on": False,
        "ready": True,
        "positive": False,
        "ramp": False,
    }
    assert read(model, "N|LGXS.BIT_VALUE").value == 0b1100
    assert read(model, "N|LGXS.BIT_NAMES").value == ("On", "Ready", "Remote", "Positive", "Ramp")
    assert read(model, "N|LGXS.BIT_VALUES").value_type is ValueType.TEXT_ARRAY


@pytest.mark.parametrize(
    ("drf", "expected"),
    [
        ("Z:BAD", "DPM_NO_SUCH_DEVICE"),
        ("Z:NOTFND.STATUS.ON", "DPM_NO_SUCH_DEVICE"),
        ("M@OUTTMP", "DBM_NOPROP"),
        ("M:OUTTMP.SETTING", "DBM_NOPROP"),
        ("M|OUTTMP", "DBM_NOPROP"),
        ("Z|ACLTST.REMOTE", "DIO_NOATT"),
        ("Z&ACLTST", "DIO_SETONLY"),
        ("N|LGXS[2]", "DPM_BAD_RANGE"),
    ],
)
def test_error_statuses(model: DeviceModel, drf: str, expected: str) -> None:
    sample = read(model, drf)
    assert sample.status == status(expected)
    assert sample.value is None and sample.value_type is None and not sample.ok


def test_bank_devices_are_addressable_by_their_non_acnet_names(model: DeviceModel) -> None:
    sample = read(model, "Z:BANK123")
    assert sample.ok and sample.units == "mA" and 40.0 <= sample.value <= 60.0


def test_values_are_pure_functions_of_seed_device_and_time() -> None:
    first, second = DeviceModel(CATALOGUE, seed=7), DeviceModel(CATALOGUE, seed=7)
    drfs = ["M:OUTTMP", "M:FOO", "Z:ACLTS7", "Z:BANK001", "B:IRMS06[0:3]"]
    forward = [read(first, d, T0 + dt).value for dt in (0, 500, 1000) for d in drfs]
    backward = [read(second, d, T0 + dt).value for dt in (1000, 500, 0) for d in reversed(drfs)]
    assert forward == list(reversed(backward))
    other_seed = DeviceModel(CATALOGUE, seed=8)
    assert read(other_seed, "Z:BANK001").value != read(first, "Z:BANK001").value
    assert read(first, "Z:BANK001").value != read(first, "Z:BANK002").value


def test_generators_move_as_configured(model: DeviceModel) -> None:
    steps = {read(model, "Z:ACLTS5", T0 - T0 % 4000 + dt).value for dt in (0, 1000, 2000, 3000)}
    assert steps == {0.0, 5.0}
    ramp = [read(model, "Z:ACLTS6", T0 - T0 % 10000 + dt).value for dt in (0, 2500, 5000)]
    assert ramp == pytest.approx([0.0, 2.5, 5.0])
    noise = {read(model, "Z:ACLTS7", T0 + 100 * k).value for k in range(20)}
    assert len(noise) > 10 and all(0.9 <= v <= 1.1 for v in noise)
    walk = [read(model, "M:FOO", T0 + 1000 * k).value for k in range(50)]
    assert all(40.0 <= v <= 80.0 for v in walk) and len(set(walk)) > 40


def test_setting_changes_the_reading_with_a_first_order_lag(model: DeviceModel) -> None:
    assert model.apply_setting(parse_request("Z:ACLTST"), 45.0, USER, T0) == status("OK")
    assert read(model, "Z:ACLTST.SETTING", T0).value == 45.0
    start = read(model, "Z:ACLTST", T0).value
    after_tau = read(model, "Z:ACLTST", T0 + 200).value
    assert after_tau == pytest.approx(45.0 + (start - 45.0) * math.exp(-1))
    assert read(model, "Z:ACLTST", T0 + 5000).value == pytest.approx(45.0, abs=1e-6)


def test_array_raw_and_primary_settings(model: DeviceModel) -> None:
    assert model.apply_setting(parse_request("Z:ACLTS3.SETTING[1:2]"), [7.0, 8.0], TESTER, T0).is_ok
    assert read(model, "Z:ACLTS3.SETTING[0:3]").value == (45.0, 7.0, 8.0, 102.81933)
    raw = (1234).to_bytes(4, "little", signed=True)
    assert model.apply_setting(parse_request("Z:ACLTS3.SETTING[0].RAW"), raw, TESTER, T0).is_ok
    assert read(model, "Z:ACLTS3.SETTING[0]").value == pytest.approx(0.01234)
    assert model.apply_setting(parse_request("Z:ACLTST.SETTING.PRIMARY"), 0.01, USER, T0).is_ok
    assert read(model, "Z:ACLTST.SETTING").value == pytest.approx(0.01)
    assert model.apply_setting(parse_request("Z_ACLTS4"), "bye", USER, T0).is_ok
    assert read(model, "Z:ACLTS4").value == "bye"


@pytest.mark.parametrize(
    ("drf", "value", "identity", "expected"),
    [
        ("Z:ACLTST", 1.0, ANONYMOUS, "DPM_PRIV"),
        ("G:AMANDA", 1.0, TESTER, "DPM_PRIV"),
        ("G:AMANDA", 1.0, USER, "DPM_DBPRIV"),
        ("G:AMANDA", 1.0, OPERATOR, "OK"),
        ("Z:NOTFND", 1.0, USER, "DPM_NO_SUCH_DEVICE"),
        ("M:OUTTMP", 1.0, USER, "DBM_NOPROP"),
        ("Z~ACLTST", "text", USER, "DIO_READONLY"),
        ("Z:ACLTST", 1000.0, USER, "DIO_RANGE"),
        ("Z:ACLTST", "high", USER, "DIO_INVDATA"),
        ("Z:ACLTST", math.nan, USER, "DIO_NOT_A_NUMBER"),
        ("Z:ACLTS3.SETTING[0:3]", [1.0, 2.0], USER, "DIO_INVLEN"),
        ("Z:ACLTS3.SETTING[0:3].RAW", b"\x00", USER, "DIO_INVLEN"),
        ("Z:ACLTS3.SETTING[8]", 1.0, USER, "DPM_OUT_OF_BOUNDS"),
        ("Z:ACLTS4", 5.0, USER, "DIO_INVDATA"),
        ("Z&ACLTST", 42, USER, "DIO_BADARG"),
        ("Z&ACLTST", 12, USER, "DIO_BADARG"),
        ("Z&ACLTST", 1.5, USER, "DIO_INVDATA"),
        ("Z@ACLTST.ALARM_STATUS", 1, USER, "DIO_READONLY"),
        ("Z@ACLTST.TRIES_NEEDED", 0, USER, "DIO_RANGE"),
        ("Z@ACLTST", {"tries_now": 1}, USER, "DIO_READONLY"),
        ("Z@ACLTST", {"nominal": 1}, USER, "DIO_INVDATA"),
    ],
)
def test_setting_refusals(
    model: DeviceModel, drf: str, value: object, identity: Identity, expected: str
) -> None:
    assert model.apply_setting(parse_request(drf), value, identity, T0) == status(expected)


def test_refused_settings_leave_the_model_unchanged(model: DeviceModel) -> None:
    before = read(model, "G:AMANDA.SETTING").value
    model.apply_setting(parse_request("G:AMANDA"), 5.0, USER, T0)
    model.apply_setting(parse_request("Z:ACLTST"), 1000.0, USER, T0)
    assert read(model, "G:AMANDA.SETTING").value == before
    assert read(model, "Z:ACLTST.SETTING").value == 17.136


@pytest.mark.parametrize(
    ("command", "attribute", "value"),
    [
        (1, "on", True),
        (2, "on", False),
        (3, "positive", True),
        (4, "positive", False),
        (5, "ramp", True),
        (6, "ramp", False),
        (7, "remote", False),
        (8, "remote", True),
        (0, "ready", True),
    ],
)
def test_control_commands_change_status_bits(
    model: DeviceModel, command: int, attribute: str, value: bool
) -> None:
    identity = Identity("op@FNAL.GOV", None, 0x0001)
    device = "Z:ACLTS5"
    assert model.apply_setting(parse_request(f"{device}.CONTROL"), command, identity, T0).is_ok
    assert getattr(read(model, f"{device}.STATUS").value, attribute) is value
    assert read(model, f"{device}.STATUS.{attribute.upper()}").value is value


def test_status_write_goes_to_control(model: DeviceModel) -> None:
    assert model.apply_setting(parse_request("Z|ACLTST"), 1, USER, T0).is_ok
    assert read(model, "Z|ACLTST.ON").value is True


def test_analog_alarm_trips_after_tries_needed_scans(model: DeviceModel) -> None:
    start = T0 - T0 % 1000
    assert read(model, "Z@ACLTST", start).value.alarm_status is False
    model.apply_setting(parse_request("Z:ACLTST"), 60.0, USER, start)
    scans = [read(model, "Z@ACLTST", start + 1000 * k).value for k in range(4)]
    assert [a.tries_now for a in scans] == [0, 1, 2, 2]
    assert [a.alarm_status for a in scans] == [False, False, True, True]
    assert isinstance(scans[0], AnalogAlarm) and scans[0].tries_needed == 2
    assert read(model, "Z@ACLTST.ALARM_STATUS", start + 2000).value is True
    model.apply_setting(parse_request("Z:ACLTST"), 10.0, USER, start + 3000)
    assert read(model, "Z@ACLTST", start + 6000).value.alarm_status is False


def test_alarm_limits_and_flags_are_settable(model: DeviceModel) -> None:
    assert model.apply_setting(parse_request("Z@ACLTST.MAX"), 10.0, USER, T0).is_ok
    assert read(model, "Z@ACLTST.MAX").value == 10.0 and read(model, "Z@ACLTST.MAX").units == "blip"
    assert read(model, "Z:ACLTST.ANALOG.ALARM_STATUS", T0 + 5000).value is True
    assert model.apply_setting(parse_request("Z@ACLTST"), {"alarm_enable": False}, USER, T0).is_ok
    assert read(model, "Z@ACLTST", T0 + 5000).value.alarm_status is False
    assert len(read(model, "Z@ACLTST.RAW").value) == 20


def test_digital_alarm_watches_the_status_word(model: DeviceModel) -> None:
    assert read(model, "Z$ACLTST").value == DigitalAlarm(2, 3, True, False, False, False, 1, 0)
    model.apply_setting(parse_request("Z&ACLTST"), 1, USER, T0)  # ON: bit 0 leaves the nominal pattern
    assert read(model, "Z$ACLTST", T0 + 1000).value.alarm_status is True
    assert model.apply_setting(parse_request("Z$ACLTST.MASK"), 2, USER, T0).is_ok
    assert read(model, "Z$ACLTST.ALARM_STATUS", T0 + 1000).value is False


def test_listeners_hear_applied_settings_only(model: DeviceModel) -> None:
    heard: list[tuple[str, float]] = []
    model.add_listener(lambda device, now: heard.append((device, now)))
    model.apply_setting(parse_request("Z:ACLTS1"), 3.0, USER, T0)
    model.apply_setting(parse_request("G:AMANDA"), 3.0, USER, T0)
    assert heard == [("Z:ACLTS1", T0)]


def test_read_defaults_to_the_model_clock(model: DeviceModel) -> None:
    assert model.read(parse_request("M:OUTTMP")).timestamp == int(T0)
