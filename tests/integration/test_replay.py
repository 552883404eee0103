"""Replay of logger history in virtual time gives what the same pipeline gave live; backfill-then-live
joins history and live data without gap or duplicate.

The live run is in virtual time: the simulator's event engine is stepped second by second (no wall
clock) and a HistoricalScheduler is advanced with it, so the comparison is exact and not timing
dependent. The history comes over gRPC from a running simulator with the same seed.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest
from pacsys_rx.operators import AlarmEvent
from reactivex import Observable
from reactivex import operators as rx
from reactivex.scheduler import HistoricalScheduler
from reactivex.subject import Subject

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.drf import parse_request
from pacsys_rx.model import Reading
from pacsys_rx.replay import backfill_then_live, history_source, replay
from pacsys_rx.sim import DeviceModel, EventEngine, Simulator, load_catalogue

SEED = 11
DEVICE = "M:FOO"
"""A bounded random walk, logged every second."""
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=SEED, servers=["dpm", "grpc"]) as simulator:
        yield simulator


def at_ms(epoch_ms: float) -> datetime:
    return EPOCH + timedelta(milliseconds=epoch_ms)


def alarm_pipeline(low: float, high: float) -> Callable[[Observable[Reading]], Observable[AlarmEvent]]:
    def pipeline(readings: Observable[Reading]) -> Observable[AlarmEvent]:
        return readings.pipe(ops.limits(low, high, hysteresis=0.05, tries=2), ops.alarm_delay(5.0))

    return pipeline


def live_in_virtual_time(start_ms: int, end_ms: int, low: float, high: float) -> list[AlarmEvent]:
    """The pipeline over the simulator's live stream of ``DEVICE@p,1000``, the engine stepped each second."""
    model = DeviceModel(load_catalogue(), seed=SEED)
    engine = EventEngine(model, start_ms=start_ms)
    clock = HistoricalScheduler(at_ms(start_ms))
    readings: Subject[Reading] = Subject()
    events: list[AlarmEvent] = []
    alarm_pipeline(low, high)(readings).subscribe(events.append, scheduler=clock)

    def sink(batch: list[tuple[object, object]]) -> None:
        for _, sample in batch:
            readings.on_next(Reading(DEVICE, DEVICE, sample.value, sample.value_type,  # type: ignore[attr-defined]
                                     sample.units, at_ms(sample.timestamp)))  # type: ignore[attr-defined]

    engine.subscribe([parse_request(f"{DEVICE}@p,1000")], sink, now=start_ms)
    for t in range(start_ms, end_ms, 1000):
        clock.advance_to(at_ms(t))
        engine.run_until(t)
    return events


def test_replay_gives_exactly_the_transitions_the_pipeline_gave_live(sim: Simulator) -> None:
    end = (int(time.time()) // 60 - 5) * 60_000
    start = end - 2 * 3600_000
    with prx.grpc(**sim.client_options("grpc")) as backend:
        history = backend.history(DEVICE, start / 1000, end / 1000).pipe(rx.to_list()).run()
    values = sorted(r.value for r in history)
    low, high = values[len(values) // 20], values[len(values) * 7 // 10]

    replayed = replay(history, alarm_pipeline(low, high))
    live = live_in_virtual_time(start, end, low, high)

    assert len(history) == 7200
    assert sum(e.state.name == "ALARM" for e in live) >= 2
    assert replayed == live


def test_readings_arrive_at_their_own_timestamps() -> None:
    clock = HistoricalScheduler(at_ms(0))
    readings = [Reading(DEVICE, DEVICE, float(i), None, None, at_ms(1000 * i * i)) for i in range(4)]
    seen: list[tuple[datetime, float]] = []
    history_source(reversed(readings), clock).subscribe(
        lambda r: seen.append((clock.now, r.value)))  # type: ignore[arg-type]
    clock.start()
    assert seen == [(r.timestamp, r.value) for r in readings]


def test_backfill_then_live_has_neither_gap_nor_duplicate(sim: Simulator) -> None:
    """The live stream's first reading comes at subscription time, the rest on whole seconds; history
    ends right before that first live reading."""
    with prx.dpm(**sim.client_options("dpm")) as backend:
        joined = backfill_then_live(backend, f"{DEVICE}@p,1000", "-30s")
        readings = joined.pipe(rx.take(34), rx.to_list()).run()
    stamps = [r.timestamp for r in readings]
    assert stamps == sorted(set(stamps))
    whole = [s for s in stamps if s.microsecond == 0]
    assert {b - a for a, b in itertools.pairwise(whole)} == {timedelta(seconds=1)}
    logged = [r for r in readings if "<-LOGGER" in r.drf]
    assert 29 <= len(logged) <= 31 and readings[:len(logged)] == logged
    assert all(r.ok for r in readings)
