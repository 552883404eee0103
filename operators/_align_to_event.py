from __future__ import annotations

import bisect
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
    clock_events: Observable[Reading], tolerance: typing.RelativeTime,
    lateness: typing.RelativeTime | None = None,
) -> Callable[[Observable[Reading]], Observable[AlignedGroup]]:
    """Group readings by clock event: for each event, the readings timestamped within ``tolerance`` of it.

    ``clock_events`` carries one reading per event (e.g. a TCLK $0F stream); its timestamp is the
    event time. Per device the reading closest to the event is kept. Groups close by data time, not
    by arrival order: the group of event E is emitted once the next event E' is known and a timestamp
    at least E' + ``lateness`` (default ``tolerance``) has arrived on either stream (the watermark),
    so batched or reordered delivery still fills it. Groups go out in event order; clock events older
    than the last emitted group are dropped. Readings that arrive before their event are held while
    within ``lateness + tolerance`` of the newest timestamp. Completion of either stream emits the
    open groups and completes the output.

        clock:    ---E1------E2-------E3--|
        readings: -a---b-----------c------|   (c timestamped after E2 + lateness)
        output:   -----------------G1-----(G2,G3)|   G1 = {a, b} near E1
    """
    window = to_timedelta(tolerance)
    late = window if lateness is None else to_timedelta(lateness, "lateness")
    horizon = late + window

    def operator(source: Observable[Reading]) -> Observable[AlignedGroup]:
        def subscribe(
            observer: abc.ObserverBase[AlignedGroup], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            events: list[datetime] = []
            groups: dict[datetime, dict[str, Reading]] = {}
            held: deque[Reading] = deque()
            newest: datetime | None = None
            last_emitted: datetime | None = None
            close_at: datetime | None = None  # when the watermark closes the oldest group

            def join(reading: Reading, at: datetime) -> bool:
                offset = reading.timestamp - at
                if not -window <= offset <= window:
                    return False
                group = groups[at]
                kept = group.get(reading.device)
                if kept is None or abs(offset) < abs(kept.timestamp - at):
                    group[reading.device] = reading
                return True

            def nearest_event(stamp: datetime) -> datetime | None:
                position = bisect.bisect_left(events, stamp)
                after = events[position] if position < len(events) else None
                if position == 0:
                    return after
                before = events[position - 1]
                return after if after is not None and after - stamp < stamp - before else before

            def emit(at: datetime) -> None:
                nonlocal last_emitted
                last_emitted = at
                observer.on_next(AlignedGroup(at, groups.pop(at)))

            def plan_close() -> None:
                nonlocal close_at
                close_at = events[1] + late if len(events) > 1 else None

            def close_due(watermark: datetime) -> None:
                while close_at is not None and watermark >= close_at:
                    emit(events.pop(0))
                    plan_close()
                oldest = watermark - horizon
                while held and held[0].timestamp < oldest:
                    held.popleft()

            def on_clock(stamp: datetime) -> None:
                if stamp in groups or (last_emitted is not None and stamp <= last_emitted):
                    return
                bisect.insort(events, stamp)
                plan_close()
                groups[stamp] = {}
                for reading in held:
                    join(reading, stamp)

            def on_item(index: int, reading: Reading) -> None:
                nonlocal newest
                stamp = reading.timestamp
                advanced = newest is None or stamp > newest
                if advanced:
                    newest = stamp
                if index == _CLOCK:
                    on_clock(stamp)
                else:
                    at = nearest_event(stamp) if events else None
                    if at is None or not join(reading, at):
                        held.append(reading)
                if (advanced or index == _CLOCK) and newest is not None:
                    close_due(newest)

            def ends_output(_: int) -> bool:
                while events:
                    emit(events.pop(0))
                return True

            return subscribe_serialized([clock_events, source], observer, on_item, scheduler, ends_output)

        return Observable(subscribe)

    return operator
