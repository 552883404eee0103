from __future__ import annotations

from collections import deque
from datetime import datetime

from reactivex import Observable, abc

from pacsys_rx.model import Reading

from ._merging import subscribe_serialized


def merge_backends(*sources: Observable[Reading], memory: int = 8) -> Observable[Reading]:
    """Merge the same devices read through several backends, dropping duplicates (same device and timestamp).

    The first copy to arrive is kept, with its ``backend`` tag. Per device only the last ``memory``
    timestamps are remembered. Any source's error ends the output; it completes when all sources have.

        dpm:  -a@1----a@2-------|
        grpc: ---a@1------a@3---|
        out:  -a@1----a@2-a@3---|
    """
    if memory < 1:
        raise ValueError("memory must be at least 1")

    def subscribe(
        observer: abc.ObserverBase[Reading], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        recent: dict[str, deque[datetime]] = {}

        def on_item(_: int, reading: Reading) -> None:
            seen = recent.get(reading.device)
            if seen is None:
                seen = recent[reading.device] = deque(maxlen=memory)
            elif reading.timestamp in seen:
                return
            seen.append(reading.timestamp)
            observer.on_next(reading)

        return subscribe_serialized(sources, observer, on_item, scheduler)

    return Observable(subscribe)
