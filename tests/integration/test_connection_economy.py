"""Many separate ``stream()`` calls (one DRF each, as alarm pipelines write them) on one backend hold a
bounded number of connections and threads, and disposing them all leaves nothing on the server.

benchmarks/bench_streams.py runs the same at 10,000 streams and measures memory and the time a new
stream takes to its first reading.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from broker import BROKER
from kdc import KerberosRealm
from polling import wait_until

from pacsys_rx.auth import KerberosAuth
from pacsys_rx.backends.base import Backend
from pacsys_rx.backends.dmq import DMQBackend
from pacsys_rx.backends.dpm import DPMBackend
from pacsys_rx.backends.grpc import GRPCBackend
from pacsys_rx.backends.grpc.backend import MIN_REISSUE_INTERVAL
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


def check_bounded(backend: Backend, sim: Simulator, server: str, channels: str, entries: str | None) -> None:
    """COUNT streams of one DRF each, then one more: bounded channels and threads, nothing left after."""
    threads_before = client_threads()
    first = [threading.Event() for _ in range(COUNT + 1)]
    with backend:
        subscriptions = [backend.stream(f"Z:BANK{i:03d}@p,1000").subscribe(
            lambda _, seen=first[i]: seen.set()) for i in range(COUNT)]
        wait_until(lambda: all(seen.is_set() for seen in first[:COUNT]), timeout=30.0,
                   what="a first reading on every stream")
        wait_until(lambda: sim.counters(server)[channels] <= POOL_SIZE, what="at most the pool size")
        if entries is not None:
            wait_until(lambda: sim.counters(server)[entries] == COUNT, what="exactly one entry per stream")
        assert client_threads() - threads_before <= THREAD_BOUND

        subscriptions.append(backend.stream(f"Z:BANK{COUNT:03d}@p,1000").subscribe(
            lambda _: first[COUNT].set()))
        wait_until(first[COUNT].is_set, what="the next stream's first reading")
        wait_until(lambda: sim.counters(server)[channels] <= POOL_SIZE, what="still at most the pool size")

        for subscription in subscriptions:
            subscription.dispose()
        if entries is not None:
            wait_until(lambda: sim.counters(server)[entries] == 0, what="every entry removed")
        wait_until(lambda: sim.counters(server)[channels] == 0, what="every stream connection closed")
    wait_until(lambda: client_threads() <= threads_before, timeout=15.0, what="client threads ended")


@pytest.mark.parametrize("make", [dpm, grpc])
def test_separate_streams_share_a_bounded_pool(sim: Simulator, make: Callable[[Simulator], Backend]) -> None:
    check_bounded(make(sim), sim, *SERVER[make.__name__])


@pytest.fixture(scope="module")
def dmq_sim(kerberos_realm: KerberosRealm, vhost: str) -> Iterator[Simulator]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in kerberos_realm.env.items():
            patch.setenv(name, value)
        url = f"amqp://guest:guest@{BROKER[0]}:{BROKER[1]}/{vhost}"
        with Simulator(seed=1, amqp_url=url, keytab=str(kerberos_realm.service_keytab),
                       servers=["dmq"]) as simulator:
            assert "dmq" in simulator.endpoints, simulator.disabled
            yield simulator


@pytest.mark.rabbitmq
@pytest.mark.kerberos
def test_separate_dmq_streams_share_a_bounded_pool_of_jobs(dmq_sim: Simulator, vhost: str,
                                                           kerberos_env: KerberosRealm) -> None:
    backend = DMQBackend(BROKER[0], BROKER[1], vhost, auth=KerberosAuth(), timeout=10.0,
                         stream_jobs=POOL_SIZE)
    check_bounded(backend, dmq_sim, "dmq", "jobs", None)


def check_merge_beyond_the_bound(backend: Backend, sim: Simulator, server: str, counter: str) -> None:
    """Five streams arriving one by one on a backend bounded to 2 calls or jobs: the simulator ends at
    most 2, every stream still delivers, and disposal brings the counter back to 0."""
    count = 5
    seen = [threading.Event() for _ in range(count)]
    with backend:
        subscriptions = []
        for i in range(count):  # one stream per lane: each arrives after the previous lane grew old
            subscriptions.append(backend.stream(f"Z:BANK{i:03d}@p,100").subscribe(
                lambda _, event=seen[i]: event.set()))
            wait_until(seen[i].is_set, what=f"stream {i} delivering")
            time.sleep(MIN_REISSUE_INTERVAL * 1.5)
        wait_until(lambda: sim.counters(server)[counter] <= 2, what=f"{counter} merged down to the bound")
        for event in seen:
            event.clear()
        wait_until(lambda: all(event.is_set() for event in seen), what="every stream still delivering")
        for subscription in subscriptions:
            subscription.dispose()
        wait_until(lambda: sim.counters(server)[counter] == 0, what=f"no {counter} left")


def test_grpc_calls_beyond_the_bound_merge_and_keep_delivering(sim: Simulator) -> None:
    host, port = sim.endpoints["grpc"].rsplit(":", 1)
    check_merge_beyond_the_bound(GRPCBackend(host, int(port), timeout=5.0, stream_calls=2), sim, "grpc",
                                 "read_calls")


@pytest.mark.rabbitmq
@pytest.mark.kerberos
def test_dmq_jobs_beyond_the_bound_merge_and_keep_delivering(dmq_sim: Simulator, vhost: str,
                                                            kerberos_env: KerberosRealm) -> None:
    backend = DMQBackend(BROKER[0], BROKER[1], vhost, auth=KerberosAuth(), timeout=10.0, stream_jobs=2)
    check_merge_beyond_the_bound(backend, dmq_sim, "dmq", "jobs")
