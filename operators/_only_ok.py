from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable
from reactivex import operators as ops

from pacsys_rx.model import Reading


def only_ok() -> Callable[[Observable[Reading]], Observable[Reading]]:
    """Readings that hold usable data (``Reading.ok``: no error status and a value).

        --r1--err--r2--|
        --r1-------r2--|
    """
    return ops.filter(_is_ok)


def _is_ok(reading: Reading) -> bool:
    return reading.ok
