import pytest

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    err,
    outputs,
    rd,
    run,
    states,
)

E = object()

# (nominal, mask, tries), values in, events out
CASES = [
    ((0b01, 0b11, 1), [0b01, 0b101, 0b11, 0b01], ["OK", "ALARM/MAJOR", "OK"]),
    ((0b01, 0b11, 1), [0b11], ["ALARM/MAJOR"]),
    ((0b01, 0b01, 1), [0b11, 0b111], ["OK"]),
    ((0b01, 0b11, 2), [0b00, 0b01, 0b00, 0b00], ["OK", "ALARM/MAJOR"]),
    ((0b01, 0b11, 1), [1.0, 3.0], ["OK", "ALARM/MAJOR"]),
    ((0b01, 0b11, 1), [E, 1], ["ALARM/INVALID", "OK"]),
    ((0, 0, 1), [0xFFFF], ["OK"]),
]


@pytest.mark.parametrize(("settings", "values_in", "events_out"), CASES)
def test_digital_alarm_table(settings: tuple, values_in: list, events_out: list[str]) -> None:
    nominal, mask, tries = settings
    readings = [err("A", i) if v is E else rd("A", v, i) for i, v in enumerate(values_in)]
    got = states(run(ops.digital_alarm(nominal, mask, tries=tries), readings))
    assert [s if s == "OK" else f"{s}/{sev}" for _, s, sev in got] == events_out


def test_digital_alarm_reason_names_the_bits() -> None:
    _, event = outputs(run(ops.digital_alarm(0x1, 0x3), [rd("A", 1), rd("A", 2)]))
    assert event.reason == "status 0x2 differs from nominal 0x1 (mask 0x3)"


def test_digital_alarm_error_propagates() -> None:
    check_error_passes(lambda _: ops.digital_alarm(1, 1), rd("A", 1))


def test_digital_alarm_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.digital_alarm(1, 1), rd("A", 1))


def test_digital_alarm_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.digital_alarm(1, 1), rd("A", 1))
