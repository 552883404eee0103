from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable
from reactivex import operators as ops

from pacsys_rx.model import Reading


def errors() -> Callable[[Observable[Reading]], Observable[Reading]]:
    """Error readings only (negative ACNET status); warnings are not errors.

        --r1--err--r2--|
        ------err------|
    """
    return ops.filter(_is_error)


def _is_error(reading: Reading) -> bool:
    return reading.status.error < 0
