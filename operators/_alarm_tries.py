"""The per-device tries/clear state machine shared by ``limits`` and ``digital_alarm``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reactivex import Observable, abc

from pacsys_rx.model import Reading

from ._events import AlarmEvent, AlarmState, Severity
from ._gap_rule import gap_rule
from ._keyed import per_subscription

OK, ALARM, DISCONNECTED = AlarmState.OK, AlarmState.ALARM, AlarmState.DISCONNECTED
NONE, MAJOR, INVALID = Severity.NONE, Severity.MAJOR, Severity.INVALID


class _DeviceAlarm:
    __slots__ = ("bad_in_a_row", "disconnected", "severity", "state")

    def __init__(self) -> None:
        self.state: AlarmState | None = None
        self.severity = NONE
        self.bad_in_a_row = 0
        self.disconnected = False


def tries_alarm(
    judge: Callable[[Any], str | None],
    clears: Callable[[Any], bool],
    tries: int,
    on_gap: str = "disconnected",
) -> Callable[[Observable[Reading]], Observable[AlarmEvent]]:
    """Per device: ``tries`` consecutive bad values raise a MAJOR alarm, which ends only when ``clears``.

    ``judge(value)`` gives the reason a value is bad, or None when it is good; it is only called
    with numbers. Error readings and non-numeric values raise an INVALID alarm at once; from an
    INVALID alarm the next value is judged directly (no tries, no hysteresis). A gap reading
    follows ``on_gap`` (see ``_gap_rule``): by default DISCONNECTED is shown, the state from before
    the gap is kept underneath (tries start again) and the next value's state is shown whatever it
    is. The first state of each device and every change of state or severity is emitted.
    """
    if tries < 1:
        raise ValueError("tries must be at least 1")
    rule = gap_rule(on_gap)

    def make_on_next(
        emit: Callable[[AlarmEvent], None], _: abc.SchedulerBase | None
    ) -> Callable[[Reading], None]:
        devices: dict[str, _DeviceAlarm] = {}

        def on_next(reading: Reading) -> None:
            device = reading.device
            alarm = devices.get(device)
            if alarm is None:
                alarm = devices[device] = _DeviceAlarm()
            value = reading.value
            if reading.is_gap and rule != "invalid":
                if rule == "disconnected" and not alarm.disconnected:
                    alarm.disconnected = True
                    alarm.bad_in_a_row = 0
                    emit(AlarmEvent(device, DISCONNECTED, NONE, None, reading.timestamp,
                                    reading.message or "connection lost"))
                return
            if reading.status.error < 0 or not isinstance(value, (int, float)):
                alarm.bad_in_a_row = 0
                state, severity = ALARM, INVALID
                reason = reading.message or (
                    reading.status.describe() if value is None else "non-numeric value"
                )
            elif alarm.state is ALARM and alarm.severity is MAJOR:
                if clears(value):
                    state, severity, reason = OK, NONE, "cleared"
                else:
                    state, severity, reason = ALARM, MAJOR, judge(value) or "inside the hysteresis band"
            else:
                bad = judge(value)
                if bad is None:
                    alarm.bad_in_a_row = 0
                    state, severity, reason = OK, NONE, "within limits"
                elif alarm.state is ALARM or alarm.bad_in_a_row + 1 >= tries:
                    alarm.bad_in_a_row = 0
                    state, severity, reason = ALARM, MAJOR, bad
                else:
                    alarm.bad_in_a_row += 1
                    state, severity, reason = OK, NONE, "within limits"
            if state is not alarm.state or severity is not alarm.severity or alarm.disconnected:
                alarm.state = state
                alarm.severity = severity
                alarm.disconnected = False
                emit(AlarmEvent(device, state, severity, value, reading.timestamp, reason))

        return on_next

    return per_subscription(make_on_next)
