"""History as if it were live: replay on a virtual clock, and backfill-then-live.

* :func:`replay` runs any pipeline over historical readings on a reactivex ``HistoricalScheduler``:
  each reading is delivered when the virtual clock reaches its own timestamp, and the pipeline is
  subscribed with that scheduler, so time-based operators (``stale``, ``alarm_delay``, ``throttle``,
  ``window_stats``, ``align_to_event``) left without a scheduler run on virtual time and behave as
  they would have live.
* :func:`history_source` is the same source as an Observable, for composing by hand.
* :func:`backfill_then_live` gives a device's history up to the first live reading, then the live
  stream: no gap, no duplicate at the junction.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import reactivex
from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, SerialDisposable
from reactivex.scheduler import HistoricalScheduler

from pacsys_rx.backends.base import Backend
from pacsys_rx.backends.history import TimeSpec
from pacsys_rx.model import Reading

Pipeline = Callable[[Observable[Reading]], Observable[Any]]


def _instants(readings: Iterable[Reading]) -> Iterator[tuple[datetime, list[Reading]]]:
    """Readings grouped by timestamp, in time order (a stable sort keeps each instant's order)."""
    ordered = sorted(readings, key=lambda reading: reading.timestamp)
    for when, group in itertools.groupby(ordered, key=lambda reading: reading.timestamp):
        yield when, list(group)


def history_source(readings: Iterable[Reading], scheduler: abc.SchedulerBase) -> Observable[Reading]:
    """``readings`` delivered on ``scheduler`` at their own timestamps (absolute times), then completion.

    Readings sharing a timestamp are delivered together, in their given order; one timer is pending
    at a time, so a day of many devices costs one scheduled action per distinct instant.
    """
    def subscribe(observer: abc.ObserverBase[Reading],
                  _: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        instants = _instants(readings)
        timer = SerialDisposable()

        def schedule_next() -> None:
            following = next(instants, None)
            if following is None:
                observer.on_completed()
                return
            when, group = following

            def deliver(_: abc.SchedulerBase, __: Any = None) -> None:
                for reading in group:
                    observer.on_next(reading)
                schedule_next()

            timer.disposable = scheduler.schedule_absolute(when, deliver)

        schedule_next()
        return timer

    return reactivex.create(subscribe)


def replay(readings: Iterable[Reading], pipeline: Pipeline | None = None, *,
           scheduler: HistoricalScheduler | None = None) -> list[Any]:
    """Everything ``pipeline`` emits over ``readings`` replayed in virtual time, in order.

    The virtual clock starts at the first reading's time (or ``scheduler``'s own clock) and runs
    until nothing is left to do; the call returns once the pipeline completed or went quiet. An error
    of the pipeline is raised.
    """
    items = list(readings)
    if scheduler is None:
        start = min((r.timestamp for r in items), default=None)
        scheduler = HistoricalScheduler(start) if start is not None else HistoricalScheduler()
    source = history_source(items, scheduler)
    output = source if pipeline is None else pipeline(source)
    emitted: list[Any] = []
    failure: list[Exception] = []
    output.subscribe(emitted.append, failure.append, scheduler=scheduler)
    scheduler.start()
    if failure:
        raise failure[0]
    return emitted


def backfill_then_live(backend: Backend, drf: str, start: TimeSpec, *,
                       timeout: float | None = None) -> Observable[Reading]:
    """History of ``drf`` from ``start``, then its live stream, with neither gap nor duplicate.

    The live stream is subscribed first and held; the history window ends where the first live
    reading begins (``[start, first live timestamp)``), then the held and later live readings
    follow. A failed history request fails the Observable (its error reading is passed on).
    """
    def subscribe(observer: abc.ObserverBase[Reading],
                  _: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        lock = threading.RLock()
        held: list[Reading] = []
        phase = ["waiting"]
        """waiting (for the first live reading) -> backfilling (history requested) -> live."""
        history = SerialDisposable()

        def finish_backfill() -> None:
            with lock:
                for reading in held:
                    observer.on_next(reading)
                held.clear()
                phase[0] = "live"

        def on_live(reading: Reading) -> None:
            with lock:
                if phase[0] == "live":
                    observer.on_next(reading)
                    return
                held.append(reading)
                if phase[0] == "backfilling":
                    return
                phase[0] = "backfilling"
            history.disposable = backend.history(drf, start, reading.timestamp, timeout=timeout).subscribe(
                observer.on_next, observer.on_error, finish_backfill)

        live = backend.stream(drf).subscribe(on_live, observer.on_error, observer.on_completed)
        return CompositeDisposable(live, history)

    return reactivex.create(subscribe)
