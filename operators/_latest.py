from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from reactivex import Observable, abc

from ._handoff import hand_off

_T = TypeVar("_T")


def latest(scheduler: abc.SchedulerBase | None = None) -> Callable[[Observable[_T]], Observable[_T]]:
    """Deliver on ``scheduler``, keeping only the newest pending item, so a slow consumer sees the newest.

    The scheduler defaults to the subscription's, then to a shared thread pool. Errors and
    completion are delivered after the pending item.

        source:    -a-b-c-------d-|
        consumer:  -a----c------d-|   (busy while b and c arrive)
    """

    def operator(source: Observable[_T]) -> Observable[_T]:
        return hand_off(source, scheduler, 1, "drop_oldest")

    return operator
