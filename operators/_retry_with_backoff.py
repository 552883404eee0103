from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from reactivex import Observable, abc, typing
from reactivex.disposable import CompositeDisposable, SerialDisposable

from pacsys_rx.errors import BackendUnavailable, WriteOutcomeUnknown

from ._scheduling import resolve_scheduler, to_timedelta

_T = TypeVar("_T")


def is_transient(error: Exception) -> bool:
    """The default retry predicate: ``BackendUnavailable`` and its kind, except ``WriteOutcomeUnknown``
    (a setting whose outcome is unknown must not be sent again)."""
    return isinstance(error, BackendUnavailable) and not isinstance(error, WriteOutcomeUnknown)


def retry_with_backoff(
    initial: typing.RelativeTime = 1.0,
    maximum: typing.RelativeTime = 60.0,
    factor: float = 2.0,
    max_attempts: int | None = None,
    scheduler: abc.SchedulerBase | None = None,
    retry_if: Callable[[Exception], bool] = is_transient,
) -> Callable[[Observable[_T]], Observable[_T]]:
    """On a transient error, resubscribe after ``initial``, then ``initial * factor**k`` up to ``maximum``.

    Only errors for which ``retry_if(error)`` is True are retried; by default the transient ones
    (``BackendUnavailable`` and its subclasses but ``WriteOutcomeUnknown``). Others, such as
    ``AuthenticationError``, ``BackendClosed``, ``DRFError`` or ``NotSupported``, pass on at once.

    An item received resets the backoff. After ``max_attempts`` resubscriptions without an item in
    between the error is passed on (None: retry forever).

        source:  -a-X  -b-X     -X        -c-|     (resubscriptions after 1, 1, 2 ticks)
        output:  -a-----b--------------c-|
    """
    first = to_timedelta(initial)
    cap = to_timedelta(maximum)
    if factor < 1:
        raise ValueError("factor must be at least 1")

    def operator(source: Observable[_T]) -> Observable[_T]:
        def subscribe(
            observer: abc.ObserverBase[_T], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = resolve_scheduler(scheduler, subscribe_scheduler)
            upstream = SerialDisposable()
            timer = SerialDisposable()
            failures = 0
            delay = first

            def on_next(item: _T) -> None:
                nonlocal failures, delay
                failures = 0
                delay = first
                observer.on_next(item)

            def on_error(error: Exception) -> None:
                nonlocal failures, delay
                if not retry_if(error) or (max_attempts is not None and failures >= max_attempts):
                    observer.on_error(error)
                    return
                failures += 1
                timer.disposable = clock.schedule_relative(min(delay, cap), resubscribe)
                delay = min(delay * factor, cap)

            def resubscribe(_: abc.SchedulerBase | None = None, __: Any = None) -> None:
                upstream.disposable = source.subscribe(
                    on_next, on_error, observer.on_completed, scheduler=subscribe_scheduler
                )

            resubscribe()
            return CompositeDisposable(upstream, timer)

        return Observable(subscribe)

    return operator
