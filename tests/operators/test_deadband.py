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
)


@pytest.mark.parametrize(
    ("band", "values_in", "values_out"),
    [
        ({"abs": 0.2}, [1.0, 1.1, 1.2, 1.21, 1.5, 1.3], [1.0, 1.21, 1.5]),
        ({"abs": 0.2}, [1.0, 0.85, 0.79], [1.0, 0.79]),
        ({"rel": 0.1}, [10.0, 10.9, 11.0, 11.1], [10.0, 11.1]),
        ({"rel": 0.1}, [-10.0, -10.5, -11.5], [-10.0, -11.5]),
        ({"abs": 5.0, "rel": 0.01}, [100.0, 100.5, 101.5], [100.0, 101.5]),
        ({"abs": 0.0}, [1.0, 1.0, 2.0, 2.0], [1.0, 2.0]),
    ],
)
def test_deadband_passes_only_moves_beyond_the_band(band: dict, values_in: list, values_out: list) -> None:
    readings = [rd("A", v) for v in values_in]
    assert [r.value for r in outputs(run(ops.deadband(**band), readings))] == values_out


def test_deadband_is_per_device() -> None:
    readings = [rd("A", 1.0), rd("B", 1.05), rd("A", 1.05), rd("B", 1.5)]
    result = outputs(run(ops.deadband(abs=0.2), readings))
    assert [(r.device, r.value) for r in result] == [("A", 1.0), ("B", 1.05), ("B", 1.5)]


def test_deadband_error_readings_pass_and_reset_the_reference() -> None:
    readings = [rd("A", 1.0), err("A"), err("A"), rd("A", 1.01), rd("A", 1.02)]
    result = outputs(run(ops.deadband(abs=0.2), readings))
    assert [r.value for r in result] == [1.0, None, None, 1.01]


def test_deadband_non_numeric_values_pass_on_change() -> None:
    readings = [rd("A", "on"), rd("A", "on"), rd("A", "off")]
    assert [r.value for r in outputs(run(ops.deadband(abs=1.0), readings))] == ["on", "off"]


def test_deadband_needs_a_band() -> None:
    with pytest.raises(ValueError):
        ops.deadband()


def test_deadband_error_propagates() -> None:
    check_error_passes(lambda _: ops.deadband(abs=1.0), rd("A", 1.0))


def test_deadband_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.deadband(abs=1.0), rd("A", 1.0))


def test_deadband_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.deadband(abs=1.0), rd("A", 1.0))
