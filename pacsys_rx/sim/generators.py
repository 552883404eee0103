"""Deterministic value generators: a value is a pure function of (seed, device, channel, time).

Every generator is configured from a catalogue table (``{kind = "sine", ...}``) and *bound* to one
device channel (array element) with a 64-bit key derived from the seed and the device name. Binding
returns a plain ``Callable[[float], float]`` of the time in epoch milliseconds, so the hot path is one
closure call. ``follow_setting`` is not a time function; the device model handles it (see
:class:`FollowSetting`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pacsys_rx.errors import PacsysError

TimeFunction = Callable[[float], float]

_MASK64 = (1 << 64) - 1
_TWO_PI = 2.0 * math.pi


class CatalogueError(PacsysError, ValueError):
    """A device catalogue, permissions file or generator definition is invalid."""


def device_key(seed: int, name: str, channel: int = 0) -> int:
    """A stable 64-bit key for one channel of one device under one seed (independent of PYTHONHASHSEED)."""
    return mix64(
        (zlib.crc32(name.encode()) << 32) ^ (seed * 0x9E3779B97F4A7C15) ^ (channel * 0xD1B54A32D192ED03)
    )


def mix64(x: int) -> int:
    """The splitmix64 finaliser: a well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def unit_random(key: int, step: int) -> float:
    """A uniform number in [0, 1) that depends only on (key, step)."""
    return (mix64(key ^ (step * 0xA24BAED4963EE407 & _MASK64)) >> 11) * (1.0 / (1 << 53))


class Generator:
    """Base class: ``bind(key)`` returns the value as a function of epoch milliseconds."""

    kind = ""

    def bind(self, key: int) -> TimeFunction:
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(Generator):
    value: float = 0.0
    kind = "constant"

    def bind(self, key: int) -> TimeFunction:
        value = self.value
        return lambda t: value


@dataclass(frozen=True)
class Sine(Generator):
    """``offset + amplitude * sin(2π t / period + phase)``; the phase comes from the key unless given."""

    offset: float = 0.0
    amplitude: float = 1.0
    period_ms: float = 10_000.0
    phase: float | None = None
    kind = "sine"

    def bind(self, key: int) -> TimeFunction:
        offset, amplitude = self.offset, self.amplitude
        omega = _TWO_PI / self.period_ms
        phase = _TWO_PI * unit_random(key, 0) if self.phase is None else self.phase
        sin = math.sin
        return lambda t: offset + amplitude * sin(omega * t + phase)


@dataclass(frozen=True)
class Ramp(Generator):
    """A sawtooth from ``low`` to ``high`` every ``period_ms`` (aligned to the epoch)."""

    low: float = 0.0
    high: float = 1.0
    period_ms: float = 10_000.0
    kind = "ramp"

    def bind(self, key: int) -> TimeFunction:
        low, span, period = self.low, self.high - self.low, self.period_ms
        return lambda t: low + span * ((t % period) / period)


@dataclass(frozen=True)
class Step(Generator):
    """Cycles through ``values``, holding each for ``period_ms``."""

    values: tuple[float, ...] = (0.0, 1.0)
    period_ms: float = 1_000.0
    kind = "step"

    def bind(self, key: int) -> TimeFunction:
        values, period, count = self.values, self.period_ms, len(self.values)
        return lambda t: values[int(t // period) % count]


@dataclass(frozen=True)
class Noise(Generator):
    """``mean`` plus uniform noise of ``±amplitude``, a new draw every ``period_ms``."""

    mean: float = 0.0
    amplitude: float = 1.0
    period_ms: float = 100.0
    kind = "noise"

    def bind(self, key: int) -> TimeFunction:
        mean, amplitude, period = self.mean, self.amplitude, self.period_ms
        return lambda t: mean + amplitude * (2.0 * unit_random(key, int(t // period)) - 1.0)


@dataclass(frozen=True)
class RandomWalk(Generator):
    """A bounded random walk computed without history (octaves of interpolated value noise).

    Increments of roughly ``step`` every ``step_ms``; the walk is reflected into ``[minimum, maximum]``.
    """

    start: float = 0.0
    step: float = 1.0
    step_ms: float = 1_000.0
    minimum: float = -100.0
    maximum: float = 100.0
    octaves: int = 10
    kind = "random_walk"

    def bind(self, key: int) -> TimeFunction:
        levels = [(self.step_ms * 2**j, self.step * math.sqrt(2**j), key + j) for j in range(self.octaves)]
        start, low, span = self.start, self.minimum, self.maximum - self.minimum

        def walk(t: float) -> float:
            total = start
            for scale, amplitude, level_key in levels:
                position = t / scale
                cell = math.floor(position)
                frac = position - cell
                a = unit_random(level_key, cell)
                b = unit_random(level_key, cell + 1)
                total += amplitude * (2.0 * (a + (b - a) * frac) - 1.0)
            folded = (total - low) % (2.0 * span) if span > 0 else 0.0
            return low + (folded if folded <= span else 2.0 * span - folded)

        return walk


@dataclass(frozen=True)
class FollowSetting(Generator):
    """The reading tracks the setting with a first-order lag of time constant ``tau_ms``."""

    tau_ms: float = 500.0
    kind = "follow_setting"

    def bind(self, key: int) -> TimeFunction:
        raise CatalogueError("follow_setting is evaluated by the device model, not bound to a key")


GENERATOR_KINDS: dict[str, type[Generator]] = {
    cls.kind: cls for cls in (Constant, Sine, Ramp, Step, Noise, RandomWalk, FollowSetting)
}


def generator_from_table(table: Mapping[str, Any], where: str) -> Generator:
    """Build a generator from ``{kind = "...", <parameters>}``; errors name the catalogue location."""
    params = dict(table)
    kind = params.pop("kind", None)
    cls = GENERATOR_KINDS.get(str(kind))
    if cls is None:
        raise CatalogueError(
            f"{where}: unknown generator kind {kind!r} (one of {', '.join(GENERATOR_KINDS)})"
        )
    if "values" in params:
        params["values"] = tuple(float(v) for v in params["values"])
        if not params["values"]:
            raise CatalogueError(f"{where}: step generator needs at least one value")
    try:
        generator = cls(**params)
    except TypeError as exc:
        raise CatalogueError(f"{where}: bad parameters for generator {kind!r}: {exc}") from None
    for name in ("period_ms", "step_ms", "tau_ms"):
        if getattr(generator, name, 1.0) <= 0:
            raise CatalogueError(f"{where}: {name} must be positive")
    return generator
