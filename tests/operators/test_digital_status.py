"""``digital_status``: status words decoded with DevDB's bit definitions, in virtual time."""

from __future__ import annotations

import pytest

from pacsys_rx import operators as ops
from pacsys_rx.backends.grpc.backend import StatusBitDef
from pacsys_rx.digital import DigitalStatus

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    err,
    gap,
    outputs,
    rd,
    run,
)


def bit(mask: int, short: str, long: str, true: str, false: str, invert: bool = False) -> StatusBitDef:
    return StatusBitDef(mask, mask, invert, short, long, true, false, 0, "", 0, "")


BITS = (bit(0x1, "ON", "OnOff", "On", "Off"), bit(0x2, "READY", "Ready", "Ready", "Tripped"),
        bit(0x8, "POSITIVE", "Polarity", "Positive", "Negative"), bit(0x200, "RAMP", "RampDC", "Ramp", "DC"))


def test_words_decode_by_short_and_long_names() -> None:
    decoded = outputs(run(ops.digital_status(BITS), [rd("Z:ACLTST", 2.0), rd("Z:ACLTST", b"\x09\x02")]))
    first, second = decoded
    assert isinstance(first, DigitalStatus) and first.word == 2
    assert not first["ON"] and first["ready"] and first.text == "Off Ready Negative DC"
    assert second.word == 0x209 and second["OnOff"] and second["RampDC"] and not second["Ready"]
    assert [b.text for b in second] == ["On", "Tripped", "Positive", "Ramp"]


def test_inverted_bits_are_active_when_the_bit_is_clear() -> None:
    tripped = bit(0x4, "TRIP", "Interlock", "Tripped", "Clear", invert=True)
    decoded = outputs(run(ops.digital_status([tripped]), [rd("X:DEV", 0.0), rd("X:DEV", 4.0)]))
    assert [s["TRIP"] for s in decoded] == [True, False]


def test_error_and_gap_readings_are_left_out() -> None:
    decoded = outputs(run(ops.digital_status(BITS), [err("Z:ACLTST"), gap("Z:ACLTST"), rd("Z:ACLTST", 1.0)]))
    assert [s.word for s in decoded] == [1]


def test_unknown_bit_name_is_a_key_error() -> None:
    status = outputs(run(ops.digital_status(BITS), [rd("Z:ACLTST", 1.0)]))[0]
    with pytest.raises(KeyError, match="no status bit named 'LOCAL'"):
        status["LOCAL"]


def test_a_value_that_is_not_a_word_errors_the_stream() -> None:
    messages = run(ops.digital_status(BITS), [rd("Z:ACLTST", 1.5)])
    assert isinstance(messages[-1].value.exception, TypeError)


def test_digital_status_error_propagates() -> None:
    check_error_passes(lambda _: ops.digital_status(BITS), rd("Z:ACLTST", 1.0))


def test_digital_status_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.digital_status(BITS), rd("Z:ACLTST", 1.0))


def test_digital_status_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.digital_status(BITS), rd("Z:ACLTST", 1.0))
