import pytest
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    event,
    on_next,
    run_codes,
    timed,
)

# delay 20: events in -> events out, as (time, code)
CASES = [
    ([(210, "O"), (220, "A"), (250, "O")], [(210, "O"), (240, "A"), (250, "O")]),
    ([(210, "O"), (220, "A"), (235, "O")], [(210, "O")]),
    ([(210, "O"), (220, "A"), (235, "O"), (236, "A"), (250, "O")], [(210, "O")]),
    ([(210, "A"), (300, "O")], [(230, "A"), (300, "O")]),
    ([(210, "O"), (220, "m"), (230, "A"), (260, "O")], [(210, "O"), (240, "A"), (260, "O")]),
    ([(210, "O"), (220, "A"), (250, "I"), (260, "A")], [(210, "O"), (240, "A"), (250, "I"), (260, "A")]),
    ([(210, "O"), (220, "A"), (230, "D")], [(210, "O"), (230, "D")]),
    ([(210, "O"), (220, "A"), (240, "O")], [(210, "O")]),
]


@pytest.mark.parametrize(("events_in", "events_out"), CASES)
def test_alarm_delay_table(events_in: list, events_out: list) -> None:
    scheduler = TestScheduler()
    assert run_codes(ops.alarm_delay(20.0, scheduler=scheduler), events_in, scheduler) == events_out


def test_alarm_delay_zero_passes_at_once() -> None:
    scheduler = TestScheduler()
    timeline = [(210, "O"), (220, "A"), (221, "O")]
    assert run_codes(ops.alarm_delay(0, scheduler=scheduler), timeline, scheduler) == timeline


def test_alarm_delay_is_per_device_and_keeps_the_events_time() -> None:
    scheduler = TestScheduler()
    a, b = event("A", "A", 1), event("A", "B", 2)
    cleared = event("O", "B", 3)
    source = scheduler.create_hot_observable(on_next(210, a), on_next(215, b), on_next(220, cleared))
    results = scheduler.start(lambda: source.pipe(ops.alarm_delay(20.0, scheduler=scheduler)))
    assert timed(results.messages) == [(220, cleared), (230, a)]


def test_alarm_delay_error_propagates() -> None:
    check_error_passes(lambda s: ops.alarm_delay(200.0, scheduler=s), event("A"))


def test_alarm_delay_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.alarm_delay(200.0, scheduler=s), event("A"))


def test_alarm_delay_disposal_cancels_the_timer() -> None:
    check_disposal_releases(lambda s: ops.alarm_delay(200.0, scheduler=s), event("A"))
