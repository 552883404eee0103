from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    RecordingScheduler,
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_error,
    on_next,
    subscribe,
    timed,
)


def ticks(prefix: str, times: range) -> list:
    return [on_next(t, f"{prefix}{t}") for t in times]


def test_failover_switches_on_error() -> None:
    scheduler = TestScheduler()
    primary = scheduler.create_hot_observable(on_next(210, "p1"), on_error(220, RuntimeError("dpm lost")))
    fallback = scheduler.create_hot_observable(on_next(215, "f1"), on_next(225, "f2"), on_completed(240))
    results = scheduler.start(lambda: ops.failover(primary, fallback, stall_after=50.0, scheduler=scheduler))
    assert timed(results.messages) == [(210, "p1"), (225, "f2")]
    assert results.messages[-1] == on_completed(240)
    assert primary.subscriptions == [subscribe(200, 220)]
    assert fallback.subscriptions == [subscribe(220, 240)]


def test_failover_switches_on_silence_and_tries_each_fallback() -> None:
    scheduler = TestScheduler()
    primary = scheduler.create_hot_observable(on_next(210, "p"), on_next(300, "late"))
    second = scheduler.create_hot_observable(on_next(245, "s"))
    third = scheduler.create_hot_observable(ticks("t", range(250, 400, 20)))
    results = scheduler.start(
        lambda: ops.failover(primary, second, third, stall_after=20.0, scheduler=scheduler)
    )
    assert timed(results.messages) == [(210, "p"), (245, "s")] + [(t, f"t{t}") for t in range(270, 400, 20)]
    assert primary.subscriptions == [subscribe(200, 230)]
    assert second.subscriptions == [subscribe(230, 265)]


def test_failover_last_source_error_ends_the_output() -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("all gone")
    primary = scheduler.create_hot_observable(on_error(210, RuntimeError("first")))
    fallback = scheduler.create_hot_observable(on_next(220, "f"), on_error(230, boom))
    results = scheduler.start(lambda: ops.failover(primary, fallback, stall_after=50.0, scheduler=scheduler))
    assert results.messages == [on_next(220, "f"), on_error(230, boom)]


def test_failover_switches_back_when_the_stalled_primary_resumes() -> None:
    scheduler = TestScheduler()
    primary = scheduler.create_hot_observable(on_next(210, "p1"), on_next(260, "p2"), on_next(270, "p3"))
    fallback = scheduler.create_hot_observable(ticks("f", range(205, 300, 10)))
    results = scheduler.start(lambda: ops.failover(primary, fallback, stall_after=20.0, switch_back=True,
                                                   scheduler=scheduler))
    assert timed(results.messages) == [(210, "p1"), (235, "f235"), (245, "f245"), (255, "f255"),
                                       (260, "p2"), (270, "p3")]
    assert primary.subscriptions == [subscribe(200, 1000)]
    assert fallback.subscriptions == [subscribe(230, 260)]


def test_failover_reprobes_an_errored_primary_after_stall_after() -> None:
    scheduler = TestScheduler()
    primary = scheduler.create_cold_observable(on_error(10, RuntimeError("down")))
    fallback = scheduler.create_hot_observable(ticks("f", range(215, 300, 10)))
    results = scheduler.start(lambda: ops.failover(primary, fallback, stall_after=30.0, switch_back=True,
                                                   scheduler=scheduler))
    assert primary.subscriptions[:3] == [subscribe(200, 210), subscribe(240, 250), subscribe(280, 290)]
    assert [v for _, v in timed(results.messages)] == [f"f{t}" for t in range(215, 300, 10)]


def test_failover_without_switch_back_keeps_no_probe() -> None:
    scheduler = TestScheduler()
    primary = scheduler.create_hot_observable(on_next(210, "p1"), on_next(260, "p2"))
    fallback = scheduler.create_hot_observable(ticks("f", range(205, 300, 10)))
    results = scheduler.start(lambda: ops.failover(primary, fallback, stall_after=20.0, scheduler=scheduler))
    assert "p2" not in [v for _, v in timed(results.messages)]
    assert primary.subscriptions == [subscribe(200, 230)]


def test_failover_disposal_releases_every_subscription_and_the_timer() -> None:
    scheduler = RecordingScheduler()
    primary = scheduler.create_hot_observable(on_next(210, "p1"))
    fallback = scheduler.create_hot_observable(ticks("f", range(205, 300, 10)))
    first = len(scheduler.scheduled)
    scheduler.start(lambda: ops.failover(primary, fallback, stall_after=20.0, switch_back=True,
                                         scheduler=scheduler), disposed=250)
    assert primary.subscriptions == [subscribe(200, 250)]
    assert fallback.subscriptions == [subscribe(230, 250)]
    assert scheduler.live_after(250, first) == []


def test_failover_error_propagates() -> None:
    check_error_passes(lambda s: lambda source: ops.failover(source, scheduler=s), "x")


def test_failover_completion_propagates() -> None:
    check_completion_passes(lambda s: lambda source: ops.failover(source, scheduler=s), "x")


def test_failover_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda s: lambda source: ops.failover(source, scheduler=s), "x")
