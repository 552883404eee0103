from __future__ import annotations

from collections.abc import Callable

from reactivex import GroupedObservable, Observable
from reactivex import operators as ops

from pacsys_rx.model import Reading


def by_device() -> Callable[[Observable[Reading]], Observable[GroupedObservable[str, Reading]]]:
    """One group per device; ``group.key`` is the device name.

        --a1--b1--a2--|
        --A---B-------|   A: a1--a2--|   B: b1----|
    """
    return ops.group_by(_device_of)


def _device_of(reading: Reading) -> str:
    return reading.device
