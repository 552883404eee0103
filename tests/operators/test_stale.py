from datetime import timedelta

from pacsys_rx.operators import Recovered, Stale
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    RecordingScheduler,
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_next,
    rd,
    timed,
)


def virtual(seconds: float) -> object:
    return TestScheduler().to_datetime(seconds)


def test_stale_is_edge_triggered_and_recovers() -> None:
    scheduler = TestScheduler()
    a1, a2, a3 = rd("A", 1), rd("A", 2), rd("A", 3)
    source = scheduler.create_hot_observable(
        on_next(210, a1), on_next(220, a2), on_next(300, a3), on_completed(400)
    )
    results = scheduler.start(lambda: source.pipe(ops.stale(30.0, scheduler=scheduler)))
    assert timed(results.messages) == [
        (250, Stale("A", virtual(220), a2)),
        (300, Recovered("A", timedelta(seconds=80))),
        (330, Stale("A", virtual(300), a3)),
    ]
    assert results.messages[-1] == on_completed(400)


def test_stale_tracks_devices_independently_with_one_timer() -> None:
    scheduler = RecordingScheduler()
    a, b = rd("A", 1), rd("B", 1)
    source = scheduler.create_hot_observable(
        on_next(210, a), on_next(220, b), on_next(225, a), on_next(240, a), on_next(255, a), on_completed(270)
    )
    first = len(scheduler.scheduled)
    results = scheduler.start(lambda: source.pipe(ops.stale(20.0, scheduler=scheduler)))
    assert timed(results.messages) == [(240, Stale("B", virtual(220), b))]
    checks = [due for due, _ in scheduler.scheduled[first:] if due not in (100, 200, 1000)]
    assert checks == [230, 240, 260, 275]


def test_stale_grace_period_holds_back_and_declares_expected_devices() -> None:
    scheduler = TestScheduler()
    a = rd("A", 1)
    source = scheduler.create_hot_observable(on_next(205, a), on_next(290, rd("B", 1)), on_completed(400))
    results = scheduler.start(
        lambda: source.pipe(ops.stale(10.0, grace=50.0, devices=["A", "B"], scheduler=scheduler))
    )
    assert timed(results.messages) == [
        (250, Stale("A", virtual(205), a)),
        (250, Stale("B", virtual(200), None)),
        (290, Recovered("B", timedelta(seconds=90))),
        (300, Stale("B", virtual(290), rd("B", 1))),
    ]


def test_stale_error_readings_count_as_alive() -> None:
    from .support import err

    scheduler = TestScheduler()
    readings = [on_next(210, err("A")), on_next(225, err("A")), on_completed(240)]
    source = scheduler.create_hot_observable(readings)
    results = scheduler.start(lambda: source.pipe(ops.stale(20.0, scheduler=scheduler)))
    assert timed(results.messages) == []


def test_stale_error_propagates() -> None:
    check_error_passes(lambda s: ops.stale(200.0, scheduler=s), rd("A", 1.0))


def test_stale_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.stale(200.0, scheduler=s), rd("A", 1.0))


def test_stale_disposal_cancels_the_watchdog() -> None:
    check_disposal_releases(lambda s: ops.stale(200.0, scheduler=s), rd("A", 1.0))
