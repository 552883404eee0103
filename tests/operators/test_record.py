"""``record``: readings and alarm events written to CSV, JSON lines or Parquet, flushed in virtual time."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from pacsys_rx.operators import AlarmState
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    alarm,
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    err,
    on_completed,
    on_next,
    outputs,
    rd,
)


def feed(recorder: ops.Recorder, scheduler: TestScheduler, items: list[tuple[float, Any]],
         end: float | None = None) -> list[Any]:
    messages = [on_next(t, item) for t, item in items] + ([on_completed(end)] if end is not None else [])
    source = scheduler.create_hot_observable(messages)
    return outputs(scheduler.start(lambda: source.pipe(recorder)).messages)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_jsonl_rows_are_written_every_flush_interval_and_at_the_end(tmp_path: Path) -> None:
    scheduler, path = TestScheduler(), tmp_path / "readings.jsonl"
    recorder = ops.record(path, flush_interval=50, scheduler=scheduler)
    source = scheduler.create_hot_observable(on_next(210, rd("M:OUTTMP", 1.5)), on_next(220, err("M:OUTTMP")),
                                             on_next(290, rd("M:OUTTMP", (1.0, 2.0))), on_completed(300))
    seen: list[Any] = []
    source.pipe(recorder).subscribe(seen.append, scheduler=scheduler)
    scheduler.advance_to(249)
    assert lines(path) == [] and len(seen) == 2
    scheduler.advance_to(251)
    assert len(lines(path)) == 2
    scheduler.advance_to(300)
    rows = [json.loads(line) for line in lines(path)]
    assert [row["value"] for row in rows] == [1.5, None, [1.0, 2.0]]
    assert rows[1]["status"] == "DPM_PRIV" and rows[0]["device"] == "M:OUTTMP" and rows[0]["status"] == "OK"
    assert rows[0]["timestamp"] == "2026-01-01T00:00:00+00:00"
    assert (recorder.written, recorder.unwritable) == (3, 0)


def test_csv_of_alarm_events_has_one_header_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "alarms.csv"
    for _ in range(2):
        scheduler = TestScheduler()
        recorder = ops.record(path, flush_interval=1000, scheduler=scheduler)
        passed = feed(recorder, scheduler, [(210, alarm("Z:ACLTST", AlarmState.ALARM, value=60.0))], end=220)
        assert len(passed) == 1 and recorder.written == 1
    rows = list(csv.DictReader(path.open()))
    fields = [(r["device"], r["state"], r["severity"], r["value"]) for r in rows]
    assert fields == [("Z:ACLTST", "alarm", "2", "60.0")] * 2


def test_what_cannot_be_written_is_counted_and_logged(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    scheduler, path = TestScheduler(), tmp_path / "mixed.csv"
    recorder = ops.record(path, scheduler=scheduler)
    passed = feed(recorder, scheduler, [(210, rd("M:OUTTMP", 1.0)), (220, "not a reading"),
                                        (230, alarm("Z:ACLTST", AlarmState.OK))], end=240)
    assert len(passed) == 3, "every item passes through"
    assert (recorder.written, recorder.unwritable) == (1, 2)
    assert recorder.last_error is not None and "columns" in recorder.last_error
    assert sum("unwritable so far" in r.message for r in caplog.records) == 2


def test_a_failed_write_counts_its_rows(tmp_path: Path) -> None:
    scheduler = TestScheduler()
    recorder = ops.record(tmp_path / "missing-dir" / "out.jsonl", flush_interval=100, scheduler=scheduler)
    feed(recorder, scheduler, [(210, rd("M:OUTTMP", 1.0)), (220, rd("M:OUTTMP", 2.0))], end=230)
    assert (recorder.written, recorder.unwritable) == (0, 2)
    assert recorder.last_error is not None and "could not write 2 rows" in recorder.last_error


def test_format_comes_from_the_suffix_or_is_asked_for(tmp_path: Path) -> None:
    assert ops.record(tmp_path / "a.ndjson").format == "jsonl"
    with pytest.raises(ValueError, match="format="):
        ops.record(tmp_path / "a.txt")


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is not None, reason="pyarrow is installed")
def test_parquet_without_pyarrow_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(ImportError, match="pip install pyarrow"):
        ops.record(tmp_path / "a.parquet")


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is None,
                    reason="pyarrow is not installed: Parquet recording is optional and not in the locks")
def test_parquet_rows_are_written_per_flush(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    scheduler, path = TestScheduler(), tmp_path / "readings.parquet"
    recorder = ops.record(path, flush_interval=50, scheduler=scheduler)
    feed(recorder, scheduler, [(210, rd("M:OUTTMP", 1.5)), (290, rd("M:OUTTMP", 2.5))], end=300)
    assert pq.read_table(path).column("value").to_pylist() == [1.5, 2.5]


def test_record_error_propagates(tmp_path: Path) -> None:
    check_error_passes(lambda s: ops.record(tmp_path / "e.jsonl", scheduler=s), rd("A", 1.0))


def test_record_completion_propagates(tmp_path: Path) -> None:
    check_completion_passes(lambda s: ops.record(tmp_path / "c.jsonl", scheduler=s), rd("A", 1.0))


def test_record_disposal_unsubscribes(tmp_path: Path) -> None:
    check_disposal_releases(lambda s: ops.record(tmp_path / "d.jsonl", scheduler=s), rd("A", 1.0))
