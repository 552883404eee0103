from __future__ import annotations

import threading
from datetime import datetime
from typing import Generic, TypeVar

from reactivex import Observable, abc, typing
from reactivex.disposable import Disposable

from ._scheduling import Watchdog, positive, resolve_scheduler

_T = TypeVar("_T")


class _Link(Generic[_T]):
    """One subscription to ``sources[index]``; once dropped its notifications are ignored."""

    __slots__ = ("dropped", "index", "subscription")

    def __init__(self, index: int) -> None:
        self.index = index
        self.subscription: abc.DisposableBase | None = None
        self.dropped = False

    def drop(self) -> None:
        self.dropped = True
        if self.subscription is not None:
            self.subscription.dispose()


def failover(
    primary: Observable[_T],
    *fallbacks: Observable[_T],
    stall_after: typing.RelativeTime = 5.0,
    switch_back: bool = False,
    scheduler: abc.SchedulerBase | None = None,
) -> Observable[_T]:
    """Items of ``primary``, moving to the next fallback when the current source errors or stays
    silent longer than ``stall_after``. Not an operator: it takes the source observables themselves.

    A gap reading (``Reading.is_gap``: the current source lost its connection) moves on at once, like
    an error, and is not passed on; only the last source's gaps go out (every source is down).
    The last source is never left for silence; its error ends the output, and the completion of the
    current source completes it. With ``switch_back``, while on a fallback a probe subscription to
    the primary is kept (the stalled or gapped primary itself, or a new one ``stall_after`` after its
    error); the primary's next item other than a gap switches back to it.

        primary:  -a-b-------------|
        fallback: -1-2-3-4-5-6-7-8-|
        output:   -a-b-----5-6-7-8-|   (stall_after=4 ticks: switch 4 ticks after b)
    """
    sources = (primary, *fallbacks)
    last = len(sources) - 1
    stall = positive(stall_after, "stall_after")

    def subscribe(
        observer: abc.ObserverBase[_T], subscribe_scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        clock = resolve_scheduler(scheduler, subscribe_scheduler)
        lock = threading.RLock()
        active: _Link[_T] = _Link(0)
        probe: _Link[_T] | None = None
        probe_at: datetime | None = None
        last_item_at = clock.now

        def connect(link: _Link[_T]) -> None:
            def on_next(item: _T) -> None:
                nonlocal last_item_at
                with lock:
                    if link.dropped:
                        return
                    if getattr(item, "is_gap", False) is True:
                        if link is active and active.index != last:
                            leave_active(keep_as_probe=switch_back and active.index == 0)
                        if link is not active:
                            return
                    elif link is probe:
                        promote_probe()
                    last_item_at = clock.now
                    observer.on_next(item)

            def on_error(error: Exception) -> None:
                with lock:
                    if link.dropped:
                        return
                    if link is active:
                        move_on(error)
                    else:
                        lose_probe()

            def on_completed() -> None:
                with lock:
                    if link.dropped:
                        return
                    if link is active:
                        close()
                        observer.on_completed()
                    else:
                        lose_probe()

            subscription = sources[link.index].subscribe(
                on_next, on_error, on_completed, scheduler=subscribe_scheduler
            )
            if link.dropped:
                subscription.dispose()
            else:
                link.subscription = subscription

        def make_active(index: int) -> None:
            nonlocal active, last_item_at
            active = _Link(index)
            last_item_at = clock.now
            connect(active)
            arm_next()

        def leave_active(keep_as_probe: bool) -> None:
            nonlocal probe, probe_at
            old = active
            if keep_as_probe:
                probe = old
            else:
                old.drop()
                if switch_back and old.index == 0:
                    probe_at = clock.now + stall
            make_active(old.index + 1)

        def move_on(error: Exception) -> None:
            if active.index == last:
                close()
                observer.on_error(error)
            else:
                leave_active(keep_as_probe=False)

        def promote_probe() -> None:
            nonlocal active, probe
            active.drop()
            active, probe = probe, None  # type: ignore[assignment]

        def lose_probe() -> None:
            nonlocal probe, probe_at
            if probe is not None:
                probe.drop()
            probe = None
            probe_at = clock.now + stall
            watchdog.arm(probe_at)

        def check(now: datetime) -> datetime | None:
            nonlocal probe, probe_at
            if active.index < last and now - last_item_at >= stall:
                leave_active(keep_as_probe=switch_back and active.index == 0)
            if probe_at is not None and probe_at <= now and probe is None and active.index != 0:
                probe_at = None
                probe = _Link(0)
                connect(probe)
            return next_due()

        def next_due() -> datetime | None:
            due = last_item_at + stall if active.index < last and not active.dropped else None
            if probe_at is not None and active.index != 0 and (due is None or probe_at < due):
                due = probe_at
            return due

        def arm_next() -> None:
            due = next_due()
            if due is not None:
                watchdog.arm(due)

        def close() -> None:
            active.drop()
            if probe is not None:
                probe.drop()
            watchdog.dispose()

        def dispose() -> None:
            with lock:
                close()

        watchdog = Watchdog(clock, lock, check)
        with lock:
            connect(active)
            if not active.dropped:
                arm_next()
        return Disposable(dispose)

    return Observable(subscribe)
