from typing import Any

import pytest
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    event,
    on_error,
    on_next,
    run_codes_with_control,
    subscribe,
    timed,
)


def run_latch(alarms: list[tuple[float, str]], acks: list[tuple[float, Any]]) -> list[tuple[float, str]]:
    return run_codes_with_control(
        lambda control, scheduler: ops.latch(control, scheduler=scheduler), alarms, acks)


# alarm events in, acknowledgements (time, device) -> output (time, code)
CASES = [
    # latched without acknowledgement stays latched
    ([(210, "O"), (220, "A"), (230, "O"), (240, "A"), (250, "O")], [],
     [(210, "O"), (220, "A"), (230, "L"), (240, "A"), (250, "L")]),
    # acknowledgement of a latched alarm returns it to OK
    ([(210, "A"), (220, "O")], [(230, "A")], [(210, "A"), (220, "L"), (230, "O")]),
    # acknowledgement for all devices (None)
    ([(210, "A"), (220, "O")], [(230, None)], [(210, "A"), (220, "L"), (230, "O")]),
    # acknowledgement of another device does nothing
    ([(210, "A"), (220, "O")], [(230, "B")], [(210, "A"), (220, "L")]),
    # acknowledged while in alarm, then clears straight to OK
    ([(210, "A"), (230, "O")], [(220, "A")], [(210, "A"), (220, "K"), (230, "O")]),
    # acknowledged alarm ignores an equal or lower severity, re-alarms on a higher one
    ([(210, "A"), (230, "m"), (240, "I"), (250, "O")], [(220, "A")],
     [(210, "A"), (220, "K"), (240, "I"), (250, "L")]),
    # acknowledgement before any alarm does nothing
    ([(220, "O"), (230, "A"), (240, "O")], [(210, "A"), (215, None)], [(220, "O"), (230, "A"), (240, "L")]),
    # disabling clears the latch
    ([(210, "A"), (220, "O"), (230, "D"), (240, "O")], [], [(210, "A"), (220, "L"), (230, "D"), (240, "O")]),
    # acknowledging twice: second has no effect
    ([(210, "A"), (220, "O")], [(230, "A"), (240, "A")], [(210, "A"), (220, "L"), (230, "O")]),
]


@pytest.mark.parametrize(("alarms", "acks", "expected"), CASES)
def test_latch_table(alarms: list, acks: list, expected: list) -> None:
    assert run_latch(alarms, acks) == expected


def test_latch_acknowledgement_time_comes_from_the_scheduler() -> None:
    scheduler = TestScheduler()
    acknowledge = scheduler.create_hot_observable(on_next(230, "A"))
    source = scheduler.create_hot_observable(on_next(210, event("A")), on_next(220, event("O")))
    results = scheduler.start(lambda: source.pipe(ops.latch(acknowledge, scheduler=scheduler)))
    acked = timed(results.messages)[-1][1]
    assert acked.since == scheduler.to_datetime(230.0)
    assert acked.reason == "acknowledged"


def test_latch_acknowledge_stream_error_propagates() -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("operator console gone")
    acknowledge = scheduler.create_hot_observable(on_error(220, boom))
    source = scheduler.create_hot_observable(on_next(210, event("A")))
    results = scheduler.start(lambda: source.pipe(ops.latch(acknowledge, scheduler=scheduler)))
    assert results.messages[-1] == on_error(220, boom)
    assert source.subscriptions == [subscribe(200, 220)]


def test_latch_error_propagates() -> None:
    check_error_passes(lambda s: ops.latch(s.create_hot_observable(), scheduler=s), event("A"))


def test_latch_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.latch(s.create_hot_observable(), scheduler=s), event("A"))


def test_latch_disposal_unsubscribes_both() -> None:
    check_disposal_releases(lambda s: ops.latch(s.create_hot_observable(), scheduler=s), event("A"))
