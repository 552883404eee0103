from reactivex.testing.marbles import marbles_testing

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    err,
    rd,
)


def test_values_unwraps_and_skips_readings_without_value() -> None:
    with marbles_testing() as (start, _cold, hot, exp):
        source = hot("-a-e-b-|", {"a": rd("A", 1.5), "b": rd("B", "text"), "e": err("A")}, None)
        assert start(source.pipe(ops.values())) == exp("-x---y-|", {"x": 1.5, "y": "text"}, None)


def test_values_keeps_warning_readings_with_a_value() -> None:
    from dataclasses import replace

    from pacsys_rx.model import AcnetStatus

    warning = replace(rd("A", 3.0), status=AcnetStatus(17, 1))
    with marbles_testing() as (start, _cold, hot, exp):
        source = hot("-w-|", {"w": warning}, None)
        assert start(source.pipe(ops.values())) == exp("-x-|", {"x": 3.0}, None)


def test_values_error_propagates() -> None:
    check_error_passes(lambda _: ops.values(), rd("A", 1.0))


def test_values_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.values(), rd("A", 1.0))


def test_values_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.values(), rd("A", 1.0))
