import pytest
from pacsys_rx.operators import BufferOverflow
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_next,
    outputs,
    subscribe,
)


def burst(scheduler: TestScheduler, n: int = 5) -> object:
    return scheduler.create_hot_observable([on_next(210, i) for i in range(1, n + 1)] + [on_completed(220)])


@pytest.mark.parametrize(("overflow", "delivered", "dropped"), [
    ("drop_oldest", [4, 5], 3),
    ("drop_newest", [1, 2], 3),
])
def test_bounded_buffer_drops_by_policy_and_counts(overflow: str, delivered: list, dropped: int) -> None:
    scheduler = TestScheduler()
    source = burst(scheduler)
    buffer = ops.bounded_buffer(2, overflow, scheduler=scheduler)  # type: ignore[arg-type]
    results = scheduler.start(lambda: source.pipe(buffer))
    assert outputs(results.messages) == delivered
    assert results.messages[-1] == on_completed(220)
    assert buffer.dropped == dropped


def test_bounded_buffer_error_policy_fails_after_the_queued_items() -> None:
    scheduler = TestScheduler()
    source = burst(scheduler)
    buffer = ops.bounded_buffer(2, "error", scheduler=scheduler)
    results = scheduler.start(lambda: source.pipe(buffer))
    assert outputs(results.messages) == [1, 2]
    assert results.messages[-1].time == 210
    assert isinstance(results.messages[-1].value.exception, BufferOverflow)
    assert source.subscriptions == [subscribe(200, 210)]
    assert buffer.dropped == 0


def test_bounded_buffer_loses_nothing_within_capacity() -> None:
    scheduler = TestScheduler()
    source = burst(scheduler, 3)
    buffer = ops.bounded_buffer(3, scheduler=scheduler)
    results = scheduler.start(lambda: source.pipe(buffer))
    assert results.messages == [on_next(210, 1), on_next(210, 2), on_next(210, 3), on_completed(220)]
    assert buffer.dropped == 0


def test_bounded_buffer_rejects_bad_settings() -> None:
    with pytest.raises(ValueError):
        ops.bounded_buffer(0)
    with pytest.raises(ValueError):
        ops.bounded_buffer(1, "drop_all")  # type: ignore[arg-type]


def test_bounded_buffer_error_propagates() -> None:
    check_error_passes(lambda s: ops.bounded_buffer(4, scheduler=s), 1)


def test_bounded_buffer_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.bounded_buffer(4, scheduler=s), 1)


def test_bounded_buffer_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda s: ops.bounded_buffer(4, scheduler=s), 1)
