"""``describe_alarms``: alarm events with DevDB's text and priority, in virtual time."""

from __future__ import annotations

from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops
from pacsys_rx.backends.grpc.devdb_alarms import AlarmText

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    event,
    on_next,
    timed,
)

TEXTS = {"z:aclTST": AlarmText(1, "Z:ACLTST outside its alarm limits", 5, "https://example/alarm")}


def test_events_get_their_device_text_and_others_none() -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(on_next(210, event("A", "Z:ACLTST")),
                                             on_next(220, event("O", "B")))
    out = timed(scheduler.start(lambda: source.pipe(ops.describe_alarms(TEXTS))).messages)
    assert [(t, d.event.device, d.text, d.priority, d.url) for t, d in out] == [
        (210, "Z:ACLTST", "Z:ACLTST outside its alarm limits", 5, "https://example/alarm"),
        (220, "B", None, None, None),
    ]


def test_errors_completion_and_disposal_pass() -> None:
    check_error_passes(lambda _: ops.describe_alarms(TEXTS), event("A", "Z:ACLTST"))
    check_completion_passes(lambda _: ops.describe_alarms(TEXTS), event("A", "Z:ACLTST"))
    check_disposal_releases(lambda _: ops.describe_alarms(TEXTS), event("A", "Z:ACLTST"))
