from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_next,
    rd,
    timed,
)


def test_sample_latest_emits_each_devices_latest_at_the_end_of_its_interval() -> None:
    scheduler = TestScheduler()
    a1, a2, b1, a3, a4 = rd("A", 1), rd("A", 2), rd("B", 1), rd("A", 3), rd("A", 4)
    source = scheduler.create_hot_observable(
        on_next(210, a1), on_next(215, a2), on_next(225, b1), on_next(228, a3), on_next(260, a4),
        on_completed(300),
    )
    results = scheduler.start(lambda: source.pipe(ops.sample_latest(20.0, scheduler=scheduler)))
    assert timed(results.messages) == [(230, a3), (245, b1), (280, a4)]
    assert results.messages[-1] == on_completed(300)


def test_sample_latest_flushes_pending_readings_on_completion() -> None:
    scheduler = TestScheduler()
    a1, b1 = rd("A", 1), rd("B", 1)
    source = scheduler.create_hot_observable(on_next(210, a1), on_next(212, b1), on_completed(215))
    results = scheduler.start(lambda: source.pipe(ops.sample_latest(20.0, scheduler=scheduler)))
    assert results.messages == [on_next(215, a1), on_next(215, b1), on_completed(215)]


def test_sample_latest_uses_one_timer_for_many_devices() -> None:
    from .support import RecordingScheduler

    scheduler = RecordingScheduler()
    readings = [on_next(210, rd(f"D{i}", i)) for i in range(50)]
    source = scheduler.create_hot_observable(readings)
    first = len(scheduler.scheduled)
    results = scheduler.start(lambda: source.pipe(ops.sample_latest(20.0, scheduler=scheduler)))
    assert len(timed(results.messages)) == 50
    assert len([due for due, _ in scheduler.scheduled[first:] if due == 230]) == 1


def test_sample_latest_error_propagates() -> None:
    check_error_passes(lambda s: ops.sample_latest(200.0, scheduler=s), rd("A", 1.0))


def test_sample_latest_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.sample_latest(200.0, scheduler=s), rd("A", 1.0))


def test_sample_latest_disposal_cancels_the_timer() -> None:
    check_disposal_releases(lambda s: ops.sample_latest(200.0, scheduler=s), rd("A", 1.0))
