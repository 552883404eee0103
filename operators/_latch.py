from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reactivex import Observable, abc

from ._events import AlarmEvent, AlarmState, Severity
from ._gap_rule import GapRule, disconnected_event
from ._merging import subscribe_serialized
from ._scheduling import resolve_scheduler

OK, ALARM = AlarmState.OK, AlarmState.ALARM
LATCHED, ACKNOWLEDGED = AlarmState.LATCHED, AlarmState.ACKNOWLEDGED
DISCONNECTED = AlarmState.DISCONNECTED


def latch(
    acknowledge: Observable[str | None], scheduler: abc.SchedulerBase | None = None,
    on_gap: GapRule = "disconnected",
) -> Callable[[Observable[AlarmEvent]], Observable[AlarmEvent]]:
    """Per device, keep an alarm until it is acknowledged (``acknowledge`` items: a device, or None for all).

    After ALARM, a return to OK becomes LATCHED until acknowledged, then OK. Acknowledging while
    still in alarm gives ACKNOWLEDGED, which becomes OK when the alarm clears; a more severe alarm
    while ACKNOWLEDGED is announced again. ``scheduler`` supplies the time of acknowledgements.
    DISCONNECTED (a lost connection) passes and is never latched; the state after it needs no
    acknowledgement, except that a LATCHED alarm from before the gap is LATCHED again if the data
    comes back OK. ``on_gap="invalid"`` treats DISCONNECTED as an INVALID alarm (latched when it
    clears), ``"ignore"`` drops it.
    Errors of either stream end the output; the output completes with the alarm stream.

        alarms: -A---O-------A--------O-|
        acks:   ----------k-----k-------
        output: -A---L----O--A--K-----O-|
    """

    gap = disconnected_event(on_gap)

    def operator(source: Observable[AlarmEvent]) -> Observable[AlarmEvent]:
        def subscribe(
            observer: abc.ObserverBase[AlarmEvent], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = resolve_scheduler(scheduler, subscribe_scheduler)
            shown: dict[str, AlarmEvent] = {}
            latched_before_gap: dict[str, AlarmEvent] = {}

            def show(event: AlarmEvent) -> None:
                shown[event.device] = event
                observer.on_next(event)

            def on_alarm(event: AlarmEvent) -> None:
                if event.state is DISCONNECTED:
                    gap_event = gap(event)
                    if gap_event is None:
                        return
                    event = gap_event
                current = shown.get(event.device)
                if current is None:
                    show(event)
                elif event.state is DISCONNECTED:
                    if current.state is LATCHED:
                        latched_before_gap[event.device] = current
                    if not event.same_state(current):
                        show(event)
                elif current.state is DISCONNECTED and event.device in latched_before_gap:
                    latched = latched_before_gap.pop(event.device)
                    show(latched if event.state is OK else event)
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
                targets = list(shown.values()) if device is None else [shown.get(device)]
                for current in targets:
                    if current is None:
                        continue
                    latched_before_gap.pop(current.device, None)
                    if current.state is LATCHED:
                        show(AlarmEvent(current.device, OK, Severity.NONE, current.value, clock.now,
                                        "acknowledged"))
                    elif current.state is ALARM:
                        show(AlarmEvent(current.device, ACKNOWLEDGED, current.severity, current.value,
                                        clock.now, current.reason))

            def on_item(index: int, item: Any) -> None:
                if index == 0:
                    on_acknowledge(item)
                else:
                    on_alarm(item)

            return subscribe_serialized([acknowledge, source], observer, on_item, subscribe_scheduler,
                                        ends_output=lambda index: index == 1)

        return Observable(subscribe)

    return operator
