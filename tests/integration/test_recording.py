"""Recording live readings and alarm events from the simulator to CSV and JSON lines (DPM/HTTP, gRPC)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.sim import Simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=1, servers=["dpm", "grpc"]) as simulator:
        yield simulator


@pytest.mark.parametrize("name", ["dpm", "grpc"])
def test_stream_readings_and_alarm_events_are_recorded(sim: Simulator, name: str, tmp_path: Path) -> None:
    readings = ops.record(tmp_path / "readings.jsonl", flush_interval=0.2)
    alarms = ops.record(tmp_path / "alarms.csv", flush_interval=0.2)
    factory = prx.dpm if name == "dpm" else prx.grpc
    with factory(**sim.client_options(name)) as backend:
        recorded = backend.stream("M:OUTTMP@p,100").pipe(
            rxops.take(5), readings, ops.limits(-1e9, 0.0), alarms, rxops.to_list()).run()
    assert len(recorded) == 1, "readings above the high limit: one ALARM edge"
    rows = [json.loads(line) for line in (tmp_path / "readings.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and readings.written == 5 and readings.unwritable == 0
    assert {row["device"] for row in rows} == {"M:OUTTMP"}
    assert all(isinstance(row["value"], float) for row in rows)
    assert all(row["backend"] == name and row["status"] == "OK" for row in rows)
    events = list(csv.DictReader((tmp_path / "alarms.csv").open()))
    assert [(e["device"], e["state"]) for e in events] == [("M:OUTTMP", "alarm")] and alarms.written == 1
