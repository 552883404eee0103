from __future__ import annotations

import threading
from collections.abc import Callable

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable

from ._events import AlarmEvent, AlarmState, Severity
from ._scheduling import resolve_scheduler

OK, ALARM = AlarmState.OK, AlarmState.ALARM
LATCHED, ACKNOWLEDGED = AlarmState.LATCHED, AlarmState.ACKNOWLEDGED


def latch(
    acknowledge: Observable[str | None], scheduler: abc.SchedulerBase | None = None
) -> Callable[[Observable[AlarmEvent]], Observable[AlarmEvent]]:
    """Per device, keep an alarm until it is acknowledged (``acknowledge`` items: a device, or None for all).

    After ALARM, a return to OK becomes LATCHED until acknowledged, then OK. Acknowledging while
    still in alarm gives ACKNOWLEDGED, which becomes OK when the alarm clears; a more severe alarm
    while ACKNOWLEDGED is announced again. ``scheduler`` supplies the time of acknowledgements.
    Errors of either stream end the output; the output completes with the alarm stream.

        alarms: -A---O-------A--------O-|
        acks:   ----------k-----k-------
        output: -A---L----O--A--K-----O-|
    """

    def operator(source: Observable[AlarmEvent]) -> Observable[AlarmEvent]:
        def subscribe(
            observer: abc.ObserverBase[AlarmEvent], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = resolve_scheduler(scheduler, subscribe_scheduler)
            lock = threading.RLock()
            shown: dict[str, AlarmEvent] = {}

            def show(event: AlarmEvent) -> None:
                shown[event.device] = event
                observer.on_next(event)

            def on_alarm(event: AlarmEvent) -> None:
                with lock:
                    current = shown.get(event.device)
                    if current is None:
                        show(event)
                    elif event.state is OK and current.state is ALARM:
                        show(AlarmEvent(event.device, LATCHED, current.severity, event.value, event.since,
                                        current.reason))
                    elif event.state is OK and current.state is LATCHED:
                        return
                    elif event.state is ALARM and current.state is ACKNOWLEDGED:
                        if event.severity > current.severity:
                            show(event)
                    elif not event.same_state(current):
                        show(event)

            def on_acknowledge(device: str | None) -> None:
                with lock:
                    targets = list(shown.values()) if device is None else [shown.get(device)]
                    for current in targets:
                        if current is None:
                            continue
                        if current.state is LATCHED:
                            show(AlarmEvent(current.device, OK, Severity.NONE, current.value, clock.now,
                                            "acknowledged"))
                        elif current.state is ALARM:
                            show(AlarmEvent(current.device, ACKNOWLEDGED, current.severity, current.value,
                                            clock.now, current.reason))

            def on_error(error: Exception) -> None:
                with lock:
                    observer.on_error(error)

            def on_completed() -> None:
                with lock:
                    observer.on_completed()

            acks = acknowledge.subscribe(on_acknowledge, on_error, scheduler=subscribe_scheduler)
            alarms = source.subscribe(on_alarm, on_error, on_completed, scheduler=subscribe_scheduler)
            return CompositeDisposable(acks, alarms)

        return Observable(subscribe)

    return operator
