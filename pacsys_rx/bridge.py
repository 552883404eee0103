"""Bridges from Observables to blocking iteration (scripts) and ``async for`` (asyncio)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Generic, TypeVar

from reactivex import Observable
from reactivex.disposable import SingleAssignmentDisposable

from pacsys_rx.errors import BackendUnavailable
from pacsys_rx.flow import BoundedQueue, BufferOverflow, Overflow, check_overflow

T = TypeVar("T")

_COMPLETED = object()
DEFAULT_MAXSIZE = 10_000


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


class _Feed:
    """The subscription side of a bridge: fills the queue, and never references the iterator (so an
    iterator that is dropped without ``close`` is collected, and its ``__del__`` disposes)."""

    __slots__ = ("queue", "subscription")

    def __init__(self, maxsize: int, overflow: Overflow) -> None:
        self.queue: BoundedQueue[object] = BoundedQueue(maxsize, overflow)
        self.subscription = SingleAssignmentDisposable()

    def on_next(self, item: object) -> None:
        try:
            self.queue.put(item)
        except BufferOverflow as error:  # the "error" policy: the consumer gets it, the source stops
            self.queue.put_final(_Failure(error))
            self.subscription.dispose()

    def on_error(self, error: Exception) -> None:
        self.queue.put_final(_Failure(error))

    def on_completed(self) -> None:
        self.queue.put_final(_COMPLETED)


class BlockingIterator(Generic[T]):
    """Iterates an Observable from a script; leaving ``with``, ``close()``, or dropping the iterator
    (``break`` out of a ``for`` without ``with``) disposes the subscription.

    Items wait in a bounded queue (``maxsize``, ``overflow`` policy; ``dropped`` counts losses; with
    ``overflow="error"`` the next ``next`` raises ``BufferOverflow``).
    ``next`` waits at most ``timeout`` seconds and then raises ``BackendUnavailable``.
    """

    def __init__(self, source: Observable[T], timeout: float | None, maxsize: int,
                 overflow: Overflow) -> None:
        self._source = source
        self._timeout = timeout
        self._feed = _Feed(maxsize, overflow)
        self._started = False
        self._finished = False
        self._lock = threading.Lock()

    @property
    def dropped(self) -> int:
        return self._feed.queue.dropped

    def _start(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                feed = self._feed
                feed.subscription.disposable = self._source.subscribe(
                    on_next=feed.on_next, on_error=feed.on_error, on_completed=feed.on_completed)

    def __enter__(self) -> BlockingIterator[T]:
        self._start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        self._feed.subscription.dispose()

    def close(self) -> None:
        """Dispose the subscription; iteration ends."""
        self._finished = True
        self._feed.subscription.dispose()

    def __iter__(self) -> BlockingIterator[T]:
        self._start()
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        self._start()
        got, item = self._feed.queue.get(self._timeout)
        if not got:
            raise BackendUnavailable(f"no item within {self._timeout:g} s")
        if item is _COMPLETED:
            self._finished = True
            raise StopIteration
        if isinstance(item, _Failure):
            self._finished = True
            raise item.error
        return item  # type: ignore[return-value]


def _check_source(source: object) -> None:
    if not isinstance(source, Observable):
        raise TypeError(f"source must be an Observable, got {type(source).__name__}")


def iterate(source: Observable[T], timeout: float | None = None, maxsize: int = DEFAULT_MAXSIZE,
            overflow: Overflow = "drop_oldest") -> BlockingIterator[T]:
    """``with iterate(backend.stream(...), timeout=5) as it: for reading in it: ...``"""
    _check_source(source)
    check_overflow(maxsize, overflow)
    if timeout is not None and (not isinstance(timeout, (int, float)) or isinstance(timeout, bool)
                                or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    return BlockingIterator(source, timeout, maxsize, overflow)


async def aiter(source: Observable[T], maxsize: int = DEFAULT_MAXSIZE,
                overflow: Overflow = "drop_oldest") -> AsyncIterator[T]:
    """``async for reading in prx.aiter(backend.stream(...)):``; breaking out disposes the subscription.

    Items cross from the emitting thread to the event loop through a bounded queue.
    """
    _check_source(source)
    check_overflow(maxsize, overflow)
    loop = asyncio.get_running_loop()
    queue: BoundedQueue[object] = BoundedQueue(maxsize, overflow)
    ready = asyncio.Event()
    wake_scheduled = False

    def wake() -> None:
        nonlocal wake_scheduled
        if not wake_scheduled:
            wake_scheduled = True
            loop.call_soon_threadsafe(ready.set)

    def on_next(item: T) -> None:
        try:
            queue.put(item)
        except BufferOverflow as error:
            queue.put_final(_Failure(error))
        wake()

    def on_end(marker: object) -> None:
        queue.put_final(marker)
        wake()

    subscription = source.subscribe(
        on_next=on_next, on_error=lambda e: on_end(_Failure(e)), on_completed=lambda: on_end(_COMPLETED))
    try:
        while True:
            await ready.wait()
            wake_scheduled = False
            ready.clear()
            for item in queue.drain():
                if item is _COMPLETED:
                    return
                if isinstance(item, _Failure):
                    raise item.error
                yield item  # type: ignore[misc]
    finally:
        subscription.dispose()
