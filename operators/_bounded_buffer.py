from __future__ import annotations

import threading
from typing import TypeVar

from reactivex import Observable, abc

from pacsys_rx.flow import Overflow, check_overflow

from ._handoff import hand_off

_T = TypeVar("_T")


class BoundedBuffer:
    """The ``bounded_buffer`` operator; ``dropped`` counts the items discarded, over all its subscriptions."""

    def __init__(self, n: int, overflow: Overflow, scheduler: abc.SchedulerBase | None) -> None:
        check_overflow(n, overflow)
        self.n = n
        self.overflow = overflow
        self.scheduler = scheduler
        self.dropped = 0
        self._lock = threading.Lock()

    def _count_drop(self) -> None:
        with self._lock:
            self.dropped += 1

    def __call__(self, source: Observable[_T]) -> Observable[_T]:
        return hand_off(source, self.scheduler, self.n, self.overflow, self._count_drop)


def bounded_buffer(
    n: int, overflow: Overflow = "drop_oldest", scheduler: abc.SchedulerBase | None = None
) -> BoundedBuffer:
    """Deliver on ``scheduler`` through a queue of at most ``n`` items.

    When full, ``"drop_oldest"`` discards the oldest queued item, ``"drop_newest"`` the arriving one,
    and ``"error"`` ends the output with ``BufferOverflow`` after the queued items. The returned
    ``BoundedBuffer`` is used as an operator and counts discarded items in ``.dropped``. The
    scheduler defaults to the subscription's, then to a shared thread pool.

        source:   -a-b-c-d-|      bounded_buffer(2), consumer busy from a to d
        output:   -a-----c-d-|    dropped == 1 (b)
    """
    return BoundedBuffer(n, overflow, scheduler)
