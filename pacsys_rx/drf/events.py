"""DRF events: when data is sent (drf.md §6)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from pacsys_rx.drf.ranges import parse_bounded
from pacsys_rx.errors import DRFError

_FLAGS = re.IGNORECASE | re.ASCII
_TIME = re.compile(r"(\d+)([SMUHK])?", _FLAGS)
_PERIODIC = re.compile(r"([PQ])(?:,(\w+)(?:,(F|FALSE|T|TRUE))?)?", _FLAGS)
_CLOCK = re.compile(r"E,([0-9A-F]+)(?:,([HSE])(?:,(\w+))?)?", _FLAGS)
_STATE = re.compile(r"S,(\S+),(\d+),(\w+),(=|!=|\*|>|<|<=|>=)", _FLAGS)

DEFAULT_PERIOD_MS = 1000
"""Period of ``@P``/``@Q`` when no time is written."""


@dataclass(frozen=True, slots=True)
class DefaultEvent:
    """No event written (or ``@U``): the server picks the device's default."""

    @property
    def text(self) -> str:
        """Always empty: the default event is never printed."""
        return ""


@dataclass(frozen=True, slots=True)
class ImmediateEvent:
    """``@I``: one reading now."""

    text: str = "I"


@dataclass(frozen=True, slots=True)
class NeverEvent:
    """``@N``: no data is ever returned (used for writes)."""

    text: str = "N"


@dataclass(frozen=True, slots=True)
class PeriodicEvent:
    """``@P[,time[,bool]]`` (continuous) or ``@Q[,time[,bool]]`` (non-continuous)."""

    text: str
    continuous: bool
    period_ms: int
    immediate_first: bool


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """``@E,hex[,type[,delay]]``: a TCLK clock event; ``clock_type`` is "either" or H/S/E as written."""

    text: str
    number: int
    clock_type: str
    delay_ms: int


@dataclass(frozen=True, slots=True)
class StateEvent:
    """``@S,device,value,delay,op``: a state-device transition."""

    text: str
    device: str
    value: int
    delay_ms: int
    op: str


Event: TypeAlias = DefaultEvent | ImmediateEvent | NeverEvent | PeriodicEvent | ClockEvent | StateEvent

DEFAULT_EVENT = DefaultEvent()
IMMEDIATE_EVENT = ImmediateEvent()
NEVER_EVENT = NeverEvent()

_SINGLE_LETTER_EVENTS: dict[str, Event] = {
    "U": DEFAULT_EVENT,
    "u": DEFAULT_EVENT,
    "I": IMMEDIATE_EVENT,
    "i": IMMEDIATE_EVENT,
    "N": NEVER_EVENT,
    "n": NEVER_EVENT,
}


def _round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def parse_time_freq(token: str) -> int:
    """Milliseconds of a time-frequency value: ``500``, ``1000M``, ``2S``, ``500U``, ``60H``, ``1K``."""
    if not isinstance(token, str):
        raise TypeError(f"token must be a str, not {type(token).__name__}")
    match = _TIME.fullmatch(token)
    value = None if match is None else parse_bounded(match[1])
    if match is None or value is None:
        raise DRFError(f"bad time-freq value: {token}", text=token, error_class="bad_time_value")
    unit = (match[2] or "M").upper()
    if unit == "M":
        return value
    if unit == "S":
        return value * 1000
    if value == 0:
        return 0
    if unit == "U":
        return _round_half_up(value, 1000)
    if unit == "H":
        return _round_half_up(1000, value)
    return _round_half_up(1, value)


def _invalid(text: str, what: str, error_class: str) -> DRFError:
    return DRFError(f"{what}: {text}", text=text, error_class=error_class)


def _parse_periodic(text: str) -> PeriodicEvent:
    match = _PERIODIC.fullmatch(text)
    if match is None:
        raise _invalid(text, "bad periodic event", "bad_periodic_event")
    letter, period, immediate = match.groups()
    return PeriodicEvent(
        text,
        continuous=letter in "Pp",
        period_ms=DEFAULT_PERIOD_MS if period is None else parse_time_freq(period),
        immediate_first=immediate is None or immediate[0] in "Tt",
    )


def _parse_clock(text: str) -> ClockEvent:
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise _invalid(text, "bad clock event", "bad_clock_event")
    number, clock_type, delay = match.groups()
    return ClockEvent(
        text,
        number=int(number, 16),
        clock_type=clock_type or "either",
        delay_ms=0 if delay is None else parse_time_freq(delay),
    )


def _parse_state(text: str) -> StateEvent:
    match = _STATE.fullmatch(text)
    value = None if match is None else parse_bounded(match[2])
    if match is None or value is None:
        raise _invalid(text, "bad state event", "bad_state_event")
    return StateEvent(text, device=match[1], value=value, delay_ms=parse_time_freq(match[3]), op=match[4])


def _reject_never(text: str) -> Event:
    raise _invalid(text, "bad never event", "bad_never_event")


_PARSERS_BY_LETTER: dict[str, Callable[[str], Event]] = {
    letter: parser
    for letters, parser in (
        ("Pp", _parse_periodic),
        ("Qq", _parse_periodic),
        ("Ee", _parse_clock),
        ("Ss", _parse_state),
        ("Nn", _reject_never),
    )
    for letter in letters
}


def parse_event(text: str) -> Event:
    """Parse the event text written after ``@``."""
    single = _SINGLE_LETTER_EVENTS.get(text)
    if single is not None:
        return single
    parser = _PARSERS_BY_LETTER.get(text[:1])
    if parser is None:
        raise _invalid(text, "unknown event type", "unknown_event_type")
    return parser(text)
