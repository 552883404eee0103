from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable

from pacsys_rx.model import Reading

from ._alarm_tries import tries_alarm
from ._events import AlarmEvent
from ._gap_rule import GapRule


def digital_alarm(
    nominal: int, mask: int, tries: int = 1, on_gap: GapRule = "disconnected"
) -> Callable[[Observable[Reading]], Observable[AlarmEvent]]:
    """Per device digital alarm: a value is bad when ``(value & mask) != (nominal & mask)``.

    ``tries`` consecutive bad readings raise a MAJOR alarm; a good reading clears it. Error
    readings raise an INVALID alarm at once; a gap reading gives DISCONNECTED (``on_gap`` as in
    ``limits``). Float values are truncated to int.

        -0x01--0x03--0x01--|   digital_alarm(nominal=0x01, mask=0x03)
        -OK----AL----OK----|
    """
    expected = nominal & mask

    def judge(value: float) -> str | None:
        actual = int(value) & mask
        if actual == expected:
            return None
        return f"status 0x{actual:X} differs from nominal 0x{expected:X} (mask 0x{mask:X})"

    def clears(value: float) -> bool:
        return int(value) & mask == expected

    return tries_alarm(judge, clears, tries, on_gap)
