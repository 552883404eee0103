from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, abc

from pacsys_rx.model import Reading, Value

from ._keyed import per_subscription


def values() -> Callable[[Observable[Reading]], Observable[Value]]:
    """The value of each reading; readings without a value (errors) are skipped.

        --r1--err--r2--|
        --v1-------v2--|
    """

    def make_on_next(emit: Callable[[Value], None], _: abc.SchedulerBase | None) -> Callable[[Reading], None]:
        def on_next(reading: Reading) -> None:
            value = reading.value
            if value is not None:
                emit(value)

        return on_next

    return per_subscription(make_on_next)
