"""Transport gaps (``Reading.is_gap``) through the alarm, health and redundancy operators.

A gap reading says the stream's connection was lost, not that the device failed: by default alarms
show DISCONNECTED (never INVALID, never latched), the data after the gap is judged again without an
acknowledgement, ``stale`` does not take a gap for a recovery, and the redundancy operators hold a
gap back while another source still delivers.
"""

from datetime import timedelta
from typing import Any

import pytest
from pacsys_rx.operators import AlarmState, Recovered, Severity, Stale
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops
from pacsys_rx.model import AnalogAlarm, Reading, ValueType

from .support import (
    at,
    err,
    gap,
    on_completed,
    on_next,
    outputs,
    rd,
    run,
    run_codes,
    run_codes_with_control,
    states,
    timed,
)

G = object()  # a gap reading in a sequence
E = object()  # a device error reading in a sequence


def feed(values: list[Any], device: str = "A") -> list[Reading]:
    def one(i: int, v: Any) -> Reading:
        if v is G:
            return gap(device, i)
        if v is E:
            return err(device, i)
        return rd(device, v, i)

    return [one(i, v) for i, v in enumerate(values)]


def codes(messages: list) -> list[str]:
    return [state if severity == "NONE" else f"{state}/{severity}" for _, state, severity in states(messages)]


def test_a_gap_reading_is_recognisable_and_still_an_error() -> None:
    reading = gap("A", 1.0)
    assert reading.is_gap and reading.is_error and not reading.ok and reading.value is None
    assert not rd("A", 1).is_gap and not err("A").is_gap


# ---------------------------------------------------------------------------------- limits and digital


CASES = [
    # default: DISCONNECTED, and the data after it is judged again (no INVALID, no acknowledgement)
    ("disconnected", [70, G, 70], ["OK", "DISCONNECTED", "OK"]),
    ("disconnected", [90, G, G, 90, 70], ["ALARM/MAJOR", "DISCONNECTED", "ALARM/MAJOR", "OK"]),
    ("disconnected", [G, 70], ["DISCONNECTED", "OK"]),
    # the state before the gap is kept underneath: hysteresis still applies after it
    ("disconnected", [90, G, 79], ["ALARM/MAJOR", "DISCONNECTED", "ALARM/MAJOR"]),
    # a device error keeps today's INVALID
    ("disconnected", [70, E, 70], ["OK", "ALARM/INVALID", "OK"]),
    ("invalid", [70, G, 70], ["OK", "ALARM/INVALID", "OK"]),
    ("ignore", [70, G, 90, G, 70], ["OK", "ALARM/MAJOR", "OK"]),
]


@pytest.mark.parametrize(("rule", "values_in", "events_out"), CASES)
def test_limits_gap_rule(rule: str, values_in: list, events_out: list[str]) -> None:
    operator = ops.limits(60, 80, hysteresis=2, on_gap=rule)  # type: ignore[arg-type]
    assert codes(run(operator, feed(values_in))) == events_out


def test_limits_tries_start_again_after_a_gap() -> None:
    assert codes(run(ops.limits(60, 80, tries=2), feed([70, 90, G, 90, 90]))) == [
        "OK", "DISCONNECTED", "OK", "ALARM/MAJOR"]


def test_digital_alarm_gap_gives_disconnected() -> None:
    operator = ops.digital_alarm(nominal=0x1, mask=0x3)
    assert codes(run(operator, feed([0x1, G, 0x3]))) == ["OK", "DISCONNECTED", "ALARM/MAJOR"]


def test_alarm_operators_reject_an_unknown_gap_rule() -> None:
    with pytest.raises(ValueError, match="on_gap"):
        ops.limits(0, 1, on_gap="latch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_gap"):
        ops.latch(Subject(), on_gap="latch")  # type: ignore[arg-type]


def test_from_alarm_blocks_gap_gives_disconnected_and_errors_stay_invalid() -> None:
    block = AnalogAlarm(0.0, 10.0, True, False, False, False, 1, 0)
    ok = Reading("A.ANALOG", "A", block, ValueType.ANALOG_ALARM, None, at(0))
    readings = [ok, gap("A", 1), ok, err("A", 3)]
    assert codes(run(ops.from_alarm_blocks(), readings)) == ["OK", "DISCONNECTED", "OK", "ALARM/INVALID"]
    assert codes(run(ops.from_alarm_blocks(on_gap="invalid"), readings[:3])) == ["OK", "ALARM/INVALID", "OK"]
    assert codes(run(ops.from_alarm_blocks(on_gap="ignore"), readings[:3])) == ["OK"]


# ---------------------------------------------------------------------------------------- latch


def run_latch(alarms: list[tuple[float, str]], acks: list[tuple[float, Any]] = (), **options: Any) -> list:
    return run_codes_with_control(
        lambda control, scheduler: ops.latch(control, scheduler=scheduler, **options), alarms, list(acks))


def test_the_redundant_recipe_does_not_latch_a_connection_drop() -> None:
    """Measured: limits(60, 80) then latch went ALARM INVALID, then LATCHED INVALID after one drop."""
    acknowledge: Subject = Subject()
    events: list = []
    readings: Subject = Subject()
    readings.pipe(ops.limits(60, 80), ops.latch(acknowledge)).subscribe(events.append)
    for reading in feed([70, G, 70, 71]):
        readings.on_next(reading)
    outage_caused = [e for e in events if e.severity is Severity.INVALID or e.state is AlarmState.LATCHED]
    assert outage_caused == []
    assert [e.state.name for e in events] == ["OK", "DISCONNECTED", "OK"]


LATCH_CASES = [
    # an alarm interrupted by a gap: DISCONNECTED, then OK without an acknowledgement
    ([(210, "A"), (220, "C"), (230, "O")], [], [(210, "A"), (220, "C"), (230, "O")]),
    # a latch from before the gap stays owed when the data comes back OK ...
    ([(210, "A"), (220, "O"), (230, "C"), (240, "O")], [], [(210, "A"), (220, "L"), (230, "C"), (240, "L")]),
    # ... unless it was acknowledged during the gap
    ([(210, "A"), (220, "O"), (230, "C"), (240, "O")], [(235, "A")],
     [(210, "A"), (220, "L"), (230, "C"), (240, "O")]),
    # a new alarm after the gap replaces the owed latch
    ([(210, "A"), (220, "O"), (230, "C"), (240, "A"), (250, "O")], [],
     [(210, "A"), (220, "L"), (230, "C"), (240, "A"), (250, "L")]),
]


@pytest.mark.parametrize(("alarms", "acks", "expected"), LATCH_CASES)
def test_latch_gap_table(alarms: list, acks: list, expected: list) -> None:
    assert run_latch(alarms, acks) == expected


def test_latch_gap_rules() -> None:
    alarms = [(210, "O"), (220, "C"), (230, "O")]
    assert run_latch(alarms, on_gap="invalid") == [(210, "O"), (220, "I"), (230, "L")]
    assert run_latch(alarms, on_gap="ignore") == [(210, "O")]


# --------------------------------------------------------------------------- delay, count, enable


def test_alarm_delay_passes_disconnected_at_once_and_cancels_a_pending_alarm() -> None:
    scheduler = TestScheduler()
    timeline = [(210, "O"), (220, "A"), (225, "C"), (230, "A")]
    assert run_codes(ops.alarm_delay(10.0, scheduler=scheduler), timeline, scheduler) == [
        (210, "O"), (225, "C"), (240, "A")]
    scheduler = TestScheduler()
    assert run_codes(ops.alarm_delay(10.0, scheduler=scheduler, on_gap="invalid"), timeline, scheduler) == [
        (210, "O"), (230, "A")]


def test_alarm_count_neither_counts_a_gap_nor_ends_an_entry() -> None:
    scheduler = TestScheduler()
    count = ops.alarm_count(2, within=100.0, scheduler=scheduler)
    # A, gap, A is one entry (not counted twice); a second real entry is announced
    assert run_codes(count, [(210, "O"), (220, "A"), (225, "C"), (230, "A"), (240, "O"), (250, "A")],
                     scheduler) == [(210, "O"), (225, "C"), (240, "O"), (250, "A")]
    # an announced alarm still there after the gap is shown again
    scheduler = TestScheduler()
    count = ops.alarm_count(1, within=100.0, scheduler=scheduler)
    assert run_codes(count, [(210, "A"), (220, "C"), (230, "A")], scheduler) == [
        (210, "A"), (220, "C"), (230, "A")]
    scheduler = TestScheduler()
    count = ops.alarm_count(2, within=100.0, scheduler=scheduler, on_gap="invalid")
    assert run_codes(count, [(210, "O"), (220, "C"), (230, "O"), (240, "A")], scheduler) == [
        (210, "O"), (240, "A")]


def test_enable_when_treats_disconnected_as_a_state() -> None:
    def run_enable(alarms: list, condition: list, **options: Any) -> list:
        return run_codes_with_control(
            lambda control, scheduler: ops.enable_when(control, scheduler=scheduler, **options),
            alarms, condition)

    alarms = [(210, "O"), (220, "C"), (240, "O")]
    assert run_enable(alarms, [(230, False)]) == [(210, "O"), (220, "C"), (230, "D")]
    assert run_enable(alarms, [(215, False), (225, True)]) == [(210, "O"), (215, "D"), (225, "C"), (240, "O")]
    assert run_enable(alarms, [], on_gap="ignore") == [(210, "O")]
    assert run_enable(alarms, [], on_gap="invalid") == [(210, "O"), (220, "I"), (240, "O")]


# ---------------------------------------------------------------------------------------- stale


def test_stale_does_not_take_a_gap_for_a_recovery() -> None:
    """Measured: stale(2.0) on a frozen server gave Stale at 2.5 s, a false Recovered at 10.6 s (the gap
    reading) and Stale again at 12.6 s."""
    scheduler = TestScheduler()
    a1, a2 = rd("A", 1, 0.5), rd("A", 2, 20.0)
    source = scheduler.create_hot_observable(
        on_next(200.5, a1), on_next(210.6, gap("A", 10.6)), on_next(220.0, a2), on_completed(230.0))
    results = scheduler.start(lambda: source.pipe(ops.stale(2.0, scheduler=scheduler)))
    assert timed(results.messages) == [
        (202.5, Stale("A", scheduler.to_datetime(200.5), a1)),
        (220.0, Recovered("A", timedelta(seconds=19.5))),
        (222.0, Stale("A", scheduler.to_datetime(220.0), a2)),
    ]


# ------------------------------------------------------------------------------------ redundancy


def test_merge_backends_absorbs_a_gap_while_another_source_delivers() -> None:
    scheduler = TestScheduler()
    dpm = scheduler.create_hot_observable(
        on_next(210, rd("A", 1, 1.0, backend="dpm")), on_next(220, gap("A", 2.0, backend="dpm")),
        on_next(260, rd("A", 5, 5.0, backend="dpm")))
    grpc = scheduler.create_hot_observable(
        on_next(211, rd("A", 1, 1.0, backend="grpc")), on_next(230, rd("A", 3, 3.0, backend="grpc")),
        on_next(240, gap("A", 4.0, backend="grpc")), on_next(245, gap("A", 4.5, backend="grpc")),
        on_next(261, rd("A", 5, 5.0, backend="grpc")))
    results = scheduler.start(lambda: ops.merge_backends(dpm, grpc))
    assert [(t, r.value, r.is_gap, r.backend) for t, r in timed(results.messages)] == [
        (210, 1, False, "dpm"), (230, 3, False, "grpc"), (240, None, True, "grpc"), (260, 5, False, "dpm")]


def test_merge_backends_sends_one_gap_when_every_source_is_down() -> None:
    scheduler = TestScheduler()
    dpm = scheduler.create_hot_observable(
        on_next(210, rd("A", 1, 1.0)), on_next(220, gap("A", 2.0)), on_next(222, gap("A", 2.2)))
    grpc = scheduler.create_hot_observable(
        on_next(211, rd("A", 1, 1.0)), on_next(221, gap("A", 2.1)), on_next(223, gap("A", 2.3)))
    results = scheduler.start(lambda: ops.merge_backends(dpm, grpc))
    assert [(t, r.is_gap) for t, r in timed(results.messages)] == [(210, False), (221, True)]


def test_merge_backends_keys_duplicates_on_the_canonical_request() -> None:
    """Measured: keyed on (device, timestamp), READING and SETTING (or two ranges) of one device collapsed."""
    def reading(drf: str, value: float, backend: str) -> Reading:
        return Reading(drf, "M:OUTTMP", value, ValueType.SCALAR, None, at(1.0), backend=backend)

    dpm = [reading("M:OUTTMP.READING@p,1000", 70.0, "dpm"), reading("M:OUTTMP.SETTING@p,1000", 72.0, "dpm"),
           reading("M:OUTTMP.READING[0:1]@p,1000", 1.0, "dpm"),
           reading("M:OUTTMP.READING[2:3]@p,1000", 2.0, "dpm"),
           reading("M:OUTTMP.READING.RAW@p,1000", 7.0, "dpm")]
    grpc = [reading("M:OUTTMP.READING@e,02", 70.0, "grpc"), reading("M:OUTTMP.SETTING@p,1000", 72.0, "grpc")]
    scheduler = TestScheduler()
    first = scheduler.create_hot_observable([on_next(210 + i, r) for i, r in enumerate(dpm)])
    second = scheduler.create_hot_observable([on_next(220 + i, r) for i, r in enumerate(grpc)])
    merged = outputs(scheduler.start(lambda: ops.merge_backends(first, second)).messages)
    assert [(r.drf, r.backend) for r in merged] == [(r.drf, "dpm") for r in dpm]


def test_failover_moves_on_at_a_gap_without_passing_it_on() -> None:
    scheduler = TestScheduler()
    primary = scheduler.create_hot_observable(
        on_next(210, rd("A", 1, 1.0)), on_next(220, gap("A", 2.0)), on_next(250, rd("A", 5, 5.0)))
    fallback = scheduler.create_hot_observable(
        on_next(230, rd("A", 3, 3.0, backend="grpc")), on_next(240, gap("A", 4.0, backend="grpc")),
        on_next(260, rd("A", 6, 6.0, backend="grpc")))
    results = scheduler.start(lambda: ops.failover(primary, fallback, stall_after=100.0, switch_back=True,
                                                   scheduler=scheduler))
    assert [(t, r.value, r.is_gap) for t, r in timed(results.messages)] == [
        (210, 1, False), (230, 3, False), (240, None, True), (250, 5, False)]


def test_failover_does_not_switch_back_on_a_gap_of_the_probed_primary() -> None:
    scheduler = TestScheduler()
    primary = scheduler.create_hot_observable(
        on_next(210, rd("A", 1, 1.0)), on_next(220, gap("A", 2.0)), on_next(235, gap("A", 3.5)))
    fallback = scheduler.create_hot_observable(
        on_next(230, rd("A", 3, 3.0, backend="grpc")), on_next(240, rd("A", 4, 4.0, backend="grpc")))
    results = scheduler.start(lambda: ops.failover(primary, fallback, stall_after=100.0, switch_back=True,
                                                   scheduler=scheduler))
    assert [r.value for r in outputs(results.messages)] == [1, 3, 4]


def test_redundant_alarm_pipeline_sees_no_outage() -> None:
    """The cookbook recipe in virtual time: DPM drops twice, gRPC keeps delivering; alarms as if offline."""
    values = [70, 75, 85, 90, 70, 65, 50, 70]
    scheduler = TestScheduler()
    dpm_items = [on_next(210 + 10 * i, rd("A", v, float(i), backend="dpm")) for i, v in enumerate(values)
                 if i not in (2, 3, 6)]
    dpm_items += [on_next(232, gap("A", 2.2, backend="dpm")), on_next(262, gap("A", 6.2, backend="dpm"))]
    dpm = scheduler.create_hot_observable(sorted(dpm_items, key=lambda m: m.time))
    grpc = scheduler.create_hot_observable(
        [on_next(215 + 10 * i, rd("A", v, float(i), backend="grpc")) for i, v in enumerate(values)])
    acknowledge = scheduler.create_hot_observable()
    pipeline = (ops.limits(60, 80), ops.latch(acknowledge))
    results = scheduler.start(lambda: ops.merge_backends(dpm, grpc).pipe(*pipeline))
    offline = run(ops.limits(60, 80), [rd("A", v, float(i)) for i, v in enumerate(values)])
    assert codes(results.messages) == ["OK", "ALARM/MAJOR", "LATCHED/MAJOR", "ALARM/MAJOR", "LATCHED/MAJOR"]
    assert [e.severity for e in outputs(results.messages)].count(Severity.INVALID) == 0
    assert [e for e in codes(offline) if "ALARM" in e] == ["ALARM/MAJOR", "ALARM/MAJOR"]
