from typing import Any

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

E = object()  # an error reading in a sequence


def feed(values: list[Any], device: str = "A") -> list:
    return [err(device, i) if v is E else rd(device, v, i) for i, v in enumerate(values)]


def codes(messages: list) -> list[str]:
    return [state if state == "OK" else f"{state}/{severity}" for _, state, severity in states(messages)]


# (low, high, hysteresis, tries), readings in, events out
CASES = [
    ((0, 10, 0, 1), [5, 6, 7], ["OK"]),
    ((0, 10, 0, 1), [5, 11, 12, 5], ["OK", "ALARM/MAJOR", "OK"]),
    ((0, 10, 0, 1), [11], ["ALARM/MAJOR"]),
    ((0, 10, 0, 1), [10, 0, 10.0001], ["OK", "ALARM/MAJOR"]),
    ((0, 10, 0, 1), [-0.1, 0], ["ALARM/MAJOR", "OK"]),
    ((0, 10, 0, 3), [11, 12, 5, 11, 12], ["OK"]),
    ((0, 10, 0, 3), [11, 12, 13], ["OK", "ALARM/MAJOR"]),
    ((0, 10, 0, 3), [11, -1, 13, 5], ["OK", "ALARM/MAJOR", "OK"]),
    ((0, 10, 0, 2), [11, E, 11, 11], ["OK", "ALARM/INVALID", "ALARM/MAJOR"]),
    ((0, 10, 1, 1), [11, 9.5, 9.1, 9, 5], ["ALARM/MAJOR", "OK"]),
    ((0, 10, 1, 1), [11, 9, 10.5], ["ALARM/MAJOR", "OK", "ALARM/MAJOR"]),
    ((0, 10, 1, 1), [-1, 0.5, 1, 0.5], ["ALARM/MAJOR", "OK"]),
    ((0, 10, 1, 1), [9.5, 10], ["OK"]),
    ((0, 10, 1, 1), [11, 0.99, 1.0], ["ALARM/MAJOR", "OK"]),
    ((0, 10, 0, 1), [5, E, E, 5], ["OK", "ALARM/INVALID", "OK"]),
    ((0, 10, 0, 1), [11, E, 11, 5], ["ALARM/MAJOR", "ALARM/INVALID", "ALARM/MAJOR", "OK"]),
    ((0, 10, 2, 1), [E, 9], ["ALARM/INVALID", "OK"]),
    ((0, 10, 0, 1), ["text", 5], ["ALARM/INVALID", "OK"]),
]


@pytest.mark.parametrize(("settings", "values_in", "events_out"), CASES)
def test_limits_table(settings: tuple, values_in: list, events_out: list[str]) -> None:
    low, high, hysteresis, tries = settings
    operator = ops.limits(low, high, hysteresis=hysteresis, tries=tries)
    assert codes(run(operator, feed(values_in))) == events_out


def test_limits_is_per_device_and_reports_value_time_and_reason() -> None:
    readings = [rd("A", 5, 0), rd("B", 11, 1), rd("A", -3, 2), rd("B", 9, 3)]
    events = outputs(run(ops.limits(0, 10, tries=1), readings))
    assert [(e.device, e.state.name, e.value) for e in events] == [
        ("A", "OK", 5), ("B", "ALARM", 11), ("A", "ALARM", -3), ("B", "OK", 9),
    ]
    assert events[1].since == readings[1].timestamp
    assert events[1].reason == "above high limit 10"
    assert events[2].reason == "below low limit 0"


def test_limits_error_reading_reason_is_the_status_text() -> None:
    (event,) = outputs(run(ops.limits(0, 10), [err("A")]))
    assert event.reason.startswith("DPM_PRIV")


@pytest.mark.parametrize(
    ("low", "high", "hysteresis", "tries"), [(10, 0, 0, 1), (0, 10, 6, 1), (0, 10, -1, 1), (0, 10, 0, 0)]
)
def test_limits_rejects_bad_settings(low: float, high: float, hysteresis: float, tries: int) -> None:
    with pytest.raises(ValueError):
        ops.limits(low, high, hysteresis, tries)


def test_limits_error_propagates() -> None:
    check_error_passes(lambda _: ops.limits(0, 10), rd("A", 1.0))


def test_limits_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.limits(0, 10), rd("A", 1.0))


def test_limits_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.limits(0, 10), rd("A", 1.0))
