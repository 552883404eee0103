import threading

import reactivex
from reactivex.scheduler import ImmediateScheduler, ThreadPoolScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_error,
    on_next,
)


def test_latest_delivers_only_the_newest_of_a_burst() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(
        on_next(210, 1), on_next(210, 2), on_next(210, 3), on_next(220, 4), on_completed(230)
    )
    results = scheduler.start(lambda: source.pipe(ops.latest(scheduler)))
    assert results.messages == [on_next(210, 3), on_next(220, 4), on_completed(230)]


def test_latest_delivers_the_pending_item_before_an_error() -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("boom")
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(210, 2), on_error(210, boom))
    results = scheduler.start(lambda: source.pipe(ops.latest(scheduler)))
    assert results.messages == [on_next(210, 2), on_error(210, boom)]


def test_latest_slow_consumer_on_a_thread_sees_the_newest_item() -> None:
    pool = ThreadPoolScheduler(1)
    subject: Subject[int] = Subject()
    first_taken, release, done = threading.Event(), threading.Event(), threading.Event()
    seen: list[int] = []

    def slow_consumer(item: int) -> None:
        seen.append(item)
        if item == 1:
            first_taken.set()
            release.wait(5)

    subject.pipe(ops.latest(pool)).subscribe(slow_consumer, on_completed=done.set)
    subject.on_next(1)
    assert first_taken.wait(5)
    for item in range(2, 6):
        subject.on_next(item)
    subject.on_completed()
    release.set()
    assert done.wait(5)
    assert seen == [1, 5]


def test_latest_on_the_immediate_scheduler_delivers_everything_synchronously() -> None:
    seen: list[int] = []
    reactivex.from_iterable([1, 2, 3]).pipe(ops.latest(ImmediateScheduler())).subscribe(seen.append)
    assert seen == [1, 2, 3]


def test_latest_uses_the_subscription_scheduler_by_default() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(on_next(210, 1), on_next(210, 2))
    results = scheduler.start(lambda: source.pipe(ops.latest(), reactivex.operators.subscribe_on(scheduler)))
    assert results.messages == [on_next(210, 2)]


def test_latest_error_propagates() -> None:
    check_error_passes(lambda s: ops.latest(s), 1)


def test_latest_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.latest(s), 1)


def test_latest_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda s: ops.latest(s), 1)
