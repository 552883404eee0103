"""The stream hand-off through the delivery pool: order per subscriber, isolation of a blocked or
raising subscriber, and the hand-off counters (subscribers sharing a DRF are always handed off)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from polling import wait_until
from reactivex import Observer
from reactivex import abc as rxabc
from reactivex.disposable import Disposable

from pacsys_rx.backends.streams import ServerSubscription, StreamHub, StreamSink, subscribe_stream
from pacsys_rx.model import OK, Reading, ValueType
from pacsys_rx.model.reading import utc_now

DRF = "M:OUTTMP.READING@p,1000"


class _Released(ServerSubscription):
    def release(self, drf: str) -> None:
        pass


class _Server:
    """Opens every stream at once and keeps its sink, so the test emits on it."""

    def __init__(self) -> None:
        self.sink: StreamSink | None = None

    def open(self, drfs: Sequence[str], sink: StreamSink) -> ServerSubscription:
        self.sink = sink
        sink.mark_connected()
        return _Released()

    def emit(self, count: int, start: int = 0) -> None:
        assert self.sink is not None
        now = utc_now()
        for value in range(start, start + count):
            self.sink.emit(Reading(DRF, "M:OUTTMP", float(value), ValueType.SCALAR, "degF", now, 0, OK,
                                   "fake", None, None))


def _never(_: float, __: Callable[[], None]) -> rxabc.DisposableBase:
    return Disposable()


def _hub(server: _Server) -> StreamHub:
    return StreamHub("fake", server.open, _never, 5.0, inline=True)


def _values(readings: list[Reading]) -> list[float]:
    return [reading.value for reading in readings]  # type: ignore[misc]


def test_shared_subscribers_get_every_reading_in_order() -> None:
    server = _Server()
    hub = _hub(server)
    received: list[list[Reading]] = [[], [], []]
    for readings in received:
        subscribe_stream(hub, [DRF], Observer(readings.append), lambda: None, maxsize=10_000)
    server.emit(5000)
    wait_until(lambda: all(len(readings) == 5000 for readings in received), what="every reading handed off")
    for readings in received:
        assert _values(readings) == [float(value) for value in range(5000)]


def test_a_blocked_subscriber_drops_its_oldest_and_counts_them_while_the_others_get_everything() -> None:
    server = _Server()
    hub = _hub(server)
    entered, release = threading.Event(), threading.Event()
    blocked: list[Reading] = []

    def block(reading: Reading) -> None:
        blocked.append(reading)
        entered.set()
        release.wait(10.0)

    fast: list[Reading] = []
    subscribe_stream(hub, [DRF], Observer(block), lambda: None, maxsize=10)
    subscribe_stream(hub, [DRF], Observer(fast.append), lambda: None, maxsize=10_000)
    try:
        server.emit(1)
        wait_until(entered.is_set, what="the blocked subscriber inside on_next")
        server.emit(999, start=1)
        wait_until(lambda: len(fast) == 1000, what="the other subscriber got every reading")
        stats = {s.maxsize: s for s in hub.stats()}
        assert (stats[10].queued, stats[10].dropped) == (10, 989)
    finally:
        release.set()
    wait_until(lambda: len(blocked) == 11, what="the blocked subscriber drained")
    assert _values(blocked) == [0.0, *(float(value) for value in range(990, 1000))]
    assert _values(fast) == [float(value) for value in range(1000)]


def test_a_raising_subscriber_is_unsubscribed_and_the_others_keep_their_order() -> None:
    server = _Server()
    hub = _hub(server)
    errors: list[BaseException] = []
    hub.error_hook = lambda drf, error: errors.append(error)

    def explode(reading: Reading) -> None:
        if reading.value == 3.0:
            raise RuntimeError("subscriber failure")

    kept: list[Reading] = []
    subscribe_stream(hub, [DRF], Observer(explode), lambda: None)
    subscribe_stream(hub, [DRF], Observer(kept.append), lambda: None)
    server.emit(200)
    wait_until(lambda: len(kept) == 200 and len(errors) == 1, what="the raising subscriber unsubscribed")
    assert _values(kept) == [float(value) for value in range(200)]
    assert [s.maxsize for s in hub.stats()] == [1000]
