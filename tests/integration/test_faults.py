"""Long-running pipelines survive server faults: DPM/HTTP, DPM/gRPC and DMQ against the simulator.

Every stream test follows one script: stream two 50 Hz DRFs, inject a fault, and check that
the subscriber never sees ``on_error``, that each DRF shows the outage as exactly one gap reading
(``CONNECTION_LOST``), that the stream recovers at its full rate (>= 80 % of the expected readings
in the 2 s after recovery) and that the server holds no leftover lists, calls or jobs once the
backend is closed. Backends get short heartbeat limits and a fast backoff so that faults are
detected and repaired within a second or two.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import jwt
import pytest
from broker import BROKER, rabbitmqctl
from kdc import KerberosRealm
from polling import wait_until
from reactivex.scheduler import EventLoopScheduler

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.backends._gaps import CONNECTION_LOST
from pacsys_rx.backends.base import Backend
from pacsys_rx.backends.dmq import DMQBackend
from pacsys_rx.backends.dpm import DPMBackend
from pacsys_rx.backends.grpc import GRPCBackend
from pacsys_rx.model import Reading
from pacsys_rx.sim import Simulator
from pacsys_rx.sim.dmq_server import DmqServer
from pacsys_rx.transport import Backoff

JWT_SECRET = "fault-tests-secret-of-at-least-32-bytes"
FAST_BACKOFF = Backoff(initial=0.05, maximum=0.5, stable_after=1.0)
HEARTBEAT_LIMIT = 1.0
"""Silence after which each backend presumes its connection dead (DPM, gRPC) or its job gone (DMQ)."""
DMQ_Q_INTERVAL = 0.25
DRFS = ("M:OUTTMP@p,20,false", "G:AMANDA@p,20,false")
CANONICAL = ("M:OUTTMP.READING@p,20,false", "G:AMANDA.READING@p,20,false")
PERIOD_S = 0.02
RATE_WINDOW_S = 2.0
MIN_RATE_FRACTION = 0.8
LIVE_COUNTERS = {
    "dpm": ("connections", "lists", "list_entries", "subscriptions"),
    "grpc": ("read_calls", "subscriptions", "connections"),
    "dmq": ("jobs", "consumers", "connections"),
}
"""The simulator counters that count live resources (the others are running totals)."""

needs_broker = [pytest.mark.rabbitmq, pytest.mark.kerberos]


# ------------------------------------------------------------------------------------- helpers




def hold(seconds: float) -> None:
    """Keep a fault in place for a bounded time (the backends retry meanwhile)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)


def live_counters(sim: Simulator, server: str) -> dict[str, int]:
    counters = sim.counters(server)
    return {name: counters[name] for name in LIVE_COUNTERS[server]}




def close_client_connection(name: str) -> None:
    """Have the broker close the AMQP connection whose client calls itself ``name``."""
    listing = rabbitmqctl("list_connections", "pid", "client_properties", "--no-table-headers")
    pids = [line.split()[0] for line in listing.splitlines() if name in line]
    assert pids, f"connection {name} not listed by rabbitmqctl"
    rabbitmqctl("close_connection", pids[0], "pacsys_rx fault test")


def jwt_token() -> str:
    claims = {"sub": "tester@FNAL.GOV", "realm_access": {"roles": ["testing"]}, "exp": int(time.time() + 600)}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@dataclass
class Recorder:
    """Everything a subscriber saw, with the monotonic time each reading arrived."""

    readings: list[tuple[float, Reading]] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_next(self, reading: Reading) -> None:
        with self.lock:
            self.readings.append((time.monotonic(), reading))

    def on_error(self, error: Exception) -> None:
        self.errors.append(error)

    def of(self, drf: str) -> list[tuple[float, Reading]]:
        with self.lock:
            return [(at, r) for at, r in self.readings if r.drf == drf]

    def gaps(self, drf: str) -> list[tuple[float, Reading]]:
        return [(at, r) for at, r in self.of(drf) if r.status == CONNECTION_LOST]

    def ok_after(self, drf: str, moment: float) -> list[float]:
        return [at for at, r in self.of(drf) if r.ok and at > moment]


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """DPM/HTTP and gRPC, no credentials needed."""
    with Simulator(seed=1, servers=["dpm", "grpc"], jwt_secret=JWT_SECRET) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def kerberos_sim(kerberos_realm: KerberosRealm) -> Iterator[Simulator]:
    """DPM/HTTP accepting Kerberos settings."""
    with Simulator(seed=1, servers=["dpm"], keytab=str(kerberos_realm.service_keytab)) as simulator:
        yield simulator




@pytest.fixture(scope="module")
def broker_sim(kerberos_realm: KerberosRealm, vhost: str) -> Iterator[Simulator]:
    """DPM/HTTP and DMQ on one device model (so both report the same timestamps), Kerberos on both."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in kerberos_realm.env.items():
            patch.setenv(name, value)
        url = f"amqp://guest:guest@{BROKER[0]}:{BROKER[1]}/{vhost}"
        servers = {"dpm": "pacsys_rx.sim.dpm_server", "dmq": DmqServer(q_interval=DMQ_Q_INTERVAL)}
        with Simulator(seed=1, amqp_url=url, keytab=str(kerberos_realm.service_keytab),
                       servers=servers) as simulator:
            assert "dmq" in simulator.endpoints, simulator.disabled
            yield simulator


def host_port(sim: Simulator, server: str) -> tuple[str, int]:
    host, port = sim.endpoints[server].rsplit(":", 1)
    return host, int(port)


def dpm_backend(sim: Simulator, timeout: float = 2.0, **options: object) -> DPMBackend:
    host, port = host_port(sim, "dpm")
    return DPMBackend(host, port, timeout=timeout, heartbeat_timeout=HEARTBEAT_LIMIT, backoff=FAST_BACKOFF,
                      **options)  # type: ignore[arg-type]


def grpc_backend(sim: Simulator, timeout: float = 2.0) -> GRPCBackend:
    host, port = host_port(sim, "grpc")
    return GRPCBackend(host, port, auth=prx.JWTAuth(jwt_token()), timeout=timeout, devdb_host=host,
                       devdb_port=port, devdb_tls=False, backoff=FAST_BACKOFF,
                       heartbeat_timeout=HEARTBEAT_LIMIT)


def dmq_backend(vhost: str, timeout: float = 5.0) -> DMQBackend:
    return DMQBackend(BROKER[0], BROKER[1], vhost, auth=prx.KerberosAuth(), timeout=timeout,
                      job_heartbeat=DMQ_Q_INTERVAL, server_silence=HEARTBEAT_LIMIT, backoff=FAST_BACKOFF)


@dataclass
class Target:
    """One backend under test: its simulator, the server it talks to and a way to open it."""

    sim: Simulator
    server: str
    open: Callable[[], Backend]
    vhost: str = ""


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Target:
    kind = request.param
    if kind == "dmq":
        request.getfixturevalue("kerberos_env")
        vhost = request.getfixturevalue("vhost")
        sim = request.getfixturevalue("broker_sim")
        return Target(sim, "dmq", lambda: dmq_backend(vhost), vhost)
    sim = request.getfixturevalue("sim")
    return Target(sim, kind, lambda: dpm_backend(sim) if kind == "dpm" else grpc_backend(sim))


# ------------------------------------------------------------------------------- stream faults


def drop(target: Target, backend: Backend, recorder: Recorder) -> None:
    target.sim.drop_connections(target.server)


def restart(target: Target, backend: Backend, recorder: Recorder) -> None:
    target.sim.restart(target.server)


def pause(target: Target, backend: Backend, recorder: Recorder) -> None:
    """Pause until every DRF shows its gap, then a little longer, so that reconnects fail meanwhile."""
    target.sim.pause(target.server)
    try:
        wait_until(lambda: all(recorder.gaps(drf) for drf in CANONICAL), HEARTBEAT_LIMIT + 5.0,
                   "gap readings while the server is paused")
        hold(HEARTBEAT_LIMIT)
    finally:
        target.sim.resume(target.server)


def broker_closes_client(target: Target, backend: Backend, recorder: Recorder) -> None:
    assert isinstance(backend, DMQBackend)
    close_client_connection(backend.connection_name)


FAULTS: dict[str, Callable[[Target, Backend, Recorder], None]] = {
    "drop": drop, "pause": pause, "restart": restart, "broker_close": broker_closes_client}

MATRIX = [
    *(pytest.param(kind, fault, id=f"{kind}-{fault}") for kind in ("dpm", "grpc") for fault in
      ("drop", "pause", "restart")),
    *(pytest.param("dmq", fault, id=f"dmq-{fault}", marks=needs_broker) for fault in
      ("drop", "pause", "restart", "broker_close")),
]


@pytest.mark.parametrize(("target", "fault"), MATRIX, indirect=["target"])
def test_stream_survives_the_fault(target: Target, fault: str) -> None:
    baseline = live_counters(target.sim, target.server)
    recorder = Recorder()
    backend = target.open()
    try:
        subscription = backend.stream(DRFS).subscribe(recorder.on_next, recorder.on_error)
        wait_until(lambda: all(len(recorder.ok_after(drf, 0.0)) >= 5 for drf in CANONICAL), 10.0,
                   "readings before the fault")
        FAULTS[fault](target, backend, recorder)
        wait_until(lambda: all(recorder.gaps(drf) and recorder.ok_after(drf, recorder.gaps(drf)[-1][0])
                               for drf in CANONICAL), 15.0, "readings after the gap")
        recovered = max(recorder.ok_after(drf, recorder.gaps(drf)[-1][0])[0] for drf in CANONICAL)
        wait_until(lambda: time.monotonic() > recovered + RATE_WINDOW_S, RATE_WINDOW_S + 1.0, "rate window")
        subscription.dispose()
    finally:
        backend.close()

    assert recorder.errors == []
    expected = RATE_WINDOW_S / PERIOD_S
    for drf in CANONICAL:
        gaps = recorder.gaps(drf)
        assert len(gaps) == 1, f"{drf}: {len(gaps)} gap readings for one outage"
        gap = gaps[0][1]
        assert gap.value is None and gap.is_error and gap.backend == target.server
        assert "connection lost" in (gap.message or "")
        in_window = [at for at in recorder.ok_after(drf, recovered) if at <= recovered + RATE_WINDOW_S]
        assert len(in_window) >= MIN_RATE_FRACTION * expected, f"{drf}: {len(in_window)} of {expected:g}"
    wait_until(lambda: live_counters(target.sim, target.server) == baseline, 10.0,
               f"{target.server} counters back to {baseline}")


def test_a_corrupt_frame_resets_only_its_connection(sim: Simulator) -> None:
    """Two DPM streams on separate lists and a gRPC stream: only the connection that got the bad frame
    shows a gap, and it resumes."""
    baselines = {server: live_counters(sim, server) for server in ("dpm", "grpc")}
    recorders = {name: Recorder() for name in ("dpm-1", "dpm-2", "grpc")}
    with dpm_backend(sim) as dpm, grpc_backend(sim) as grpc:
        subscriptions = [
            dpm.stream(DRFS[0]).subscribe(recorders["dpm-1"].on_next, recorders["dpm-1"].on_error),
            dpm.stream(DRFS[1]).subscribe(recorders["dpm-2"].on_next, recorders["dpm-2"].on_error),
            grpc.stream(DRFS[0]).subscribe(recorders["grpc"].on_next, recorders["grpc"].on_error),
        ]
        streams = {"dpm-1": CANONICAL[0], "dpm-2": CANONICAL[1], "grpc": CANONICAL[0]}
        wait_until(lambda: all(len(recorders[n].ok_after(d, 0.0)) >= 5 for n, d in streams.items()), 10.0,
                   "readings before the corrupt frame")
        assert sim.counters("dpm")["lists"] == baselines["dpm"]["lists"] + 2
        sim.corrupt_next_frame("dpm")
        wait_until(lambda: any(recorders[n].gaps(streams[n]) for n in ("dpm-1", "dpm-2")), 5.0, "a gap")
        broken = next(n for n in ("dpm-1", "dpm-2") if recorders[n].gaps(streams[n]))
        intact = "dpm-2" if broken == "dpm-1" else "dpm-1"
        gap_at = recorders[broken].gaps(streams[broken])[0][0]
        wait_until(lambda: len(recorders[broken].ok_after(streams[broken], gap_at)) >= 10, 5.0, "resumed")
        for subscription in subscriptions:
            subscription.dispose()
    assert all(not recorder.errors for recorder in recorders.values())
    assert len(recorders[broken].gaps(streams[broken])) == 1
    assert not recorders[intact].gaps(streams[intact]) and not recorders["grpc"].gaps(streams["grpc"])
    assert len(recorders[intact].ok_after(streams[intact], gap_at)) >= 10
    assert len(recorders["grpc"].ok_after(streams["grpc"], gap_at)) >= 10
    for server, baseline in baselines.items():
        wait_until(lambda s=server, b=baseline: live_counters(sim, s) == b, 10.0,  # type: ignore[misc]
                   f"{server} counters back to baseline")


# -------------------------------------------------------------------------------------- writes


@dataclass
class SettingCounter:
    """Counts settings of one device applied by the simulator's model (called on the simulator loop)."""

    device: str
    on_first: Callable[[], None] = lambda: None
    count: int = 0

    def __call__(self, device: str, now: float) -> None:
        if device == self.device:
            self.count += 1
            if self.count == 1:
                self.on_first()


@pytest.fixture
def setting_counter(request: pytest.FixtureRequest) -> Iterator[Callable[[Simulator], SettingCounter]]:
    attached: list[tuple[Simulator, SettingCounter]] = []

    def attach(sim: Simulator) -> SettingCounter:
        counter = SettingCounter("Z:ACLTST")
        sim.call(lambda: sim.model.add_listener(counter))
        attached.append((sim, counter))
        return counter

    yield attach
    for sim, counter in attached:
        sim.call(lambda s=sim, c=counter: s.model.remove_listener(c))  # type: ignore[misc]


def stop_server(sim: Simulator, server: str) -> None:
    sim.call(sim.server(server).stop())


def restart_server(sim: Simulator, server: str) -> None:
    sim.restart(server)


@pytest.mark.kerberos
def test_dpm_write_while_paused_fails_within_its_timeout(
        kerberos_sim: Simulator, kerberos_env: KerberosRealm,
        setting_counter: Callable[[Simulator], SettingCounter]) -> None:
    counter = setting_counter(kerberos_sim)
    with dpm_backend(kerberos_sim, timeout=1.0, auth=prx.KerberosAuth(), role="testing") as dpm:
        kerberos_sim.pause("dpm")
        try:
            started = time.monotonic()
            with pytest.raises(prx.BackendUnavailable) as failure:
                dpm.write("Z:ACLTST", 1.5).run()
            assert time.monotonic() - started < 1.5
        finally:
            kerberos_sim.resume("dpm")
        assert not isinstance(failure.value, prx.WriteOutcomeUnknown)
        assert dpm.write("Z:ACLTST", 2.5).run().ok
    assert counter.count == 1


def test_grpc_write_while_stopped_fails_within_its_timeout(
        sim: Simulator, setting_counter: Callable[[Simulator], SettingCounter]) -> None:
    """gRPC cannot tell "never sent" from "lost after sending": the failure is WriteOutcomeUnknown, a
    BackendUnavailable."""
    counter = setting_counter(sim)
    with grpc_backend(sim, timeout=1.0) as grpc:
        stop_server(sim, "grpc")
        try:
            started = time.monotonic()
            with pytest.raises(prx.BackendUnavailable):
                grpc.write("Z:ACLTST", 1.5).run()
            assert time.monotonic() - started < 1.5
        finally:
            sim.restart("grpc")
    assert counter.count == 0


@pytest.mark.rabbitmq
@pytest.mark.kerberos
def test_dmq_write_while_paused_fails_within_its_timeout(
        broker_sim: Simulator, vhost: str, kerberos_env: KerberosRealm,
        setting_counter: Callable[[Simulator], SettingCounter]) -> None:
    counter = setting_counter(broker_sim)
    with dmq_backend(vhost, timeout=1.0) as dmq:
        broker_sim.pause("dmq")
        try:
            started = time.monotonic()
            with pytest.raises(prx.BackendUnavailable) as failure:
                dmq.write("Z:ACLTST", 1.5).run()
            assert time.monotonic() - started < 1.5
        finally:
            broker_sim.resume("dmq")
        assert not isinstance(failure.value, prx.WriteOutcomeUnknown)
        hold(HEARTBEAT_LIMIT + 2 * DMQ_Q_INTERVAL)
    assert counter.count == 0


def interrupt_after_the_setting(sim: Simulator, server: str, counter: SettingCounter,
                                interrupt: Callable[[], None], write: Callable[[], object]) -> BaseException:
    """Run ``write`` while the server holds its acknowledgement, interrupt the connection once the
    setting was applied, and return what the write raised."""
    server_object = sim.server(server)
    counter.on_first = lambda: server_object.set_reply_delay(10.0)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            write()
        except BaseException as error:
            failure.append(error)

    writer = threading.Thread(target=run)
    writer.start()
    try:
        wait_until(lambda: counter.count == 1, 5.0, "the setting applied")
        interrupt()
        writer.join(10.0)
    finally:
        sim.set_reply_delay(server, 0.0)
    assert not writer.is_alive() and failure, "the write did not fail"
    hold(1.0)
    assert counter.count == 1, "the setting was sent again"
    return failure[0]


@pytest.mark.kerberos
def test_dpm_write_interrupted_after_sending_is_outcome_unknown_and_not_resent(
        kerberos_sim: Simulator, kerberos_env: KerberosRealm,
        setting_counter: Callable[[Simulator], SettingCounter]) -> None:
    counter = setting_counter(kerberos_sim)
    with dpm_backend(kerberos_sim, timeout=5.0, auth=prx.KerberosAuth(), role="testing") as dpm:
        error = interrupt_after_the_setting(kerberos_sim, "dpm", counter,
                                            lambda: kerberos_sim.drop_connections("dpm"),
                                            lambda: dpm.write("Z:ACLTST", 3.5).run())
    assert isinstance(error, prx.WriteOutcomeUnknown)


def test_grpc_write_interrupted_after_sending_is_outcome_unknown_and_not_resent(
        sim: Simulator, setting_counter: Callable[[Simulator], SettingCounter]) -> None:
    counter = setting_counter(sim)
    with grpc_backend(sim, timeout=5.0) as grpc:
        error = interrupt_after_the_setting(sim, "grpc", counter, lambda: restart_server(sim, "grpc"),
                                            lambda: grpc.write("Z:ACLTST", 3.5).run())
    assert isinstance(error, prx.WriteOutcomeUnknown)


@pytest.mark.rabbitmq
@pytest.mark.kerberos
def test_dmq_write_interrupted_after_sending_is_outcome_unknown_and_not_resent(
        broker_sim: Simulator, vhost: str, kerberos_env: KerberosRealm,
        setting_counter: Callable[[Simulator], SettingCounter]) -> None:
    counter = setting_counter(broker_sim)
    dmq = dmq_backend(vhost, timeout=8.0)
    with dmq:
        error = interrupt_after_the_setting(broker_sim, "dmq", counter,
                                            lambda: close_client_connection(dmq.connection_name),
                                            lambda: dmq.write("Z:ACLTST", 3.5).run())
        assert dmq.read("Z:ACLTST.SETTING").run().ok
    assert isinstance(error, prx.WriteOutcomeUnknown)


# ------------------------------------------------------------------------------------ failover

STALL_AFTER_S = 0.5
SWITCH_LATENCY_S = 1.5
"""Time for the fallback's subscription to deliver its first reading (DMQ: INIT, Kerberos, PENDING)."""
SWITCH_BACK_WINDOW_S = 0.5


def missing_runs(stamps: list[int], period_ms: int) -> list[tuple[int, int]]:
    """Runs ``(first, last)`` of grid timestamps absent between the first and the last of ``stamps``."""
    present = set(stamps)
    runs: list[tuple[int, int]] = []
    for stamp in range(min(stamps), max(stamps) + period_ms, period_ms):
        if stamp in present:
            continue
        if runs and runs[-1][1] == stamp - period_ms:
            runs[-1] = (runs[-1][0], stamp)
        else:
            runs.append((stamp, stamp))
    return runs


@pytest.mark.rabbitmq
@pytest.mark.kerberos
def test_failover_from_dpm_to_dmq_and_back(broker_sim: Simulator, vhost: str,
                                           kerberos_env: KerberosRealm) -> None:
    """``ops.failover(dpm, dmq, stall_after=0.5, switch_back=True)`` behind ``ops.merge_backends``.

    Documented window: when DPM dies its stream emits one gap reading and falls silent; failover moves
    to DMQ ``stall_after`` later, and the readings between DPM's last one and DMQ's first are missing
    (at most ``stall_after`` + the DMQ subscription's latency). When DPM is back its first reading
    switches the output back; readings DMQ had not delivered yet by then may be missing (a few
    periods). Both backends read one device model, so a reading has the same timestamp through either;
    ``merge_backends`` drops any reading delivered twice. Nothing else is lost or duplicated.
    """
    drf = DRFS[0]
    period_ms = round(PERIOD_S * 1000)
    recorder = Recorder()
    scheduler = EventLoopScheduler()
    with dpm_backend(broker_sim) as dpm, dmq_backend(vhost) as dmq:
        switching = ops.failover(dpm.stream(drf), dmq.stream(drf), stall_after=STALL_AFTER_S,
                                 switch_back=True, scheduler=scheduler)
        pipeline = ops.merge_backends(switching)
        subscription = pipeline.subscribe(recorder.on_next, recorder.on_error)
        try:
            wait_until(lambda: len(recorder.ok_after(CANONICAL[0], 0.0)) >= 25, 10.0, "DPM readings")
            stopped_ms = time.time() * 1000
            stop_server(broker_sim, "dpm")
            wait_until(lambda: any(r.backend == "dmq" and r.ok for _, r in recorder.of(CANONICAL[0])), 10.0,
                       "failover to DMQ")
            hold(1.0)
            restarted_ms = time.time() * 1000
            broker_sim.restart("dpm")
            wait_until(lambda: recorder.of(CANONICAL[0])[-1][1].backend == "dpm", 10.0, "switch back to DPM")
            back_at = time.monotonic()
            wait_until(lambda: len(recorder.ok_after(CANONICAL[0], back_at)) >= 25, 5.0, "DPM readings again")
        finally:
            subscription.dispose()
            scheduler.dispose()

    assert recorder.errors == []
    ok = [r for _, r in recorder.of(CANONICAL[0]) if r.ok]
    backends = [r.backend for r in ok]
    first_dmq, last_dmq = backends.index("dmq"), len(backends) - 1 - backends[::-1].index("dmq")
    assert set(backends[:first_dmq]) == {"dpm"} and set(backends[first_dmq:last_dmq + 1]) == {"dmq"}
    assert set(backends[last_dmq + 1:]) == {"dpm"}
    stamps = [round(r.timestamp.timestamp() * 1000) for r in ok]
    assert all(stamp % period_ms == 0 for stamp in stamps)
    assert len(stamps) == len(set(stamps)), "a reading was delivered twice"
    runs = missing_runs(stamps, period_ms)
    assert 1 <= len(runs) <= 2, runs
    failover_run = runs[0]
    assert stopped_ms - 2 * period_ms <= failover_run[0]
    assert failover_run[1] <= stopped_ms + (STALL_AFTER_S + SWITCH_LATENCY_S) * 1000
    for first, last in runs[1:]:
        assert restarted_ms - SWITCH_BACK_WINDOW_S * 1000 <= first, runs
        assert last - first <= SWITCH_BACK_WINDOW_S * 1000, runs
