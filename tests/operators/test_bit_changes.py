"""``bit_changes``: one event per status bit that changed, per device, in virtual time."""

from __future__ import annotations

from pacsys_rx import operators as ops
from pacsys_rx.digital import DigitalStatus, StatusBit

from .support import (
    at,
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    outputs,
    run,
    timed,
)


def status(device: str, on: bool, ready: bool, t: float = 0.0) -> DigitalStatus:
    bits = (StatusBit("ON", "OnOff", on, "On" if on else "Off"),
            StatusBit("READY", "Ready", ready, "Ready" if ready else "Tripped"))
    return DigitalStatus(device, int(on) | int(ready) << 1, bits, at(t))


def test_first_status_gives_every_bit_then_only_changes() -> None:
    changes = outputs(run(ops.bit_changes(), [status("A", False, True), status("A", False, True, 1),
                                              status("A", True, True, 2), status("A", True, False, 3)]))
    assert [(c.name, c.active, c.previous, c.text) for c in changes] == [
        ("ON", False, None, "Off"), ("READY", True, None, "Ready"), ("ON", True, False, "On"),
        ("READY", False, True, "Tripped")]
    assert [c.timestamp for c in changes][2:] == [at(2), at(3)]


def test_devices_are_followed_separately() -> None:
    statuses = [status("A", True, True), status("B", False, True), status("A", True, True),
                status("B", True, True)]
    messages = run(ops.bit_changes(), statuses)
    changes = [(t, c.device, c.name, c.previous) for t, c in timed(messages)]
    assert changes == [(210.0, "A", "ON", None), (210.0, "A", "READY", None), (220.0, "B", "ON", None),
                       (220.0, "B", "READY", None), (240.0, "B", "ON", False)]


def test_bit_changes_error_propagates() -> None:
    check_error_passes(lambda _: ops.bit_changes(), status("A", True, True))


def test_bit_changes_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.bit_changes(), status("A", True, True))


def test_bit_changes_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.bit_changes(), status("A", True, True))
