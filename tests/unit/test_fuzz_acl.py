"""Fuzzing the ACL text codec: answer lines, scripts, commands, CGI queries and raw hex.

Answer lines become readings (error readings for anything malformed) and never raise; command
parsing raises only ProtocolError. ``benchmarks/fuzz.py`` runs ``TARGETS`` for longer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacsys_rx.drf import Field, parse_request
from pacsys_rx.errors import ProtocolError
from pacsys_rx.model import Reading
from pacsys_rx.protocols import acl

FUZZ = settings(max_examples=150, deadline=timedelta(seconds=1), suppress_health_check=[HealthCheck.too_slow])
STAMP = datetime(2025, 1, 1, tzinfo=timezone.utc)
DRFS = ["M:OUTTMP", "M:OUTTMP.RAW", "Z:ACLTST[0:3]", "M:OUTTMP.DESCRIPTION", "N:LGXS.STATUS.ON",
        "Z:ACLTST.ANALOG.MAX", "G:AMANDA.UNITS", "N:LGXS.STATUS"]
VALID_LINES = [
    acl.format_line("M:OUTTMP", acl.number_text([72.5], "DegF")),
    acl.format_line("Z:ACLTST", acl.number_text([1.0, -2.5, 3e-9], "mm")),
    acl.format_line("M:OUTTMP", acl.raw_text([b"\x01\x02", b"\xff\x00"])),
    acl.format_line(acl.status_label("N:LGXS", Field.ON), "True"),
    acl.format_line(acl.alarm_label("Z:ACLTST", Field.MAX), "10"),
    acl.format_error_line("Invalid device name", "read", 1, "DBM_NOPROP", "Z:NOSUCH"),
    "! Invalid device name (Z:NOSUCH) in read command - DIO_NOATT",
    "M:OUTTMP = Outdoor temperature",
]
LINE_ALPHABET = st.sampled_from(
    [*"M:OUTTMP =-+.!'\"/;\\0123456789eE xXabcdefABCDEF_\t", " - ", "\n", "é", "\x00"])


@st.composite
def mutated_lines(draw: st.DrawFn) -> str:
    """A well-formed answer line with characters inserted, deleted or replaced."""
    chars = list(draw(st.sampled_from(VALID_LINES)))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(chars)))
        operation = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        if operation == "insert":
            chars[position:position] = draw(st.lists(LINE_ALPHABET, min_size=1, max_size=6))
        elif operation == "delete":
            del chars[position : position + draw(st.integers(1, 8))]
        elif operation == "replace" and position < len(chars):
            chars[position] = draw(LINE_ALPHABET)
        else:
            chars[position:position] = chars[position : position + draw(st.integers(1, 12))]
    return "".join(chars)


LINES = st.one_of(mutated_lines(), st.text(max_size=80), st.lists(LINE_ALPHABET, max_size=60).map("".join))


def check_answer_line(case: tuple[str, str]) -> None:
    """Any answer line gives one reading of the request, never an exception."""
    drf, line = case
    request = parse_request(drf)
    assert isinstance(acl.reading_from_line(drf, request, line, STAMP), Reading)
    acl.error_status(line)
    acl.batch_lines(line, 1)


def check_basic_status(answers: list[str]) -> None:
    """Five attribute answers of any text combine into one reading."""
    plan = acl.plan_read("N:LGXS.STATUS")
    assert isinstance(plan, acl.BasicStatusRead)
    reading = acl.basic_status_reading("N:LGXS.STATUS", plan, iter(answers), STAMP)
    assert isinstance(reading, Reading)


def check_script(text: str) -> None:
    """Splitting never fails; each command parses or raises ProtocolError; queries decode."""
    for command in acl.split_script(text):
        try:
            parsed = acl.parse_command(command)
        except ProtocolError:
            continue
        for word in (parsed.verb, *parsed.arguments):
            word.keyword()
            word.qualifier("event")
    acl.decode_query(text)
    acl.decode_query("acl=" + text)


def check_raw(text: str) -> None:
    try:
        assert isinstance(acl.parse_raw(text), bytes)
    except ProtocolError:
        pass


SCRIPT_ALPHABET = st.sampled_from([*"read M:OUTTMP/raw/event='e,0f'\"; \\\n=+%2027", "\\;", "%20", "%22"])

TARGETS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], None]]] = {
    "acl answer lines": (st.tuples(st.sampled_from(DRFS), LINES), check_answer_line),
    "acl basic status answers": (st.lists(LINES, min_size=5, max_size=5), check_basic_status),
    "acl scripts and queries": (st.text(max_size=80) | st.lists(SCRIPT_ALPHABET, max_size=60).map("".join),
                                check_script),
    "acl raw hex": (st.text(max_size=60) | st.lists(st.sampled_from([*"0123456789abcdefxX ", "0x"]),
                                                    max_size=40).map("".join), check_raw),
}


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_target(name: str) -> None:
    strategy, check = TARGETS[name]
    FUZZ(given(strategy)(check))()


LONG_INPUTS = [
    "M:OUTTMP = " + "1 " * 50_000,
    "M:OUTTMP = " + "ab " * 50_000 + "DegF",
    "x - " * 30_000 + "DIO_NOATT",
    "'" * 100_000,
    ("read M:OUTTMP/" * 10_000) + "'",
    "\\;" * 50_000,
    "0x" + "f" * 100_000,
]


@pytest.mark.parametrize("text", LONG_INPUTS, ids=range(len(LONG_INPUTS)))
def test_long_input_is_handled_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    check_answer_line(("M:OUTTMP", text))
    check_answer_line(("M:OUTTMP.RAW", text))
    check_script(text)
    check_raw(text)
    assert time.perf_counter() - started < 2.0
