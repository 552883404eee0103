"""Capped exponential backoff with jitter, reset once a connection has proved stable."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    """Delays between reconnect attempts: ``initial * factor**n`` capped at ``maximum``, with jitter.

    Each delay is scaled by a random factor in ``[1 - jitter, 1 + jitter]`` (then capped again).
    Reset rule: call :meth:`connected` when a connection is established; if it is still up
    ``stable_after`` seconds later (i.e. the next failure comes later than that), the next delay
    starts from ``initial`` again. A connection that fails quickly keeps the delays growing.
    Not thread-safe: one instance belongs to one reconnect loop. A backend keeps one as the template of
    its policy and gives every reconnect loop its own :meth:`fresh` copy.
    """

    def __init__(self, initial: float = 0.1, maximum: float = 10.0, factor: float = 2.0, jitter: float = 0.2,
                 stable_after: float = 5.0, *, clock: Callable[[], float] = time.monotonic,
                 rng: Callable[[], float] = random.random) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(f"need 0 < initial <= maximum, got {initial} and {maximum}")
        if factor < 1 or not 0 <= jitter < 1 or stable_after < 0:
            raise ValueError("need factor >= 1, 0 <= jitter < 1 and stable_after >= 0")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.stable_after = stable_after
        self._clock = clock
        self._rng = rng
        self._attempts = 0
        self._connected_at: float | None = None

    def __repr__(self) -> str:
        return (f"Backoff(initial={self.initial:g}, maximum={self.maximum:g}, factor={self.factor:g}, "
                f"jitter={self.jitter:g}, stable_after={self.stable_after:g})")

    def fresh(self) -> Backoff:
        """A new backoff with the same settings (clock and random source included) and no history."""
        return Backoff(self.initial, self.maximum, self.factor, self.jitter, self.stable_after,
                       clock=self._clock, rng=self._rng)

    @property
    def attempts(self) -> int:
        """Failures counted since the last reset."""
        return self._attempts

    def connected(self) -> None:
        """A connection was established; it resets the backoff if it lasts ``stable_after`` seconds."""
        self._connected_at = self._clock()

    def reset(self) -> None:
        """Start again from ``initial``."""
        self._attempts = 0
        self._connected_at = None

    def next_delay(self) -> float:
        """Seconds to wait after a failure before the next attempt."""
        if self._connected_at is not None and self._clock() - self._connected_at >= self.stable_after:
            self._attempts = 0
        self._connected_at = None
        base = min(self.maximum, self.initial * self.factor ** min(self._attempts, 64))
        self._attempts += 1
        spread = 1.0 + self.jitter * (2.0 * self._rng() - 1.0)
        return min(self.maximum, base * spread)
