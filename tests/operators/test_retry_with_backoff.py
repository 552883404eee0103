import pytest
import reactivex
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops
from pacsys_rx.errors import (
    AuthenticationError,
    BackendClosed,
    BackendUnavailable,
    DRFError,
    NotSupported,
    WriteOutcomeUnknown,
)

from .support import (
    RecordingScheduler,
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_error,
    on_next,
    subscribe,
)

BOOM = BackendUnavailable("connection reset")


def test_retry_with_backoff_waits_exponentially_up_to_the_maximum_then_gives_up() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(on_error(10, BOOM))
    operator = ops.retry_with_backoff(10.0, 25.0, 2.0, max_attempts=3, scheduler=scheduler)
    results = scheduler.start(lambda: source.pipe(operator))
    assert source.subscriptions == [subscribe(200, 210), subscribe(220, 230), subscribe(250, 260),
                                    subscribe(285, 295)]
    assert results.messages == [on_error(295, BOOM)]


def test_retry_with_backoff_resets_after_an_item() -> None:
    scheduler = TestScheduler()
    failing = scheduler.create_cold_observable(on_error(1, BOOM))
    working = scheduler.create_cold_observable(on_next(1, "x"), on_error(2, BOOM))
    finishing = scheduler.create_cold_observable(on_next(1, "y"), on_completed(2))
    attempts = iter([failing, failing, working, failing, finishing])
    operator = ops.retry_with_backoff(10.0, 100.0, 3.0, scheduler=scheduler)
    results = scheduler.start(lambda: reactivex.defer(lambda _: next(attempts)).pipe(operator))
    # waits 10 and 30 before "x"; the item resets the backoff, so 10 and 30 again before "y"
    assert results.messages == [on_next(243, "x"), on_next(286, "y"), on_completed(287)]


def test_retry_with_backoff_disposal_cancels_the_pending_retry() -> None:
    scheduler = RecordingScheduler()
    source = scheduler.create_cold_observable(on_error(10, BOOM))
    first = len(scheduler.scheduled)
    scheduler.start(lambda: source.pipe(ops.retry_with_backoff(100.0, scheduler=scheduler)), disposed=250)
    assert source.subscriptions == [subscribe(200, 210)]
    assert scheduler.live_after(250, first) == []


def test_retry_with_backoff_error_propagates() -> None:
    check_error_passes(lambda s: ops.retry_with_backoff(1.0, max_attempts=0, scheduler=s), 1)


def test_retry_with_backoff_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.retry_with_backoff(1.0, scheduler=s), 1)


def test_retry_with_backoff_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda s: ops.retry_with_backoff(1.0, scheduler=s), 1)


@pytest.mark.parametrize("error", [
    AuthenticationError("ticket expired"), BackendClosed("closed"), DRFError("bad DRF"),
    NotSupported("no streams"), WriteOutcomeUnknown("lost before the acknowledgement"), RuntimeError("bug"),
], ids=lambda error: type(error).__name__)
def test_retry_with_backoff_passes_permanent_errors_on_at_once(error: Exception) -> None:
    scheduler = TestScheduler()
    source = scheduler.create_cold_observable(on_error(10, error))
    results = scheduler.start(lambda: source.pipe(ops.retry_with_backoff(1.0, scheduler=scheduler)))
    assert results.messages == [on_error(210, error)]
    assert source.subscriptions == [subscribe(200, 210)]


def test_retry_with_backoff_retries_what_the_predicate_accepts() -> None:
    scheduler = TestScheduler()
    reset = ConnectionResetError("reset")
    source = scheduler.create_cold_observable(on_error(10, reset))
    operator = ops.retry_with_backoff(10.0, max_attempts=1, scheduler=scheduler,
                                      retry_if=lambda error: isinstance(error, OSError))
    results = scheduler.start(lambda: source.pipe(operator))
    assert source.subscriptions == [subscribe(200, 210), subscribe(220, 230)]
    assert results.messages == [on_error(230, reset)]
