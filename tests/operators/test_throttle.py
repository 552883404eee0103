from reactivex.testing import TestScheduler
from reactivex.testing.marbles import marbles_testing

from pacsys_rx import operators as ops

from .support import check_completion_passes, check_disposal_releases, check_error_passes, rd, run, timed


def test_throttle_passes_the_first_reading_per_device_and_interval() -> None:
    a1, a2, a3, a4, b1 = (rd("A", 1), rd("A", 2), rd("A", 3), rd("A", 4), rd("B", 1))
    lookup = {"a": a1, "b": a2, "c": a3, "d": a4, "x": b1}
    with marbles_testing() as (start, _cold, hot, exp):
        source = hot("-a-b-x-c-----d-|", lookup, None)
        # throttle(5): a at 201 opens [201, 206); c at 207 passes; d at 213 passes (>= 212).
        assert start(source.pipe(ops.throttle(5.0))) == exp("-a---x-c-----d-|", lookup, None)


def test_throttle_interval_boundary_is_inclusive() -> None:
    scheduler = TestScheduler()
    readings = [rd("A", i) for i in range(4)]
    result = timed(run(ops.throttle(20.0, scheduler=scheduler), readings, scheduler))
    assert [(t, r.value) for t, r in result] == [(210, 0), (230, 2)]


def test_throttle_error_propagates() -> None:
    check_error_passes(lambda s: ops.throttle(5.0, scheduler=s), rd("A", 1.0))


def test_throttle_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.throttle(5.0, scheduler=s), rd("A", 1.0))


def test_throttle_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda s: ops.throttle(5.0, scheduler=s), rd("A", 1.0))
