from __future__ import annotations

from collections.abc import Mapping

from reactivex import Observable, abc

from pacsys_rx.model import Reading

from ._merging import subscribe_serialized


def combine_devices(sources: Mapping[str, Observable[Reading]]) -> Observable[dict[str, Reading]]:
    """Snapshots ``{name: latest reading}``, emitted on every reading once every name has one.

    Each snapshot is a new dict. Any source's error ends the output; it completes when all sources
    have, or as soon as one completes without ever having emitted.

        a:   -a1-----a2---|
        b:   ----b1-------|
        out: ----{a1,b1}--{a2,b1}--|
    """
    names = list(sources)
    observables = [sources[name] for name in names]

    def subscribe(
        observer: abc.ObserverBase[dict[str, Reading]], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        latest: dict[str, Reading] = {}

        def on_item(index: int, reading: Reading) -> None:
            latest[names[index]] = reading
            if len(latest) == len(names):
                observer.on_next(dict(latest))

        def never_emitted(index: int) -> bool:
            return names[index] not in latest

        return subscribe_serialized(observables, observer, on_item, scheduler, never_emitted)

    return Observable(subscribe)
