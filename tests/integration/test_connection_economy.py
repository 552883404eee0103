"""Many separate ``stream()`` calls (one DRF each, as alarm pipelines write them) on one backend hold a
bounded number of connections and threads, and disposing them all leaves nothing on the server.

benchmarks/bench_streams.py runs the same at 10,000 streams and measures memory and the time a new
stream takes to its first reading.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from polling import wait_until

from pacsys_rx.backends.base import Backend
from pacsys_rx.backends.dpm import DPMBackend
from pacsys_rx.backends.grpc import GRPCBackend
from pacsys_rx.sim import Simulator

COUNT = 500
POOL_SIZE = 4
THREAD_BOUND = 8


def client_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("pacsys-rx"))


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=1, servers=["dpm", "grpc"]) as simulator:
        yield simulator


def dpm(sim: Simulator) -> Backend:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    return DPMBackend(host, int(port), timeout=5.0, pool_size=POOL_SIZE)


def grpc(sim: Simulator) -> Backend:
    host, port = sim.endpoints["grpc"].rsplit(":", 1)
    return GRPCBackend(host, int(port), timeout=5.0, stream_calls=POOL_SIZE)


SERVER = {"dpm": ("dpm", "connections", "list_entries"), "grpc": ("grpc", "read_calls", "subscriptions")}
"""Per backend: the simulator server, its counter of connections (or calls) and of subscribed DRFs."""


@pytest.mark.parametrize("make", [dpm, grpc])
def test_separate_streams_share_a_bounded_pool(sim: Simulator, make: Callable[[Simulator], Backend]) -> None:
    server, channels, entries = SERVER[make.__name__]
    threads_before = client_threads()
    first = [threading.Event() for _ in range(COUNT + 1)]
    with make(sim) as backend:
        subscriptions = [backend.stream(f"Z:BANK{i:03d}@p,1000").subscribe(
            lambda _, seen=first[i]: seen.set()) for i in range(COUNT)]
        wait_until(lambda: all(seen.is_set() for seen in first[:COUNT]), timeout=20.0,
                   what="a first reading on every stream")
        counters = sim.counters(server)
        assert counters[channels] <= POOL_SIZE
        wait_until(lambda: sim.counters(server)[entries] == COUNT, what="exactly one entry per stream")
        assert client_threads() - threads_before <= THREAD_BOUND

        subscriptions.append(backend.stream(f"Z:BANK{COUNT:03d}@p,1000").subscribe(
            lambda _: first[COUNT].set()))
        wait_until(first[COUNT].is_set, what="the next stream's first reading")
        assert sim.counters(server)[channels] <= POOL_SIZE

        for subscription in subscriptions:
            subscription.dispose()
        wait_until(lambda: sim.counters(server)[entries] == 0, what="every entry removed")
        wait_until(lambda: sim.counters(server)[channels] == 0, what="every stream connection closed")
    wait_until(lambda: client_threads() <= threads_before, timeout=15.0, what="client threads ended")
