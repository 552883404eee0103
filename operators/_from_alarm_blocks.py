from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, abc

from pacsys_rx.model import AnalogAlarm, DigitalAlarm, Reading

from ._events import AlarmEvent, AlarmState, Severity
from ._gap_rule import GapRule, gap_rule
from ._keyed import per_subscription

_INVALID = (AlarmState.ALARM, Severity.INVALID)
_DISABLED = (AlarmState.DISABLED, Severity.NONE)
_ALARM = (AlarmState.ALARM, Severity.MAJOR)
_OK = (AlarmState.OK, Severity.NONE)
_DISCONNECTED = (AlarmState.DISCONNECTED, Severity.NONE)


def from_alarm_blocks(
    on_gap: GapRule = "disconnected",
) -> Callable[[Observable[Reading]], Observable[AlarmEvent]]:
    """Alarm-block readings (ANALOG / DIGITAL properties) to per-device ``AlarmEvent`` on each change.

    ``alarm_enable`` off gives DISABLED; ``alarm_status`` set gives a MAJOR ALARM; otherwise OK.
    Error readings give an INVALID ALARM; a gap reading gives DISCONNECTED (``on_gap="invalid"``:
    INVALID, ``"ignore"``: dropped); readings of other value types are ignored. A device with
    both an analog and a digital block should be watched through two separate pipelines.

        -blk(ok)--blk(status)--blk(disabled)--err--gap--|
        -OK-------A------------D--------------I----C----|
    """
    rule = gap_rule(on_gap)

    def make_on_next(
        emit: Callable[[AlarmEvent], None], _: abc.SchedulerBase | None
    ) -> Callable[[Reading], None]:
        shown: dict[str, tuple[AlarmState, Severity]] = {}

        def on_next(reading: Reading) -> None:
            block = reading.value
            if reading.is_gap and rule != "invalid":
                if rule == "ignore":
                    return
                judged = _DISCONNECTED
            elif reading.status.error < 0:
                judged = _INVALID
            elif isinstance(block, (AnalogAlarm, DigitalAlarm)):
                judged = _ALARM if block.alarm_status else _OK
                if not block.alarm_enable:
                    judged = _DISABLED
            else:
                return
            if shown.get(reading.device) is not judged:
                shown[reading.device] = judged
                state, severity = judged
                emit(AlarmEvent(reading.device, state, severity, block, reading.timestamp, _reason(reading)))

        return on_next

    return per_subscription(make_on_next)


def _reason(reading: Reading) -> str:
    block = reading.value
    if isinstance(block, AnalogAlarm):
        settings = f"analog limits {block.minimum:g}..{block.maximum:g}"
    elif isinstance(block, DigitalAlarm):
        settings = f"digital nominal 0x{block.nominal:X} mask 0x{block.mask:X}"
    else:
        return reading.message or reading.status.describe()
    if not block.alarm_enable:
        return f"alarm disabled ({settings})"
    return f"alarm status {'set' if block.alarm_status else 'clear'} ({settings})"
