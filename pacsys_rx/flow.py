"""A bounded, thread-safe queue with an explicit overflow policy, for slow consumers."""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, Literal, TypeVar

from pacsys_rx.errors import PacsysError

T = TypeVar("T")

Overflow = Literal["drop_oldest", "drop_newest", "error"]
OVERFLOW_POLICIES: tuple[Overflow, ...] = ("drop_oldest", "drop_newest", "error")


class BufferOverflow(PacsysError):
    """A bounded buffer with ``overflow="error"`` was full when an item arrived."""


def check_overflow(maxsize: int, overflow: str) -> None:
    """Validate a bound and an overflow policy name (``ValueError`` with a clear message)."""
    if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
        raise ValueError(f"buffer size must be a positive integer, got {maxsize!r}")
    if overflow not in OVERFLOW_POLICIES:
        raise ValueError(f"overflow must be one of {', '.join(OVERFLOW_POLICIES)}, got {overflow!r}")


class BoundedQueue(Generic[T]):
    """At most ``maxsize`` items; ``put`` applies the overflow policy and counts what it drops.

    ``put`` never blocks (it runs on I/O threads); ``get`` blocks up to a timeout.
    """

    __slots__ = ("_cond", "_items", "dropped", "maxsize", "overflow")

    def __init__(self, maxsize: int, overflow: Overflow = "drop_oldest") -> None:
        check_overflow(maxsize, overflow)
        self.maxsize = maxsize
        self.overflow = overflow
        self.dropped = 0
        self._items: deque[T] = deque()
        self._cond = threading.Condition(threading.Lock())

    def put(self, item: T) -> None:
        """Add an item; raises ``BufferOverflow`` when full under the ``error`` policy."""
        with self._cond:
            if len(self._items) >= self.maxsize:
                if self.overflow == "drop_newest":
                    self.dropped += 1
                    return
                if self.overflow == "error":
                    raise BufferOverflow(f"buffer of {self.maxsize} items is full")
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def put_final(self, item: T) -> None:
        """Add an end-of-stream marker regardless of the bound (it must never be dropped)."""
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float | None) -> tuple[bool, T | None]:
        """Wait up to ``timeout`` seconds for an item: ``(True, item)``, or ``(False, None)`` on timeout."""
        with self._cond:
            if not self._items and not self._cond.wait_for(lambda: bool(self._items), timeout):
                return False, None
            return True, self._items.popleft()

    def drain(self) -> list[T]:
        """Remove and return everything queued, oldest first."""
        with self._cond:
            items = list(self._items)
            self._items.clear()
            return items

    def __len__(self) -> int:
        return len(self._items)
