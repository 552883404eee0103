import pytest
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import check_completion_passes, check_disposal_releases, check_error_passes, event, run_codes

# n=3 within 50: events in -> events out, as (time, code)
CASES = [
    ([(210, "O"), (211, "A"), (212, "O"), (220, "A"), (221, "O"), (230, "A"), (231, "O")],
     [(210, "O"), (230, "A"), (231, "O")]),
    ([(210, "O"), (211, "A"), (212, "O"), (240, "A"), (241, "O"), (270, "A"), (271, "O")],
     [(210, "O")]),
    ([(210, "O"), (211, "A"), (212, "O"), (240, "A"), (241, "O"), (255, "A"), (300, "O")],
     [(210, "O"), (255, "A"), (300, "O")]),
    ([(210, "O"), (211, "A"), (212, "I"), (213, "A"), (214, "O")],
     [(210, "O")]),
    ([(210, "A"), (211, "O"), (212, "A"), (213, "O"), (214, "A"), (215, "I"), (216, "O")],
     [(211, "O"), (214, "A"), (215, "I"), (216, "O")]),
    ([(210, "A"), (211, "O"), (212, "A"), (213, "O"), (214, "A"), (215, "O"), (216, "A"), (217, "O")],
     [(211, "O"), (214, "A"), (215, "O")]),
    ([(210, "O"), (211, "A"), (212, "D"), (213, "A"), (214, "O"), (215, "A")],
     [(210, "O"), (212, "D"), (214, "O"), (215, "A")]),
]


@pytest.mark.parametrize(("events_in", "events_out"), CASES)
def test_alarm_count_table(events_in: list, events_out: list) -> None:
    scheduler = TestScheduler()
    assert run_codes(ops.alarm_count(3, 50.0, scheduler=scheduler), events_in, scheduler) == events_out


def test_alarm_count_of_one_passes_everything() -> None:
    scheduler = TestScheduler()
    timeline = [(210, "O"), (220, "A"), (221, "O"), (230, "A")]
    assert run_codes(ops.alarm_count(1, 5.0, scheduler=scheduler), timeline, scheduler) == timeline


def test_alarm_count_error_propagates() -> None:
    check_error_passes(lambda s: ops.alarm_count(2, 10.0, scheduler=s), event("A"))


def test_alarm_count_completion_propagates() -> None:
    check_completion_passes(lambda s: ops.alarm_count(2, 10.0, scheduler=s), event("A"))


def test_alarm_count_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda s: ops.alarm_count(2, 10.0, scheduler=s), event("A"))
