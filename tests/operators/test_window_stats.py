import math
import statistics

import pytest
from pacsys_rx.operators import WindowStats
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    at,
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    err,
    on_completed,
    on_next,
    outputs,
    rd,
    run,
    timed,
)


def test_window_stats_by_count_per_device() -> None:
    readings = [
        rd("A", 1.0, 0), rd("A", 3.0, 1), rd("B", 5.0, 2), rd("A", 5.0, 3), rd("B", 7.0, 4), err("A", 5),
    ]
    result = outputs(run(ops.window_stats(count=2), readings, end=5))
    assert result == [
        WindowStats("A", 2, 2.0, 1.0, 1.0, 3.0, at(0), at(1)),
        WindowStats("B", 2, 6.0, 1.0, 5.0, 7.0, at(2), at(4)),
        WindowStats("A", 1, 5.0, 0.0, 5.0, 5.0, at(3), at(3)),
    ]


def test_window_stats_by_duration_closes_on_the_timer() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(
        on_next(210, rd("A", 1.0, 0)), on_next(220, rd("A", 2.0, 1)), on_next(235, rd("A", 9.0, 2)),
        on_completed(400),
    )
    results = scheduler.start(lambda: source.pipe(ops.window_stats(duration=20.0, scheduler=scheduler)))
    assert [(t, s.n, s.mean) for t, s in timed(results.messages)] == [(230, 2, 1.5), (255, 1, 9.0)]


def test_window_stats_count_or_duration_whichever_first() -> None:
    scheduler = TestScheduler()
    readings = [rd("A", float(v)) for v in range(5)]
    operator = ops.window_stats(count=3, duration=25.0, scheduler=scheduler)
    result = timed(run(operator, readings, scheduler, end=100))
    assert [(t, s.n) for t, s in result] == [(230, 3), (265, 2)]


def test_window_stats_is_numerically_stable() -> None:
    data = [1e9 + x for x in (4.0, 7.0, 13.0, 16.0)]
    (stats,) = outputs(run(ops.window_stats(count=4), [rd("A", v) for v in data]))
    assert stats.mean == pytest.approx(statistics.fmean(data))
    assert stats.std == pytest.approx(statistics.pstdev(data), rel=1e-9)
    assert math.isclose(stats.std, 4.743416490252569, rel_tol=1e-9)


def test_window_stats_needs_count_or_duration() -> None:
    with pytest.raises(ValueError):
        ops.window_stats()


def test_window_stats_error_propagates() -> None:
    check_error_passes(lambda s: ops.window_stats(duration=200.0, scheduler=s), rd("A", 1.0))


def test_window_stats_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.window_stats(duration=200.0, scheduler=s), rd("A", 1.0))


def test_window_stats_disposal_cancels_the_timer() -> None:
    check_disposal_releases(lambda s: ops.window_stats(duration=200.0, scheduler=s), rd("A", 1.0))
