"""Readings, virtual-time runners and the shared error/completion/disposal checks for operator tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pacsys_rx.operators import AlarmEvent, AlarmState, Severity
from reactivex import Observable, abc
from reactivex.notification import OnNext
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.recorded import Recorded

from pacsys_rx.model import AcnetStatus, GapReading, Reading, ValueType

on_next = ReactiveTest.on_next
on_error = ReactiveTest.on_error
on_completed = ReactiveTest.on_completed
subscribe = ReactiveTest.subscribe

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
PRIV = AcnetStatus.named("DPM_PRIV")

Operator = Callable[[Observable[Any]], Observable[Any]]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def rd(device: str, value: Any, t: float = 0.0, cycle: int | None = None, backend: str = "fake") -> Reading:
    """A scalar reading of ``device`` taken ``t`` seconds after T0."""
    return Reading(f"{device}@p,1000", device, value, ValueType.SCALAR, None, at(t), cycle, backend=backend)


def err(device: str, t: float = 0.0) -> Reading:
    return Reading.error(f"{device}@p,1000", device, PRIV, "fake", timestamp=at(t))


def gap(device: str, t: float = 0.0, backend: str = "fake") -> GapReading:
    """The gap reading a backend sends when the stream of ``device`` lost its connection."""
    return GapReading.of(f"{device}@p,1000", device, backend, "dropped", timestamp=at(t))


def alarm(device: str, state: AlarmState, severity: Severity | None = None, t: float = 0.0,
          value: Any = None) -> AlarmEvent:
    if severity is None:
        severity = Severity.MAJOR if state is AlarmState.ALARM else Severity.NONE
    return AlarmEvent(device, state, severity, value, at(t), "test")


class RecordingScheduler(TestScheduler):
    """A TestScheduler that remembers what was scheduled, to check that disposal cancels timers."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduled: list[tuple[float, abc.DisposableBase]] = []

    def schedule_absolute(self, duetime: Any, action: Any, state: Any = None) -> abc.DisposableBase:
        disposable = super().schedule_absolute(duetime, action, state)
        seconds = duetime if isinstance(duetime, float) else self.to_seconds(duetime)
        self.scheduled.append((seconds, disposable))
        return disposable

    def live_after(self, time: float, first: int = 0) -> list[float]:
        """Due times after ``time`` of the actions scheduled from index ``first`` on and not cancelled."""
        return [due for due, done in self.scheduled[first:] if due > time and not done.is_disposed]


def run(operator: Operator, items: Sequence[Any], scheduler: TestScheduler | None = None, step: float = 10.0,
        end: float | None = None, disposed: float = 1000.0) -> list[Recorded[Any]]:
    """Feed ``items`` at 210, 220, ... (completing ``end`` ticks after the last when given); the messages."""
    scheduler = scheduler or TestScheduler()
    messages = [on_next(210 + i * step, item) for i, item in enumerate(items)]
    if end is not None:
        messages.append(on_completed(210 + (len(items) - 1) * step + end))
    source = scheduler.create_hot_observable(messages)
    return scheduler.start(lambda: source.pipe(operator), disposed=disposed).messages


def outputs(messages: Sequence[Recorded[Any]]) -> list[Any]:
    return [m.value.value for m in messages if isinstance(m.value, OnNext)]


def timed(messages: Sequence[Recorded[Any]]) -> list[tuple[float, Any]]:
    return [(m.time, m.value.value) for m in messages if isinstance(m.value, OnNext)]


def states(messages: Sequence[Recorded[Any]]) -> list[tuple[str, str, str]]:
    """Alarm events as (device, state, severity) names."""
    return [(e.device, e.state.name, e.severity.name) for e in outputs(messages)]


def check_error_passes(make: Callable[[TestScheduler], Operator], item: Any) -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("boom")
    source = scheduler.create_hot_observable(on_next(210, item), on_error(220, boom))
    results = scheduler.start(lambda: source.pipe(make(scheduler)))
    assert results.messages[-1] == on_error(220, boom)
    assert source.subscriptions == [subscribe(200, 220)]


def check_completion_passes(make: Callable[[TestScheduler], Operator], item: Any) -> None:
    scheduler = TestScheduler()
    source = scheduler.create_hot_observable(on_next(210, item), on_completed(230))
    results = scheduler.start(lambda: source.pipe(make(scheduler)))
    assert results.messages[-1] == on_completed(230)
    assert source.subscriptions == [subscribe(200, 230)]


def check_disposal_releases(make: Callable[[RecordingScheduler], Operator], item: Any) -> None:
    scheduler = RecordingScheduler()
    source = scheduler.create_hot_observable(on_next(210, item), on_next(400, item), on_completed(500))
    first = len(scheduler.scheduled)
    results = scheduler.start(lambda: source.pipe(make(scheduler)), disposed=300)
    assert all(m.time <= 300 for m in results.messages)
    assert source.subscriptions == [subscribe(200, 300)]
    assert scheduler.live_after(300, first) == []


CODES = {
    "O": (AlarmState.OK, Severity.NONE),
    "m": (AlarmState.ALARM, Severity.MINOR),
    "A": (AlarmState.ALARM, Severity.MAJOR),
    "I": (AlarmState.ALARM, Severity.INVALID),
    "L": (AlarmState.LATCHED, Severity.MAJOR),
    "K": (AlarmState.ACKNOWLEDGED, Severity.MAJOR),
    "D": (AlarmState.DISABLED, Severity.NONE),
    "C": (AlarmState.DISCONNECTED, Severity.NONE),
}


def event(code: str, device: str = "A", t: float = 0.0) -> AlarmEvent:
    """An alarm event from a code: O ok, m minor, A major, I invalid, L latched, K acked, D disabled,
    C disconnected."""
    state, severity = CODES[code]
    return AlarmEvent(device, state, severity, None, at(t), "test")


def code_of(alarm_event: AlarmEvent) -> str:
    """The code of an event; LATCHED and ACKNOWLEDGED events are L and K whatever their severity."""
    for code, (state, severity) in CODES.items():
        if state is alarm_event.state and (severity is alarm_event.severity or code in "LK"):
            return code
    raise ValueError(alarm_event)


def run_codes(operator: Operator, timeline: list[tuple[float, str]], scheduler: TestScheduler | None = None,
              device: str = "A") -> list[tuple[float, str]]:
    """Feed alarm events given as (time, code) for one device; the output as (time, code)."""
    scheduler = scheduler or TestScheduler()
    source = scheduler.create_hot_observable([on_next(t, event(c, device, t)) for t, c in timeline])
    results = scheduler.start(lambda: source.pipe(operator))
    return [(t, code_of(e)) for t, e in timed(results.messages)]


def run_codes_with_control(make: Callable[[Observable[Any], TestScheduler], Operator],
                           timeline: list[tuple[float, str]],
                           control: list[tuple[float, Any]]) -> list[tuple[float, str]]:
    """``run_codes`` for operators driven by a second stream (acknowledgements, an enable condition)."""
    scheduler = TestScheduler()
    controls = scheduler.create_hot_observable([on_next(t, value) for t, value in control])
    return run_codes(make(controls, scheduler), timeline, scheduler)
