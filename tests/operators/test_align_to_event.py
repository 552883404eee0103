from pacsys_rx.operators import AlignedGroup
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    at,
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_error,
    on_next,
    rd,
    subscribe,
    timed,
)


def tclk(t: float) -> object:
    return rd("TCLK", 0x0F, t)


def test_align_to_event_groups_readings_near_each_event() -> None:
    scheduler = TestScheduler()
    clock = scheduler.create_hot_observable(on_next(215, tclk(1.0)), on_next(245, tclk(2.0)))
    early_a, b1, far = rd("A", 1, 1.004), rd("B", 1, 0.998), rd("C", 1, 1.5)
    a2, b2 = rd("A", 2, 2.001), rd("B", 2, 2.0)
    source = scheduler.create_hot_observable(
        on_next(210, early_a), on_next(220, b1), on_next(225, far), on_next(250, a2), on_next(252, b2),
        on_completed(260),
    )
    results = scheduler.start(lambda: source.pipe(ops.align_to_event(clock, tolerance=0.01)))
    assert timed(results.messages) == [
        (245, AlignedGroup(at(1.0), {"A": early_a, "B": b1})),
        (260, AlignedGroup(at(2.0), {"A": a2, "B": b2})),
    ]
    assert results.messages[-1] == on_completed(260)


def test_align_to_event_keeps_the_closest_reading_per_device() -> None:
    scheduler = TestScheduler()
    clock = scheduler.create_hot_observable(on_next(210, tclk(1.0)), on_completed(300))
    near, nearer = rd("A", 1, 1.008), rd("A", 2, 1.001)
    source = scheduler.create_hot_observable(on_next(220, near), on_next(230, nearer), on_next(240, near))
    results = scheduler.start(lambda: source.pipe(ops.align_to_event(clock, tolerance=0.01)))
    assert timed(results.messages) == [(300, AlignedGroup(at(1.0), {"A": nearer}))]
    assert results.messages[-1] == on_completed(300)


def test_align_to_event_clock_error_propagates() -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("clock lost")
    clock = scheduler.create_hot_observable(on_error(230, boom))
    source = scheduler.create_hot_observable(on_next(210, rd("A", 1)))
    results = scheduler.start(lambda: source.pipe(ops.align_to_event(clock, tolerance=0.01)))
    assert results.messages == [on_error(230, boom)]
    assert source.subscriptions == [subscribe(200, 230)]


def test_align_to_event_error_propagates() -> None:
    check_error_passes(lambda s: ops.align_to_event(s.create_hot_observable(), 0.01), rd("A", 1.0))


def test_align_to_event_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.align_to_event(s.create_hot_observable(), 0.01), rd("A", 1.0))


def test_align_to_event_disposal_unsubscribes_both() -> None:
    check_disposal_releases(lambda s: ops.align_to_event(s.create_hot_observable(), 0.01), rd("A", 1.0))
