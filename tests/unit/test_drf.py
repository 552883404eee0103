"""DRF parser: the golden vectors of drf.json plus property-based checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pacsys_rx.drf import (
    ArrayRange,
    ByteRange,
    ClockEvent,
    DataRequest,
    DefaultEvent,
    Event,
    Field,
    ImmediateEvent,
    NeverEvent,
    PeriodicEvent,
    Property,
    StateEvent,
    ensure_immediate,
    parse_request,
    parse_time_freq,
    prepare_for_write,
)
from pacsys_rx.drf.names import ALLOWED_FIELDS, FIELD_ALIASES, PROPERTY_ALIASES, QUALIFIER_PROPERTY
from pacsys_rx.drf.ranges import INT31_MAX
from pacsys_rx.errors import DRFError

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "vectors" / "drf.json").read_text(encoding="utf-8")
)


def cases(section: str) -> list[Any]:
    """One pytest param per vector of ``section``, named after its input."""
    return [pytest.param(vector, id=repr(vector["input"])) for vector in VECTORS[section]]


def range_as_vector(parsed: ArrayRange | ByteRange | None) -> dict[str, Any] | None:
    if parsed is None:
        return None
    if isinstance(parsed, ArrayRange):
        bounds = {"kind": "array", "low": parsed.low, "high": parsed.high}
    else:
        bounds = {"kind": "byte", "offset": parsed.offset, "length": parsed.length}
    return {**bounds, "mode": parsed.mode, "text": parsed.text}


def event_as_vector(event: Event) -> dict[str, Any]:
    if isinstance(event, DefaultEvent):
        return {"type": "default"}
    if isinstance(event, ImmediateEvent):
        return {"type": "immediate", "text": event.text}
    if isinstance(event, NeverEvent):
        return {"type": "never", "text": event.text}
    if isinstance(event, PeriodicEvent):
        return {
            "type": "periodic",
            "text": event.text,
            "continuous": event.continuous,
            "period_ms": event.period_ms,
            "immediate_first": event.immediate_first,
        }
    if isinstance(event, ClockEvent):
        return {
            "type": "clock",
            "text": event.text,
            "event": event.number,
            "event_hex": format(event.number, "X"),
            "clock_type": event.clock_type,
            "delay_ms": event.delay_ms,
        }
    return {
        "type": "state",
        "text": event.text,
        "device": event.device,
        "value": event.value,
        "delay_ms": event.delay_ms,
        "expression": event.op,
    }


def qualified_or_none(request: DataRequest) -> str | None:
    try:
        return request.to_qualified()
    except DRFError:
        return None


@pytest.mark.parametrize("vector", cases("parse"))
def test_parse_vector(vector: dict[str, Any]) -> None:
    request = parse_request(vector["input"])
    assert request.device == vector["device"]
    assert request.is_acnet is vector["is_acnet"]
    assert request.property is Property(vector["property"])
    assert request.property_explicit is vector.get("property_explicit", False)
    assert range_as_vector(request.range) == vector["range"]
    assert request.field == (None if vector["field"] is None else Field(vector["field"]))
    assert request.field_explicit is vector.get("field_explicit", False)
    assert event_as_vector(request.event) == vector["event"]
    assert request.has_event is (vector["event"]["type"] != "default")
    expected_extra = vector["extra"]
    assert (None if request.extra is None else {"name": request.extra.name, "text": request.extra.text}) == (
        expected_extra
    )
    assert request.to_canonical() == vector["canonical"]
    assert qualified_or_none(request) == vector["qualified"]
    expected_epics = vector.get("epics_fields")
    assert request.epics_fields == (None if expected_epics is None else tuple(expected_epics))


@pytest.mark.parametrize("vector", cases("reject"))
def test_reject_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(DRFError) as raised:
        parse_request(vector["input"])
    assert raised.value.error_class == vector["error_class"]
    assert vector["input"] in str(raised.value)
    assert raised.value.text == vector["input"]


@pytest.mark.parametrize("vector", cases("write_conversion"))
def test_write_conversion_vector(vector: dict[str, Any]) -> None:
    if "error_class" in vector:
        with pytest.raises(DRFError) as raised:
            prepare_for_write(vector["input"])
        assert raised.value.error_class == vector["error_class"]
    else:
        assert prepare_for_write(vector["input"]) == vector["output"]


@pytest.mark.parametrize("vector", cases("ensure_immediate"))
def test_ensure_immediate_vector(vector: dict[str, Any]) -> None:
    assert ensure_immediate(vector["input"]) == vector["output"]


@pytest.mark.parametrize("vector", cases("time_freq"))
def test_time_freq_vector(vector: dict[str, Any]) -> None:
    assert parse_time_freq(vector["input"]) == vector["ms"]


@pytest.mark.parametrize("token", ["", "10X", "1.5", "-1", "2147483648", "1S0", "٣"])
def test_time_freq_rejects(token: str) -> None:
    with pytest.raises(DRFError) as raised:
        parse_time_freq(token)
    assert raised.value.error_class == "bad_time_value"
    assert token in str(raised.value)


@pytest.mark.parametrize("token, ms", [("2K", 1), ("16H", 63), ("0K", 0), ("2147483647S", 2147483647000)])
def test_time_freq_rounds_half_up(token: str, ms: int) -> None:
    assert parse_time_freq(token) == ms


@pytest.mark.parametrize(
    "text, error_class",
    [
        ("M:OUTTMP{2147483647:2}", "range_index_overflow"),
        ("M:OUTTMP[1:2147483648]", "range_index_overflow"),
        ("M:OUTTMP[0000000000000000000005]", None),
        ("M:OUTTMP@S,G:AMANDA,99999999999,0,=", "bad_state_event"),
        ("M:OUTTMP@S,G:AMANDA,1,10X,=", "bad_time_value"),
        ("M:OUTTMP@E,0F,H,10X", "bad_time_value"),
        ("M:OUTTMP@I\n", "malformed_acnet_request"),
        ("ABC\nDEF", "unparseable_too_short"),
        ("<-FTP", "unparseable_too_short"),
        ("AB<-FOO", "unknown_extra"),
        ("M:OUTTMP<-", "unknown_extra"),
        ("M:OUTTMP<-\u017frfile", "unknown_extra"),
        ("M:OUTTMP[0:3].SETTING", "unknown_field"),
        ("M:OUTTMP{x}", "malformed_acnet_request"),
        ("M:OUTTMP.é", "malformed_acnet_request"),
        ("M:OUTTMP@\u0131", "unknown_event_type"),
        ("ABC[5:2]", "range_end_before_start"),
    ],
)
def test_edge_cases(text: str, error_class: str | None) -> None:
    if error_class is None:
        parse_request(text)
        return
    with pytest.raises(DRFError) as raised:
        parse_request(text)
    assert raised.value.error_class == error_class
    assert text in str(raised.value)


def test_brace_group_followed_by_text_is_a_non_acnet_name() -> None:
    request = parse_request("M:OUTTMP{abc}x")
    assert not request.is_acnet
    assert request.device == "M:OUTTMP{abc}x"


@pytest.mark.parametrize("value", [None, b"M:OUTTMP", 5, ["M:OUTTMP"]])
def test_non_str_raises_type_error(value: Any) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        parse_request(value)


def test_parse_is_cached() -> None:
    text = "M:OUTTMP.READING[0:3]@p,1000"
    equal_copy = "".join(list(text))
    assert equal_copy is not text
    assert parse_request(equal_copy) is parse_request(text)


def test_equality_ignores_how_the_property_was_spelled() -> None:
    assert parse_request("M:OUTTMP") == parse_request("m:outtmp.READING.SCALED")
    assert hash(parse_request("M:OUTTMP")) == hash(parse_request("M?OUTTMP.read"))
    assert parse_request("M:OUTTMP@p,1000") != parse_request("M:OUTTMP@P,1000")
    assert parse_request("EPICS:PV.VAL") != parse_request("EPICS:PV")


@pytest.mark.parametrize(
    "text, event, expected",
    [
        ("M_OUTTMP[0:3]@p,1", None, "M:OUTTMP.SETTING[0:3]"),
        ("M:OUTTMP", "e,0f,h", "M:OUTTMP.READING@e,0f,h"),
        ("M:OUTTMP@I<-FTP", "u", "M:OUTTMP.READING<-FTP"),
        ("XF:PV.VAL@I", "n", "XF:PV.VAL@N"),
    ],
)
def test_with_event(text: str, event: str | None, expected: str) -> None:
    assert parse_request(text).with_event(event) == expected


def test_with_bad_event_raises() -> None:
    with pytest.raises(DRFError) as raised:
        parse_request("M:OUTTMP").with_event("X,1")
    assert raised.value.error_class == "unknown_event_type"
    assert "X,1" in str(raised.value)


@pytest.mark.parametrize("text", ["M:OUTTMP.BIT_STATUS", "EPICS:PV.VAL"])
def test_to_qualified_rejects(text: str) -> None:
    with pytest.raises(DRFError) as raised:
        parse_request(text).to_qualified()
    assert raised.value.error_class == "not_qualifiable"


def test_enums_and_event_defaults() -> None:
    assert all(member.value == member.name for member in [*Property, *Field])
    assert ImmediateEvent().text == "I"
    assert NeverEvent().text == "N"
    assert DefaultEvent().text == ""
    assert isinstance(parse_request("M:OUTTMP@S,G:A,1,0,*").event, StateEvent)


# Property-based tests -------------------------------------------------------------------------------

NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:-"
PROPERTY_WORDS = sorted(PROPERTY_ALIASES)
FIELD_WORDS_BY_FIELD = {
    field: sorted(word for word, target in FIELD_ALIASES.items() if target is field) for field in Field
}


def mixed_case(draw: st.DrawFn, word: str) -> str:
    return "".join(draw(st.sampled_from([char.upper(), char.lower()])) for char in word)


@st.composite
def range_texts(draw: st.DrawFn) -> str:
    is_array = draw(st.booleans())
    first = draw(st.integers(0, INT31_MAX))
    if is_array:
        second = draw(st.integers(first, INT31_MAX))
    else:
        second = draw(st.integers(0, min(INT31_MAX, INT31_MAX + 1 - first)))
    inside = draw(st.sampled_from(["", ":", f"{first}", f"{first}:", f":{second}", f"{first}:{second}"]))
    return f"[{inside}]" if is_array else f"{{{inside}}}"


@st.composite
def event_texts(draw: st.DrawFn) -> str:
    time = draw(st.sampled_from(["0", "15", "1000", "2S", "500U", "60H", "1K", "1000M"]))
    kind = draw(st.sampled_from("UINPQES"))
    if kind in "UIN":
        return mixed_case(draw, kind)
    if kind in "PQ":
        flag = draw(st.sampled_from(["", ",T", ",FALSE", ",true"]))
        return mixed_case(draw, kind) + draw(st.sampled_from(["", f",{time}", f",{time}{flag}"]))
    if kind == "E":
        number = format(draw(st.integers(0, 0x1FF)), "X")
        clock = draw(st.sampled_from(["", ",H", ",s", f",E,{time}"]))
        return mixed_case(draw, f"E,{number}") + clock
    value = draw(st.integers(0, 65535))
    op = draw(st.sampled_from(["=", "!=", "*", ">", "<", "<=", ">="]))
    return f"{mixed_case(draw, 'S')},G:AMANDA,{value},{time},{op}"


@st.composite
def acnet_requests(draw: st.DrawFn) -> str:
    qualifier = draw(st.sampled_from(sorted(QUALIFIER_PROPERTY)))
    name = draw(st.sampled_from("ABMNZ0#")) + qualifier + draw(st.text(NAME_CHARS, min_size=1, max_size=20))
    property_word = draw(st.none() | st.sampled_from(PROPERTY_WORDS))
    prop = QUALIFIER_PROPERTY[qualifier] if property_word is None else PROPERTY_ALIASES[property_word]
    fields = sorted(ALLOWED_FIELDS[prop])
    field = draw(st.none() | st.sampled_from(fields))
    field_words = [] if field is None else FIELD_WORDS_BY_FIELD[field]
    if property_word is None:
        field_words = [word for word in field_words if word not in PROPERTY_ALIASES]
    field_word = draw(st.sampled_from(field_words)) if field_words else None
    text = name + ("" if property_word is None else "." + mixed_case(draw, property_word))
    text += draw(st.none() | range_texts()) or ""
    text += "" if field_word is None else "." + mixed_case(draw, field_word)
    text += draw(st.one_of(st.just(""), event_texts().map("@{}".format)))
    extra = draw(st.sampled_from(["", "<-FTP", "<-logger:1700000000000:1700000060000", "<-LoggerSingle:1"]))
    return text + extra


@given(acnet_requests())
def test_canonical_form_is_a_fixed_point(text: str) -> None:
    request = parse_request(text)
    canonical = request.to_canonical()
    again = parse_request(canonical)
    assert again == request
    assert again.to_canonical() == canonical
    qualified = qualified_or_none(request)
    if qualified is not None:
        assert parse_request(qualified).to_canonical() == canonical


DRF_ALPHABET = st.sampled_from([*"MZN:_|&@$~^#!?.[]{}<-,0123456789ABEIPQSUaepsx ", "<-", "\n", "é"])


@given(st.text() | st.lists(DRF_ALPHABET, max_size=40).map("".join))
def test_arbitrary_text_only_raises_drf_error(text: str) -> None:
    try:
        request = parse_request(text)
    except DRFError as error:
        assert text in str(error)
        return
    canonical = request.to_canonical()
    assert parse_request(canonical).to_canonical() == canonical


@given(acnet_requests())
def test_cache_returns_the_same_object(text: str) -> None:
    assert parse_request(text) is parse_request(text)
