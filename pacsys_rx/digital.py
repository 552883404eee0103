"""Digital status and control by name, from DevDB's status-bit and control-command definitions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pacsys_rx.model import Reading


class BitDefinition(Protocol):
    """What decoding needs of a DevDB status bit (``StatusBitDef``)."""

    @property
    def mask(self) -> int: ...
    @property
    def match(self) -> int: ...
    @property
    def invert(self) -> bool: ...
    @property
    def short_name(self) -> str: ...
    @property
    def long_name(self) -> str: ...
    @property
    def true_str(self) -> str: ...
    @property
    def false_str(self) -> str: ...


class CommandDefinition(Protocol):
    """What control by name needs of a DevDB control command (``ControlCommandDef``)."""

    @property
    def short_name(self) -> str: ...
    @property
    def long_name(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StatusBit:
    """One status attribute of a word: its DevDB names, whether it is active and the text for that."""

    name: str
    long_name: str
    active: bool
    text: str


@dataclass(frozen=True, slots=True)
class DigitalStatus:
    """A status word decoded with DevDB's bit definitions; ``status["ON"]`` or ``status["OnOff"]``."""

    device: str
    word: int
    bits: tuple[StatusBit, ...]
    timestamp: datetime

    def __getitem__(self, name: str) -> bool:
        return self.bit(name).active

    def __iter__(self) -> Iterator[StatusBit]:
        return iter(self.bits)

    def bit(self, name: str) -> StatusBit:
        """The bit with this short or long name (case-insensitive); KeyError for others."""
        wanted = name.upper()
        for bit in self.bits:
            if wanted in (bit.name.upper(), bit.long_name.upper()):
                return bit
        raise KeyError(f"{self.device} has no status bit named {name!r}")

    @property
    def text(self) -> str:
        """Every bit's text, like the STATUS.TEXT field: ``"Off Ready Negative DC"``."""
        return " ".join(bit.text for bit in self.bits)


def bit_is_active(word: int, definition: BitDefinition) -> bool:
    """DevDB's rule: active when ``((~word if invert else word) & mask) == match``."""
    value = ~word if definition.invert else word
    return (value & definition.mask) == definition.match


def status_word(value: object) -> int:
    """The status word of a reading's value: a number (``STATUS.BIT_VALUE``) or little-endian bytes
    (``STATUS.RAW``); TypeError for anything else."""
    if isinstance(value, (bytes, bytearray)):
        return int.from_bytes(value, "little")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise TypeError(f"a status word is a whole number or raw bytes, got {value!r}")


def decode_status(reading: Reading, definitions: Sequence[BitDefinition]) -> DigitalStatus:
    """The reading's status word as a :class:`DigitalStatus` (bits in DevDB's order)."""
    word = status_word(reading.value)
    bits = []
    for definition in definitions:
        active = bit_is_active(word, definition)
        bits.append(StatusBit(definition.short_name, definition.long_name, active,
                              definition.true_str if active else definition.false_str))
    return DigitalStatus(reading.device, word, tuple(bits), reading.timestamp)


BASIC_CONTROL_EFFECTS: Mapping[str, tuple[str, bool]] = {
    "RESET": ("ready", True),
    "ON": ("on", True),
    "OFF": ("on", False),
    "POSITIVE": ("positive", True),
    "NEGATIVE": ("positive", False),
    "RAMP": ("ramp", True),
    "DC": ("ramp", False),
    "LOCAL": ("remote", False),
    "REMOTE": ("remote", True),
    "TRIP": ("ready", False),
}
"""The basic-status attribute each basic-control command sets, and to what (other commands: none)."""

BASIC_CONTROL = tuple(BASIC_CONTROL_EFFECTS)
"""The ordinals of the basic-control enum (0 RESET, 1 ON, ...): the table of a device without its own."""


def check_command(command: object) -> None:
    """TypeError unless ``command`` is a name (str) or an ordinal (int)."""
    if isinstance(command, bool) or not isinstance(command, (str, int)):
        raise TypeError(f"a control command is a name or an ordinal, got {command!r}")


def command_ordinal(command: str | int, commands: Sequence[str | CommandDefinition]) -> int:
    """The position of ``command`` (short or long name, case-insensitive) in a control table; an int is
    the ordinal itself (checked against the table unless it is empty). ValueError names the table's
    commands when it has no such command."""
    check_command(command)
    if isinstance(command, int):
        if commands and not 0 <= command < len(commands):
            raise ValueError(f"control ordinal {command} outside the table of {len(commands)} commands")
        return command
    wanted = command.upper()
    names = [_names(entry) for entry in commands]
    for ordinal, aliases in enumerate(names):
        if wanted in aliases:
            return ordinal
    known = ", ".join(aliases[0] for aliases in names)
    raise ValueError(f"no control command {command!r}; the table has {known or 'none'}")


def command_name(command: str | int, commands: Sequence[str | CommandDefinition]) -> str | None:
    """The short name of a command given by name or ordinal (None when the table does not name it)."""
    ordinal = command_ordinal(command, commands)
    return _names(commands[ordinal])[0] if ordinal < len(commands) else None


def expected_status(command: str | None) -> dict[str, bool] | None:
    """The basic-status attributes a command should leave behind (``{"on": True}`` for ON), or None."""
    effect = BASIC_CONTROL_EFFECTS.get((command or "").upper())
    return None if effect is None else {effect[0]: effect[1]}


def _names(entry: str | CommandDefinition) -> tuple[str, ...]:
    if isinstance(entry, str):
        return (entry.upper(),)
    return entry.short_name.upper(), entry.long_name.upper()


@dataclass(frozen=True, slots=True)
class BitChange:
    """A status bit of ``device`` became ``active`` at ``timestamp``; ``previous`` is None for the first
    status seen of the device (its initial state)."""

    device: str
    name: str
    long_name: str
    active: bool
    text: str
    previous: bool | None
    timestamp: datetime
