from reactivex.testing.marbles import marbles_testing

from pacsys_rx import operators as ops

from .support import check_completion_passes, check_disposal_releases, check_error_passes, err, rd


def test_only_ok_drops_error_readings() -> None:
    lookup = {"a": rd("A", 1.0), "b": rd("B", 2.0), "e": err("A")}
    with marbles_testing() as (start, _cold, hot, exp):
        source = hot("-a-e-b-e-|", lookup, None)
        assert start(source.pipe(ops.only_ok())) == exp("-a---b---|", lookup, None)


def test_only_ok_error_propagates() -> None:
    check_error_passes(lambda _: ops.only_ok(), rd("A", 1.0))


def test_only_ok_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.only_ok(), rd("A", 1.0))


def test_only_ok_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.only_ok(), rd("A", 1.0))
