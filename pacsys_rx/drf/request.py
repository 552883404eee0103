"""Parsing DRF request strings into :class:`DataRequest` and printing them back (drf.md §1-§10)."""

from __future__ import annotations

import builtins
import dataclasses
import functools
import re
from dataclasses import dataclass

from pacsys_rx.drf.events import (
    DEFAULT_EVENT,
    IMMEDIATE_EVENT,
    NEVER_EVENT,
    DefaultEvent,
    Event,
    parse_event,
)
from pacsys_rx.drf.names import (
    ALLOWED_FIELDS,
    DEFAULT_FIELD,
    EXTRA_NAMES,
    FIELD_ALIASES,
    HISTORICAL_EXTRAS,
    PROPERTY_ALIASES,
    PROPERTY_QUALIFIER,
    QUALIFIER_PROPERTY,
    WRITE_PROPERTY,
    Field,
    Property,
)
from pacsys_rx.drf.ranges import ArrayRange, ByteRange, parse_range
from pacsys_rx.errors import DRFError

_ACNET_NAME = r"[A-Za-z0#][:?_|&@$~^#!][A-Za-z0-9_:-]{1,62}"
_REQUEST_TAIL = r"(?:\.(\w+))?(\[[0-9:]*\]|\{[0-9:]*\})?(?:\.(\w+))?(?:@(.+))?"
_ACNET_REQUEST = re.compile(f"({_ACNET_NAME}){_REQUEST_TAIL}", re.ASCII)
_ACNET_NEAR_MISS = re.compile(_ACNET_NAME + r"(?:[.\[@]|\{[^{}]*\}(?:[.@]|\Z))", re.ASCII)
_OTHER_REQUEST = re.compile(f"(.{{3,}}?){_REQUEST_TAIL}", re.ASCII)
_EXTRA_NAME_END = re.compile(r"[:\[]")

CACHE_SIZE = 65536
"""How many parsed requests :func:`parse_request` keeps."""


@dataclass(frozen=True, slots=True)
class Extra:
    """A data source after ``<-``: ``name`` is its upper-case keyword, ``text`` is verbatim."""

    name: str
    text: str


@dataclass(frozen=True, slots=True)
class DataRequest:
    """One parsed DRF request.

    Non-ACNET (EPICS) requests keep their device verbatim and their two dot-suffix words in
    ``epics_fields``; they report READING/SCALED, which is never printed.
    """

    device: str
    property: Property
    range: ArrayRange | ByteRange | None
    field: Field | None
    event: Event
    extra: Extra | None
    is_acnet: bool = True
    property_explicit: bool = dataclasses.field(default=False, compare=False)
    field_explicit: bool = dataclasses.field(default=False, compare=False)
    epics_fields: tuple[str | None, str | None] | None = None

    @builtins.property  # the field named "property" hides the builtin inside this class body
    def has_event(self) -> bool:
        """True unless the event is the default one."""
        return not isinstance(self.event, DefaultEvent)

    def to_canonical(self) -> str:
        """Canonical DRF (drf.md §9), e.g. ``M:OUTTMP.READING[0:3].RAW@p,1000``."""
        range_text = "" if self.range is None else self.range.text
        if self.is_acnet:
            return f"{self.device}.{self.property.value}{range_text}{self._field_suffix()}{self._tail()}"
        word1, word2 = self.epics_fields or (None, None)
        return (
            f"{self.device}{'' if word1 is None else '.' + word1}{range_text}"
            f"{'' if word2 is None else '.' + word2}{self._tail()}"
        )

    def to_qualified(self) -> str:
        """Qualified DRF (drf.md §3.3): the property in the device's second character, e.g. ``M_OUTTMP``."""
        qualifier = PROPERTY_QUALIFIER.get(self.property) if self.is_acnet else None
        if qualifier is None:
            text = self.to_canonical()
            raise DRFError(
                f"Invalid DRF '{text}': cannot be written in qualified form",
                text=text,
                error_class="not_qualifiable",
            )
        range_text = "" if self.range is None else self.range.text
        return f"{self.device[0]}{qualifier}{self.device[2:]}{range_text}{self._field_suffix()}{self._tail()}"

    def with_event(self, event_text: str | None) -> str:
        """Canonical DRF with the event replaced by ``event_text`` (None: the default event)."""
        event = DEFAULT_EVENT if event_text is None else parse_event(event_text)
        return dataclasses.replace(self, event=event).to_canonical()

    def _field_suffix(self) -> str:
        if self.field is None or self.field is DEFAULT_FIELD[self.property]:
            return ""
        return "." + self.field.value

    def _tail(self) -> str:
        event = "@" + self.event.text if self.has_event else ""
        return event if self.extra is None else f"{event}<-{self.extra.text}"


def _reject(detail: str, error_class: str) -> DRFError:
    return DRFError(detail, error_class=error_class)


def _parse_extra(text: str) -> Extra:
    keyword = _EXTRA_NAME_END.split(text, 1)[0]
    name = keyword.upper()
    if not keyword.isascii() or name not in EXTRA_NAMES:
        raise _reject(f"unknown extra {keyword!r}", "unknown_extra")
    return Extra(name, text)


def _resolve_field(prop: Property, word: str | None) -> Field | None:
    if word is None:
        return DEFAULT_FIELD[prop]
    field = FIELD_ALIASES.get(word.upper())
    if field is None:
        raise _reject(f"unknown field {word!r}", "unknown_field")
    if field not in ALLOWED_FIELDS[prop]:
        raise _reject(f"field {word!r} not allowed for {prop.value}", "field_not_allowed_for_property")
    return field


def _parse_acnet(match: re.Match[str], extra: Extra | None) -> DataRequest:
    name, word1, range_text, word2, event_text = match.groups()
    prop = PROPERTY_ALIASES.get(word1.upper()) if word1 is not None else None
    property_explicit = prop is not None
    if prop is None:
        if word1 is not None and word2 is not None:
            raise _reject(
                f"{word1!r} is not a property, ambiguous with field {word2!r}", "unknown_property_with_field"
            )
        prop = QUALIFIER_PROPERTY[name[1]]
        field_word = word1 if word1 is not None else word2
    else:
        field_word = word2
    range_ = None if range_text is None else parse_range(range_text)
    return DataRequest(
        device=f"{name[0].upper()}:{name[2:].upper()}",
        property=prop,
        range=range_,
        field=_resolve_field(prop, field_word),
        event=DEFAULT_EVENT if event_text is None else parse_event(event_text),
        extra=extra,
        property_explicit=property_explicit,
        field_explicit=field_word is not None,
    )


def _parse_other(body: str, extra: Extra | None) -> DataRequest:
    # "." stops at a line feed, so such a body never matches; refusing it first avoids quadratic backtracking.
    match = None if "\n" in body else _OTHER_REQUEST.fullmatch(body)
    if match is None:
        raise _reject("not a valid DRF device", "unparseable_too_short")
    device, word1, range_text, word2, event_text = match.groups()
    range_ = None if range_text is None else parse_range(range_text)
    return DataRequest(
        device=device,
        property=Property.READING,
        range=range_,
        field=Field.SCALED,
        event=DEFAULT_EVENT if event_text is None else parse_event(event_text),
        extra=extra,
        is_acnet=False,
        epics_fields=(word1, word2),
    )


def _parse(text: str) -> DataRequest:
    body, separator, extra_text = text.partition("<-")
    extra = None
    if separator:
        if "<-" in extra_text:
            raise _reject("more than one '<-'", "multiple_extra_separators")
        extra = _parse_extra(extra_text)
    match = _ACNET_REQUEST.fullmatch(body)
    if match is not None:
        return _parse_acnet(match, extra)
    if _ACNET_NEAR_MISS.match(body):
        raise _reject("malformed ACNET request", "malformed_acnet_request")
    return _parse_other(body, extra)


def _parse_uncached(text: str) -> DataRequest:
    """Parse without the cache; rejections name the whole input."""
    try:
        return _parse(text)
    except DRFError as error:
        raise DRFError(f"Invalid DRF '{text}': {error}", text=text, error_class=error.error_class) from None


_parse_cached = functools.lru_cache(maxsize=CACHE_SIZE)(_parse_uncached)


def parse_request(text: str) -> DataRequest:
    """Parse a DRF string; the same string gives the same (cached) object.

    Raises DRFError (``error_class`` names the broken rule) or TypeError when ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"DRF request must be a str, not {type(text).__name__}")
    return _parse_cached(text)


def prepare_for_write(text: str) -> str:
    """DRF actually written for ``text`` (drf.md §10): READING→SETTING, STATUS→CONTROL, event ``N``."""
    request = parse_request(text)
    if request.is_acnet:
        target = WRITE_PROPERTY.get(request.property, request.property)
        field = request.field
        if target is not request.property and field not in ALLOWED_FIELDS[target]:
            field = DEFAULT_FIELD[target]
        request = dataclasses.replace(request, property=target, field=field)
    return dataclasses.replace(request, event=NEVER_EVENT).to_canonical()


def ensure_immediate(text: str) -> str:
    """DRF for a one-shot read (drf.md §9.1): add ``@I`` unless an event or historical extra is given."""
    request = parse_request(text)
    if request.has_event or (request.extra is not None and request.extra.name in HISTORICAL_EXTRAS):
        return text
    return dataclasses.replace(request, event=IMMEDIATE_EVENT).to_canonical()
