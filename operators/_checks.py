"""Argument checks shared by the operators: a clear TypeError or ValueError naming the argument."""

from __future__ import annotations


def real(value: object, name: str, *, minimum: float | None = None) -> float:
    """``value`` as a float; TypeError unless it is a number, ValueError below ``minimum``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, got {value!r}")
    return float(value)
