from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from reactivex import Observable, abc, typing

from ._events import AlarmEvent, AlarmState
from ._gap_rule import GapRule, disconnected_event
from ._scheduling import Watchdog, resolve_scheduler, subscribe_watched, to_timedelta


def alarm_delay(
    seconds: typing.RelativeTime, scheduler: abc.SchedulerBase | None = None,
    on_gap: GapRule = "disconnected",
) -> Callable[[Observable[AlarmEvent]], Observable[AlarmEvent]]:
    """Per device, announce an ALARM only once it persisted for ``seconds`` (Phoebus alarm delay).

    A return to any other state within the delay cancels it silently. The announced event is the
    latest ALARM event of the delay (so the latest severity), with its own ``since``. Changes of
    severity while an alarm is announced, and all other states, pass at once: DISCONNECTED (a lost
    connection) too, cancelling a pending alarm; ``on_gap="invalid"`` delays it as an INVALID
    alarm, ``"ignore"`` drops it.

        -A--O----A--------O-|   alarm_delay(4 ticks)
        -------------A----O-|
    """
    delay = to_timedelta(seconds)
    if delay.total_seconds() < 0:
        raise ValueError("seconds must not be negative")
    gap = disconnected_event(on_gap)

    def operator(source: Observable[AlarmEvent]) -> Observable[AlarmEvent]:
        def subscribe(
            observer: abc.ObserverBase[AlarmEvent], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = resolve_scheduler(scheduler, subscribe_scheduler)
            lock = threading.RLock()
            announced: dict[str, AlarmEvent] = {}
            pending: dict[str, tuple[AlarmEvent, datetime]] = {}

            def announce(event: AlarmEvent) -> None:
                announced[event.device] = event
                observer.on_next(event)

            def announce_due(now: datetime) -> datetime | None:
                earliest: datetime | None = None
                for device, (event, due) in list(pending.items()):
                    if due <= now:
                        del pending[device]
                        announce(event)
                    elif earliest is None or due < earliest:
                        earliest = due
                return earliest

            watchdog = Watchdog(clock, lock, announce_due)

            def on_next(event: AlarmEvent) -> None:
                if event.state is AlarmState.DISCONNECTED:
                    gap_event = gap(event)
                    if gap_event is None:
                        return
                    event = gap_event
                with lock:
                    device = event.device
                    current = announced.get(device)
                    if event.state is not AlarmState.ALARM or (
                        current is not None and current.state is AlarmState.ALARM
                    ):
                        pending.pop(device, None)
                        if not event.same_state(current):
                            announce(event)
                        return
                    waiting = pending.get(device)
                    if waiting is not None:
                        pending[device] = (event, waiting[1])
                    elif not delay:
                        announce(event)
                    else:
                        due = clock.now + delay
                        pending[device] = (event, due)
                        watchdog.arm(due)

            return subscribe_watched(source, observer, on_next, lock, watchdog, subscribe_scheduler)

        return Observable(subscribe)

    return operator
