from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from reactivex import Observable, abc, typing

from pacsys_rx.model import Reading

from ._keyed import per_subscription
from ._scheduling import positive, resolve_scheduler


def throttle(
    interval: typing.RelativeTime, scheduler: abc.SchedulerBase | None = None
) -> Callable[[Observable[Reading]], Observable[Reading]]:
    """Per device, pass the first reading, then drop the device's readings for ``interval`` (leading edge).

    Uses only the scheduler's clock: no timers.

        -a1-a2-b1-a3-------a4-|   throttle(5 ticks)
        -a1----b1----------a4-|
    """
    period = positive(interval, "interval")

    def make_on_next(
        emit: Callable[[Reading], None], subscribe_scheduler: abc.SchedulerBase | None
    ) -> Callable[[Reading], None]:
        clock = resolve_scheduler(scheduler, subscribe_scheduler)
        open_until: dict[str, datetime] = {}

        def on_next(reading: Reading) -> None:
            now = clock.now
            until = open_until.get(reading.device)
            if until is None or now >= until:
                open_until[reading.device] = now + period
                emit(reading)

        return on_next

    return per_subscription(make_on_next)
