from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, abc

from pacsys_rx.model import Reading, Value

from ._checks import real
from ._keyed import is_number, per_subscription


def deadband(
    abs: float | None = None, rel: float | None = None
) -> Callable[[Observable[Reading]], Observable[Reading]]:
    """Per device, drop readings whose value moved less than a deadband from the last one passed.

    A reading passes when ``|Δ| > abs`` or ``|Δ| > rel * |last passed|``. The first reading of a
    device passes; error readings always pass, and the next good reading after one passes too.
    Non-numeric values pass when they differ from the last value passed.

        --1--1.05--1.3--err--1.31--|   deadband(abs=0.2)
        --1--------1.3--err--1.31--|
    """
    if abs is None and rel is None:
        raise ValueError("deadband needs abs or rel")
    abs_band = -1.0 if abs is None else real(abs, "abs", minimum=0)
    rel_band = -1.0 if rel is None else real(rel, "rel", minimum=0)

    def make_on_next(
        emit: Callable[[Reading], None], _: abc.SchedulerBase | None
    ) -> Callable[[Reading], None]:
        last_passed: dict[str, Value] = {}

        def on_next(reading: Reading) -> None:
            value = reading.value
            device = reading.device
            if value is None:
                last_passed.pop(device, None)
                emit(reading)
                return
            last = last_passed.get(device)
            if last is None:
                passes = True
            elif is_number(value) and is_number(last):
                delta = value - last  # type: ignore[operator]
                if delta < 0:
                    delta = -delta
                passes = (abs_band >= 0 and delta > abs_band) or (
                    rel_band >= 0 and delta > rel_band * (last if last >= 0 else -last)  # type: ignore[operator]
                )
            else:
                passes = value != last
            if passes:
                last_passed[device] = value
                emit(reading)

        return on_next

    return per_subscription(make_on_next)
