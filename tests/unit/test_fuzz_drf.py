"""Fuzzing the DRF parser beyond ``test_drf.py``: mutated golden requests through every public
DRF function, time-frequency tokens, and long inputs that must not backtrack for long.

``benchmarks/fuzz.py`` runs ``TARGETS`` for longer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pacsys_rx.drf import ensure_immediate, parse_request, parse_time_freq, prepare_for_write
from pacsys_rx.errors import DRFError

FUZZ = settings(max_examples=200, deadline=timedelta(seconds=1), suppress_health_check=[HealthCheck.too_slow])
VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "drf.json").read_text(encoding="utf-8"))
SEEDS = [v["input"] for section in ("parse", "reject", "write_conversion", "ensure_immediate")
         for v in VECTORS[section]]
ALPHABET = st.sampled_from(
    [*"MZN:_|&@$~^#!?.[]{}<-,0123456789ABEIPQSUaepsx ", "<-", "@p,", "\n", "é", "\x00"])
EVENTS = ["I", "N", "U", "p,1000", "q,2S,TRUE", "e,0f,h,5", "s,G:AMANDA,1,0,=", "X", "e,", "p,99999999999"]


@st.composite
def mutated_requests(draw: st.DrawFn) -> str:
    """A golden DRF with one to four character-level edits."""
    chars = list(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(chars)))
        operation = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "splice", "case"]))
        if operation == "insert":
            chars[position:position] = draw(st.lists(ALPHABET, min_size=1, max_size=4))
        elif operation == "delete":
            del chars[position : position + draw(st.integers(1, 6))]
        elif operation == "replace" and position < len(chars):
            chars[position] = draw(ALPHABET)
        elif operation == "duplicate":
            chars[position:position] = chars[position : position + draw(st.integers(1, 10))]
        elif operation == "splice":
            other = draw(st.sampled_from(SEEDS))
            chars = chars[:position] + list(other[draw(st.integers(0, len(other))) :])
        else:
            chars = [c.swapcase() if i >= position else c for i, c in enumerate(chars)]
    return "".join(chars)


def check_request(text: str) -> None:
    """Every DRF function raises only DRFError; what parses prints a canonical form that parses back.

    The write and one-shot forms are checked for ACNET requests only: a non-ACNET device ending in
    ``@`` (``:OUTTMP@``) gains ``@N`` or ``@I`` and no longer parses.
    """
    try:
        request = parse_request(text)
    except DRFError as error:
        assert error.text == text
        for function in (prepare_for_write, ensure_immediate):
            with pytest.raises(DRFError):
                function(text)
        return
    canonical = request.to_canonical()
    assert parse_request(canonical).to_canonical() == canonical
    written, immediate = prepare_for_write(text), ensure_immediate(text)
    if request.is_acnet:
        assert parse_request(written).to_canonical() == written
        parse_request(immediate)
    try:
        assert parse_request(request.to_qualified()).to_canonical() == canonical
    except DRFError:
        pass


def check_with_event(case: tuple[str, str]) -> None:
    text, event = case
    try:
        request = parse_request(text)
    except DRFError:
        return
    try:
        request.with_event(event)
    except DRFError:
        pass


def check_time_freq(token: str) -> None:
    try:
        assert parse_time_freq(token) >= 0
    except DRFError:
        pass


TARGETS: dict[str, tuple[st.SearchStrategy[Any], Callable[[Any], None]]] = {
    "drf mutated vectors": (mutated_requests(), check_request),
    "drf with_event": (st.tuples(st.sampled_from(SEEDS), st.sampled_from(EVENTS) | st.text(max_size=12)),
                       check_with_event),
    "drf time-freq tokens": (
        st.text(max_size=16) | st.from_regex(r"[0-9]{1,14}[SMUHKsmuhk]?", fullmatch=True), check_time_freq),
}


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_target(name: str) -> None:
    strategy, check = TARGETS[name]
    FUZZ(given(strategy)(check))()


LONG_INPUTS = [
    "xxx" + "@" * 65_536 + "\n",
    "xxx" + ".a" * 32_768 + "\n",
    "M:" + "A" * 65_536,
    "M:OUTTMP[" + "0" * 65_536 + "]",
    "M:OUTTMP@p," + "9" * 65_536,
    "M:OUTTMP@s,G:AMANDA," + "1" * 65_536 + ",0,=",
    "M:OUTTMP@e," + "f" * 65_536,
    "x" * 65_536 + "<-" + "LOGGER:" * 10_000,
    "{" + "0:" * 30_000 + "}",
]


@pytest.mark.parametrize("text", LONG_INPUTS, ids=range(len(LONG_INPUTS)))
def test_long_input_is_handled_quickly(text: str) -> None:
    started = time.perf_counter()
    check_request(text)
    assert time.perf_counter() - started < 1.0
