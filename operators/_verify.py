from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, cast

import reactivex
from reactivex import Observable, abc
from reactivex import operators as rxops

from pacsys_rx.model import Reading, Value, WriteResult

Expected = Value | Mapping[str, Any]
"""A value to find, or the fields a structured value (alarm block, basic status) must have."""


def values_match(actual: Any, expected: Expected, tolerance: float) -> bool:
    """Numbers within ``tolerance`` (arrays element by element); a mapping: each named field of
    ``actual`` matches; anything else equal."""
    if isinstance(expected, Mapping):
        return actual is not None and all(
            values_match(getattr(actual, name, None), value, tolerance) for name, value in expected.items())
    if isinstance(expected, tuple) and isinstance(actual, tuple):
        return len(actual) == len(expected) and all(
            values_match(a, cast(Value, e), tolerance) for a, e in zip(actual, expected, strict=True))
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(actual, numbers) and not isinstance(actual, bool):
        return math.isclose(float(actual), float(expected), rel_tol=0.0, abs_tol=tolerance)
    return bool(actual == expected)


def check_verify_options(tolerance: float, initial_delay: float, attempts: int, timeout: float) -> None:
    """ValueError naming the option when a read-back check's options cannot work."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    if tolerance < 0 or initial_delay < 0 or timeout <= 0:
        raise ValueError("tolerance and initial_delay must not be negative, timeout must be positive")


def verify(readback: Observable[Reading], expected: Expected, *, tolerance: float = 0.0,
           initial_delay: float = 0.0, attempts: int = 3, timeout: float = 5.0,
           scheduler: abc.SchedulerBase | None = None,
           ) -> Callable[[Observable[WriteResult]], Observable[WriteResult]]:
    """Each write result again, with ``verified`` and ``readback`` taken from the ``readback`` stream.

    After an acknowledged setting the operator subscribes to ``readback``, skips the readings of
    the first ``initial_delay`` seconds and replayed ones, and compares up to ``attempts`` good
    readings with ``expected`` (numbers within ``tolerance``; a mapping such as ``{"on": True}``
    names the fields an alarm block or basic status must have). The first match verifies; after
    ``attempts`` differing readings, or ``timeout`` seconds, the result is not verified and carries
    the last value read back. A refused setting passes with ``verified`` False.

        results:   --ok------------------|
        readback:  ----1---1---5----
        expected 5, attempts 3
        output:    ---------------ok(verified, 5)|
    """
    check_verify_options(tolerance, initial_delay, attempts, timeout)

    def matches(reading: Reading | None) -> bool:
        return reading is not None and values_match(reading.value, expected, tolerance)

    def fresh(reading: Reading) -> bool:
        return reading.ok and not reading.is_replayed

    def still_differs(reading: Reading) -> bool:
        return not matches(reading)

    def check(result: WriteResult) -> Observable[WriteResult]:
        if not result.ok:
            return reactivex.just(dataclasses.replace(result, verified=False))
        good: Observable[Reading] = readback.pipe(
            rxops.filter(fresh), rxops.skip_until(reactivex.timer(initial_delay, scheduler=scheduler)))
        compared: Observable[list[Reading]] = good.pipe(
            rxops.take(attempts),
            rxops.take_while(still_differs, inclusive=True),
            rxops.take_until(reactivex.timer(timeout, scheduler=scheduler)),
            rxops.to_list(),
        )

        def with_readback(seen: list[Reading]) -> WriteResult:
            reading = seen[-1] if seen else None
            value = None if reading is None else reading.value
            return dataclasses.replace(result, verified=matches(reading), readback=value)

        return compared.pipe(rxops.map(with_readback))

    def operator(source: Observable[WriteResult]) -> Observable[WriteResult]:
        return source.pipe(rxops.concat_map(check))

    return operator
