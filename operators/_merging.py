"""Subscribing to several sources under one lock, for the operators that merge streams."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable

_T = TypeVar("_T")


def subscribe_serialized(
    sources: Sequence[Observable[_T]],
    observer: abc.ObserverBase[Any],
    on_item: Callable[[int, _T], None],
    scheduler: abc.SchedulerBase | None,
    ends_output: Callable[[int], bool] | None = None,
) -> abc.DisposableBase:
    """Subscribe to every source; ``on_item(index, item)`` runs under one lock, as do errors and completion.

    The first error ends the output. The output completes when every source has, or earlier when
    ``ends_output(index)`` says so as source ``index`` completes.
    """
    lock = threading.RLock()
    running = len(sources)

    def subscribe_one(index: int, source: Observable[_T]) -> abc.DisposableBase:
        def on_next(item: _T) -> None:
            with lock:
                on_item(index, item)

        def on_error(error: Exception) -> None:
            with lock:
                observer.on_error(error)

        def on_completed() -> None:
            nonlocal running
            with lock:
                running -= 1
                if running == 0 or (ends_output is not None and ends_output(index)):
                    observer.on_completed()

        return source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)

    if not sources:
        observer.on_completed()
    return CompositeDisposable([subscribe_one(index, source) for index, source in enumerate(sources)])
