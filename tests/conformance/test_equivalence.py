"""Cross-backend equivalence: the same DRF gives the same value type, Python type and units on every
backend (the value type table of docs/concepts.md), and the same value where the device is static."""

from __future__ import annotations

import pytest
from conftest import Target, backends
from reactivex import operators as rxops

from pacsys_rx.model import AnalogAlarm, BasicStatus, DigitalAlarm, Reading, ValueType

TABLE: list[tuple[str, ValueType, type, str | None]] = [
    ("M:OUTTMP", ValueType.SCALAR, float, "DegF"),
    ("Z:ACLTST.SETTING", ValueType.SCALAR, float, "blip"),
    ("B:IRMS06[0:3]", ValueType.SCALAR_ARRAY, tuple, "mm"),
    ("M:OUTTMP.RAW", ValueType.RAW, bytes, None),
    ("M:OUTTMP.DESCRIPTION", ValueType.TEXT, str, None),
    ("B:BOOSBP", ValueType.TEXT, str, None),
    ("Z:ACLTST.STATUS", ValueType.BASIC_STATUS, BasicStatus, None),
    ("Z:ACLTST.STATUS.ON", ValueType.SCALAR, bool, None),
    ("Z:ACLTST.STATUS.READY", ValueType.SCALAR, bool, None),
    ("Z:ACLTST.STATUS.BIT_NAMES", ValueType.TEXT_ARRAY, tuple, None),
    ("Z:ACLTST.STATUS.RAW", ValueType.RAW, bytes, None),
    ("N:H801.ANALOG", ValueType.ANALOG_ALARM, AnalogAlarm, None),
    ("N:H801.ANALOG.ALARM_STATUS", ValueType.SCALAR, bool, None),
    ("N:H801.ANALOG.MIN", ValueType.SCALAR, float, "A"),
    ("N:H801.DIGITAL", ValueType.DIGITAL_ALARM, DigitalAlarm, None),
]
STATIC = {"M:OUTTMP.DESCRIPTION", "B:BOOSBP", "Z:ACLTST.STATUS.ON", "Z:ACLTST.STATUS.BIT_NAMES",
          "N:H801.ANALOG", "N:H801.ANALOG.ALARM_STATUS", "N:H801.ANALOG.MIN", "N:H801.DIGITAL"}


@pytest.mark.parametrize("target", backends(("dpm", "grpc", "dmq", "acl")), indirect=True)
def test_every_backend_follows_the_value_type_table(target: Target) -> None:
    backend = target.make()
    drfs = [drf for drf, *_ in TABLE]
    readings: dict[str, Reading] = {r.drf: r for r in backend.read_many(drfs).pipe(rxops.to_list()).run()}
    wrong = []
    for drf, value_type, python_type, units in TABLE:
        reading = readings[drf]
        if target.name == "grpc" and units is not None:
            units = reading.units if reading.meta is None else units  # units come with DevDB metadata
        got = (reading.value_type, type(reading.value), reading.units)
        if not reading.ok or got != (value_type, python_type, units):
            wrong.append(f"{drf}: {got} {reading.status.name if reading.is_error else ''}")
    assert wrong == []


@pytest.mark.parametrize("target", backends(("grpc", "dmq", "acl")), indirect=True)
def test_static_values_are_equal_to_dpm(target: Target, request: pytest.FixtureRequest) -> None:
    from conftest import make_target

    reference = make_target("dpm", request)
    try:
        dpm = reference.make()
        expected = {r.drf: r.value for r in dpm.read_many(sorted(STATIC)).pipe(rxops.to_list()).run()}
    finally:
        reference.cleanup()
    got = {r.drf: r.value for r in target.make().read_many(sorted(STATIC)).pipe(rxops.to_list()).run()}
    assert got == expected
