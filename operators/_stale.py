from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from reactivex import Observable, abc, typing

from pacsys_rx.model import Reading

from ._events import Recovered, Stale
from ._scheduling import Watchdog, positive, resolve_scheduler, subscribe_watched, to_timedelta


def stale(
    after: typing.RelativeTime,
    grace: typing.RelativeTime | None = None,
    devices: Iterable[str] = (),
    scheduler: abc.SchedulerBase | None = None,
) -> Callable[[Observable[Reading]], Observable[Stale | Recovered]]:
    """Per device, ``Stale`` once no reading arrived for ``after``, then ``Recovered`` on the next reading.

    Edge-triggered: one ``Stale`` per silence. Any reading, error readings included, counts as a sign
    of life, except a gap reading (``Reading.is_gap``): a lost connection neither ends a silence nor
    is a recovery. Nothing is declared stale before ``grace`` (default ``after``) has passed since the
    subscription; ``devices`` named up front become stale if never seen within the grace period.
    One scheduled check per subscription, at the earliest deadline.

        -a--a--------------a--|   stale(after=5 ticks)
        ---------S(a)------R(a)|
    """
    silence = positive(after, "after")
    grace_period = silence if grace is None else to_timedelta(grace)
    expected = tuple(devices)

    def operator(source: Observable[Reading]) -> Observable[Stale | Recovered]:
        def subscribe(
            observer: abc.ObserverBase[Stale | Recovered],
            subscribe_scheduler: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            clock = resolve_scheduler(scheduler, subscribe_scheduler)
            lock = threading.RLock()
            started = clock.now
            grace_end = started + grace_period
            last_seen: dict[str, datetime] = dict.fromkeys(expected, started)
            last_reading: dict[str, Reading] = {}
            stale_devices: set[str] = set()

            def declare_stale(now: datetime) -> datetime | None:
                earliest: datetime | None = None
                for device, seen in list(last_seen.items()):
                    if device in stale_devices:
                        continue
                    due = max(seen + silence, grace_end)
                    if due <= now:
                        stale_devices.add(device)
                        observer.on_next(Stale(device, seen, last_reading.get(device)))
                    elif earliest is None or due < earliest:
                        earliest = due
                return earliest

            watchdog = Watchdog(clock, lock, declare_stale)

            def on_next(reading: Reading) -> None:
                if reading.is_gap:
                    return
                with lock:
                    now = clock.now
                    device = reading.device
                    previous = last_seen.get(device)
                    last_seen[device] = now
                    last_reading[device] = reading
                    if device in stale_devices and previous is not None:
                        stale_devices.discard(device)
                        observer.on_next(Recovered(device, now - previous))
                    if watchdog.idle:
                        watchdog.arm(max(now + silence, grace_end))

            with lock:
                if expected:
                    watchdog.arm(grace_end)
            return subscribe_watched(source, observer, on_next, lock, watchdog, subscribe_scheduler)

        return Observable(subscribe)

    return operator
