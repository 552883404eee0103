"""asyncio integration: ``async for reading in prx.aiter(...)`` next to other coroutines.

    python examples/asyncio_integration.py [--seconds 5]

One task watches Z:ACLTS1 stream by; another awaits the acknowledgement of a setting that moves it
(``prx.aiter`` works for one-shot Observables too). Runs against its own embedded simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets

import jwt

import pacsys_rx as prx
from pacsys_rx.backends.base import Backend
from pacsys_rx.sim import Simulator


async def watch(backend: Backend, seconds: float) -> int:
    """Print the readings of Z:ACLTS1 for ``seconds``; leaving the loop disposes the subscription."""
    loop = asyncio.get_running_loop()
    deadline, count = loop.time() + seconds, 0
    async for reading in prx.aiter(backend.stream("Z:ACLTS1@p,250")):
        count += 1
        print(f"reading  {reading.device} = {reading.value:.3f} {reading.units or ''}")
        if loop.time() >= deadline:
            break
    return count


async def set_later(backend: Backend, value: float, delay: float) -> None:
    await asyncio.sleep(delay)
    async for result in prx.aiter(backend.write("Z:ACLTS1", value)):
        print(f"setting  {result.drf}: {'ok' if result.ok else result.status.describe()}")


async def main(seconds: float) -> None:
    secret = secrets.token_hex(32)
    claims = {"sub": "me@FNAL.GOV", "realm_access": {"roles": ["testing"]}}  # "testing" may set Z:ACLTS*
    token = jwt.encode(claims, secret, algorithm="HS256")
    with Simulator(jwt_secret=secret) as sim:
        host, port = sim.endpoints["grpc"].rsplit(":", 1)
        with prx.grpc(host, int(port), auth=prx.JWTAuth(token)) as grpc:
            count, _ = await asyncio.gather(watch(grpc, seconds), set_later(grpc, 5.0, seconds / 3))
            print(f"{count} readings in {seconds:g} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to watch (default 5)")
    asyncio.run(main(parser.parse_args().seconds))
