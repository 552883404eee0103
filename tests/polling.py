"""Waiting on real time in integration tests: poll a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` every 20 ms for up to ``timeout`` seconds; whether it became true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """``wait_for`` that fails the test, naming ``what``, when the deadline passes."""
    if not wait_for(condition, timeout):
        raise AssertionError(f"{what}: not within {timeout:g} s")
