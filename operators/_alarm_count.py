from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime

from reactivex import Observable, abc, typing

from ._events import AlarmEvent, AlarmState
from ._gap_rule import GapRule, disconnected_event
from ._keyed import per_subscription
from ._scheduling import positive, resolve_scheduler


def alarm_count(
    n: int, within: typing.RelativeTime, scheduler: abc.SchedulerBase | None = None,
    on_gap: GapRule = "disconnected",
) -> Callable[[Observable[AlarmEvent]], Observable[AlarmEvent]]:
    """Per device, announce an ALARM once the alarm was entered ``n`` times within ``within`` (Phoebus count).

    The alarm need not persist: the ``n``-th entry is announced even if it clears right away.
    Entries before that are suppressed together with the returns to OK that follow them. Once
    announced, events pass until the device leaves ALARM, which starts a new count. DISCONNECTED (a
    lost connection) passes at once and neither counts as an entry nor ends one: an announced alarm
    still there after the gap is shown again, an uncounted one stays uncounted. ``on_gap="invalid"``
    counts it as an INVALID alarm, ``"ignore"`` drops it.

        -A-O-A-O-A-O-|   alarm_count(3, within=10 ticks)
        ---------A-O-|
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    window = positive(within, "within")
    gap = disconnected_event(on_gap)

    def make_on_next(
        emit: Callable[[AlarmEvent], None], subscribe_scheduler: abc.SchedulerBase | None
    ) -> Callable[[AlarmEvent], None]:
        clock = resolve_scheduler(scheduler, subscribe_scheduler)
        announced: dict[str, AlarmEvent] = {}
        entries: dict[str, deque[datetime]] = {}
        in_alarm: set[str] = set()
        alarm_before_gap: set[str] = set()

        def on_next(event: AlarmEvent) -> None:
            device = event.device
            current = announced.get(device)
            if event.state is AlarmState.DISCONNECTED:
                gap_event = gap(event)
                if gap_event is None:
                    return
                event = gap_event
                if event.state is AlarmState.DISCONNECTED:
                    if current is not None and current.state is AlarmState.ALARM:
                        alarm_before_gap.add(device)
                    if not event.same_state(current):
                        announced[device] = event
                        emit(event)
                    return
            if event.state is not AlarmState.ALARM:
                in_alarm.discard(device)
                alarm_before_gap.discard(device)
                if not event.same_state(current):
                    announced[device] = event
                    emit(event)
                return
            if current is not None and current.state is AlarmState.ALARM:
                if not event.same_state(current):
                    announced[device] = event
                    emit(event)
                return
            if device in alarm_before_gap:
                alarm_before_gap.discard(device)
                announced[device] = event
                emit(event)
                return
            if device in in_alarm:
                return
            in_alarm.add(device)
            now = clock.now
            times = entries.get(device)
            if times is None:
                times = entries[device] = deque(maxlen=n)
            times.append(now)
            if len(times) == n and now - times[0] <= window:
                times.clear()
                announced[device] = event
                emit(event)

        return on_next

    return per_subscription(make_on_next)
