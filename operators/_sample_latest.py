from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from reactivex import Observable, abc, typing

from pacsys_rx.model import Reading

from ._scheduling import Watchdog, positive, resolve_scheduler, subscribe_watched


def sample_latest(
    interval: typing.RelativeTime, scheduler: abc.SchedulerBase | None = None
) -> Callable[[Observable[Reading]], Observable[Reading]]:
    """Per device, a reading opens an ``interval``; its end emits the device's latest reading (trailing edge).

    At most one reading per device per interval, never older than the interval. Readings still
    pending when the source completes are emitted before completion.

        -a1-a2-b1-a3-----------|   sample_latest(5 ticks)
        ------a3-b1------------|
    """
    period = positive(interval, "interval")

    def operator(source: Observable[Reading]) -> Observable[Reading]:
        def subscribe(
            observer: abc.ObserverBase[Reading], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = resolve_scheduler(scheduler, subscribe_scheduler)
            lock = threading.RLock()
            latest: dict[str, Reading] = {}
            closes_at: dict[str, datetime] = {}

            def emit_closed(now: datetime) -> datetime | None:
                earliest: datetime | None = None
                for device, due in list(closes_at.items()):
                    if due <= now:
                        del closes_at[device]
                        observer.on_next(latest.pop(device))
                    elif earliest is None or due < earliest:
                        earliest = due
                return earliest

            watchdog = Watchdog(clock, lock, emit_closed)

            def on_next(reading: Reading) -> None:
                with lock:
                    device = reading.device
                    if device not in closes_at:
                        due = clock.now + period
                        closes_at[device] = due
                        watchdog.arm(due)
                    latest[device] = reading

            def flush() -> None:
                pending = list(latest.values())
                latest.clear()
                closes_at.clear()
                for reading in pending:
                    observer.on_next(reading)

            return subscribe_watched(source, observer, on_next, lock, watchdog, subscribe_scheduler, flush)

        return Observable(subscribe)

    return operator
