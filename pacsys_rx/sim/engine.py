"""The event engine: one heap of deadlines drives every subscription (drf.md §6 events).

The engine is time-agnostic: :meth:`EventEngine.run_until` dispatches everything due up to a time
(epoch milliseconds), so tests step time explicitly; :class:`RealTimeDriver` runs it on an asyncio
loop against the wall clock. A tick costs work proportional to the subscriptions due at that instant,
not to the size of the catalogue.

Event semantics:

* default event (none or ``@U``): continuous periodic at the device's default period, first reading
  immediately;
* ``@I``: one reading at subscription time; ``@N``: nothing;
* ``@P,t[,first]`` / ``@Q,t[,first]``: readings at epoch-aligned multiples of ``t`` (plus one at
  subscription time when ``first`` is true, the default); ``Q`` sends a reading only when it differs
  from the last one sent for that request;
* ``@E,ev[,type[,delay]]``: a reading ``delay`` ms after each occurrence of the simulated TCLK event
  (occurrences come from the catalogue's ``[clock]`` table or :meth:`EventEngine.trigger_clock`);
* ``@S,dev,value,delay,op``: a reading ``delay`` ms after each setting of ``dev`` whose new value
  compares true with ``value`` under ``op`` (``*``: any change of value).

Requests that can never produce data (unknown device, missing property, bad event) get one error
sample at subscription time. Sinks receive one call per subscription per tick with every
``(tag, Sample)`` due at that instant. Not thread-safe: use it from one thread (the simulator loop).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import math
import operator
import time
from collections.abc import Callable, Sequence
from typing import Any

from pacsys_rx.drf import (
    ClockEvent,
    DataRequest,
    DefaultEvent,
    ImmediateEvent,
    NeverEvent,
    PeriodicEvent,
    StateEvent,
)
from pacsys_rx.model import AcnetStatus
from pacsys_rx.sim.catalogue import ACNET_NAME
from pacsys_rx.sim.model import DeviceModel, Reader, Sample

log = logging.getLogger("pacsys_rx.sim.engine")

Batch = list[tuple[Any, Sample]]
Sink = Callable[[Batch], None]
"""Receives the ``(tag, Sample)`` pairs of one subscription that are due at one instant."""

BAD_EVENT = AcnetStatus.named("DPM_BAD_EVENT")
INVALID_RATE = AcnetStatus.named("DIO_INVALID_RATE")
STATE_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}

_Pairs = list[tuple[Any, Reader]]
_Due = dict["Subscription", Batch]


def canonical_device(name: str) -> str:
    """``g_amanda`` -> ``G:AMANDA`` for ACNET-looking names (as a state event may spell its device)."""
    upper = name.upper()
    return f"{upper[0]}:{upper[2:]}" if ACNET_NAME.match(name) else name


def wall_clock_ms() -> float:
    return time.time() * 1000.0


class Subscription:
    """Handle on subscribed requests: ``cancel()`` stops them; ``is_finished``: no more data can come."""

    __slots__ = ("_engine", "_pending", "_repeating", "cancelled", "sink")

    def __init__(self, engine: EventEngine, sink: Sink) -> None:
        self._engine = engine
        self.sink = sink
        self.cancelled = False
        self._pending = 0
        self._repeating = False

    @property
    def is_finished(self) -> bool:
        """True once cancelled, or when every request was one-shot (``@I``, ``@N``, errors) and answered."""
        return self.cancelled or (not self._repeating and self._pending == 0)

    def cancel(self) -> None:
        self._engine.unsubscribe(self)


def _batch(due: _Due, sub: Subscription) -> Batch:
    batch = due.get(sub)
    if batch is None:
        batch = due[sub] = []
    return batch


class _Timer:
    """Something in the heap: ``fire`` adds due samples and returns its next deadline (None: done)."""

    __slots__ = ()

    def fire(self, engine: EventEngine, t: float, due: _Due) -> float | None:
        raise NotImplementedError


class _OneShot(_Timer):
    __slots__ = ("final", "pairs", "sub")

    def __init__(self, sub: Subscription, pairs: _Pairs, final: bool) -> None:
        self.sub, self.pairs, self.final = sub, pairs, final

    def fire(self, engine: EventEngine, t: float, due: _Due) -> float | None:
        sub = self.sub
        if not sub.cancelled:
            _batch(due, sub).extend([(tag, read(t)) for tag, read in self.pairs])
            if self.final:
                sub._pending -= len(self.pairs)
        return None


class _Periodic(_Timer):
    __slots__ = ("pairs", "period", "sub")

    def __init__(self, sub: Subscription, pairs: _Pairs, period: float) -> None:
        self.sub, self.pairs, self.period = sub, pairs, period

    def fire(self, engine: EventEngine, t: float, due: _Due) -> float | None:
        sub = self.sub
        if sub.cancelled:
            return None
        _batch(due, sub).extend([(tag, read(t)) for tag, read in self.pairs])
        return self.next_tick(engine, t)

    def next_tick(self, engine: EventEngine, t: float) -> float:
        """The next grid point after ``t``; against the wall clock, after now: an engine that fell behind
        skips the ticks it missed (as a real acquisition does) instead of replaying every one of them."""
        if engine.clock is not None:
            t = max(t, engine.clock())
        return (t // self.period + 1) * self.period


class _OnChange(_Periodic):
    """``@Q``: like ``@P`` but a request's sample is sent only when it differs from the last one sent."""

    __slots__ = ("last",)

    def __init__(self, sub: Subscription, pairs: _Pairs, period: float) -> None:
        super().__init__(sub, pairs, period)
        self.last: list[Sample | None] = [None] * len(pairs)

    def fire(self, engine: EventEngine, t: float, due: _Due) -> float | None:
        sub = self.sub
        if sub.cancelled:
            return None
        last = self.last
        changed: Batch = []
        for i, (tag, read) in enumerate(self.pairs):
            sample, previous = read(t), last[i]
            if previous is None or sample.value != previous.value or sample.status != previous.status:
                last[i] = sample
                changed.append((tag, sample))
        if changed:
            _batch(due, sub).extend(changed)
        return self.next_tick(engine, t)


class _ClockSource(_Timer):
    """Occurrences of one TCLK event at ``offset + k * period``; dispatches to the engine's listeners."""

    __slots__ = ("number", "offset", "period")

    def __init__(self, number: int, period: float, offset: float) -> None:
        self.number, self.period, self.offset = number, period, offset

    def first_after(self, now: float) -> float:
        return self.offset + (math.floor((now - self.offset) / self.period) + 1) * self.period

    def fire(self, engine: EventEngine, t: float, due: _Due) -> float | None:
        if not engine._clock_occurred(self.number, t):
            del engine._clock_sources[self.number]
            return None
        return self.first_after(t)


class EventEngine:
    """Schedules readings for subscriptions; see the module documentation for the event semantics.

    ``clock`` (epoch ms) is the time used when a caller gives none; without it the engine's time is
    the last ``run_until`` time (stepped mode). ``on_new_deadline(deadline)`` is called when a
    subscription or setting creates a deadline earlier than any pending one (the real-time driver
    uses it to wake early).
    """

    def __init__(
        self, model: DeviceModel, clock: Callable[[], float] | None = None, start_ms: float = 0.0
    ) -> None:
        self.model = model
        self.clock = clock
        self.on_new_deadline: Callable[[float], None] | None = None
        self._now = start_ms
        self._heap: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._dispatching = False
        self._subscriptions: set[Subscription] = set()
        self._clock_listeners: dict[int, list[tuple[Subscription, _Pairs, float]]] = {}
        self._clock_sources: dict[int, _ClockSource] = {}
        self._state_listeners: dict[str, list[tuple[Subscription, _Pairs, float, str, float]]] = {}
        self._state_values: dict[str, float | None] = {}
        model.add_listener(self._on_setting)

    # ------------------------------------------------------------------ time

    def time(self) -> float:
        """The engine's current time in epoch ms."""
        return self.clock() if self.clock is not None else self._now

    def next_deadline(self) -> float | None:
        """The earliest pending deadline, or None when nothing is scheduled."""
        return self._heap[0][0] if self._heap else None

    def run_until(self, now: float) -> None:
        """Dispatch everything due at or before ``now``, instant by instant, in time order."""
        heap = self._heap
        self._dispatching = True
        try:
            while heap and heap[0][0] <= now:
                t = heap[0][0]
                self._now = t
                due: _Due = {}
                while heap and heap[0][0] == t:
                    timer = heapq.heappop(heap)[2]
                    following = timer.fire(self, t, due)
                    if following is not None:
                        heapq.heappush(heap, (following, next(self._seq), timer))
                for sub, batch in due.items():
                    self._deliver(sub, batch)
        finally:
            self._dispatching = False
        self._now = max(self._now, now)

    def _deliver(self, sub: Subscription, batch: Batch) -> None:
        if sub.cancelled:
            return
        try:
            sub.sink(batch)
        except Exception:
            log.exception("subscription sink failed; cancelling the subscription")
            self.unsubscribe(sub)

    def _push(self, deadline: float, timer: _Timer) -> None:
        heap = self._heap
        earliest = not heap or deadline < heap[0][0]
        heapq.heappush(heap, (deadline, next(self._seq), timer))
        if earliest and not self._dispatching and self.on_new_deadline is not None:
            self.on_new_deadline(deadline)

    # ------------------------------------------------------------------ subscriptions

    @property
    def subscription_count(self) -> int:
        return len(self._subscriptions)

    def subscribe(
        self,
        requests: Sequence[DataRequest],
        sink: Sink,
        tags: Sequence[Any] | None = None,
        now: float | None = None,
    ) -> Subscription:
        """Deliver samples for ``requests`` to ``sink``; ``tags[i]`` (default ``i``) labels request i."""
        if tags is not None and len(tags) != len(requests):
            raise ValueError(f"{len(tags)} tags for {len(requests)} requests")
        now = self.time() if now is None else now
        sub = Subscription(self, sink)
        self._subscriptions.add(sub)
        immediate: _Pairs = []
        groups: dict[tuple[Any, ...], _Pairs] = {}
        for i, request in enumerate(requests):
            tag = i if tags is None else tags[i]
            compiled = self.model.compile(request)
            error = self.model.entry_error(request)
            key = self._group_key(request)
            if error is not None or isinstance(key, AcnetStatus):
                status = error if error is not None else key
                immediate.append((tag, lambda t, s=status: Sample.error(s, t)))  # type: ignore[misc]
            elif key == ("I",):
                immediate.append((tag, compiled.read))
            elif key != ("N",):
                groups.setdefault(key, []).append((tag, compiled.read))
        sub._pending = len(immediate)
        sub._repeating = bool(groups)
        if immediate:
            self._push(now, _OneShot(sub, immediate, final=True))
        for key, pairs in groups.items():
            self._start_group(sub, key, pairs, now)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop a subscription; its pending timers are dropped when they come due."""
        sub.cancelled = True
        self._subscriptions.discard(sub)

    def close(self) -> None:
        """Cancel every subscription and detach from the model."""
        for sub in list(self._subscriptions):
            self.unsubscribe(sub)
        self._heap.clear()
        self._clock_sources.clear()
        self.model.remove_listener(self._on_setting)

    def _group_key(self, request: DataRequest) -> tuple[Any, ...] | AcnetStatus:
        """Requests of one subscription with equal keys share one timer (and so one batch per tick)."""
        event = request.event
        if isinstance(event, DefaultEvent):
            return "P", self.model.default_period_ms(request.device), True, True
        if isinstance(event, PeriodicEvent):
            if event.period_ms <= 0:
                return INVALID_RATE
            return "P", float(event.period_ms), event.continuous, event.immediate_first
        if isinstance(event, ImmediateEvent):
            return ("I",)
        if isinstance(event, NeverEvent):
            return ("N",)
        if isinstance(event, ClockEvent):
            return BAD_EVENT if event.number > 0xFF else ("E", event.number, float(event.delay_ms))
        if isinstance(event, StateEvent):
            if event.op != "*" and event.op not in STATE_OPERATORS:
                return BAD_EVENT
            state_device = canonical_device(event.device)
            if self.model.state_value(state_device, self.time()) is None:
                return BAD_EVENT
            return "S", state_device, float(event.value), float(event.delay_ms), event.op
        return BAD_EVENT

    def _start_group(self, sub: Subscription, key: tuple[Any, ...], pairs: _Pairs, now: float) -> None:
        kind = key[0]
        if kind == "P":
            _, period, continuous, immediate_first = key
            timer = (_Periodic if continuous else _OnChange)(sub, pairs, period)
            self._push(now if immediate_first else (now // period + 1) * period, timer)
        elif kind == "E":
            _, number, delay = key
            self._clock_listeners.setdefault(number, []).append((sub, pairs, delay))
            spec = self.model.catalogue.clock_events.get(number)
            if spec is not None and number not in self._clock_sources:
                source = self._clock_sources[number] = _ClockSource(number, spec.period_ms, spec.offset_ms)
                self._push(source.first_after(now), source)
        else:
            _, device, value, delay, op = key
            if device not in self._state_listeners:
                self._state_values[device] = self.model.state_value(device, now)
            self._state_listeners.setdefault(device, []).append((sub, pairs, delay, op, value))

    # ------------------------------------------------------------------ clock and state events

    def trigger_clock(self, number: int, at: float | None = None) -> None:
        """Simulate one occurrence of TCLK event ``number`` at ``at`` (default: now), configured or not."""
        self._clock_occurred(number, self.time() if at is None else at)

    def _clock_occurred(self, number: int, t: float) -> bool:
        """Schedule the listeners' readings for an occurrence; False when no listener is left."""
        listeners = self._clock_listeners.get(number)
        if listeners is None:
            return False
        listeners[:] = [entry for entry in listeners if not entry[0].cancelled]
        if not listeners:
            del self._clock_listeners[number]
            return False
        for sub, pairs, delay in listeners:
            self._push(t + delay, _OneShot(sub, pairs, final=False))
        return True

    def _on_setting(self, device: str, now: float) -> None:
        listeners = self._state_listeners.get(device)
        if listeners is None:
            return
        listeners[:] = [entry for entry in listeners if not entry[0].cancelled]
        if not listeners:
            del self._state_listeners[device]
            del self._state_values[device]
            return
        new = self.model.state_value(device, now)
        old = self._state_values[device]
        self._state_values[device] = new
        if new is None:
            return
        for sub, pairs, delay, op, value in listeners:
            if new != old if op == "*" else STATE_OPERATORS[op](new, value):
                self._push(now + delay, _OneShot(sub, pairs, final=False))


class RealTimeDriver:
    """Runs an :class:`EventEngine` on an asyncio loop against the wall clock (one ``call_at`` armed)."""

    def __init__(
        self, engine: EventEngine, loop: asyncio.AbstractEventLoop, clock: Callable[[], float] = wall_clock_ms
    ) -> None:
        self.engine = engine
        self.loop = loop
        self.clock = clock
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for: float | None = None

    def start(self) -> None:
        """Attach to the engine (its clock becomes the wall clock) and arm for the first deadline."""
        self.engine.clock = self.clock
        self.engine.model.clock = self.clock
        self.engine.on_new_deadline = self._wake
        self._tick()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._armed_for = None
        self.engine.on_new_deadline = None

    def _wake(self, deadline: float) -> None:
        if self._armed_for is None or deadline < self._armed_for:
            self._arm(deadline)

    def _arm(self, deadline: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        delay = max(0.0, (deadline - self.clock()) / 1000.0)
        self._armed_for = deadline
        self._handle = self.loop.call_at(self.loop.time() + delay, self._tick)

    def _tick(self) -> None:
        self._handle = self._armed_for = None
        self.engine.run_until(self.clock())
        deadline = self.engine.next_deadline()
        if deadline is not None:
            self._arm(deadline)
