from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable

from pacsys_rx.model import Reading

from ._alarm_tries import tries_alarm
from ._checks import real
from ._events import AlarmEvent
from ._gap_rule import GapRule


def limits(
    low: float, high: float, hysteresis: float = 0.0, tries: int = 1, on_gap: GapRule = "disconnected"
) -> Callable[[Observable[Reading]], Observable[AlarmEvent]]:
    """Per device analog alarm with ACNET semantics; emits an ``AlarmEvent`` on every state change.

    ``tries`` consecutive readings outside ``[low, high]`` raise a MAJOR alarm; it clears only when
    ``low + hysteresis <= value <= high - hysteresis``. Error readings raise an INVALID alarm at once.
    A gap reading (lost connection) gives DISCONNECTED by default; ``on_gap="invalid"`` treats it as
    an error reading, ``"ignore"`` drops it. Data after a gap is judged from the state before it.
    The first reading of a device emits its initial state (usually OK).

        -5--12--11--9.5--9--|   limits(0, 10, hysteresis=1)
        -OK-AL-----------OK-|
    """
    low, high, hysteresis = real(low, "low"), real(high, "high"), real(hysteresis, "hysteresis")
    if low > high:
        raise ValueError("low must not exceed high")
    if hysteresis < 0 or low + hysteresis > high - hysteresis:
        raise ValueError("hysteresis must be non-negative and leave a non-empty clear band")
    above = f"above high limit {high:g}"
    below = f"below low limit {low:g}"
    clear_low, clear_high = low + hysteresis, high - hysteresis

    def judge(value: float) -> str | None:
        if value > high:
            return above
        if value < low:
            return below
        return None

    def clears(value: float) -> bool:
        return clear_low <= value <= clear_high

    return tries_alarm(judge, clears, tries, on_gap)
