"""Logger history against the simulator: ``backend.history`` and one-shot logger reads on DPM/HTTP, gRPC
and ACL, and the chunked wire answer as a client written against the real services sees it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import grpc
import pytest
from reactivex import operators as ops

import pacsys_rx as prx
from pacsys_rx.backends.base import Backend
from pacsys_rx.drf import parse_request
from pacsys_rx.errors import NotSupported
from pacsys_rx.model import AcnetStatus, Reading, ValueType
from pacsys_rx.protocols import pc
from pacsys_rx.protocols.proto import DAQ_pb2, DAQ_pb2_grpc
from pacsys_rx.sim import Simulator
from pacsys_rx.testing import FakeBackend

BACKENDS = ("dpm", "grpc", "acl")
DEVICE = "M:OUTTMP"
"""Logged at its default period, 1 s."""


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=5, servers=["dpm", "grpc", "acl"]) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def backends(sim: Simulator) -> Iterator[dict[str, Backend]]:
    opened = {name: getattr(prx, name)(**sim.client_options(name)) for name in BACKENDS}
    yield opened
    for backend in opened.values():
        backend.close()


def window_end() -> int:
    """A whole second a little in the past (epoch ms), so no window reaches past the logger's now."""
    return (int(time.time()) - 5) * 1000


def history(backend: Backend, drf: str, start_ms: int, end_ms: int, **options: object) -> list[Reading]:
    return backend.history(drf, start_ms / 1000, end_ms / 1000, **options).pipe(ops.to_list()).run()


def expected_value(sim: Simulator, drf: str, epoch_ms: int) -> float:
    value = sim.model.read(parse_request(drf), epoch_ms).value
    assert isinstance(value, float)
    return value


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("count", [1, 487, 488, 86_400])
def test_a_window_arrives_whole_and_in_time_order(sim: Simulator, backends: dict[str, Backend],
                                                  backend_name: str, count: int) -> None:
    end = window_end()
    start = end - count * 1000
    readings = history(backends[backend_name], DEVICE, start, end)
    assert len(readings) == count
    stamps = [round(r.timestamp.timestamp() * 1000) for r in readings]
    assert stamps == list(range(start, end, 1000))
    assert all(r.ok and r.value_type is ValueType.SCALAR for r in readings)
    for reading, stamp in [(readings[0], stamps[0]), (readings[-1], stamps[-1])]:
        assert reading.value == pytest.approx(expected_value(sim, DEVICE, stamp), abs=1e-12)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_an_empty_window_completes_empty(backends: dict[str, Backend], backend_name: str) -> None:
    end = window_end()
    assert history(backends[backend_name], DEVICE, end - 500, end - 500) == []
    assert history(backends[backend_name], DEVICE, end - 1500, end - 1000 + 1)[:0] == []


@pytest.mark.parametrize(("backend_name", "status"), [
    ("dpm", "DPM_NO_SUCH_DEVICE"), ("grpc", "DPM_NO_SUCH_DEVICE"), ("acl", "DIO_NO_SUCH")])
def test_a_bad_device_gives_one_typed_error_reading(backends: dict[str, Backend], backend_name: str,
                                                    status: str) -> None:
    end = window_end()
    [reading] = history(backends[backend_name], "Z:NOSUCH", end - 10_000, end)
    assert not reading.ok
    assert reading.status == AcnetStatus.named(status)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_repeated_window_gives_the_new_windows_data(backends: dict[str, Backend],
                                                      backend_name: str) -> None:
    backend = backends[backend_name]
    end = window_end()
    first = history(backend, DEVICE, end - 20_000, end - 10_000)
    second = history(backend, DEVICE, end - 10_000, end)
    again = history(backend, DEVICE, end - 20_000, end - 10_000)
    assert [r.timestamp for r in first] == [r.timestamp for r in again]
    assert [r.value for r in first] == [r.value for r in again]
    assert round(second[0].timestamp.timestamp() * 1000) == end - 10_000
    assert len(second) == 10


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_window_errors(backends: dict[str, Backend], backend_name: str) -> None:
    backend = backends[backend_name]
    end = window_end()
    [too_old] = history(backend, DEVICE, end - 40 * 86_400_000, end - 35 * 86_400_000)
    assert too_old.status == AcnetStatus.named("DAE_LJ_NO_DATA")
    [bad_node] = history(backend, DEVICE, end - 10_000, end, node="NoSuchLogger")
    assert bad_node.status == AcnetStatus.named("DPM_INVALID_DATASOURCE")
    assert len(history(backend, DEVICE, end - 10_000, end, node="SimLog")) == 10


@pytest.mark.parametrize("backend_name", ["dpm", "grpc"])
def test_duration_and_single_forms(backends: dict[str, Backend], backend_name: str) -> None:
    backend = backends[backend_name]
    recent = backend.history(DEVICE, duration=timedelta(seconds=10)).pipe(ops.to_list()).run()
    assert len(recent) in (10, 11)
    [single] = backend.history(f"{DEVICE}<-LOGGERSINGLE").pipe(ops.to_list()).run()
    assert single.ok and single.value_type is ValueType.SCALAR
    assert abs(single.timestamp - datetime.now(timezone.utc)) < timedelta(seconds=5)


# --------------------------------------------------- the measured failures (one-shot logger reads)


@pytest.mark.parametrize("backend_name", ["dpm", "grpc"])
def test_a_one_shot_read_of_a_logger_drf_returns_the_whole_window_before_its_timeout(
        backends: dict[str, Backend], backend_name: str) -> None:
    """Before: gRPC waited for its timeout (live data never ends), DPM/HTTP returned a live value or,
    given chunks, only the first 487 samples."""
    end = window_end()
    drf = f"{DEVICE}<-LOGGER:{end - 488_000}:{end}"
    began = time.monotonic()
    reading = backends[backend_name].read(drf, timeout=4.0).run()
    assert time.monotonic() - began < 4.0
    assert reading.value_type is ValueType.TIMED_SCALAR_ARRAY
    assert reading.value is not None and len(reading.value.data) == 488  # type: ignore[union-attr]
    assert reading.value.micros[0] == (end - 488_000) * 1000  # type: ignore[union-attr]


def test_a_batch_mixing_logger_and_live_drfs_answers_every_entry(backends: dict[str, Backend]) -> None:
    end = window_end()
    drfs = [f"{DEVICE}<-LOGGER:{end - 5_000}:{end}", "M:OUTTMP", "G:AMANDA",
            f"M:FOO<-LOGGER:{end - 600_000}:{end}"]
    readings = backends["grpc"].read_many(drfs, timeout=4.0).pipe(ops.to_list()).run()
    assert sorted(r.drf for r in readings) == sorted(drfs)
    assert all(r.ok for r in readings)


def test_a_backend_without_logger_access_refuses_history_on_subscribe() -> None:
    backend = FakeBackend()
    observable = backend.history(DEVICE, "-1h", "now")
    with pytest.raises(NotSupported):
        observable.run()


def test_history_meets_live_data(sim: Simulator, backends: dict[str, Backend]) -> None:
    live = backends["dpm"].stream(f"{DEVICE}@p,1000").pipe(ops.skip(1), ops.take(3), ops.to_list()).run()
    first, last = (round(r.timestamp.timestamp() * 1000) for r in (live[0], live[-1]))
    logged = history(backends["dpm"], DEVICE, first, last + 1)
    assert [(r.timestamp, r.value) for r in logged] == [(r.timestamp, r.value) for r in live]


# ------------------------------------------------------------ the wire answer, as a raw client sees it


def raw_dpm_replies(endpoint: str, *entries: tuple[int, str], restart_with: str | None = None,
                    until_ref: int = 1) -> list[pc.DpmMessage]:
    """Data and Status replies for ``entries`` on one list, until ``until_ref``'s end-of-data reply;
    with ``restart_with`` the list first answers ``entries``, then gets one more entry and a new
    StartList (the first entries stay on the list), and the replies after that restart are returned."""
    host, port = endpoint.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10.0) as sock:
        sock.sendall(pc.HANDSHAKE)
        decoder = pc.FrameDecoder(decode=pc.decode_reply)
        pending: list[pc.DpmMessage] = []

        def collect(ref_id: int) -> list[pc.DpmMessage]:
            replies: list[pc.DpmMessage] = []
            while True:
                while pending:
                    message = pending.pop(0)
                    if isinstance(message, pc.OpenListReply):
                        continue
                    if hasattr(message, "ref_id") and not isinstance(message, (pc.AddToListReply,
                                                                                 pc.DeviceInfoReply)):
                        replies.append(message)
                        data = getattr(message, "data", None)
                        if message.ref_id == ref_id and ((data is not None and len(data) == 0)
                                                         or isinstance(message, pc.StatusReply)):
                            return replies
                chunk = sock.recv(1 << 16)
                assert chunk, "the simulator closed the connection"
                pending.extend(decoder.feed(chunk))

        sock.sendall(b"".join(pc.encode_frame(pc.AddToListRequest(0, ref, drf)) for ref, drf in entries)
                     + pc.encode_frame(pc.StartListRequest(0)))
        replies = collect(until_ref)
        if restart_with is None:
            return replies
        new_ref = max(ref for ref, _ in entries) + 1
        sock.sendall(pc.encode_frame(pc.AddToListRequest(0, new_ref, restart_with))
                     + pc.encode_frame(pc.StartListRequest(0)))
        return collect(new_ref)


def test_dpm_sends_chunks_of_487_then_an_empty_terminator(sim: Simulator) -> None:
    end = window_end()
    replies = raw_dpm_replies(sim.endpoints["dpm"], (1, f"{DEVICE}<-LOGGER:{end - 975_000}:{end}"))
    assert all(isinstance(r, pc.TimedScalarArrayReply) for r in replies)
    assert [len(r.data) for r in replies] == [487, 487, 1, 0]  # type: ignore[attr-defined]
    micros = [m for r in replies for m in r.micros]  # type: ignore[attr-defined]
    assert micros == [t * 1000 for t in range(end - 975_000, end, 1000)]


def test_dpm_ignores_a_repeated_window_on_the_same_list(sim: Simulator) -> None:
    """The real server does not re-run a logger window a list already answered (dpm-http.md §5.6)."""
    end = window_end()
    replies = raw_dpm_replies(sim.endpoints["dpm"], (1, f"{DEVICE}<-LOGGER:{end - 3_000}:{end}"),
                              restart_with=f"{DEVICE}<-LOGGER:{end - 6_000}:{end - 3_000}")
    assert {r.ref_id for r in replies} == {2}  # type: ignore[attr-defined]
    assert sum(len(r.data) for r in replies) == 3  # type: ignore[attr-defined]


def test_grpc_sends_chunks_of_487_then_an_empty_readings_reply(sim: Simulator) -> None:
    end = window_end()
    with grpc.insecure_channel(sim.endpoints["grpc"]) as channel:
        call = DAQ_pb2_grpc.DAQStub(channel).Read(
            DAQ_pb2.ReadingList(drf=[f"{DEVICE}<-LOGGER:{end - 488_000}:{end}"]), timeout=10)
        replies = list(call)
    assert [r.WhichOneof("value") for r in replies] == ["readings"] * 3
    assert [len(r.readings.reading) for r in replies] == [487, 1, 0]


def test_array_devices_send_one_record_per_reply(sim: Simulator) -> None:
    end = window_end()
    replies = raw_dpm_replies(sim.endpoints["dpm"], (1, f"B:IRMS06[0:3]<-LOGGER:{end - 3_000}:{end}"))
    assert [type(r) for r in replies] == [pc.ScalarArrayReply] * 4
    assert [len(r.data) for r in replies] == [4, 4, 4, 0]  # type: ignore[attr-defined]
    assert [r.timestamp for r in replies[:3]] == [t * 1000 for t in range(end - 3_000, end, 1000)]
