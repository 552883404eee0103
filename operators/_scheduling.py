"""Scheduler resolution and the one-timer-per-subscription watchdog used by the time-based operators."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from reactivex import Observable, abc, typing
from reactivex.disposable import CompositeDisposable, SerialDisposable
from reactivex.scheduler import TimeoutScheduler

from ._checks import real

_T = TypeVar("_T")


def resolve_scheduler(
    scheduler: abc.SchedulerBase | None, subscribe_scheduler: abc.SchedulerBase | None
) -> abc.SchedulerBase:
    """The operator's scheduler, else the subscription's, else the shared timeout scheduler."""
    return scheduler or subscribe_scheduler or TimeoutScheduler.singleton()


def to_timedelta(duration: typing.RelativeTime, name: str = "duration") -> timedelta:
    """A duration given as seconds or as a timedelta (TypeError naming ``name`` otherwise)."""
    if isinstance(duration, timedelta):
        return duration
    return timedelta(seconds=real(duration, name))


def positive(duration: typing.RelativeTime, name: str) -> timedelta:
    value = to_timedelta(duration, name)
    if value <= timedelta(0):
        raise ValueError(f"{name} must be positive")
    return value


class Watchdog(abc.DisposableBase):
    """A single scheduled check, armed at the earliest deadline and re-armed by the check itself.

    ``check(now)`` runs with ``lock`` held and returns the next deadline, or None to go idle.
    """

    __slots__ = ("_check", "_due", "_lock", "_scheduler", "_timer")

    def __init__(
        self,
        scheduler: abc.SchedulerBase,
        lock: threading.RLock,
        check: Callable[[datetime], datetime | None],
    ) -> None:
        self._scheduler = scheduler
        self._lock = lock
        self._check = check
        self._timer = SerialDisposable()
        self._due: datetime | None = None

    @property
    def idle(self) -> bool:
        return self._due is None

    def arm(self, due: datetime) -> None:
        """Make sure a check runs no later than ``due`` (call with the lock held)."""
        if self._due is not None and self._due <= due:
            return
        self._due = due
        self._timer.disposable = self._scheduler.schedule_absolute(due, self._fire)

    def _fire(self, scheduler: abc.SchedulerBase, state: Any = None) -> None:
        with self._lock:
            self._due = None
            following = self._check(self._scheduler.now)
            if following is not None:
                self.arm(following)

    def dispose(self) -> None:
        self._timer.dispose()


def subscribe_watched(
    source: Observable[_T],
    observer: abc.ObserverBase[Any],
    on_next: Callable[[_T], None],
    lock: threading.RLock,
    watchdog: Watchdog,
    scheduler: abc.SchedulerBase | None,
    flush: Callable[[], None] | None = None,
) -> abc.DisposableBase:
    """Subscribe ``on_next``; errors and completion (after ``flush``) stop the watchdog and pass on."""

    def on_error(error: Exception) -> None:
        with lock:
            watchdog.dispose()
            observer.on_error(error)

    def on_completed() -> None:
        with lock:
            watchdog.dispose()
            if flush is not None:
                flush()
            observer.on_completed()

    subscription = source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)
    return CompositeDisposable(subscription, watchdog)
