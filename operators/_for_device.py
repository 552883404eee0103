from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable
from reactivex import operators as ops

from pacsys_rx.model import Reading


def for_device(*names: str) -> Callable[[Observable[Reading]], Observable[Reading]]:
    """Readings of the named devices (exact match on ``Reading.device``).

        --a1--b1--c1--a2--|   for_device("A", "C")
        --a1------c1--a2--|
    """
    wanted = frozenset(names)

    def is_wanted(reading: Reading) -> bool:
        return reading.device in wanted

    return ops.filter(is_wanted)
