"""The shared reconnect backoff: capped exponential growth, jitter bounds and the reset rule."""

from __future__ import annotations

import pytest

from pacsys_rx.transport import Backoff


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0, factor=2.0, jitter=0.0)
    assert [round(backoff.next_delay(), 3) for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


@pytest.mark.parametrize("draw", [0.0, 0.5, 0.999])
def test_jitter_stays_within_its_band_and_under_the_cap(draw: float) -> None:
    backoff = Backoff(initial=1.0, maximum=1.1, jitter=0.2, rng=lambda: draw)
    first = backoff.next_delay()
    assert 0.8 <= first <= 1.1
    assert backoff.next_delay() <= 1.1


def test_a_stable_connection_resets_the_delays() -> None:
    clock = Clock()
    backoff = Backoff(initial=0.1, maximum=10.0, jitter=0.0, stable_after=5.0, clock=clock)
    for _ in range(4):
        backoff.next_delay()
    backoff.connected()
    clock.now += 6.0
    assert backoff.next_delay() == pytest.approx(0.1)


def test_a_connection_that_fails_quickly_keeps_growing() -> None:
    clock = Clock()
    backoff = Backoff(initial=0.1, maximum=10.0, jitter=0.0, stable_after=5.0, clock=clock)
    backoff.next_delay()
    backoff.connected()
    clock.now += 1.0
    assert backoff.next_delay() == pytest.approx(0.2)
    assert backoff.attempts == 2


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=2.0, maximum=1.0)
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)
