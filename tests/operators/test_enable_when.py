import pytest
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    code_of,
    event,
    on_error,
    on_next,
    run_codes_with_control,
    subscribe,
    timed,
)


def run_gate(alarms: list[tuple[float, str]], gate: list[tuple[float, bool]]) -> list[tuple[float, str]]:
    return run_codes_with_control(
        lambda control, scheduler: ops.enable_when(control, scheduler=scheduler), alarms, gate)


# alarm events in, condition values -> output (time, code)
CASES = [
    # enabled before the condition says anything
    ([(210, "O"), (220, "A")], [], [(210, "O"), (220, "A")]),
    # disabled while in alarm, re-enabled while still in alarm
    ([(210, "A")], [(220, False), (230, True)], [(210, "A"), (220, "D"), (230, "A")]),
    # the alarm clears while disabled: re-enabling shows the current state
    ([(210, "A"), (225, "O")], [(220, False), (230, True)], [(210, "A"), (220, "D"), (230, "O")]),
    # the alarm is raised while disabled: it is shown on re-enable only
    ([(210, "O"), (225, "A")], [(220, False), (240, True)], [(210, "O"), (220, "D"), (240, "A")]),
    # a device first seen while disabled is DISABLED
    ([(225, "A")], [(220, False), (240, True)], [(225, "D"), (240, "A")]),
    # repeated condition values are not edges
    ([(210, "A")], [(220, True), (230, False), (235, False), (240, True), (245, True)],
     [(210, "A"), (230, "D"), (240, "A")]),
    # starting disabled
    ([(210, "A"), (220, "O")], [(205, False)], [(210, "D")]),
]


@pytest.mark.parametrize(("alarms", "gate", "expected"), CASES)
def test_enable_when_table(alarms: list, gate: list, expected: list) -> None:
    assert run_gate(alarms, gate) == expected


def test_enable_when_disables_every_device() -> None:
    scheduler = TestScheduler()
    condition = scheduler.create_hot_observable(on_next(230, False))
    source = scheduler.create_hot_observable(on_next(210, event("A", "X")), on_next(220, event("O", "Y")))
    results = scheduler.start(lambda: source.pipe(ops.enable_when(condition, scheduler=scheduler)))
    disabled = [(e.device, code_of(e)) for t, e in timed(results.messages) if t == 230]
    assert disabled == [("X", "D"), ("Y", "D")]


def test_enable_when_condition_error_propagates() -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("beam permit feed lost")
    condition = scheduler.create_hot_observable(on_error(220, boom))
    source = scheduler.create_hot_observable(on_next(210, event("A")))
    results = scheduler.start(lambda: source.pipe(ops.enable_when(condition, scheduler=scheduler)))
    assert results.messages[-1] == on_error(220, boom)
    assert source.subscriptions == [subscribe(200, 220)]


def test_enable_when_error_propagates() -> None:
    check_error_passes(lambda s: ops.enable_when(s.create_hot_observable(), scheduler=s), event("A"))


def test_enable_when_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.enable_when(s.create_hot_observable(), scheduler=s), event("A"))


def test_enable_when_disposal_unsubscribes_both() -> None:
    check_disposal_releases(lambda s: ops.enable_when(s.create_hot_observable(), scheduler=s), event("A"))
