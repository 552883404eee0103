"""``scale``: raw, primary and common values converted with a device's constants, in virtual time."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from pacsys_rx import operators as ops
from pacsys_rx.backends.grpc.backend import PropertyInfo
from pacsys_rx.errors import NotSupported
from pacsys_rx.model import ValueType
from pacsys_rx.scaling import Scaling

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    err,
    outputs,
    rd,
    run,
)

OUTTMP = PropertyInfo("Volts", "DegF", -50.0, 150.0, 0, 0, (0.001, 0.0, 10.0, 0.0),
                      False, False, False, False, False)
SCALING = Scaling.from_property(OUTTMP)


def test_raw_bytes_become_common_units() -> None:
    scaled = outputs(run(ops.scale(SCALING), [rd("M:OUTTMP", b"\x80\x1b"), rd("M:OUTTMP", b"\x00\x80")]))
    assert [r.value for r in scaled] == [pytest.approx(70.4), pytest.approx(-327.68)]
    assert all(r.units == "DegF" and r.value_type is ValueType.SCALAR for r in scaled)


def test_common_back_to_raw_rounds_to_a_count() -> None:
    raw = outputs(run(ops.scale(SCALING, "common", "raw"), [rd("M:OUTTMP", 70.4049)]))[0]
    assert raw.value == 7040.0 and raw.units is None


def test_arrays_convert_element_by_element_with_offsets() -> None:
    offset = Scaling(0.5, 1.0, 2.0, -3.0, raw_bytes=4, primary_units="V", common_units="mA")
    data = (10).to_bytes(4, "little", signed=True) + (-2).to_bytes(4, "little", signed=True)
    scaled = outputs(run(ops.scale(offset, "raw", "primary"), [rd("B:ARR", data)]))[0]
    assert scaled.value == (6.0, 0.0) and scaled.value_type is ValueType.SCALAR_ARRAY and scaled.units == "V"
    common = outputs(run(ops.scale(offset, "primary", "common"), [rd("B:ARR", (6.0, 0.0))]))[0]
    assert common.value == (9.0, -3.0)


def test_ieee_raw_elements() -> None:
    ieee = Scaling(raw_bytes=4, raw_format="ieee")
    assert outputs(run(ops.scale(ieee), [rd("X:F", struct.pack("<f", 1.5))]))[0].value == 1.5


def test_error_readings_pass_unchanged() -> None:
    failed = err("M:OUTTMP")
    assert outputs(run(ops.scale(SCALING), [failed])) == [failed]


def test_bytes_that_are_not_raw_end_the_stream() -> None:
    messages = run(ops.scale(SCALING, "primary", "common"), [rd("M:OUTTMP", b"\x00\x01")])
    assert isinstance(messages[-1].value.exception, TypeError)


def test_raw_outside_the_element_is_an_error() -> None:
    with pytest.raises(ValueError, match="outside a 2-byte integer"):
        SCALING.convert(400.0, "common", "raw")


def test_other_transforms_are_not_supported() -> None:
    with pytest.raises(NotSupported, match="p2/c0"):
        Scaling.from_property(dataclasses.replace(OUTTMP, p_index=2))


def test_scale_error_propagates() -> None:
    check_error_passes(lambda _: ops.scale(SCALING), rd("M:OUTTMP", 1.0))


def test_scale_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.scale(SCALING), rd("M:OUTTMP", 1.0))


def test_scale_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.scale(SCALING), rd("M:OUTTMP", 1.0))
