"""The simulator's gRPC Read writer: how a call ends when its client goes away, and how it stops
acquiring while its queue is full."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pacsys_rx.drf import DataRequest, parse_request
from pacsys_rx.model import OK, ValueType
from pacsys_rx.sim import EventEngine, grpc_server, load_catalogue
from pacsys_rx.sim.engine import Batch, Subscription
from pacsys_rx.sim.grpc_server import GRPCServer, _ReadCall
from pacsys_rx.sim.model import DeviceModel, Sample

START_MS = 1_700_000_000_000.0


class GoneClientContext:
    """A servicer context whose writes fail as they do once the client cancelled or disconnected."""

    def __init__(self) -> None:
        self.writes = 0

    async def write(self, _message: bytes) -> None:
        self.writes += 1
        raise RuntimeError('Failed "execute_batch"')

    def done(self) -> bool:
        return False


class EndlessSubscription:
    is_finished = False


def test_a_failed_write_ends_the_call_quietly() -> None:
    call = _ReadCall("ipv4:127.0.0.1:1", 2)
    call.subscription = EndlessSubscription()  # type: ignore[assignment]
    call.on_batch([(0, Sample(1.5, ValueType.SCALAR, None, 1_700_000_000_000, 0, OK)),
                   (1, Sample(2.5, ValueType.SCALAR, None, 1_700_000_000_000, 0, OK))])
    context = GoneClientContext()
    server: Any = GRPCServer()
    asyncio.run(asyncio.wait_for(server._serve(call, context), timeout=5.0))
    assert context.writes == 1


def subscriber(engine: EventEngine) -> Callable[[Sequence[tuple[int, DataRequest]], Callable[[Batch], None]],
                                                  Subscription]:
    def subscribe(entries: Sequence[tuple[int, DataRequest]], sink: Callable[[Batch], None]) -> Subscription:
        return engine.subscribe([request for _, request in entries], sink, [tag for tag, _ in entries])

    return subscribe


def test_a_call_whose_queue_is_full_stops_acquiring_until_resumed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grpc_server, "MAX_QUEUED_SAMPLES", 10)
    engine = EventEngine(DeviceModel(load_catalogue(), seed=1), start_ms=START_MS)
    call = _ReadCall("ipv4:127.0.0.1:1", 3)
    call.start(subscriber(engine), [(0, parse_request("Z:BANK000@p,5")), (1, parse_request("Z:BANK001@p,5")),
                                    (2, parse_request("M:OUTTMP@I"))])
    engine.run_until(START_MS + 100)
    assert call.suspended and call.suspensions == 1 and call.dropped >= 1
    assert call.queued_count == 10 and not call.finished
    engine.run_until(START_MS + 200)
    assert call.queued_count == 10 and engine.next_deadline() is None  # nothing is sampled meanwhile
    assert len(call.drain()) == 3 and call.idle
    call.resume()
    engine.run_until(START_MS + 220)
    assert not call.suspended and set(call.queued) == {0, 1}  # the one-shot entry was answered before
    call.cancel()
    assert call.finished


def test_the_writer_resumes_a_suspended_call_when_it_takes_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grpc_server, "MAX_QUEUED_SAMPLES", 4)
    monkeypatch.setattr(grpc_server, "FLUSH_INTERVAL_S", 0.0)
    engine = EventEngine(DeviceModel(load_catalogue(), seed=1), start_ms=START_MS)
    call = _ReadCall("ipv4:127.0.0.1:1", 1)
    call.start(subscriber(engine), [(0, parse_request("Z:BANK000@p,5"))])
    engine.run_until(START_MS + 50)
    assert call.suspended
    context = BlockingContext()

    async def serve() -> None:
        server: Any = GRPCServer()
        task = asyncio.ensure_future(server._serve(call, context))
        await asyncio.wait_for(context.writing.wait(), timeout=5.0)
        assert not call.suspended and call.idle  # the round is being written and sampling goes on
        engine.run_until(START_MS + 55)
        assert call.queued_count >= 1
        call.abort("done")
        context.release.set()
        with pytest.raises(Aborted):
            await asyncio.wait_for(task, timeout=5.0)

    asyncio.run(serve())
    assert call.suspensions == 1 and context.writes == 1


class Aborted(Exception):
    pass


class BlockingContext:
    """A servicer context whose first write blocks until released (a client slow to take the round);
    abort ends the call with an exception, as gRPC's does."""

    def __init__(self) -> None:
        self.writes = 0
        self.writing = asyncio.Event()
        self.release = asyncio.Event()

    async def write(self, _message: bytes) -> None:
        self.writes += 1
        self.writing.set()
        await self.release.wait()

    async def abort(self, _code: Any, _details: str) -> None:
        raise Aborted
