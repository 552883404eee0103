"""DevDB's alarm records (``getAllAlarmInfo``, ``getAlarmText``) as plain values."""

from __future__ import annotations

from dataclasses import dataclass

from pacsys_rx.protocols.proto import DevDB_pb2

ANALOG_ALARM_PI = 21
DIGITAL_ALARM_PI = 22


@dataclass(frozen=True)
class AlarmText:
    """One alarm text: what the alarm screen shows, its priority and help URL (None when DevDB has none)."""

    text_id: int
    text: str
    priority: int
    url: str | None


@dataclass(frozen=True)
class AlarmInfo:
    """One alarm block of a device as DevDB keeps it.

    ``analog`` tells the block (property index 21) from a digital one (22). For an analog block
    ``first``/``second`` are the raw minimum/maximum (or nominal/tolerance); for a digital block
    the nominal condition and mask. ``text_id`` names its ``AlarmText`` (None when it has none).
    """

    device: str
    analog: bool
    status: int
    first: int
    second: int
    tries_needed: int
    tries_now: int
    text_id: int | None


def alarm_info_from_proto(info: DevDB_pb2.AlarmInfo) -> AlarmInfo:
    block = info.alarm_block
    text_id = None
    if info.HasField("device_analog_alarm"):
        text_id = info.device_analog_alarm.alarm_text_id or None
    elif info.HasField("device_digital_alarm"):
        text_id = info.device_digital_alarm.alarm_text_id or None
    return AlarmInfo(info.device_name, block.pi == ANALOG_ALARM_PI, block.status, block.min_or_nom,
                     block.max_or_tol, block.tries_needed, block.tries_now, text_id)


def alarm_text_from_proto(text: DevDB_pb2.DeviceAlarmText) -> AlarmText:
    return AlarmText(text.alarm_text_id, text.text, text.priority, text.url or None)


def texts_by_device(infos: list[AlarmInfo], texts: dict[int, AlarmText], *, analog: bool = True,
                    ) -> dict[str, AlarmText]:
    """Each device's text for its analog (or digital) alarm block, for ``ops.describe_alarms``."""
    return {info.device: texts[info.text_id] for info in infos
            if info.analog is analog and info.text_id in texts}
