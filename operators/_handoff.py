"""A bounded queue drained on a scheduler: the delivery side of ``latest`` and ``bounded_buffer``."""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import SerialDisposable
from reactivex.scheduler import ThreadPoolScheduler

from pacsys_rx.flow import BufferOverflow, Overflow

_T = TypeVar("_T")


def delivery_scheduler(
    scheduler: abc.SchedulerBase | None, subscribe_scheduler: abc.SchedulerBase | None
) -> abc.SchedulerBase:
    """The operator's scheduler, else the subscription's, else a shared thread pool."""
    chosen = scheduler or subscribe_scheduler
    return chosen if chosen is not None else _shared_pool()


@functools.cache
def _shared_pool() -> ThreadPoolScheduler:
    return ThreadPoolScheduler()


class _HandOff(abc.DisposableBase, Generic[_T]):
    """Queues notifications and delivers them in order from one scheduled drain at a time."""

    def __init__(
        self,
        observer: abc.ObserverBase[_T],
        scheduler: abc.SchedulerBase,
        capacity: int,
        overflow: Overflow,
        on_drop: Callable[[], None] | None,
    ) -> None:
        self._observer = observer
        self._scheduler = scheduler
        self._capacity = capacity
        self._overflow = overflow
        self._on_drop = on_drop
        self._lock = threading.Lock()
        self._queue: deque[_T] = deque()
        self._terminal: Callable[[], None] | None = None
        self._draining = False
        self._closed = False
        self._drain_task: abc.DisposableBase | None = None
        self.upstream = SerialDisposable()

    def on_next(self, item: _T) -> None:
        with self._lock:
            start = self._enqueue(item)
        self._start_drain(start)

    def _enqueue(self, item: _T) -> bool:
        """Queue ``item`` by the overflow policy (lock held); True when a drain must be started."""
        if self._terminal is not None or self._closed:
            return False
        if len(self._queue) >= self._capacity:
            if self._overflow == "error":
                message = f"buffer of {self._capacity} items overflowed"
                self.upstream.dispose()
                return self._end(lambda: self._observer.on_error(BufferOverflow(message)))
            if self._on_drop is not None:
                self._on_drop()
            if self._overflow == "drop_newest":
                return False
            self._queue.popleft()
        self._queue.append(item)
        start = not self._draining
        self._draining = True
        return start

    def on_error(self, error: Exception) -> None:
        with self._lock:
            start = self._end(lambda: self._observer.on_error(error))
        self._start_drain(start)

    def on_completed(self) -> None:
        with self._lock:
            start = self._end(self._observer.on_completed)
        self._start_drain(start)

    def _end(self, terminal: Callable[[], None]) -> bool:
        """Record the final notification (lock held); True when a drain must be started."""
        if self._terminal is not None or self._closed:
            return False
        self._terminal = terminal
        start = not self._draining
        self._draining = True
        return start

    def _start_drain(self, start: bool) -> None:
        if start:
            self._drain_task = self._scheduler.schedule(self._deliver)

    def _deliver(self, scheduler: abc.SchedulerBase, state: Any = None) -> None:
        queue, on_next = self._queue, self._observer.on_next
        while True:
            with self._lock:
                if self._closed:
                    return
                if not queue:
                    self._draining = False
                    if self._terminal is None:
                        return
                    self._closed = True
                    terminal = self._terminal
                    break
                item = queue.popleft()
            on_next(item)
        terminal()

    def dispose(self) -> None:
        with self._lock:
            self._closed = True
            self._queue.clear()
        self.upstream.dispose()
        if self._drain_task is not None:
            self._drain_task.dispose()


def hand_off(
    source: Observable[_T],
    scheduler: abc.SchedulerBase | None,
    capacity: int,
    overflow: Overflow,
    on_drop: Callable[[], None] | None = None,
) -> Observable[_T]:
    """``source`` delivered on ``scheduler`` through a queue of ``capacity`` items."""

    def subscribe(
        observer: abc.ObserverBase[_T], subscribe_scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        target = delivery_scheduler(scheduler, subscribe_scheduler)
        handoff = _HandOff(observer, target, capacity, overflow, on_drop)
        handoff.upstream.disposable = source.subscribe(
            handoff.on_next, handoff.on_error, handoff.on_completed, scheduler=subscribe_scheduler
        )
        return handoff

    return Observable(subscribe)
