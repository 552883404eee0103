from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime

from reactivex import Observable, abc, typing

from pacsys_rx.model import Reading

from ._events import WindowStats
from ._keyed import is_number
from ._scheduling import Watchdog, positive, resolve_scheduler, subscribe_watched


class _Accumulator:
    """Welford's running mean and sum of squared deviations for one device's open window."""

    __slots__ = ("closes_at", "end", "high", "low", "mean", "n", "spread", "start")

    def __init__(self, first: float, at: datetime, closes_at: datetime | None) -> None:
        self.n = 1
        self.mean = self.low = self.high = float(first)
        self.spread = 0.0
        self.start = self.end = at
        self.closes_at = closes_at

    def add(self, x: float, at: datetime) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.spread += delta * (x - self.mean)
        if x < self.low:
            self.low = x
        elif x > self.high:
            self.high = x
        self.end = at

    def stats(self, device: str) -> WindowStats:
        std = math.sqrt(self.spread / self.n)
        return WindowStats(device, self.n, self.mean, std, self.low, self.high, self.start, self.end)


def window_stats(
    count: int | None = None,
    duration: typing.RelativeTime | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Callable[[Observable[Reading]], Observable[WindowStats]]:
    """Per device, statistics over tumbling windows of ``count`` readings and/or ``duration``.

    A device's window opens with its first numeric reading and closes after ``count`` readings or
    ``duration`` (scheduler time), whichever comes first. ``std`` is the population standard
    deviation (Welford). Error and non-numeric readings are skipped; open windows are emitted
    when the source completes.

        -a1-a3-b5-a5-b7-|   window_stats(count=2)
        ----A(2)----B(6)-A(5)|
    """
    if count is None and duration is None:
        raise ValueError("window_stats needs count or duration")
    if count is not None and count < 1:
        raise ValueError("count must be at least 1")
    span = None if duration is None else positive(duration, "duration")
    limit = count if count is not None else 0

    def operator(source: Observable[Reading]) -> Observable[WindowStats]:
        def subscribe(
            observer: abc.ObserverBase[WindowStats], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = resolve_scheduler(scheduler, subscribe_scheduler)
            lock = threading.RLock()
            windows: dict[str, _Accumulator] = {}

            def close_expired(now: datetime) -> datetime | None:
                earliest: datetime | None = None
                for device, window in list(windows.items()):
                    due = window.closes_at
                    if due is None:
                        continue
                    if due <= now:
                        del windows[device]
                        observer.on_next(window.stats(device))
                    elif earliest is None or due < earliest:
                        earliest = due
                return earliest

            watchdog = Watchdog(clock, lock, close_expired)

            def on_next(reading: Reading) -> None:
                value = reading.value
                if value is None or reading.status.error < 0 or not is_number(value):
                    return
                with lock:
                    device = reading.device
                    window = windows.get(device)
                    if window is None:
                        closes_at = None
                        if span is not None:
                            closes_at = clock.now + span
                            watchdog.arm(closes_at)
                        window = windows[device] = _Accumulator(value, reading.timestamp, closes_at)  # type: ignore[arg-type]
                    else:
                        window.add(value, reading.timestamp)  # type: ignore[arg-type]
                    if window.n == limit:
                        del windows[device]
                        observer.on_next(window.stats(device))

            def flush() -> None:
                remaining = list(windows.items())
                windows.clear()
                for device, window in remaining:
                    observer.on_next(window.stats(device))

            return subscribe_watched(source, observer, on_next, lock, watchdog, subscribe_scheduler, flush)

        return Observable(subscribe)

    return operator
