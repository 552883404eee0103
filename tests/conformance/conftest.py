"""The conformance suite's targets: every backend against the simulator over real sockets.

``target`` is parametrized over DPM/HTTP, DPM/gRPC, DMQ (real RabbitMQ broker, private vhost, the
throwaway Kerberos realm), ACL (one-shot reads only) and ``FakeBackend`` (driven by a thread that
emits like a periodic server). Each test builds its backends with ``target.make()`` (fresh, fast
backoff, short timeouts) so that a test that closes one never disturbs another.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from broker import BROKER
from kdc import KerberosRealm

import pacsys_rx as prx
from pacsys_rx.backends.base import Backend
from pacsys_rx.drf import parse_request
from pacsys_rx.model import Reading
from pacsys_rx.sim import Simulator
from pacsys_rx.testing import FakeBackend
from pacsys_rx.transport import Backoff

FAST_BACKOFF = Backoff(initial=0.05, maximum=0.5, stable_after=1.0)
TIMEOUT = 3.0
STREAMING = ("dpm", "grpc", "dmq", "fake")
ALL = (*STREAMING, "acl")
LIVE_COUNTERS = {
    "dpm": ("lists", "list_entries", "subscriptions"),
    "grpc": ("read_calls", "subscriptions"),
    "dmq": ("jobs",),
}
"""The simulator counters that count server-side subscriptions (zero when a client holds none)."""


class FakeServer:
    """Emits on a FakeBackend's open streams like a server would: ``@p,N`` every N ms, ``@I`` once."""

    def __init__(self, backend: FakeBackend) -> None:
        self.backend = backend
        self._due: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-server", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        value = 0.0
        while not self._stop.wait(0.005):
            now = time.monotonic()
            for drf in list(self.backend.server_subscriptions):
                due = self._due.get(drf)
                if due is not None and due > now:
                    continue
                period = re.search(r"@[pP],(\d+)", drf)
                self._due[drf] = now + int(period.group(1)) / 1000 if period else float("inf")
                value += 1.0
                self.backend.emit(drf, value)
            for drf in [d for d in self._due if d not in self.backend.server_subscriptions]:
                del self._due[drf]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


@dataclass
class Target:
    """One backend kind: how to build a client, and the simulator (if any) that serves it."""

    name: str
    build: Callable[..., Backend]
    sim: Simulator | None = None
    made: list[Backend] = field(default_factory=list)
    servers: list[FakeServer] = field(default_factory=list)

    def make(self, **options: object) -> Backend:
        backend = self.build(**options)
        self.made.append(backend)
        if isinstance(backend, FakeBackend):
            self.servers.append(FakeServer(backend))
        return backend

    def server_subscriptions(self) -> int:
        """Server-side subscriptions the simulator holds (FakeBackend: its own counter)."""
        if self.sim is None:
            return sum(sum(b.server_subscriptions.values()) for b in self.made  # type: ignore[attr-defined]
                       if isinstance(b, FakeBackend))
        counters = self.sim.counters(self.name)
        return sum(counters[name] for name in LIVE_COUNTERS[self.name])

    def unreachable(self) -> Backend:
        """A client of this kind pointed at a port where nothing listens."""
        port = _free_port()
        builders: dict[str, Callable[[], Backend]] = {
            "dpm": lambda: prx.dpm("127.0.0.1", port, timeout=1.0, backoff=FAST_BACKOFF),
            "grpc": lambda: prx.grpc("127.0.0.1", port, timeout=1.0, backoff=FAST_BACKOFF),
            "dmq": lambda: prx.dmq("127.0.0.1", port, "/", auth=prx.KerberosAuth(), timeout=1.0,
                                   backoff=FAST_BACKOFF),
            "acl": lambda: prx.acl(f"http://127.0.0.1:{port}/cgi-bin/acl.pl", timeout=1.0),
        }
        backend = builders[self.name]()
        self.made.append(backend)
        return backend

    def cleanup(self) -> None:
        for server in self.servers:
            server.stop()
        for backend in self.made:
            backend.close()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=1, servers=["dpm", "grpc", "acl"]) as simulator:
        yield simulator


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


def _address(sim: Simulator, name: str) -> tuple[str, int]:
    host, port = sim.endpoints[name].rsplit(":", 1)
    return host, int(port)


def make_target(name: str, request: pytest.FixtureRequest) -> Target:
    if name == "fake":
        values = {"M:OUTTMP": 72.0, "G:AMANDA": 1.5}
        return Target(name, lambda **o: FakeBackend(values, timeout=o.pop("timeout", TIMEOUT), **o))
    if name == "dmq":
        request.getfixturevalue("kerberos_env")
        simulator = request.getfixturevalue("dmq_sim")
        vhost = request.getfixturevalue("vhost")
        return Target(name, lambda **o: prx.dmq(BROKER[0], BROKER[1], vhost, auth=prx.KerberosAuth(),
                                               **{"timeout": TIMEOUT, "backoff": FAST_BACKOFF, **o}),
                      simulator)
    simulator = request.getfixturevalue("sim")
    if name == "acl":
        return Target(name, lambda **o: prx.acl(simulator.endpoints["acl"], **{"timeout": TIMEOUT, **o}),
                      simulator)
    host, port = _address(simulator, name)
    factory = prx.dpm if name == "dpm" else prx.grpc
    return Target(name, lambda **o: factory(host, port, **{"timeout": TIMEOUT, "backoff": FAST_BACKOFF, **o}),
                  simulator)


def _marks(name: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.rabbitmq, pytest.mark.kerberos] if name == "dmq" else []


def backends(names: tuple[str, ...]) -> list[object]:
    return [pytest.param(name, marks=_marks(name), id=name) for name in names]


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    chosen = make_target(request.param, request)
    try:
        yield chosen
    finally:
        chosen.cleanup()


@dataclass
class Recorder:
    """What one subscriber saw, with arrival times; callable hooks for tests."""

    readings: list[Reading] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    completed: bool = False
    threads: set[str] = field(default_factory=set)

    def on_next(self, reading: Reading) -> None:
        self.arrivals.append(time.monotonic())
        self.readings.append(reading)
        self.threads.add(threading.current_thread().name)

    def on_error(self, error: Exception) -> None:
        self.errors.append(error)

    def on_completed(self) -> None:
        self.completed = True

    @property
    def ended(self) -> bool:
        return self.completed or bool(self.errors)

    def data(self) -> list[Reading]:
        return [r for r in self.readings if not r.is_gap]


def canonical(drf: str) -> str:
    return parse_request(drf).to_canonical()
