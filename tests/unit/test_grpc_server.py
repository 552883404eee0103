"""The simulator's gRPC Read writer: how a call ends when its client goes away."""

from __future__ import annotations

import asyncio
from typing import Any

from pacsys_rx.model import OK, ValueType
from pacsys_rx.sim.grpc_server import GRPCServer, _ReadCall
from pacsys_rx.sim.model import Sample


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
    call.on_batch([(0, Sample(1.5, ValueType.SCALAR, None, 1_700_000_000_000, 0, OK)),
                   (1, Sample(2.5, ValueType.SCALAR, None, 1_700_000_000_000, 0, OK))])
    context = GoneClientContext()
    server: Any = GRPCServer()
    asyncio.run(asyncio.wait_for(server._serve(call, EndlessSubscription(), context), timeout=5.0))
    assert context.writes == 1
