"""Events produced by the health, statistics and alarm operators."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pacsys_rx.model import Reading


@dataclass(frozen=True, slots=True)
class Stale:
    """``device`` has sent nothing since ``since`` (scheduler time); ``last`` is its last reading, if any."""

    device: str
    since: datetime
    last: Reading | None


@dataclass(frozen=True, slots=True)
class Recovered:
    """``device`` sent a reading again after being stale; ``gap`` is the silence it ended."""

    device: str
    gap: timedelta


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Statistics of one tumbling window of a device; ``start``/``end``: its first and last reading times."""

    device: str
    n: int
    mean: float
    std: float
    min: float
    max: float
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class AlignedGroup:
    """The readings (one per device, the closest in time) that belong to the clock event at ``event_time``."""

    event_time: datetime
    readings: dict[str, Reading]


class AlarmState(str, enum.Enum):
    """Where an alarm stands: OK, in ALARM, LATCHED after clearing, ACKNOWLEDGED, DISABLED, or
    DISCONNECTED (the stream's connection was lost: nothing is known about the device)."""

    OK = "ok"
    ALARM = "alarm"
    LATCHED = "latched"
    ACKNOWLEDGED = "acknowledged"
    DISABLED = "disabled"
    DISCONNECTED = "disconnected"


class Severity(enum.IntEnum):
    """Ordered: a larger value is more severe; INVALID means the value could not be judged."""

    NONE = 0
    MINOR = 1
    MAJOR = 2
    INVALID = 3


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """A device entered ``state`` at ``since``; ``value`` is the value that caused it (None if unknown)."""

    device: str
    state: AlarmState
    severity: Severity
    value: Any
    since: datetime
    reason: str

    def same_state(self, other: AlarmEvent | None) -> bool:
        """True when ``other`` has the same state and severity (so emitting self would not be an edge)."""
        return other is not None and other.state is self.state and other.severity is self.severity
