from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, abc

from pacsys_rx.model import Reading

from ._keyed import per_subscription


def distinct_by_cycle() -> Callable[[Observable[Reading]], Observable[Reading]]:
    """Drop a reading when its device's previous reading had the same cycle; no cycle (None) always passes.

        -a@1-a@1-b@1-a@2-a@1-|
        -a@1-----b@1-a@2-a@1-|
    """

    def make_on_next(
        emit: Callable[[Reading], None], _: abc.SchedulerBase | None
    ) -> Callable[[Reading], None]:
        last_cycle: dict[str, int] = {}

        def on_next(reading: Reading) -> None:
            cycle = reading.cycle
            if cycle is None:
                emit(reading)
            elif last_cycle.get(reading.device) != cycle:
                last_cycle[reading.device] = cycle
                emit(reading)

        return on_next

    return per_subscription(make_on_next)
