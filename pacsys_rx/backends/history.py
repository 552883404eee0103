"""Logger (history) requests: building ``<-LOGGER`` DRFs, times, and one Reading per logged sample.

``Backend.history`` sends one logger DRF as a one-shot read (every chunk merged by the backend into
one timed array, dpm-grpc.md §5.4 / dpm-http.md §5.6) and turns the merged answer back into one
``Reading`` per sample, in time order.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Union

from pacsys_rx.drf import parse_request
from pacsys_rx.drf.names import HISTORICAL_EXTRAS
from pacsys_rx.model import Reading, TimedArray, ValueType

HISTORY_TIMEOUT = 60.0
"""Default seconds a history request may take (a day of 1 Hz data is 86,400 samples)."""
CHUNKED_EXTRAS = frozenset({"LOGGER", "LOGGERDURATION"})
"""Logger extras answered in chunks ended by an empty reply (``LOGGERSINGLE`` is answered once)."""

TimeSpec = Union[datetime, timedelta, float, int, str]
"""A point in time: an aware ``datetime`` (naive ones are UTC), Unix seconds, a ``timedelta`` relative
to now, or text: ISO-8601, ``now``, or relative such as ``-1h``, ``-30m``, ``-2d``, ``-90s``, ``-1w``."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_RELATIVE = re.compile(r"^\s*([+-])\s*(\d+(?:\.\d*)?)\s*(ms|s|m|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def is_chunked(drf: str) -> bool:
    """True when ``drf`` asks for a chunked logger answer (``<-LOGGER`` or ``<-LOGGERDURATION``)."""
    extra = parse_request(drf).extra
    return extra is not None and extra.name in CHUNKED_EXTRAS


def to_datetime(when: TimeSpec, now: datetime | None = None) -> datetime:
    """``when`` as an aware UTC datetime (see :data:`TimeSpec`); ValueError for text it cannot read."""
    now = now or datetime.now(timezone.utc)
    if isinstance(when, datetime):
        return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    if isinstance(when, timedelta):
        return now + when
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return _EPOCH + timedelta(seconds=when)
    if not isinstance(when, str):
        raise TypeError(f"a time must be a datetime, timedelta, number or str, got {type(when).__name__}")
    if when.strip().lower() == "now":
        return now
    relative = _RELATIVE.match(when)
    if relative:
        sign, amount, unit = relative.groups()
        seconds = float(amount) * _UNITS[unit.lower()]
        return now + timedelta(seconds=-seconds if sign == "-" else seconds)
    try:
        parsed = datetime.fromisoformat(when.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read {when!r} as a time (ISO-8601, 'now' or relative like -1h)") from None
    return to_datetime(parsed)


def epoch_ms(when: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime."""
    return (when - _EPOCH) // timedelta(milliseconds=1)


def logger_drf(drf: str, start: TimeSpec | None = None, end: TimeSpec | None = None, *,
               duration: timedelta | float | None = None, node: str | None = None) -> str:
    """The logger DRF for ``drf``: ``<-LOGGER:start:end`` for a window, ``<-LOGGERDURATION:ms`` for a
    ``duration`` (a timedelta or seconds) up to now, or ``drf`` itself when it already names a logger
    extra. ``node`` selects a logger node. Raises DRFError/ValueError for bad input."""
    request = parse_request(drf)
    if request.extra is not None:
        if request.extra.name not in HISTORICAL_EXTRAS:
            raise ValueError(f"{drf!r} reads from <-{request.extra.name}, not from a data logger")
        if start is not None or end is not None or duration is not None or node is not None:
            raise ValueError(f"{drf!r} already names its logger window; pass no start, end, duration or node")
        return drf
    suffix = "" if node is None else f":{node}"
    if duration is not None:
        if start is not None or end is not None:
            raise ValueError("give either a duration or start and end, not both")
        seconds = duration.total_seconds() if isinstance(duration, timedelta) else float(duration)
        if not seconds >= 0:
            raise ValueError(f"duration must not be negative, got {duration!r}")
        return f"{drf}<-LOGGERDURATION:{round(seconds * 1000)}{suffix}"
    if start is None or end is None:
        raise ValueError("history needs start and end (or a duration, or a DRF with a logger extra)")
    now = datetime.now(timezone.utc)
    first, last = epoch_ms(to_datetime(start, now)), epoch_ms(to_datetime(end, now))
    if last < first:
        raise ValueError(f"the window ends before it starts ({start!r} .. {end!r})")
    return f"{drf}<-LOGGER:{first}:{last}{suffix}"


def history_samples(reading: Reading) -> list[Reading]:
    """One Reading per logged sample of a merged logger answer, in time order; any other reading
    (an error, a LOGGERSINGLE answer) is returned as it is."""
    value = reading.value
    if not isinstance(value, TimedArray):
        return [reading]
    samples = []
    for item, micros in sorted(zip(value.data, value.micros, strict=True), key=lambda pair: pair[1]):
        array = isinstance(item, tuple)
        samples.append(Reading(
            reading.drf, reading.device, item, ValueType.SCALAR_ARRAY if array else ValueType.SCALAR,
            reading.units, _EPOCH + timedelta(microseconds=micros) if micros else reading.timestamp, None,
            reading.status, reading.backend, reading.meta, reading.message))
    return samples
