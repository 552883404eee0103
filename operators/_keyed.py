"""Building blocks shared by the operators that keep per-subscription, per-device state."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from reactivex import Observable, abc

_T = TypeVar("_T")
_U = TypeVar("_U")


def per_subscription(
    make_on_next: Callable[[Callable[[_U], None], abc.SchedulerBase | None], Callable[[_T], None]],
) -> Callable[[Observable[_T]], Observable[_U]]:
    """An operator whose state lives in the ``on_next`` that ``make_on_next(emit, scheduler)`` builds.

    Each subscription gets a fresh ``on_next`` (so fresh per-device dicts); errors and completion pass.
    """

    def operator(source: Observable[_T]) -> Observable[_U]:
        def subscribe(
            observer: abc.ObserverBase[_U], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            return source.subscribe(
                make_on_next(observer.on_next, scheduler),
                observer.on_error,
                observer.on_completed,
                scheduler=scheduler,
            )

        return Observable(subscribe)

    return operator


def is_number(value: object) -> bool:
    """True for int and float values (bool included, as ACNET status attributes read as bool)."""
    return isinstance(value, (int, float))
