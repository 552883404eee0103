from dataclasses import replace

from pacsys_rx import operators as ops
from pacsys_rx.model import AnalogAlarm, DigitalAlarm, Reading, ValueType

from .support import (
    at,
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    err,
    outputs,
    rd,
    run,
    states,
)

ANALOG = AnalogAlarm(minimum=0.0, maximum=10.0, alarm_enable=True, alarm_status=False, abort=False,
                     abort_inhibit=False, tries_needed=1, tries_now=0)
DIGITAL = DigitalAlarm(nominal=1, mask=3, alarm_enable=True, alarm_status=False, abort=False,
                       abort_inhibit=False, tries_needed=2, tries_now=0)


def block(device: str, value: AnalogAlarm | DigitalAlarm, t: float = 0.0) -> Reading:
    kind = ValueType.ANALOG_ALARM if isinstance(value, AnalogAlarm) else ValueType.DIGITAL_ALARM
    return Reading(f"{device}.ANALOG@p,1000", device, value, kind, None, at(t))


def test_from_alarm_blocks_follows_status_and_enable_bits() -> None:
    readings = [
        block("A", ANALOG),
        block("A", replace(ANALOG, tries_now=1)),
        block("A", replace(ANALOG, alarm_status=True)),
        block("A", replace(ANALOG, alarm_status=True, alarm_enable=False)),
        block("A", ANALOG),
        err("A"),
        rd("A", 5.0),
        block("B", replace(DIGITAL, alarm_status=True)),
    ]
    assert states(run(ops.from_alarm_blocks(), readings)) == [
        ("A", "OK", "NONE"), ("A", "ALARM", "MAJOR"), ("A", "DISABLED", "NONE"), ("A", "OK", "NONE"),
        ("A", "ALARM", "INVALID"), ("B", "ALARM", "MAJOR"),
    ]


def test_from_alarm_blocks_carries_the_block_and_explains() -> None:
    tripped = replace(ANALOG, alarm_status=True)
    (event,) = outputs(run(ops.from_alarm_blocks(), [block("A", tripped, 3.0)]))
    assert event.value is tripped
    assert event.since == at(3.0)
    assert event.reason == "alarm status set (analog limits 0..10)"
    (digital,) = outputs(run(ops.from_alarm_blocks(), [block("B", replace(DIGITAL, alarm_enable=False))]))
    assert digital.reason == "alarm disabled (digital nominal 0x1 mask 0x3)"


def test_from_alarm_blocks_error_propagates() -> None:
    check_error_passes(lambda _: ops.from_alarm_blocks(), block("A", ANALOG))


def test_from_alarm_blocks_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.from_alarm_blocks(), block("A", ANALOG))


def test_from_alarm_blocks_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.from_alarm_blocks(), block("A", ANALOG))
