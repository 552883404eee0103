"""``verify``: a write result with ``verified``/``readback`` from the read-back stream, in virtual time."""

from __future__ import annotations

from typing import Any

import pytest
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops
from pacsys_rx.model import AcnetStatus, Reading, WriteResult

from .support import (
    Operator,
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_next,
    rd,
    subscribe,
    timed,
)

OK = WriteResult("Z:ACLTST.SETTING@N", backend="fake")
REFUSED = WriteResult("Z:ACLTST.SETTING@N", AcnetStatus.named("DPM_PRIV"), "fake")


def verified(readback: list[tuple[int, Reading]], result: WriteResult = OK, **options: Any,
             ) -> tuple[list[tuple[float, tuple[bool | None, Any]]], list[Any]]:
    """Output (time, (verified, readback)) for ``result`` at 210 and the read-back subscriptions."""
    options.setdefault("timeout", 100)
    scheduler = TestScheduler()
    stream = scheduler.create_hot_observable(*(on_next(t, r) for t, r in readback))
    results = scheduler.create_hot_observable(on_next(210, result), on_completed(600))
    recorded = scheduler.start(lambda: results.pipe(ops.verify(stream, 5.0, scheduler=scheduler, **options)))
    out = [(t, (r.verified, r.readback)) for t, r in timed(recorded.messages) if isinstance(r, WriteResult)]
    return out, stream.subscriptions


def test_the_first_matching_reading_verifies() -> None:
    out, subscriptions = verified([(205, rd("Z", 5.0)), (220, rd("Z", 1.0)), (230, rd("Z", 5.0))])
    assert out == [(230, (True, 5.0))]
    assert subscriptions == [subscribe(210, 230)]


def test_tolerance_accepts_a_near_value() -> None:
    assert verified([(220, rd("Z", 5.04))], tolerance=0.05)[0] == [(220, (True, 5.04))]
    assert verified([(220, rd("Z", 5.06)), (230, rd("Z", 5.06)), (240, rd("Z", 5.06))],
                    tolerance=0.05)[0] == [(240, (False, 5.06))]


def test_readings_of_the_initial_delay_are_skipped() -> None:
    out, _ = verified([(215, rd("Z", 5.0)), (240, rd("Z", 4.0)), (250, rd("Z", 5.0))], initial_delay=20)
    assert out == [(250, (True, 5.0))]


def test_after_the_attempts_the_last_value_is_reported_unverified() -> None:
    out, subscriptions = verified([(220, rd("Z", 1.0)), (230, rd("Z", 2.0)), (240, rd("Z", 5.0))], attempts=2)
    assert out == [(230, (False, 2.0))]
    assert subscriptions == [subscribe(210, 230)]


def test_a_silent_readback_times_out_unverified() -> None:
    out, subscriptions = verified([(400, rd("Z", 5.0))], timeout=50)
    assert out == [(260, (False, None))]
    assert subscriptions == [subscribe(210, 260)]


def test_a_refused_setting_is_not_read_back() -> None:
    out, subscriptions = verified([(220, rd("Z", 5.0))], result=REFUSED)
    assert out == [(210, (False, None))]
    assert subscriptions == []


def test_arrays_and_text_compare_element_by_element() -> None:
    assert ops.values_match((1.0, 2.01), (1.0, 2.0), 0.02)
    assert not ops.values_match((1.0, 2.0), (1.0, 2.0, 3.0), 1.0)
    assert ops.values_match("on", "on", 0.0) and not ops.values_match("on", "off", 0.0)


@pytest.mark.parametrize("options", [{"attempts": 0}, {"tolerance": -1.0}, {"timeout": 0.0}])
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ops.verify(TestScheduler().create_hot_observable(), 1.0, **options)


def test_errors_completion_and_disposal_pass() -> None:
    def make(scheduler: TestScheduler) -> Operator:
        return ops.verify(scheduler.create_hot_observable(), 5.0, scheduler=scheduler)

    check_error_passes(make, REFUSED)
    check_completion_passes(make, REFUSED)
    check_disposal_releases(make, REFUSED)
