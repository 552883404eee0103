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
    outputs,
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
    a2, b2, after_watermark = rd("A", 2, 2.001), rd("B", 2, 2.0), rd("C", 2, 2.011)
    source = scheduler.create_hot_observable(
        on_next(210, early_a), on_next(220, b1), on_next(225, far), on_next(250, a2), on_next(252, b2),
        on_next(255, after_watermark), on_completed(260),
    )
    results = scheduler.start(lambda: source.pipe(ops.align_to_event(clock, tolerance=0.01)))
    assert timed(results.messages) == [
        (255, AlignedGroup(at(1.0), {"A": early_a, "B": b1})),
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


PERIOD = 1 / 15


def test_align_to_event_fills_groups_when_a_batch_delivers_two_clock_events_first() -> None:
    """gRPC batching: events 42.200 and 42.266 arrive together, then the readings of both."""
    scheduler = TestScheduler()
    e1, e2, e3 = 42.2, 42.2 + PERIOD, 42.2 + 2 * PERIOD
    clock = scheduler.create_hot_observable(
        on_next(210, tclk(e1)), on_next(210, tclk(e2)), on_next(230, tclk(e3)), on_completed(300))
    a1, b1, a3 = rd("A", 1, e1), rd("B", 1, e1 + 0.001), rd("A", 3, e3)
    a2, b2 = rd("A", 2, e2), rd("B", 2, e2)
    source = scheduler.create_hot_observable(
        on_next(211, a1), on_next(211, b1), on_next(212, a2), on_next(212, b2), on_next(231, a3))
    results = scheduler.start(lambda: source.pipe(ops.align_to_event(clock, tolerance=0.01)))
    assert timed(results.messages) == [
        (230, AlignedGroup(at(e1), {"A": a1, "B": b1})),
        (300, AlignedGroup(at(e2), {"A": a2, "B": b2})),
        (300, AlignedGroup(at(e3), {"A": a3})),
    ]


def test_align_to_event_handles_reordered_events_and_readings() -> None:
    scheduler = TestScheduler()
    e1, e2, e3, e4 = (10 + i * PERIOD for i in range(4))
    clock = scheduler.create_hot_observable(
        on_next(210, tclk(e2)), on_next(211, tclk(e1)), on_next(220, tclk(e3)), on_next(230, tclk(e4)))
    a1, a2, b2, b1, a3 = rd("A", 1, e1), rd("A", 2, e2), rd("B", 2, e2), rd("B", 1, e1), rd("A", 3, e3)
    source = scheduler.create_hot_observable(
        on_next(205, b2), on_next(212, a2), on_next(213, a1), on_next(221, a3), on_next(222, b1),
        on_completed(240))
    lateness = 1.5 * PERIOD  # b1 arrives after the event that follows its group's next event
    operator = ops.align_to_event(clock, tolerance=0.01, lateness=lateness)
    results = scheduler.start(lambda: source.pipe(operator))
    assert [(t, g.event_time, g.readings) for t, g in timed(results.messages)] == [
        (230, at(e1), {"A": a1, "B": b1}),
        (240, at(e2), {"A": a2, "B": b2}),
        (240, at(e3), {"A": a3}),
        (240, at(e4), {}),
    ]


def test_align_to_event_lateness_bounds_how_long_a_group_waits() -> None:
    scheduler = TestScheduler()
    clock = scheduler.create_hot_observable(on_next(210, tclk(1.0)), on_next(220, tclk(2.0)))
    late_a = rd("A", 1, 1.0)
    source = scheduler.create_hot_observable(on_next(230, rd("B", 9, 2.6)), on_next(240, late_a))
    results = scheduler.start(lambda: source.pipe(ops.align_to_event(clock, tolerance=0.01, lateness=0.5)))
    assert [(t, g.readings) for t, g in timed(results.messages)] == [(230, {})]


def test_align_to_event_drops_clock_events_older_than_the_last_group() -> None:
    scheduler = TestScheduler()
    clock = scheduler.create_hot_observable(
        on_next(210, tclk(1.0)), on_next(220, tclk(2.0)), on_next(230, tclk(3.0)), on_next(240, tclk(0.5)),
        on_completed(250))
    results = scheduler.start(lambda: scheduler.create_hot_observable().pipe(ops.align_to_event(clock, 0.01)))
    assert [g.event_time for g in outputs(results.messages)] == [at(1.0), at(2.0), at(3.0)]
