"""How the alarm operators treat a transport gap (``Reading.is_gap``, or a DISCONNECTED alarm event).

* ``"disconnected"`` (default): the device enters DISCONNECTED (severity NONE): not an alarm, never
  latched, delayed or counted; the next data is judged again, with no acknowledgement needed.
* ``"invalid"``: a gap is an INVALID alarm, like a device error reading.
* ``"ignore"``: gaps are dropped; the device keeps its state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from ._events import AlarmEvent, AlarmState, Severity

GapRule = Literal["disconnected", "invalid", "ignore"]

DISCONNECTED = AlarmState.DISCONNECTED


def gap_rule(rule: str) -> GapRule:
    """``rule`` checked (ValueError naming the choices otherwise)."""
    if rule not in get_args(GapRule):
        raise ValueError(f"on_gap must be one of {', '.join(get_args(GapRule))}, got {rule!r}")
    return rule  # type: ignore[return-value]


def disconnected_event(rule: str) -> Callable[[AlarmEvent], AlarmEvent | None]:
    """For operators on AlarmEvents: what a DISCONNECTED event becomes under ``rule`` (None: dropped)."""
    checked = gap_rule(rule)

    def apply(event: AlarmEvent) -> AlarmEvent | None:
        if checked == "disconnected":
            return event
        if checked == "ignore":
            return None
        return AlarmEvent(event.device, AlarmState.ALARM, Severity.INVALID, event.value, event.since,
                          event.reason)

    return apply
