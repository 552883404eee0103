from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
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


def test_combine_devices_emits_snapshots_once_every_name_has_a_reading() -> None:
    scheduler = TestScheduler()
    a1, a2, b1 = rd("M:OUTTMP", 1), rd("M:OUTTMP", 2), rd("G:AMANDA", 5)
    a = scheduler.create_hot_observable(on_next(210, a1), on_next(230, a2), on_completed(240))
    b = scheduler.create_hot_observable(on_next(220, b1), on_completed(250))
    results = scheduler.start(lambda: ops.combine_devices({"temp": a, "amanda": b}))
    assert timed(results.messages) == [(220, {"temp": a1, "amanda": b1}), (230, {"temp": a2, "amanda": b1})]
    assert results.messages[-1] == on_completed(250)


def test_combine_devices_completes_when_a_source_ends_without_a_reading() -> None:
    scheduler = TestScheduler()
    a = scheduler.create_hot_observable(on_next(210, rd("A", 1)))
    b = scheduler.create_hot_observable(on_completed(220))
    results = scheduler.start(lambda: ops.combine_devices({"a": a, "b": b}))
    assert results.messages == [on_completed(220)]
    assert a.subscriptions == [subscribe(200, 220)]


def test_combine_devices_error_of_any_source_propagates() -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("boom")
    a = scheduler.create_hot_observable(on_next(210, rd("A", 1)))
    b = scheduler.create_hot_observable(on_error(220, boom))
    results = scheduler.start(lambda: ops.combine_devices({"a": a, "b": b}))
    assert results.messages == [on_error(220, boom)]
    assert a.subscriptions == [subscribe(200, 220)]


def test_combine_devices_error_propagates() -> None:
    check_error_passes(lambda _: lambda source: ops.combine_devices({"a": source}), rd("A", 1.0))


def test_combine_devices_completion_propagates() -> None:
    check_completion_passes(lambda _: lambda source: ops.combine_devices({"a": source}), rd("A", 1.0))


def test_combine_devices_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: lambda source: ops.combine_devices({"a": source}), rd("A", 1.0))
