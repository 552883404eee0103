"""The event engine in stepped time: periodic, on-change, immediate, never, clock and state events."""

from __future__ import annotations

from typing import Any

import pytest

from pacsys_rx.drf import parse_request
from pacsys_rx.model import AcnetStatus
from pacsys_rx.sim import DeviceModel, EventEngine, Identity, Permissions, Sample, load_catalogue
from pacsys_rx.sim.catalogue import parse_catalogue

T0 = 1_000_000.0
CATALOGUE = load_catalogue()
USER = Permissions.default().identity("user@FNAL.GOV")


class Recorder:
    """A sink that keeps every batch with the engine time it arrived at."""

    def __init__(self, engine: EventEngine) -> None:
        self.engine = engine
        self.batches: list[tuple[float, list[tuple[Any, Sample]]]] = []

    def __call__(self, batch: list[tuple[Any, Sample]]) -> None:
        self.batches.append((self.engine.time(), batch))

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.batches]

    def samples(self, tag: Any = 0) -> list[Sample]:
        return [sample for _, batch in self.batches for t, sample in batch if t == tag]


def make(catalogue: Any = CATALOGUE) -> tuple[DeviceModel, EventEngine]:
    model = DeviceModel(catalogue, seed=3)
    engine = EventEngine(model, start_ms=T0)
    model.clock = engine.time
    return model, engine


def subscribe(engine: EventEngine, *drfs: str, tags: list[Any] | None = None) -> tuple[Recorder, Any]:
    recorder = Recorder(engine)
    handle = engine.subscribe([parse_request(d) for d in drfs], recorder, tags=tags)
    return recorder, handle


def step(engine: EventEngine, until: float, by: float = 1.0) -> None:
    now = engine.time()
    while now < until:
        now = min(until, now + by)
        engine.run_until(now)


def test_periodic_rate_and_immediate_first() -> None:
    _, engine = make()
    recorder, handle = subscribe(engine, "M:OUTTMP@p,100")
    step(engine, T0 + 1000)
    assert recorder.times == [T0 + 100 * k for k in range(11)]
    assert [s.timestamp for s in recorder.samples()] == [int(T0) + 100 * k for k in range(11)]
    assert not handle.is_finished


def test_periodic_without_immediate_first_starts_on_the_grid() -> None:
    _, engine = make()
    engine.run_until(T0 + 30)
    recorder, _ = subscribe(engine, "M:OUTTMP@p,100,false")
    step(engine, T0 + 500)
    assert recorder.times == [T0 + 100 * k for k in range(1, 6)]


def test_default_event_uses_the_device_default_period() -> None:
    _, engine = make()
    recorder, _ = subscribe(engine, "M:OUTTMP")
    step(engine, T0 + 3000, by=10)
    assert recorder.times == [T0, T0 + 1000, T0 + 2000, T0 + 3000]


def test_continuous_p_repeats_unchanged_values_but_q_sends_changes_only() -> None:
    model, engine = make()
    p_rec, _ = subscribe(engine, "G:AMANDA.SETTING@p,100")
    q_rec, _ = subscribe(engine, "G:AMANDA.SETTING@q,100")
    step(engine, T0 + 500)
    model.apply_setting(parse_request("G:AMANDA"), 2.0, Identity("op", None, 0x8000), T0 + 550)
    step(engine, T0 + 1000)
    assert len(p_rec.samples()) == 11
    assert [s.value for s in q_rec.samples()] == [1.234, 2.0]
    assert q_rec.times == [T0, T0 + 600]


def test_q_without_immediate_first_sends_the_first_grid_value() -> None:
    _, engine = make()
    recorder, _ = subscribe(engine, "G:AMANDA@q,100,f")
    step(engine, T0 + 1000)
    assert recorder.times == [T0 + 100]


def test_immediate_and_never_finish_the_subscription() -> None:
    _, engine = make()
    recorder, handle = subscribe(engine, "M:OUTTMP@I", "G:AMANDA@I", "Z:ACLTST@N")
    assert not handle.is_finished
    engine.run_until(T0)
    assert len(recorder.batches) == 1 and [tag for tag, _ in recorder.batches[0][1]] == [0, 1]
    assert handle.is_finished
    step(engine, T0 + 5000, by=100)
    assert len(recorder.batches) == 1
    _, never = subscribe(engine, "Z:ACLTST@N")
    assert never.is_finished


def test_errors_are_delivered_once_with_their_tags() -> None:
    _, engine = make()
    recorder, handle = subscribe(
        engine,
        "Z:BAD@p,100",
        "M:OUTTMP@p,0",
        "M:OUTTMP@e,1FF",
        "M:OUTTMP@s,Z:NOTFND,1,0,=",
        tags=["bad", "rate", "clock", "state"],
    )
    step(engine, T0 + 1000, by=50)
    assert recorder.times == [T0]
    statuses = {tag: sample.status for tag, sample in recorder.batches[0][1]}
    assert statuses == {
        "bad": AcnetStatus.named("DPM_NO_SUCH_DEVICE"),
        "rate": AcnetStatus.named("DIO_INVALID_RATE"),
        "clock": AcnetStatus.named("DPM_BAD_EVENT"),
        "state": AcnetStatus.named("DPM_BAD_EVENT"),
    }
    assert handle.is_finished


def test_one_batch_per_subscription_per_tick() -> None:
    _, engine = make()
    drfs = [f"Z:BANK{i:03d}@p,5" for i in range(50)] + ["M:OUTTMP@p,10"]
    recorder, _ = subscribe(engine, *drfs)
    step(engine, T0 + 100)
    assert len(recorder.batches) == 21
    assert [len(batch) for _, batch in recorder.batches[:3]] == [51, 50, 51]


def test_cancel_stops_delivery() -> None:
    _, engine = make()
    recorder, handle = subscribe(engine, "M:OUTTMP@p,100")
    step(engine, T0 + 200)
    handle.cancel()
    step(engine, T0 + 1000)
    assert len(recorder.batches) == 3 and handle.is_finished
    assert engine.subscription_count == 0 and engine.next_deadline() is None


def test_failing_sink_is_cancelled_without_stopping_others() -> None:
    _, engine = make()

    def broken(batch: list[tuple[Any, Sample]]) -> None:
        raise RuntimeError("boom")

    bad = engine.subscribe([parse_request("M:OUTTMP@p,100")], broken)
    recorder, _ = subscribe(engine, "M:OUTTMP@p,100")
    step(engine, T0 + 300)
    assert bad.cancelled and len(recorder.batches) == 4


def test_clock_events_follow_the_tclk_schedule_with_delays() -> None:
    _, engine = make()
    recorder, _ = subscribe(engine, "M:OUTTMP@e,02", "M:OUTTMP@e,02,e,300", "M:OUTTMP@E,0F")
    step(engine, T0 + 10_000, by=7)
    assert [s.timestamp for s in recorder.samples(0)] == [1_005_000, 1_010_000]
    assert [s.timestamp for s in recorder.samples(1)] == [1_005_300]
    fifteen_hz = recorder.samples(2)
    assert len(fifteen_hz) == 150
    assert fifteen_hz[1].timestamp - fifteen_hz[0].timestamp in (66, 67)


def test_clock_event_offsets_come_from_the_catalogue() -> None:
    _, engine = make()
    recorder, _ = subscribe(engine, "M:OUTTMP@e,8F")
    step(engine, T0 + 10_000, by=50)
    assert recorder.times == [T0 + 1000, T0 + 6000]


def test_unconfigured_clock_events_fire_only_when_triggered() -> None:
    _, engine = make()
    recorder, handle = subscribe(engine, "M:OUTTMP@e,42,e,20")
    step(engine, T0 + 10_000, by=100)
    assert recorder.batches == [] and not handle.is_finished
    engine.trigger_clock(0x42, at=T0 + 10_000)
    step(engine, T0 + 10_100)
    assert recorder.times == [T0 + 10_020]


def test_shared_clock_source_stops_when_its_listeners_are_gone() -> None:
    _, engine = make()
    _, first = subscribe(engine, "M:OUTTMP@e,02")
    _, second = subscribe(engine, "G:AMANDA@e,02")
    first.cancel()
    second.cancel()
    step(engine, T0 + 6000, by=500)
    assert engine.next_deadline() is None


@pytest.mark.parametrize(
    ("op", "values", "fires"),
    [
        ("=", [5.0, 4.0, 5.0], [True, False, True]),
        ("!=", [5.0, 4.0], [False, True]),
        (">", [5.0, 6.0], [False, True]),
        (">=", [4.0, 5.0], [False, True]),
        ("<", [4.0, 5.0], [True, False]),
        ("<=", [5.0, 6.0], [True, False]),
        ("*", [1.0, 1.0, 2.0], [True, False, True]),
    ],
)
def test_state_events(op: str, values: list[float], fires: list[bool]) -> None:
    model, engine = make()
    recorder, _ = subscribe(engine, f"M:OUTTMP@s,Z:ACLTS8,5,10,{op}")
    expected = []
    for k, (value, fire) in enumerate(zip(values, fires, strict=True)):
        at = T0 + 1000 * (k + 1)
        engine.run_until(at)
        assert model.apply_setting(parse_request("Z:ACLTS8"), value, USER, at).is_ok
        if fire:
            expected.append(at + 10)
    step(engine, T0 + 1000 * (len(values) + 2), by=5)
    assert recorder.times == expected


def test_state_event_device_may_be_written_in_any_case() -> None:
    model, engine = make()
    recorder, _ = subscribe(engine, "M:OUTTMP@s,z_acltS8,3,0,=")
    model.apply_setting(parse_request("Z:ACLTS8"), 3.0, USER, T0)
    engine.run_until(T0)
    assert recorder.times == [T0]


def test_new_deadlines_wake_the_driver_hook() -> None:
    _, engine = make()
    woken: list[float] = []
    engine.on_new_deadline = woken.append
    subscribe(engine, "M:OUTTMP@p,100,false")
    subscribe(engine, "M:OUTTMP@I")
    subscribe(engine, "M:OUTTMP@p,500,false")
    assert woken == [T0 + 100, T0]


def test_tick_cost_does_not_depend_on_the_catalogue() -> None:
    bank = {"bank": {"count": 5000, "reading": {"generator": {"kind": "constant", "value": 1.0}}}}
    _, engine = make(parse_catalogue(bank, "big"))
    recorder, _ = subscribe(engine, "Z:BANK0001@p,10")
    step(engine, T0 + 100)
    assert len(recorder.batches) == 11
    assert len(engine._heap) == 1


def test_periodic_against_the_wall_clock_skips_missed_ticks() -> None:
    """An engine running late (a loaded simulator) resumes on the grid after now, without replaying."""
    model = DeviceModel(CATALOGUE, seed=3)
    wall = [T0]
    engine = EventEngine(model, clock=lambda: wall[0])
    model.clock = engine.time
    recorder, _ = subscribe(engine, "M:OUTTMP@p,100")
    engine.run_until(T0)
    wall[0] = T0 + 1050  # ten ticks late
    engine.run_until(wall[0])
    wall[0] = T0 + 1100
    engine.run_until(wall[0])
    assert [s.timestamp for s in recorder.samples()] == [int(T0), int(T0) + 100, int(T0) + 1100]


def test_periodic_in_stepped_time_replays_every_tick_of_a_long_step() -> None:
    _, engine = make()
    recorder, _ = subscribe(engine, "M:OUTTMP@p,100")
    engine.run_until(T0 + 1000)
    assert len(recorder.samples()) == 11
