"""The gRPC backend against the simulator's DAQ/DevDB server over a real loopback port."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import jwt
import pytest
from polling import wait_until
from reactivex import operators as ops

import pacsys_rx as prx
from pacsys_rx.auth import JWTAuth
from pacsys_rx.backends._gaps import CONNECTION_LOST
from pacsys_rx.backends.grpc import GRPCBackend
from pacsys_rx.backends.grpc import backend as grpc_backend
from pacsys_rx.errors import AuthenticationError, BackendUnavailable, DeviceError
from pacsys_rx.model import AcnetStatus, AnalogAlarm, BasicStatus, DigitalAlarm, Reading, ValueType
from pacsys_rx.protocols.proto import DAQ_pb2, DAQ_pb2_grpc
from pacsys_rx.sim import Simulator
from pacsys_rx.transport import Backoff

SECRET = "integration-test-secret-of-at-least-32-bytes"
FAST_BACKOFF = Backoff(initial=0.2, maximum=1.0, stable_after=5.0)


def token(secret: str = SECRET, expires_in: float = 300.0, roles: tuple[str, ...] = ("testing",)) -> str:
    claims = {"sub": "tester@FNAL.GOV", "realm_access": {"roles": list(roles)},
              "exp": int(time.time() + expires_in)}
    return jwt.encode(claims, secret, algorithm="HS256")




@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(servers=["grpc"], grpc_port=0, jwt_secret=SECRET, seed=1) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def endpoint(sim: Simulator) -> tuple[str, int]:
    host, port = sim.endpoints["grpc"].rsplit(":", 1)
    return host, int(port)


def connect(endpoint: tuple[str, int], auth: JWTAuth | None = None) -> GRPCBackend:
    host, port = endpoint
    backend = prx.grpc(host, port, auth=auth or JWTAuth(token()), devdb_host=host, devdb_port=port,
                       devdb_tls=False, backoff=FAST_BACKOFF)
    assert isinstance(backend, GRPCBackend)
    return backend


@pytest.fixture()
def backend(endpoint: tuple[str, int]) -> Iterator[GRPCBackend]:
    with connect(endpoint) as client:
        yield client


class Collector:
    def __init__(self) -> None:
        self.items: list[Reading] = []
        self.errors: list[Exception] = []
        self._lock = threading.Lock()

    def on_next(self, item: Reading) -> None:
        with self._lock:
            self.items.append(item)

    def on_error(self, error: Exception) -> None:
        self.errors.append(error)

    def snapshot(self) -> list[Reading]:
        with self._lock:
            return list(self.items)


@pytest.mark.parametrize(("drf", "value_type", "check"), [
    ("M:OUTTMP", ValueType.SCALAR, lambda v: isinstance(v, float) and 60 < v < 80),
    ("B:IRMS06", ValueType.SCALAR_ARRAY, lambda v: isinstance(v, tuple) and len(v) == 32),
    ("M:OUTTMP.RAW", ValueType.RAW, lambda v: isinstance(v, bytes) and len(v) == 2),
    ("M:OUTTMP.DESCRIPTION", ValueType.TEXT, lambda v: v == "Outdoor Temperature"),
    ("Z:ACLTST.STATUS.BIT_NAMES", ValueType.TEXT_ARRAY, lambda v: v[:2] == ("On", "Ready")),
    ("Z:ACLTST.ANALOG", ValueType.ANALOG_ALARM, lambda v: isinstance(v, AnalogAlarm) and v.tries_needed == 2),
    ("Z:ACLTST.DIGITAL", ValueType.DIGITAL_ALARM, lambda v: isinstance(v, DigitalAlarm) and v.mask == 3),
    ("Z:ACLTST.STATUS", ValueType.BASIC_STATUS, lambda v: isinstance(v, BasicStatus) and v.ready is True),
])
def test_every_value_type(backend: GRPCBackend, drf: str, value_type: ValueType,
                          check: Callable[[object], bool]) -> None:
    reading = backend.read(drf).run()
    assert reading.ok and reading.value_type is value_type and check(reading.value), reading
    assert reading.drf == drf and reading.backend == "grpc"


def test_readings_carry_devdb_metadata(backend: GRPCBackend) -> None:
    reading = backend.read("M:OUTTMP").run()
    assert reading.units == "DegF"
    assert reading.meta is not None and reading.meta.device_index == 27235
    info = backend.device_info("Z:ACLTST")
    assert info.description == "ACL test device!" and info.reading is not None
    assert info.reading.common_units == "blip" and info.control is not None and info.status_bits is not None
    with pytest.raises(DeviceError, match="not found"):
        backend.device_info("Z:NOSUCH")


def test_unknown_device_is_an_error_reading(backend: GRPCBackend) -> None:
    readings = backend.read_many(["Z:NOSUCH", "M:OUTTMP"]).pipe(ops.to_list()).run()
    by_drf = {r.drf: r for r in readings}
    assert by_drf["Z:NOSUCH"].status == AcnetStatus.named("DPM_NO_SUCH_DEVICE") and not by_drf["Z:NOSUCH"].ok
    assert by_drf["M:OUTTMP"].ok


def test_read_many_of_fifty_bank_devices(backend: GRPCBackend) -> None:
    drfs = [f"Z:BANK{i:03d}" for i in range(50)]
    readings = backend.read_many(drfs).pipe(ops.to_list()).run()
    assert sorted(r.drf for r in readings) == drfs
    assert all(r.ok and r.units == "mA" for r in readings)


def test_one_shot_read_completes_without_waiting_for_the_server(backend: GRPCBackend) -> None:
    began = time.monotonic()
    backend.read("M:OUTTMP@p,1000").run()
    assert time.monotonic() - began < 2.0


def test_stream_of_100_hz_for_two_seconds(backend: GRPCBackend) -> None:
    collector = Collector()
    subscription = backend.stream("M:OUTTMP@p,10").subscribe(collector.on_next, collector.on_error)
    wait_until(lambda: len(collector.snapshot()) > 0)
    start = len(collector.snapshot())
    time.sleep(2.0)
    count = len(collector.snapshot()) - start
    subscription.dispose()
    assert 180 <= count <= 220, count
    assert all(r.ok and r.drf == "M:OUTTMP.READING@p,10" for r in collector.snapshot())
    stamps = [r.timestamp for r in collector.snapshot()]
    assert stamps == sorted(stamps)


def test_a_call_offered_more_than_the_simulator_can_serve_keeps_delivering(
        sim: Simulator, backend: GRPCBackend) -> None:
    """1000 devices at 1 kHz offer 1,000,000 readings/s, more than the simulator samples and sends on
    one core: the call stops acquiring while its queue is full instead of sampling what nobody gets,
    so readings keep coming (the simulator would otherwise fall ever further behind)."""
    received = [0]

    def count(_reading: Reading) -> None:
        received[0] += 1

    before = sim.counters("grpc")["suspensions"]
    subscription = backend.stream([f"Z:BANK{i:03d}@p,1" for i in range(1000)]).subscribe(count)
    try:
        wait_until(lambda: received[0] >= 20_000, timeout=60.0, what="readings from an overloaded call")
        wait_until(lambda: sim.counters("grpc")["suspensions"] > before, timeout=60.0,
                   what="the call suspended")
        seen = received[0]
        wait_until(lambda: received[0] >= seen + 20_000, timeout=60.0, what="readings after a suspension")
    finally:
        subscription.dispose()
    wait_until(lambda: sim.counters("grpc")["read_calls"] == 0)


def test_a_small_lane_beyond_the_bound_merges_into_the_new_call_and_a_large_one_into_the_next_smallest(
        sim: Simulator, endpoint: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams arriving one by one beside a large call do not make that call re-issue each time; the new
    call lists the new stream's DRFs first, so its first reading does not wait behind the merged ones."""
    host, port = endpoint
    seen: list[threading.Event] = []

    def subscribe(backend: GRPCBackend, drfs: list[str]) -> Any:
        event = threading.Event()
        seen.append(event)
        subscription = backend.stream(drfs).subscribe(lambda _: event.set())
        wait_until(event.is_set, what=f"{drfs[0]} delivering")
        time.sleep(grpc_backend.MIN_REISSUE_INTERVAL * 1.5)  # the next stream gets a lane of its own
        return subscription

    with GRPCBackend(host, port, timeout=5.0, stream_calls=2) as backend:
        subscriptions = [subscribe(backend, [f"Z:BANK{i:03d}@p,100" for i in range(10)])]
        large = backend._lanes[0]
        large_call = large._call
        subscriptions += [subscribe(backend, ["Z:BANK010@p,100"]), subscribe(backend, ["Z:BANK011@p,100"])]
        wait_until(lambda: sim.counters("grpc")["read_calls"] <= 2, what="lanes merged down to the bound")
        assert large._call is large_call and sorted(lane.drf_count for lane in backend._lanes) == [2, 10]
        merged, = (lane for lane in backend._lanes if lane is not large)
        assert [drf.split(".")[0] for drf in merged._call_drfs] == ["Z:BANK011", "Z:BANK010"]  # new first
        monkeypatch.setattr(grpc_backend, "SMALL_LANE", 1)
        subscriptions.append(subscribe(backend, ["Z:BANK012@p,100"]))
        wait_until(lambda: large._call is not large_call and large.drf_count == 12,
                   what="the two-DRF lane merged into the large one")
        for event in seen:
            event.clear()
        wait_until(lambda: all(event.is_set() for event in seen), what="every stream still delivering")
        for subscription in subscriptions:
            subscription.dispose()
        wait_until(lambda: sim.counters("grpc")["read_calls"] == 0, what="every call ended")


def test_two_subscribers_share_one_server_subscription(sim: Simulator, backend: GRPCBackend) -> None:
    first, second = Collector(), Collector()
    stream = backend.stream("G:AMANDA@p,50")
    one = stream.subscribe(first.on_next)
    two = backend.stream("G:AMANDA.READING@p,50").subscribe(second.on_next)
    wait_until(lambda: len(first.snapshot()) >= 3 and len(second.snapshot()) >= 3)
    assert sim.counters("grpc")["read_calls"] == 1 and sim.counters("grpc")["subscriptions"] == 1
    one.dispose()
    time.sleep(0.2)
    assert sim.counters("grpc")["read_calls"] == 1
    two.dispose()
    wait_until(lambda: sim.counters("grpc")["read_calls"] == 0)
    assert sim.counters("grpc")["subscriptions"] == 0


def test_write_with_a_valid_token_changes_the_next_read(backend: GRPCBackend) -> None:
    before = backend.read("Z:ACLTST.SETTING").run().value
    target = 42.0 if before != 42.0 else 43.0
    result = backend.write("Z:ACLTST", target).run()
    assert result.ok and result.drf == "Z:ACLTST.SETTING@N" and result.backend == "grpc"
    assert backend.read("Z:ACLTST.SETTING").run().value == target


def test_write_many_reports_per_setting(backend: GRPCBackend) -> None:
    results = backend.write_many([("Z:ACLTS1", 5.0), ("M:OUTTMP", 1.0), ("Z:ACLTS2", 1000.0),
                                  ("Z:ACLTS3", {"minimum": 1.0})]).pipe(ops.to_list()).run()
    assert {(r.drf, r.status) for r in results} == {
        ("Z:ACLTS1.SETTING@N", AcnetStatus(0, 0)),
        ("M:OUTTMP.SETTING@N", AcnetStatus.named("DBM_NOPROP")),
        ("Z:ACLTS2.SETTING@N", AcnetStatus.named("DIO_RANGE")),
        ("Z:ACLTS3.SETTING@N", AcnetStatus(1, -1)),
    }


@pytest.mark.parametrize(("bad_token", "reason"), [
    (token(expires_in=-60), "expired"),
    (token(secret="forged-secret-forged-secret-forged-secret"), "Signature verification failed"),
])
def test_bad_tokens_are_refused_with_dpm_priv(endpoint: tuple[str, int], bad_token: str, reason: str) -> None:
    with connect(endpoint, JWTAuth(bad_token)) as client:
        result = client.write("Z:ACLTST", 1.0).run()
    assert not result.ok and result.status == AcnetStatus.named("DPM_PRIV")
    assert result.message is not None and reason in result.message


def test_console_class_without_permission_is_refused(endpoint: tuple[str, int]) -> None:
    with connect(endpoint, JWTAuth(token(roles=()))) as client:
        result = client.write("G:AMANDA", 1.0).run()
    assert result.status == AcnetStatus.named("DPM_DBPRIV") and not result.ok


def test_missing_token_fails_before_any_traffic(endpoint: tuple[str, int],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PACSYS_JWT_TOKEN", raising=False)
    host, port = endpoint
    with prx.grpc(host, port) as client:
        calls: list[object] = []
        monkeypatch.setattr(client._stub.Set, "future", lambda *a, **k: calls.append(a))
        with pytest.raises(AuthenticationError):
            client.write("Z:ACLTST", 1.0).run()
        assert calls == []


def test_unauthenticated_status_maps_to_authentication_error() -> None:
    """A strict server answering UNAUTHENTICATED (like the pacsys proxy) fails the write as a whole."""
    server = grpc.server(futures.ThreadPoolExecutor(2))

    class Strict(DAQ_pb2_grpc.DAQServicer):
        def Set(self, request: DAQ_pb2.SettingList, context: grpc.ServicerContext) -> DAQ_pb2.SettingReply:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "Invalid or missing bearer token")

    DAQ_pb2_grpc.add_DAQServicer_to_server(Strict(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with connect(("127.0.0.1", port)) as client, \
                pytest.raises(AuthenticationError, match="UNAUTHENTICATED"):
            client.write("Z:ACLTST", 1.0).run()
    finally:
        server.stop(None)


def test_unreachable_server_is_backend_unavailable(sim: Simulator) -> None:
    with prx.grpc("127.0.0.1", 1, timeout=3.0) as client, pytest.raises(BackendUnavailable):
        client.read("M:OUTTMP").run()


def test_stream_resumes_after_a_server_restart(sim: Simulator, backend: GRPCBackend) -> None:
    collector = Collector()
    subscription = backend.stream("M:OUTTMP@p,20").subscribe(collector.on_next, collector.on_error)
    wait_until(lambda: len(collector.snapshot()) >= 5)
    sim.restart("grpc")
    wait_until(lambda: any(r.status == CONNECTION_LOST for r in collector.snapshot()))
    gap_at = next(i for i, r in enumerate(collector.snapshot()) if r.status == CONNECTION_LOST)
    wait_until(lambda: sum(r.ok for r in collector.snapshot()[gap_at:]) >= 5)
    subscription.dispose()
    gaps = [r for r in collector.snapshot() if not r.ok]
    assert len(gaps) == 1 and gaps[0].drf == "M:OUTTMP.READING@p,20" and gaps[0].is_error
    assert "UNAVAILABLE" in (gaps[0].message or "")
    assert collector.errors == []


def test_stream_reconnects_after_dropped_connections(sim: Simulator, backend: GRPCBackend) -> None:
    collector = Collector()
    subscription = backend.stream(["M:OUTTMP@p,20", "G:AMANDA@p,20"]).subscribe(collector.on_next)
    wait_until(lambda: len(collector.snapshot()) >= 10)
    sim.drop_connections("grpc")
    wait_until(lambda: sum(r.status == CONNECTION_LOST for r in collector.snapshot()) == 2)
    count = len(collector.snapshot())
    wait_until(lambda: sum(r.ok for r in collector.snapshot()[count:]) >= 10)
    subscription.dispose()
    wait_until(lambda: sim.counters("grpc")["read_calls"] == 0)


def test_close_releases_every_stream(sim: Simulator, endpoint: tuple[str, int]) -> None:
    client = connect(endpoint)
    done: list[bool] = []
    client.stream("M:OUTTMP@p,50").subscribe(on_completed=lambda: done.append(True))
    wait_until(lambda: sim.counters("grpc")["read_calls"] == 1)
    client.close()
    assert done == [True]
    wait_until(lambda: sim.counters("grpc")["read_calls"] == 0)


def test_a_client_leaving_a_busy_stream_logs_no_server_error(sim: Simulator, backend: GRPCBackend,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    collector = Collector()
    for _ in range(3):
        subscription = backend.stream([f"Z:BANK{i:03d}@p,1" for i in range(200)]).subscribe(collector.on_next)
        wait_until(lambda: len(collector.snapshot()) >= 2000)
        with caplog.at_level(logging.ERROR, logger="grpc"):
            subscription.dispose()
            wait_until(lambda: sim.counters("grpc")["read_calls"] == 0)
            time.sleep(0.1)
        collector.items.clear()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("grpc")] == []


def test_a_stream_on_a_rare_event_outlives_the_never_connected_bound(endpoint: tuple[str, int]) -> None:
    """Connected means the channel is up: a stream whose event is rarer than ``timeout`` keeps waiting."""
    host, port = endpoint
    with prx.grpc(host, port, auth=JWTAuth(token()), timeout=0.5, devdb_host=host, devdb_port=port,
                  devdb_tls=False) as client:
        readings: list[Reading] = []
        errors: list[Exception] = []
        subscription = client.stream("M:OUTTMP@e,02").subscribe(readings.append, errors.append)
        try:
            wait_until(lambda: readings or errors, timeout=10)
            assert errors == [] and readings[0].status.is_ok
        finally:
            subscription.dispose()
