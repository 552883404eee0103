"""Sans-I/O ACL text (acl.md): commands built from DRF requests, the CGI's query encoding, and the
lines ACL prints, in both directions (the client parses them, the simulator formats them).

ACL *text* is what the command-line interpreter reads (``read M:OUTTMP; read G:AMANDA``). The CGI
carries the same text in ``?acl=`` with blanks written ``+`` and commands separated by ``\\;``;
it decodes only ``+``, ``%20``, ``%27`` and ``%22``, so everything else is sent raw.
"""

from __future__ import annotations

import dataclasses
import math
import re
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from pacsys_rx.drf import ClockEvent, DataRequest, Field, PeriodicEvent, Property, parse_request
from pacsys_rx.errors import ProtocolError
from pacsys_rx.model import AcnetStatus, BasicStatus, Reading, Value, ValueType
from pacsys_rx.model.reading import utc_now
from pacsys_rx.model.status_codes import NAME_ONLY_FACILITIES, NAMED_CODES

BACKEND_NAME = "acl"
CGI_PATH = "/cgi-bin/acl.pl"
CGI_SEPARATOR = "\\;"
DEFAULT_URL = "https://www-bd.fnal.gov/cgi-bin/acl.pl"
URL_ENV = "PACSYS_ACL_URL"

GENERIC_ERROR = AcnetStatus(0, -1)
"""Status of ACL failures without a known status name (facility 0, error -1, as the reference)."""

STATUS_ATTRIBUTES: dict[Field, str] = {
    Field.ON: "on",
    Field.READY: "ready",
    Field.REMOTE: "remote",
    Field.POSITIVE: "positive",
    Field.RAMP: "ramping",
}
"""Basic-status attribute fields, in the order they are read, and the word ACL prints for each."""

_ERROR_CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_CGI_DECODED = re.compile(r"\+|%2[027]")
_CGI_DECODING = {"+": " ", "%20": " ", "%27": "'", "%22": '"'}
_UNSENDABLE = frozenset("#&+%")
_HEX_DIGITS = frozenset(string.hexdigits)
_NAME_WIDTH = 15


# --------------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class ReadCommand:
    """One ACL ``read`` and the request its answer line is parsed against."""

    request: DataRequest
    device: str
    raw: bool = False
    event: str | None = None

    @property
    def verb(self) -> str:
        """``read/pendwait`` for a clock-event read (wait for the event), else ``read``."""
        return "read" if self.event is None else "read/pendwait"

    @property
    def text(self) -> str:
        """The ACL text, e.g. ``read/pendwait M:OUTTMP.READING.RAW/raw/event='e,0f'``."""
        raw = "/raw" if self.raw else ""
        event = "" if self.event is None else f"/event='{self.event}'"
        return f"{self.verb} {self.device}{raw}{event}"


@dataclass(frozen=True, slots=True)
class BasicStatusRead:
    """A basic-status request: one read per attribute (acl.md 4.1), combined into one reading."""

    request: DataRequest
    commands: tuple[ReadCommand, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """A request ACL cannot serve; it becomes an error reading without any traffic."""

    request: DataRequest
    message: str


ReadPlan = ReadCommand | BasicStatusRead | Refused


def plan_read(drf: str) -> ReadPlan:
    """How ACL reads ``drf`` (acl.md 4): one command, five status reads, or a local refusal."""
    request = parse_request(drf)
    if not request.is_acnet:
        return Refused(request, "ACL reads ACNET devices only")
    if request.extra is not None:
        return Refused(request, f"ACL does not support the <-{request.extra.name} data source")
    if isinstance(request.event, PeriodicEvent):
        return Refused(request, "ACL does not support periodic/streaming events")
    if request.property is Property.STATUS and request.field in (None, Field.ALL):
        return BasicStatusRead(request, tuple(
            _read_command(dataclasses.replace(request, range=None, field=field), None)
            for field in STATUS_ATTRIBUTES))
    return _read_command(request, drf)


def _read_command(request: DataRequest, written: str | None) -> ReadCommand:
    """The read of ``request``; a plain READING written with ``:`` and no event is sent as written."""
    event = request.event.text if isinstance(request.event, ClockEvent) else None
    plain = (written is not None and request.property is Property.READING and written[1:2] == ":"
             and "@" not in written)
    device = written if plain and written is not None else request.with_event(None)
    return ReadCommand(request, device, raw=request.field is Field.RAW, event=event)


# ------------------------------------------------------------------------- script syntax


@dataclass(frozen=True, slots=True)
class Word:
    """A word of a command: its text and the ``/qualifiers`` glued to it (``name`` -> value or None)."""

    text: str
    qualifiers: tuple[tuple[str, str | None], ...] = ()

    def qualifier(self, name: str) -> str | None:
        """The unquoted value of qualifier ``name`` ("" when it has none); None when absent."""
        for key, value in self.qualifiers:
            if key == name:
                return "" if value is None else value
        return None

    def keyword(self) -> tuple[str, str] | None:
        """``(name, unquoted value)`` for a ``name=value`` word, else None."""
        name, equals, value = self.text.partition("=")
        return (name.lower(), unquote(value)) if equals and name else None


@dataclass(frozen=True, slots=True)
class Command:
    """One ACL command: the verb (with its qualifiers) and the argument words."""

    verb: Word
    arguments: tuple[Word, ...]


def split_script(script: str) -> list[str]:
    """The commands of a script, split at ``\\;``, ``;`` and line ends outside quotes."""
    commands: list[str] = []
    current: list[str] = []
    quote = ""
    index = 0
    while index < len(script):
        char = script[index]
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in ";\n\r" or script.startswith(CGI_SEPARATOR, index):
            commands.append("".join(current))
            current = []
            index += 2 if char == "\\" else 1
            continue
        current.append(char)
        index += 1
    commands.append("".join(current))
    return [command.strip() for command in commands if command.strip()]


def parse_command(text: str) -> Command:
    """Split one command into its verb and argument words; raises ProtocolError on unbalanced quotes."""
    words = [_parse_word(word) for word in _split_outside_quotes(text.strip(), " \t")]
    if not words:
        raise ProtocolError("empty ACL command")
    return Command(words[0], tuple(words[1:]))


def unquote(value: str) -> str:
    """``value`` without one pair of enclosing single or double quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _parse_word(word: str) -> Word:
    text, *parts = _split_outside_quotes(word, "/", keep_empty=True)
    qualifiers = []
    for part in parts:
        name, equals, value = part.partition("=")
        qualifiers.append((name.lower(), unquote(value) if equals else None))
    return Word(text, tuple(qualifiers))


def _split_outside_quotes(text: str, separators: str, keep_empty: bool = False) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in separators:
            pieces.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote:
        raise ProtocolError(f"unbalanced {quote} in ACL text: {text}")
    pieces.append("".join(current))
    return pieces if keep_empty else [piece for piece in pieces if piece]


# ------------------------------------------------------------------------------ CGI query


def encode_script(commands: Iterable[str]) -> str:
    """The raw value of the CGI's ``acl=`` parameter for these commands (acl.md 2)."""
    return CGI_SEPARATOR.join(encode_command(command) for command in commands)


def encode_command(command: str) -> str:
    """One command as the CGI receives it: blanks as ``+``, ``"`` as ``%22``, all else raw.

    Nothing else is encoded because the CGI decodes nothing else; text it cannot receive
    (``# & + %``, control or non-ASCII characters) raises ValueError.
    """
    bad = sorted({c for c in command if c in _UNSENDABLE or not (c.isascii() and c.isprintable())})
    if bad:
        raise ValueError(f"the ACL CGI cannot receive {''.join(bad)!r} (in {command!r})")
    return command.replace(" ", "+").replace('"', "%22")


def batch_by_length(sizes: Sequence[int], overhead: int, separator: int, limit: int) -> list[list[int]]:
    """Indices of commands of the given ``sizes`` grouped in order into scripts of at most ``limit``
    characters (``overhead`` + sizes + ``separator`` between commands).

    A command too long even alone forms a group of its own; callers refuse it.
    """
    batches: list[list[int]] = []
    length = 0
    for index, size in enumerate(sizes):
        if batches and length + separator + size <= limit:
            batches[-1].append(index)
            length += separator + size
        else:
            batches.append([index])
            length = overhead + size
    return batches


def decode_query(query: str) -> str | None:
    """The script of a raw CGI query string, decoded as the CGI does; None without ``acl=``."""
    for part in query.split("&"):
        if part.startswith("acl="):
            return _CGI_DECODED.sub(lambda match: _CGI_DECODING[match[0]], part[4:])
    return None


# ----------------------------------------------------------------------------- responses


def split_lines(body: str) -> list[str]:
    """The output lines of a script: the body stripped as a whole, then split."""
    return body.strip().splitlines()


def error_message(line: str) -> str | None:
    """The error text of an ACL error line (acl.md 6.2), or None for a value line."""
    stripped = line.strip()
    if stripped.startswith("!"):
        return stripped[1:].strip()
    head, separator, tail = stripped.rpartition(" - ")
    if separator and "=" not in head:
        tokens = tail.split()
        if tokens and _ERROR_CODE.match(tokens[-1]):
            return stripped
    return None


def error_status(line: str) -> AcnetStatus:
    """The status named at the end of an error line; facility 0, error -1 when it is not known."""
    tokens = line.rpartition(" - ")[2].split()
    name = tokens[-1] if tokens else ""
    if name in NAMED_CODES:
        return AcnetStatus.named(name)
    if name in NAME_ONLY_FACILITIES:
        return AcnetStatus(NAME_ONLY_FACILITIES[name], -1)
    return GENERIC_ERROR


def batch_lines(body: str, count: int) -> list[str] | None:
    """The ``count`` value lines of a batch answer, or None when the batch must be read one by one."""
    lines = split_lines(body)
    if len(lines) != count or any(error_message(line) is not None for line in lines):
        return None
    return lines


def value_part(line: str) -> str:
    """The text after the first ``=``, stripped (the whole stripped line without ``=``)."""
    _, equals, value = line.partition("=")
    return value.strip() if equals else line.strip()


def parse_raw(text: str) -> bytes:
    """Raw output (acl.md 5.3): big-endian hex per element -> little-endian bytes, concatenated."""
    data = bytearray()
    tokens = text.split()
    for token in tokens:
        digits = token.lower().removeprefix("0x")
        if not digits or not _HEX_DIGITS.issuperset(digits):
            break
        data += bytes.fromhex(digits.zfill(len(digits) + len(digits) % 2))[::-1]
    if tokens and not data:
        raise ProtocolError(f"No hex data in ACL raw output: {text!r}")
    return bytes(data)


def parse_value(line: str, request: DataRequest) -> tuple[Value, ValueType, str | None]:
    """``(value, value type, units)`` of a value line (acl.md 7); ProtocolError when malformed."""
    text = value_part(line)
    if request.field is Field.RAW:
        return parse_raw(text), ValueType.RAW, None
    if request.property is Property.STATUS and request.field in STATUS_ATTRIBUTES:
        if text not in ("True", "False"):
            raise ProtocolError(f"ACL status attribute is neither True nor False: {line!r}")
        return text == "True", ValueType.SCALAR, None
    if not text:
        return line.strip(), ValueType.TEXT, None
    if request.property is Property.DESCRIPTION:
        return text, ValueType.TEXT, None
    number = _float(text)
    if number is not None:
        return number, ValueType.SCALAR, None
    tokens = text.split()
    numbers = [_float(token) for token in tokens]
    every = [n for n in numbers if n is not None]
    if len(tokens) >= 2 and len(every) == len(tokens):
        return tuple(every), ValueType.SCALAR_ARRAY, None
    leading = [n for n in numbers[:-1] if n is not None]
    if len(tokens) >= 3 and len(leading) == len(tokens) - 1:
        return tuple(leading), ValueType.SCALAR_ARRAY, tokens[-1]
    if len(tokens) == 2 and numbers[0] is not None:
        return numbers[0], ValueType.SCALAR, tokens[1]
    return text, ValueType.TEXT, None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def reading_from_line(drf: str, request: DataRequest, line: str,
                      timestamp: datetime | None = None) -> Reading:
    """The reading of one answer line: a value, or an error reading for an error or malformed line."""
    stamp = timestamp or utc_now()
    if not line.strip():
        return error_reading(drf, request.device, "Empty response from ACL", timestamp=stamp)
    message = error_message(line)
    if message is not None:
        return error_reading(drf, request.device, message, error_status(line), stamp)
    try:
        value, value_type, units = parse_value(line, request)
    except ProtocolError as error:
        return error_reading(drf, request.device, str(error), timestamp=stamp)
    return Reading(drf, request.device, value, value_type, units, stamp, backend=BACKEND_NAME)


def basic_status_reading(drf: str, plan: BasicStatusRead, answers: Iterator[str],
                         timestamp: datetime | None = None) -> Reading:
    """Combine the answers to ``plan.commands`` (pulled one at a time) into one basic-status reading.

    ``DIO_NOATT`` leaves the attribute out; any other error ends the read at once with that error.
    """
    bits: dict[str, bool] = {}
    for command in plan.commands:
        line = split_lines(next(answers))[:1] or [""]
        reading = reading_from_line(drf, command.request, line[0], timestamp)
        if reading.ok and isinstance(reading.value, bool):
            bits[_status_key(command)] = reading.value
        elif reading.status != AcnetStatus.named("DIO_NOATT"):
            return reading
    return Reading(drf, plan.request.device, BasicStatus(**bits), ValueType.BASIC_STATUS, None,
                   timestamp or utc_now(), backend=BACKEND_NAME)


def _status_key(command: ReadCommand) -> str:
    field = command.request.field
    return "" if field is None else field.value.lower()


def error_reading(drf: str, device: str, message: str, status: AcnetStatus = GENERIC_ERROR,
                  timestamp: datetime | None = None) -> Reading:
    """An ACL error reading with ``message`` (facility 0, error -1 unless a status is named)."""
    return Reading.error(drf, device, status, BACKEND_NAME, message, timestamp)


# ---------------------------------------------------------------------------- formatting


def format_number(number: float) -> str:
    """A number as ACL prints it: integral values without a fraction, others in shortest form."""
    if math.isfinite(number) and number == int(number) and abs(number) < 1e15:
        return str(int(number))
    return repr(float(number))


def format_line(label: str, text: str, padded: bool = True) -> str:
    """``M:OUTTMP       =  72.5 DegF`` (padded: ``=`` is the 16th character) or ``label = text``."""
    return f"{label:<{_NAME_WIDTH}}= {text}" if padded else f"{label} = {text}"


def number_text(numbers: Sequence[float], units: str | None, sign_blank: bool = True) -> str:
    """Value text of a scalar or an array: a blank before a non-negative first number (the sign
    position) when ``sign_blank``, elements two blanks apart, then the units."""
    first = " " if sign_blank and numbers and numbers[0] >= 0 else ""
    suffix = f" {units}" if units else ""
    return first + "  ".join(format_number(n) for n in numbers) + suffix


def raw_text(elements: Sequence[bytes]) -> str:
    """Raw value text: each little-endian element printed as one upper-case big-endian hex number."""
    return " ".join(element[::-1].hex().upper() for element in elements)


def status_label(device: str, field: Field) -> str:
    """``N:LGXS is ramping``: the left part of a status-attribute line."""
    return f"{device} is {STATUS_ATTRIBUTES[field]}"


def alarm_label(device: str, field: Field) -> str:
    """``Z:ACLTST alarm maximum``: the left part of an alarm-field line."""
    words = {Field.MAX: "maximum", Field.MIN: "minimum"}
    return f"{device} alarm {words.get(field, field.value.lower().replace('_', ' '))}"


def format_error_line(message: str, command: str, line: int, status_name: str,
                      device: str | None = None) -> str:
    """``<message> in <command> command at line <n> - [<device> ]<STATUS_NAME>``."""
    subject = "" if device is None else f"{device} "
    return f"{message} in {command} command at line {line} - {subject}{status_name}"
