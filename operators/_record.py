from __future__ import annotations

import csv
import dataclasses
import enum
import importlib
import io
import json
import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import reactivex
from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable
from reactivex.scheduler import TimeoutScheduler

from pacsys_rx.model import AcnetStatus, Reading

Format = Literal["csv", "jsonl", "parquet"]
_SUFFIXES: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
_READING_COLUMNS = ("timestamp", "drf", "device", "value", "units", "status", "message", "backend", "cycle")

log = logging.getLogger("pacsys_rx.record")


class Recorder:
    """The operator ``record`` returns: items pass through unchanged and are written to ``path``.

    ``written`` counts the items written to the file, ``unwritable`` those that could not be (an
    item the format cannot hold, a failed write); ``last_error`` says why, and every failure is also
    logged on ``pacsys_rx.record``.
    """

    def __init__(self, path: Path, file_format: Format, flush_interval: float,
                 scheduler: abc.SchedulerBase | None) -> None:
        self.path = path
        self.format = file_format
        self.flush_interval = flush_interval
        self._scheduler = scheduler
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._columns: tuple[str, ...] | None = None
        self._parquet: Any = None
        self.written = 0
        self.unwritable = 0
        self.last_error: str | None = None

    def __call__(self, source: Observable[Any]) -> Observable[Any]:
        def subscribe(observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None,
                      ) -> abc.DisposableBase:
            timer_scheduler = self._scheduler or scheduler or TimeoutScheduler.singleton()

            def on_next(item: Any) -> None:
                self._add(item)
                observer.on_next(item)

            def on_error(error: Exception) -> None:
                self.flush()
                observer.on_error(error)

            def on_completed() -> None:
                self.flush()
                observer.on_completed()

            timer = reactivex.interval(self.flush_interval, scheduler=timer_scheduler).subscribe(
                lambda _: self.flush())
            subscription = source.subscribe(on_next, on_error, on_completed, scheduler=scheduler)
            return CompositeDisposable(subscription, timer, Disposable(self.close))

        return reactivex.create(subscribe)

    def flush(self) -> None:
        """Write what is pending now (also done every ``flush_interval`` seconds and at the end)."""
        with self._lock:
            rows, self._pending = self._pending, []
            if not rows:
                return
            try:
                self._write(rows)
            except Exception as error:  # an I/O failure loses these rows: counted and logged
                count = f"{len(rows)} row" + ("s" if len(rows) > 1 else "")
                self._fail(len(rows), f"could not write {count} to {self.path}: {error}")
            else:
                self.written += len(rows)

    def close(self) -> None:
        """Flush and close the file (done when the subscription ends)."""
        self.flush()
        with self._lock:
            if self._parquet is not None:
                self._parquet.close()
                self._parquet = None

    def _add(self, item: Any) -> None:
        try:
            row = record_row(item)
        except TypeError as error:
            with self._lock:
                self._fail(1, f"cannot record {type(item).__name__}: {error}")
            return
        with self._lock:
            if self._columns is None:
                self._columns = tuple(row)
            if tuple(row) != self._columns:
                self._fail(1, f"a {type(item).__name__} has columns {', '.join(row)}, the file has "
                              f"{', '.join(self._columns)}")
                return
            self._pending.append(row)

    def _fail(self, count: int, reason: str) -> None:
        self.unwritable += count
        self.last_error = reason
        log.warning("%s (%d unwritable so far)", reason, self.unwritable)

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if self.format == "parquet":
            self._write_parquet(rows)
            return
        text = io.StringIO()
        if self.format == "jsonl":
            for row in rows:
                text.write(json.dumps(row) + "\n")
        else:
            writer = csv.DictWriter(text, fieldnames=list(rows[0]))
            if not self.path.exists() or self.path.stat().st_size == 0:
                writer.writeheader()
            writer.writerows({key: _csv_cell(value) for key, value in row.items()} for row in rows)
        with self.path.open("a", encoding="utf-8", newline="") as file:
            file.write(text.getvalue())

    def _write_parquet(self, rows: list[dict[str, Any]]) -> None:
        pa = importlib.import_module("pyarrow")
        pq = importlib.import_module("pyarrow.parquet")
        table = pa.Table.from_pylist([{k: _csv_cell(v) for k, v in row.items()} for row in rows])
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(str(self.path), table.schema)
        self._parquet.write_table(table.cast(self._parquet.schema))


def record(path: str | Path, *, format: Format | None = None, flush_interval: float = 1.0,
           scheduler: abc.SchedulerBase | None = None) -> Recorder:
    """A pass-through sink writing each Reading or AlarmEvent (any dataclass) to ``path``.

    ``format``: ``"csv"`` (header written once; a file that exists is appended to), ``"jsonl"``
    (one JSON object a line, appended) or ``"parquet"`` (a new file, one row group per flush; needs
    the ``pyarrow`` package). By default the suffix decides. Rows are written every
    ``flush_interval`` seconds and when the stream ends. The recorder counts ``written`` and
    ``unwritable`` items and keeps ``last_error`` (never silent: each failure is logged too).

        items:  -a-b---c-|      flush_interval 3
        file:   ----ab---c|
        output: -a-b---c-|
    """
    target = Path(path)
    chosen = format or _SUFFIXES.get(target.suffix.lower())
    if chosen not in ("csv", "jsonl", "parquet"):
        raise ValueError(f"say format='csv', 'jsonl' or 'parquet' for {target.name!r}")
    if chosen == "parquet":
        try:
            importlib.import_module("pyarrow.parquet")
        except ImportError:
            raise ImportError("Parquet recording needs the pyarrow package (pip install pyarrow)") from None
    if not flush_interval > 0:
        raise ValueError(f"flush_interval must be positive, got {flush_interval!r}")
    return Recorder(target, chosen, flush_interval, scheduler)


def record_row(item: Any) -> dict[str, Any]:
    """The row recorded for ``item``: a Reading's fields, or any dataclass's, as JSON-ready values."""
    if isinstance(item, Reading):
        return {name: _plain(getattr(item, name)) for name in _READING_COLUMNS}
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return {f.name: _plain(getattr(item, f.name)) for f in dataclasses.fields(item)}
    raise TypeError("only Readings and event dataclasses (AlarmEvent, ...) are recorded")


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, AcnetStatus):
        return value.name or f"{value.facility} {value.error}"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"a {type(value).__name__} value has no recorded form")


def _csv_cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value

