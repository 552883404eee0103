from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reactivex import Observable
from reactivex import operators as rxops

from ._events import AlarmEvent

if TYPE_CHECKING:
    from pacsys_rx.backends.grpc.devdb_alarms import AlarmText


@dataclass(frozen=True)
class DescribedAlarm:
    """An alarm event with its DevDB text, priority and help URL (None when DevDB has no text)."""

    event: AlarmEvent
    text: str | None
    priority: int | None
    url: str | None


def describe_alarms(texts: Mapping[str, AlarmText],
                    ) -> Callable[[Observable[AlarmEvent]], Observable[DescribedAlarm]]:
    """Each alarm event with the alarm text, priority and URL of its device (``texts`` by device name).

    Build ``texts`` once from DevDB: ``texts_by_device(grpc.alarm_info(names), grpc.alarm_texts(ids))``.

        events:  -a(Z:ACLTST ALARM)--b(Z:OTHER OK)-|
        output:  -a + "Z:ACLTST outside its alarm limits", 5--b + None-|
    """
    known = {device.upper(): text for device, text in texts.items()}

    def describe(event: AlarmEvent) -> DescribedAlarm:
        text = known.get(event.device.upper())
        if text is None:
            return DescribedAlarm(event, None, None, None)
        return DescribedAlarm(event, text.text, text.priority, text.url)

    return rxops.map(describe)
