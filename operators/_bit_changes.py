from __future__ import annotations

from collections.abc import Callable

import reactivex
from reactivex import Observable, abc

from pacsys_rx.digital import BitChange, DigitalStatus


def bit_changes() -> Callable[[Observable[DigitalStatus]], Observable[BitChange]]:
    """One ``BitChange`` per status bit that changed since the device's previous status; the first
    status of each device gives every bit (``previous`` None).

        statuses: -(Off Ready)---(Off Ready)---(On Ready)-|
        output:   -(ON Off)(READY Ready)--------(ON On)-|
    """

    def operator(source: Observable[DigitalStatus]) -> Observable[BitChange]:
        def subscribe(observer: abc.ObserverBase[BitChange],
                      scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
            last: dict[str, dict[str, bool]] = {}

            def on_next(status: DigitalStatus) -> None:
                before = last.get(status.device)
                last[status.device] = {bit.name: bit.active for bit in status.bits}
                for bit in status.bits:
                    previous = None if before is None else before.get(bit.name)
                    if before is not None and previous == bit.active:
                        continue
                    observer.on_next(BitChange(status.device, bit.name, bit.long_name, bit.active, bit.text,
                                               previous, status.timestamp))

            return source.subscribe(on_next, observer.on_error, observer.on_completed, scheduler=scheduler)

        return reactivex.create(subscribe)

    return operator
