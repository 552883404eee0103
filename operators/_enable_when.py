from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reactivex import Observable, abc

from ._events import AlarmEvent, AlarmState, Severity
from ._gap_rule import GapRule, disconnected_event
from ._merging import subscribe_serialized
from ._scheduling import resolve_scheduler


def enable_when(
    condition: Observable[bool], scheduler: abc.SchedulerBase | None = None,
    on_gap: GapRule = "disconnected",
) -> Callable[[Observable[AlarmEvent]], Observable[AlarmEvent]]:
    """Every device is DISABLED while the latest ``condition`` is False (enabled until its first value).

    Disabling emits DISABLED for each known device; while disabled, alarm events only update each
    device's current state (a device first seen then gets DISABLED). Re-enabling emits each device's
    current state. DISCONNECTED (a lost connection) is a state like the others: hidden while
    disabled, shown when enabled (``on_gap="invalid"``: shown as an INVALID alarm, ``"ignore"``:
    dropped). ``scheduler`` supplies the time of the DISABLED events. Errors of either stream end
    the output; the output completes with the alarm stream.

        alarms:    -A-----O---A-----|
        condition: ----F-------T----
        output:    -A--D-------A----|
    """

    gap = disconnected_event(on_gap)

    def operator(source: Observable[AlarmEvent]) -> Observable[AlarmEvent]:
        def subscribe(
            observer: abc.ObserverBase[AlarmEvent], subscribe_scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            clock = resolve_scheduler(scheduler, subscribe_scheduler)
            enabled = True
            current: dict[str, AlarmEvent] = {}
            shown: dict[str, AlarmEvent] = {}

            def show(event: AlarmEvent) -> None:
                if not event.same_state(shown.get(event.device)):
                    shown[event.device] = event
                    observer.on_next(event)

            def disabled(event: AlarmEvent) -> AlarmEvent:
                return AlarmEvent(event.device, AlarmState.DISABLED, Severity.NONE, event.value, clock.now,
                                  "disabled by condition")

            def on_alarm(event: AlarmEvent) -> None:
                if event.state is AlarmState.DISCONNECTED:
                    gap_event = gap(event)
                    if gap_event is None:
                        return
                    event = gap_event
                current[event.device] = event
                if enabled:
                    show(event)
                elif event.device not in shown:
                    show(disabled(event))

            def on_condition(value: bool) -> None:
                nonlocal enabled
                if bool(value) is enabled:
                    return
                enabled = bool(value)
                for event in list(current.values()):
                    show(event if enabled else disabled(event))

            def on_item(index: int, item: Any) -> None:
                if index == 0:
                    on_condition(item)
                else:
                    on_alarm(item)

            return subscribe_serialized([condition, source], observer, on_item, subscribe_scheduler,
                                        ends_output=lambda index: index == 1)

        return Observable(subscribe)

    return operator
