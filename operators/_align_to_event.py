from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime

from reactivex import Observable, abc, typing

from pacsys_rx.model import Reading

from ._events import AlignedGroup
from ._merging import subscribe_serialized
from ._scheduling import to_timedelta

_CLOCK, _READINGS = 0, 1


def align_to_event(
    clock_events: Observable[Reading], tolerance: typing.RelativeTime
) -> Callable[[Observable[Reading]], Observable[AlignedGroup]]:
    """Group readings by clock event: for each event, the readings timestamped within ``tolerance`` of it.

    ``clock_events`` carries one reading per event (e.g. a TCLK $0F stream); its timestamp is the
    event time. Per device the reading closest to the event is kept. A group is emitted when the
    next clock event arrives, or when either stream completes (which completes the output), so
    readings may arrive up to one event period after their event. Readings that arrive before their
    event are held while they are within ``2 * tolerance`` of the newest timestamp seen.

        clock:    ---E1---------E2------|
        readings: -a---b----c------a-b--|
        output:   --------------G1------G2|   G1 = {a, b} near E1
    """
    window = to_timedelta(tolerance)
    horizon = 2 * window

    def operator(source: Observable[Reading]) -> Observable[AlignedGroup]:
        def subscribe(
            observer: abc.ObserverBase[AlignedGroup], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            event_time: datetime | None = None
            group: dict[str, Reading] = {}
            early: deque[Reading] = deque()
            newest: datetime | None = None

            def join(reading: Reading, at: datetime) -> None:
                offset = reading.timestamp - at
                if -window <= offset <= window:
                    held = group.get(reading.device)
                    if held is None or abs(offset) < abs(held.timestamp - at):
                        group[reading.device] = reading

            def emit_group() -> None:
                nonlocal group
                if event_time is not None:
                    observer.on_next(AlignedGroup(event_time, group))
                    group = {}

            def on_item(index: int, reading: Reading) -> None:
                nonlocal event_time, newest
                stamp = reading.timestamp
                if newest is None or stamp > newest:
                    newest = stamp
                    while early and early[0].timestamp < stamp - horizon:
                        early.popleft()
                if index == _CLOCK:
                    emit_group()
                    event_time = stamp
                    for held in early:
                        join(held, stamp)
                    while early and early[0].timestamp < stamp - window:
                        early.popleft()
                else:
                    if event_time is not None:
                        join(reading, event_time)
                    early.append(reading)

            def ends_output(_: int) -> bool:
                emit_group()
                return True

            return subscribe_serialized([clock_events, source], observer, on_item, scheduler, ends_output)

        return Observable(subscribe)

    return operator
