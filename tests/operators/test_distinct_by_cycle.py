from reactivex.testing.marbles import marbles_testing

from pacsys_rx import operators as ops

from .support import check_completion_passes, check_disposal_releases, check_error_passes, rd


def test_distinct_by_cycle_drops_repeats_of_the_latest_cycle_per_device() -> None:
    lookup = {
        "a": rd("A", 1, cycle=1), "b": rd("A", 2, cycle=1), "x": rd("B", 1, cycle=1),
        "c": rd("A", 3, cycle=2), "d": rd("A", 4, cycle=1), "n": rd("A", 5), "m": rd("A", 6),
    }
    with marbles_testing() as (start, _cold, hot, exp):
        source = hot("-a-b-x-c-d-n-m-|", lookup, None)
        assert start(source.pipe(ops.distinct_by_cycle())) == exp("-a---x-c-d-n-m-|", lookup, None)


def test_distinct_by_cycle_error_propagates() -> None:
    check_error_passes(lambda _: ops.distinct_by_cycle(), rd("A", 1.0, cycle=1))


def test_distinct_by_cycle_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.distinct_by_cycle(), rd("A", 1.0, cycle=1))


def test_distinct_by_cycle_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.distinct_by_cycle(), rd("A", 1.0, cycle=1))
