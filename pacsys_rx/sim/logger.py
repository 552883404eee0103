"""The simulator's data logger: history of every catalogue device, computed from its generators.

A logged sample at time ``t`` is exactly what a live read at ``t`` returns (same generator, seed and
scaling), so history and live data agree where they meet. Samples are logged at epoch-aligned
multiples of the request's period (``@p,N``/``@q,N``) or of the device's default period.

Requests (drf.md §7): ``<-LOGGER:start:end[:node]`` is the half-open window ``[start, end)`` in epoch
milliseconds; ``<-LOGGERDURATION:ms[:node]`` is ``[now - ms, now]``; ``<-LOGGERSINGLE[:t[:node]]`` is the
last sample logged at or before ``t`` (default now), answered once, not chunked. Nothing is logged
after ``now`` or before the retention horizon. Errors: an unknown node ->
``DPM_INVALID_DATASOURCE``; malformed parameters or ``end < start`` -> ``DPM_BAD_DATASOURCE_FORMAT``;
a window wholly before the horizon, or a property the logger does not log (text, status, alarm
blocks, raw) -> ``DAE_LJ_NO_DATA``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass

from pacsys_rx.drf import DataRequest, PeriodicEvent
from pacsys_rx.model import AcnetStatus, TimedArray, ValueType
from pacsys_rx.sim.model import CYCLES_PER_MS, DeviceModel, Reader, Sample

LOGGER_NODE = "SimLog"
"""The name of the simulator's one logger node (``<-LOGGER:start:end:SimLog``, ACL ``/node=SimLog``)."""
DEFAULT_RETENTION_DAYS = 30.0
CHUNK_SAMPLES = 487
"""Samples per reply of a scalar device's chunked answer (dpm-grpc.md §5.4)."""

NO_DATA = AcnetStatus.named("DAE_LJ_NO_DATA")
UNKNOWN_NODE = AcnetStatus.named("DPM_INVALID_DATASOURCE")
BAD_FORMAT = AcnetStatus.named("DPM_BAD_DATASOURCE_FORMAT")
LOGGER_EXTRAS = frozenset({"LOGGER", "LOGGERDURATION", "LOGGERSINGLE"})
_DAY_MS = 86_400_000.0
_LOGGED_TYPES = (ValueType.SCALAR, ValueType.SCALAR_ARRAY)


def is_logger_request(request: DataRequest) -> bool:
    """True for requests routed to the data logger."""
    return request.extra is not None and request.extra.name in LOGGER_EXTRAS


@dataclass(frozen=True)
class History:
    """A logger answer: ``chunks`` yields one Sample per reply (a timed array of up to 487 samples, or
    one array record); ``single`` answers are one plain sample and need no terminator."""

    request: DataRequest
    times: range
    """Sample times (epoch ms) in order."""
    period_ms: float
    single: bool
    reader: Reader

    def chunks(self) -> Iterator[Sample]:
        read, times = self.reader, self.times
        if not times:
            return
        first = read(times[0] * self.period_ms)
        if self.single or first.value_type is ValueType.SCALAR_ARRAY:
            for k in times:
                yield read(k * self.period_ms)
            return
        for start in range(0, len(times), CHUNK_SAMPLES):
            stamps = [k * self.period_ms for k in times[start:start + CHUNK_SAMPLES]]
            values = tuple(float(read(t).value) for t in stamps)  # type: ignore[arg-type]
            micros = tuple(round(t * 1000) for t in stamps)
            yield Sample(TimedArray(values, micros), ValueType.TIMED_SCALAR_ARRAY, first.units,
                         int(stamps[0]), int(stamps[0] * CYCLES_PER_MS))

    @property
    def count(self) -> int:
        return len(self.times)


class DataLogger:
    """Answers logger requests from the device model; ``retention_days`` bounds how far back it goes."""

    def __init__(self, model: DeviceModel, retention_days: float = DEFAULT_RETENTION_DAYS,
                 node: str = LOGGER_NODE) -> None:
        if not retention_days > 0:
            raise ValueError(f"retention_days must be positive, got {retention_days!r}")
        self.model = model
        self.retention_ms = retention_days * _DAY_MS
        self.node = node

    def answer(self, request: DataRequest, now: float) -> History | AcnetStatus:
        """The history ``request`` asks for as of ``now`` (epoch ms), or the error status."""
        assert request.extra is not None
        name, *parameters = request.extra.text.split(":")
        name = name.upper()
        try:
            window = self._window(name, parameters, now)
        except ValueError:
            return BAD_FORMAT
        if isinstance(window, AcnetStatus):
            return window
        live = dataclasses.replace(request, extra=None)
        compiled = self.model.compile(live)
        if compiled.error is not None:
            return compiled.error
        if compiled.read(now).value_type not in _LOGGED_TYPES:
            return NO_DATA
        device = self.model.devices[request.device]
        event = request.event
        period = float(event.period_ms) if isinstance(event, PeriodicEvent) and event.period_ms > 0 \
            else device.spec.default_period_ms
        start, end = window
        horizon = now - self.retention_ms
        newest = math.floor(now / period)
        if name == "LOGGERSINGLE":
            if start < horizon:
                return NO_DATA
            last = min(newest, math.floor(start / period))
            return History(request, range(last, last + 1), period, True, compiled.read)
        if horizon >= end > start:
            return NO_DATA
        first = math.ceil(max(start, horizon) / period)
        stop = math.floor(end / period) + 1 if name == "LOGGERDURATION" else math.ceil(end / period)
        return History(request, range(first, max(first, min(stop, newest + 1))), period, False, compiled.read)

    def _window(self, name: str, parameters: list[str], now: float) -> tuple[float, float] | AcnetStatus:
        """``(start, end)`` in epoch ms; raises ValueError on malformed parameters."""
        count = {"LOGGER": 2, "LOGGERDURATION": 1, "LOGGERSINGLE": 1}[name]
        values, node = parameters[:count], parameters[count:]
        if len(node) > 1 or (node and node[0] and node[0].upper() != self.node.upper()):
            return UNKNOWN_NODE
        if name == "LOGGERSINGLE":
            when = float(values[0]) if values and values[0] else now
            return when, when
        if len(values) != count:
            raise ValueError("missing parameters")
        numbers = [float(v) for v in values]
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError("not finite")
        if name == "LOGGERDURATION":
            if numbers[0] < 0:
                raise ValueError("negative duration")
            return now - numbers[0], now
        if numbers[1] < numbers[0]:
            raise ValueError("end before start")
        return numbers[0], numbers[1]
