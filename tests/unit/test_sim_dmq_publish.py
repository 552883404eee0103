"""The simulated DMQ server hands a large engine tick to the broker in chunks, one per loop turn, so the
first messages leave while the rest are still encoded (a tick of 1000 samples held back whole put
tens of milliseconds in front of its first message)."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import pytest

from pacsys_rx.model import ValueType
from pacsys_rx.sim import dmq_server
from pacsys_rx.sim.dmq_server import PUBLISH_CHUNK, _Job
from pacsys_rx.sim.model import Sample


class _Server:
    paused = False

    def __init__(self) -> None:
        self.published: list[str] = []

    def publish(self, channel: Any, exchange: str, key: str, body: bytes,
                correlation_id: str | None = None) -> None:
        self.published.append(key)

    def publish_many(self, channel: Any, exchange: str, messages: list[tuple[str, bytes]]) -> None:
        self.published += [key for key, _ in messages]


def test_a_large_tick_is_published_one_chunk_per_loop_turn() -> None:
    server = _Server()
    requests = [f"Z:D{i:04d}@p,200" for i in range(1000)]
    job = _Job(server, None, "init", "mailbox", requests, None, None)  # type: ignore[arg-type]
    batch = [(i + 1, Sample(float(i), ValueType.SCALAR, "mA", 1_767_225_600_000, 0)) for i in range(1000)]

    async def run() -> list[int]:
        seen = []
        job.on_batch(batch)
        while len(server.published) < len(batch):
            seen.append(len(server.published))
            await asyncio.sleep(0)
        return seen

    seen = asyncio.run(run())
    assert seen[0] == PUBLISH_CHUNK
    assert all(b - a <= PUBLISH_CHUNK for a, b in pairwise(seen))
    assert server.published == [f"R.{text}" for text in requests]


class _SlowBroker:
    """Opens channels only when told to."""

    def __init__(self) -> None:
        self.pending: list[Any] = []

    def channel(self, on_open_callback: Any) -> None:
        self.pending.append(on_open_callback)


def test_a_channel_that_opens_after_its_wait_timed_out_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dmq_server, "BROKER_TIMEOUT_S", 0.01)
    server = dmq_server.DmqServer()
    broker = server.connection = _SlowBroker()

    async def run() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await server._channel()
        broker.pending[0]("late channel")  # pika calls back from its frame handling: must not raise

    asyncio.run(run())
