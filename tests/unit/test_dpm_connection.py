"""The DPM connection state machine and jobs over an in-memory transport (no sockets, no sleeps)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest
from polling import wait_until

from pacsys_rx.backends._gaps import CONNECTION_LOST
from pacsys_rx.backends.base import OneShotSink, ReadRequest, StreamSink
from pacsys_rx.backends.dpm import jobs
from pacsys_rx.backends.dpm.connection import ConnectionLost, DpmConnection, HandshakeRefused
from pacsys_rx.backends.dpm.jobs import MIN_RESTART_INTERVAL, ReadJob, StreamLane, _answers_start
from pacsys_rx.model import AcnetStatus, Reading
from pacsys_rx.protocols import pc
from pacsys_rx.transport import Backoff

MS = 1_704_067_200_000
Responder = Callable[[pc.DpmRequest], list[pc.DpmReply]]


class MemoryTransport:
    """A transport whose peer is a function answering each request frame with reply frames."""

    def __init__(self, respond: Responder | None = None, *, first: bytes | None = None) -> None:
        self.respond = respond or (lambda request: [])
        self.inbox: list[bytes] = [first if first is not None else pc.encode_frame(pc.OpenListReply(7))]
        self.sent: list[pc.DpmRequest] = []
        self.closed = False
        self._decoder = pc.FrameDecoder(decode=pc.decode_request)
        self._handshaken = False

    def push(self, *replies: pc.DpmReply) -> None:
        self.inbox.append(b"".join(pc.encode_frame(reply) for reply in replies))

    def send(self, data: bytes) -> None:
        if not self._handshaken:
            assert data == pc.HANDSHAKE
            self._handshaken = True
            return
        for request in self._decoder.feed(data):
            self.sent.append(request)  # type: ignore[arg-type]
            replies = self.respond(request)  # type: ignore[arg-type]
            if replies:
                self.push(*replies)

    def recv(self, timeout: float) -> bytes | None:
        if self.closed:
            return b""
        return self.inbox.pop(0) if self.inbox else None

    def close(self) -> None:
        self.closed = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class OneShot(OneShotSink):
    def __init__(self) -> None:
        self.answers: dict[int, Any] = {}
        self.failure: Exception | None = None

    def deliver(self, index: int, item: Any) -> None:
        self.answers.setdefault(index, item)

    def fail(self, error: Exception) -> None:
        self.failure = error

    def mark_sent(self) -> bool:
        raise AssertionError("reads never send settings")


def opened(transport: MemoryTransport, clock: Callable[[], float] | None = None) -> DpmConnection:
    connection = DpmConnection(transport, clock=clock or FakeClock())
    connection.open(5.0)
    return connection


def test_open_reads_the_list_id_and_keeps_frames_that_came_with_it() -> None:
    transport = MemoryTransport(first=pc.encode_frame(pc.OpenListReply(12345)) + pc.encode_frame(
        pc.ListStatusReply(12345, 0)))
    connection = opened(transport)
    assert connection.list_id == 12345
    assert connection.receive() == [pc.ListStatusReply(12345, 0)]


def test_frames_split_across_receives_are_reassembled() -> None:
    frame = pc.encode_frame(pc.OpenListReply(3))
    transport = MemoryTransport(first=frame[:2])
    transport.inbox += [frame[2:9], frame[9:]]
    assert opened(transport).list_id == 3


def test_http_refusal_is_reported_with_its_status_line() -> None:
    transport = MemoryTransport(first=b"HTTP/1.1 503 Service Unavailable\r\n\r\n")
    with pytest.raises(HandshakeRefused, match="503 Service Unavailable"):
        opened(transport)
    assert transport.closed


def test_a_first_frame_other_than_open_list_is_fatal() -> None:
    with pytest.raises(ConnectionLost, match="ListStatusReply"):
        opened(MemoryTransport(first=pc.encode_frame(pc.ListStatusReply(1, 0))))


def test_silence_beyond_the_limit_is_a_dead_connection() -> None:
    clock = FakeClock()
    connection = opened(MemoryTransport(), clock)
    clock.now = 9.0
    assert connection.receive() == []
    clock.now = 10.5
    with pytest.raises(ConnectionLost, match="no frame"):
        connection.receive()


def test_heartbeats_keep_a_quiet_connection_alive() -> None:
    clock = FakeClock()
    transport = MemoryTransport()
    connection = opened(transport, clock)
    for _ in range(5):
        clock.now += 8.0
        transport.push(pc.ListStatusReply(7, 0))
        assert connection.receive() == [pc.ListStatusReply(7, 0)]


def test_a_bad_frame_delivers_what_preceded_it_then_breaks_the_connection() -> None:
    transport = MemoryTransport()
    connection = opened(transport)
    good = pc.encode_frame(pc.ListStatusReply(7, 0))
    bad = good[:4] + b"XXXX" + good[8:]
    transport.inbox.append(good + bad)
    assert connection.receive() == [pc.ListStatusReply(7, 0)]
    with pytest.raises(ConnectionLost, match="bad frame"):
        connection.receive()
    assert transport.closed


def test_end_of_stream_is_a_lost_connection() -> None:
    transport = MemoryTransport()
    connection = opened(transport)
    transport.closed = True
    with pytest.raises(ConnectionLost, match="closed"):
        connection.receive()


def dpm_server(values: dict[str, Callable[[int], pc.DpmReply]]) -> Responder:
    """Answers AddToList (refusing unknown DRFs), DeviceInfo, StartList and @I data like the spec's §9."""
    entries: dict[int, str] = {}

    def respond(request: pc.DpmRequest) -> list[pc.DpmReply]:
        if isinstance(request, pc.AddToListRequest):
            if request.drf_request not in values:
                return [pc.AddToListReply(request.list_id, request.ref_id, -6639)]
            entries[request.ref_id] = request.drf_request
            return [pc.AddToListReply(request.list_id, request.ref_id, 0),
                    pc.DeviceInfoReply(request.ref_id, 1, request.drf_request.split(".")[0], "d", "degF")]
        if isinstance(request, pc.StartListRequest):
            data = [values[drf](ref_id) for ref_id, drf in entries.items()]
            return [pc.StartListReply(request.list_id, 0), pc.ListStatusReply(request.list_id, 0), *data]
        if isinstance(request, pc.ClearListRequest):
            entries.clear()
        return []

    return respond


def test_read_job_answers_every_entry_and_cleans_the_list() -> None:
    transport = MemoryTransport(dpm_server({
        "M:OUTTMP.READING@I": lambda ref_id: pc.ScalarReply(ref_id, MS, 0, 0, 72.5),
        "B:BOOSBP.READING@I": lambda ref_id: pc.TextReply(ref_id, MS, 0, 0, "OK"),
    }))
    connection = opened(transport)
    sink = OneShot()
    requests = [ReadRequest(0, "M:OUTTMP", "M:OUTTMP.READING@I"),
                ReadRequest(1, "B:BOOSBP", "B:BOOSBP.READING@I"),
                ReadRequest(2, "X:NOPE", "X:NOPE.READING@I")]
    assert ReadJob(requests, sink).run(connection) is True
    scalar = sink.answers[0]
    assert (scalar.value, scalar.units, scalar.drf) == (72.5, "degF", "M:OUTTMP")
    assert sink.answers[1].value == "OK"
    assert sink.answers[2].status == AcnetStatus.named("DPM_NO_SUCH_DEVICE")
    assert [type(r) for r in transport.sent[-2:]] == [pc.StopListRequest, pc.ClearListRequest]


def test_read_job_ref_ids_are_fresh_on_a_reused_connection() -> None:
    transport = MemoryTransport(
        dpm_server({"M:OUTTMP.READING@I": lambda ref: pc.ScalarReply(ref, MS, 0, 0, 1.0)}))
    connection = opened(transport)
    for _ in range(2):
        ReadJob([ReadRequest(0, "M:OUTTMP", "M:OUTTMP.READING@I")], OneShot()).run(connection)
    refs = [r.ref_id for r in transport.sent if isinstance(r, pc.AddToListRequest)]
    assert refs == [1, 2]


def test_read_job_job_failure_answers_the_rest_and_drops_the_connection() -> None:
    transport = MemoryTransport(lambda request: [pc.StatusReply(0, 0, 0, -11503)]
                                if isinstance(request, pc.StartListRequest) else [])
    sink = OneShot()
    reusable = ReadJob([ReadRequest(0, "M:OUTTMP", "M:OUTTMP.READING@I")], sink).run(opened(transport))
    assert reusable is False
    assert sink.answers[0].status == AcnetStatus.named("DPM_INTERNAL_ERROR")


def test_periodic_reads_do_not_return_their_connection_to_the_pool() -> None:
    transport = MemoryTransport(
        dpm_server({"M:OUTTMP.READING@p,1000": lambda ref: pc.ScalarReply(ref, MS, 0, 0, 1.0)}))
    job = ReadJob([ReadRequest(0, "M:OUTTMP@p,1000", "M:OUTTMP.READING@p,1000")], OneShot())
    assert job.run(opened(transport)) is False


class Collector(StreamSink):
    def __init__(self, until: int) -> None:
        self.readings: list[Reading] = []
        self.failed: list[Exception] = []
        self.enough = threading.Event()
        self._until = until

    def emit(self, reading: Reading) -> None:
        self.readings.append(reading)
        if len(self.readings) >= self._until:
            self.enough.set()

    def fail(self, drfs: Any, error: Exception) -> None:
        self.failed.append(error)
        self.enough.set()

    def mark_connected(self) -> None:
        """The session connected (nothing to record)."""


def test_stream_lane_reconnects_restarts_and_reports_the_gap() -> None:
    data = pc.ScalarReply(1, MS, 0, 0, 1.0)
    transports: list[MemoryTransport] = []

    def respond(request: pc.DpmRequest) -> list[pc.DpmReply]:
        if isinstance(request, pc.StartListRequest):
            extra = [data] if len(transports) == 1 else []
            return [pc.StartListReply(request.list_id, 0), data, data, *extra]
        return []

    def connect() -> DpmConnection:
        transport = MemoryTransport(respond)
        transports.append(transport)
        if len(transports) == 1:
            original = transport.recv

            def recv_then_drop(timeout: float) -> bytes | None:
                chunk = original(timeout)
                if chunk is None:
                    transport.closed = True
                return chunk

            transport.recv = recv_then_drop  # type: ignore[method-assign]
        return opened(transport)

    sink = Collector(until=6)
    lane = StreamLane(connect, Backoff(initial=0.001, maximum=0.001))
    lane.add(["M:OUTTMP@p,1000"], sink)
    assert sink.enough.wait(5.0)
    lane.stop()
    statuses = [r.status for r in sink.readings[:6]]
    assert statuses[:3] == [AcnetStatus(0, 0)] * 3
    assert statuses[3] == CONNECTION_LOST and sink.readings[3].value is None
    assert statuses[4:6] == [AcnetStatus(0, 0)] * 2
    assert [type(r) for r in transports[1].sent] == [pc.AddToListRequest, pc.StartListRequest]
    assert not sink.failed


def test_stream_lane_fails_when_the_list_cannot_start() -> None:
    def respond(request: pc.DpmRequest) -> list[pc.DpmReply]:
        return [pc.StartListReply(7, -11503)] if isinstance(request, pc.StartListRequest) else []

    sink = Collector(until=1)
    lane = StreamLane(lambda: opened(MemoryTransport(respond)), Backoff())
    lane.add(["M:OUTTMP@p,1000"], sink)
    assert sink.enough.wait(5.0)
    assert "refused to start" in str(sink.failed[0])


def test_stream_lane_batches_additions_into_restarts_no_faster_than_the_bound() -> None:
    starts: list[float] = []
    transports: list[MemoryTransport] = []

    def respond(request: pc.DpmRequest) -> list[pc.DpmReply]:
        if isinstance(request, pc.StartListRequest):
            starts.append(time.monotonic())
            return [pc.StartListReply(request.list_id, 0)]
        return []

    def connect() -> DpmConnection:
        transports.append(MemoryTransport(respond))
        return opened(transports[-1])

    lane = StreamLane(connect, Backoff())
    sinks = [Collector(until=1) for _ in range(50)]
    try:
        for i, sink in enumerate(sinks):
            assert lane.add([f"Z:D{i:03d}@p,1000"], sink)
        wait_until(lambda: sum(isinstance(r, pc.AddToListRequest) for r in transports[0].sent) == 50,
                   what="every entry added")
        assert len(transports) == 1 and len(starts) >= 1
        assert all(b - a >= MIN_RESTART_INTERVAL * 0.99 for a, b in pairwise(starts))
        lane.release("Z:D007@p,1000", sinks[7])
        wait_until(lambda: any(isinstance(r, pc.RemoveFromListRequest) for r in transports[0].sent),
                   what="the released entry removed")
        assert lane.entry_count == 49 and lane.sink_count == 49
    finally:
        lane.stop()


def test_stream_lane_tells_when_its_sinks_share_it() -> None:
    told: list[tuple[StreamSink, bool]] = []
    lane = StreamLane(lambda: opened(MemoryTransport()), Backoff(), sharing=lambda sink, shared: told.append(
        (sink, shared)))
    first, second = Collector(until=1), Collector(until=1)
    try:
        lane.add(["M:OUTTMP@p,1000"], first)
        assert told == []
        lane.add(["G:AMANDA@p,1000"], second)
        assert set(told) == {(first, True), (second, True)}
        lane.release("G:AMANDA@p,1000", second)
        assert told[-1] == (first, False)
    finally:
        lane.stop()


def answering_server(added: dict[int, str], silent_starts: int = 0) -> Responder:
    """Answers a StartList with a reading for every entry whose request asks for an immediate first
    reading (the spec's restart), after ``silent_starts`` starts that answer nothing (a slow server)."""
    starts = 0

    def respond(request: pc.DpmRequest) -> list[pc.DpmReply]:
        nonlocal starts
        if isinstance(request, pc.StartListRequest):
            starts += 1
            answered = [] if starts <= silent_starts else [
                pc.ScalarReply(ref, MS, 0, 0, float(ref)) for ref, drf in sorted(added.items())
                if _answers_start(drf)]
            return [pc.StartListReply(request.list_id, 0), *answered]
        if isinstance(request, pc.AddToListRequest):
            added[request.ref_id] = request.drf_request
        return []

    return respond


def test_a_restart_re_adds_running_entries_without_their_first_reading() -> None:
    added: dict[int, str] = {}
    transport = MemoryTransport(answering_server(added))
    first, second = Collector(until=1), Collector(until=1)
    lane = StreamLane(lambda: opened(transport), Backoff())
    try:
        lane.add(["M:OUTTMP@p,1000"], first)
        assert first.enough.wait(5.0)
        lane.add(["G:AMANDA@p,1000"], second)
        assert second.enough.wait(5.0)
        assert [r.drf for r in first.readings] == ["M:OUTTMP@p,1000"]
        adds = [(r.ref_id, r.drf_request) for r in transport.sent if isinstance(r, pc.AddToListRequest)]
        assert adds == [(1, "M:OUTTMP@p,1000"), (1, "M:OUTTMP.READING@P,1000,F"), (2, "G:AMANDA@p,1000")]
    finally:
        lane.stop()


def test_a_restart_before_an_entry_had_its_first_reading_delivers_that_reading() -> None:
    added: dict[int, str] = {}
    first, second = Collector(until=1), Collector(until=1)
    lane = StreamLane(lambda: opened(MemoryTransport(answering_server(added, silent_starts=1))), Backoff())
    try:
        lane.add(["M:OUTTMP@p,1000"], first)
        wait_until(lambda: 1 in added, what="the first entry started")
        lane.add(["G:AMANDA@p,1000"], second)
        assert second.enough.wait(5.0) and first.enough.wait(5.0)
        assert added == {1: "M:OUTTMP@p,1000", 2: "G:AMANDA@p,1000"}
    finally:
        lane.stop()


def test_a_restart_does_not_deliver_the_extra_reading_of_a_default_event_entry() -> None:
    added: dict[int, str] = {}
    first, second = Collector(until=1), Collector(until=1)
    lane = StreamLane(lambda: opened(MemoryTransport(answering_server(added))), Backoff())
    try:
        lane.add(["M:OUTTMP"], first)
        assert first.enough.wait(5.0)
        lane.add(["G:AMANDA@p,1000"], second)
        assert second.enough.wait(5.0)
        assert [r.drf for r in first.readings] == ["M:OUTTMP"]
        assert added[1] == "M:OUTTMP"
    finally:
        lane.stop()


def test_an_entry_added_while_a_large_batch_is_delivered_restarts_the_list_before_the_batch_ends(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "MIN_RESTART_INTERVAL", 0.0)
    batch = 500
    delivered_at_restart: list[int] = []
    first = Collector(until=batch)
    second = Collector(until=1)

    def respond(request: pc.DpmRequest) -> list[pc.DpmReply]:
        if not isinstance(request, pc.StartListRequest):
            return []
        delivered_at_restart.append(len(first.readings))
        if len(delivered_at_restart) == 1:
            return [pc.StartListReply(request.list_id, 0),
                    *(pc.ScalarReply(1, MS + i, 0, 0, float(i)) for i in range(batch))]
        return [pc.StartListReply(request.list_id, 0), pc.ScalarReply(2, MS, 0, 0, 1.0)]

    lane = StreamLane(lambda: opened(MemoryTransport(respond)), Backoff())
    original = first.emit

    def emit_and_add(reading: Reading) -> None:
        original(reading)
        if len(first.readings) == 1:
            lane.add(["G:AMANDA@p,1000"], second)

    first.emit = emit_and_add  # type: ignore[method-assign]
    try:
        lane.add(["M:OUTTMP@p,1000"], first)
        assert first.enough.wait(5.0) and second.enough.wait(5.0)
        assert delivered_at_restart[0] == 0 and delivered_at_restart[1] < batch
    finally:
        lane.stop()


def test_a_first_reading_in_a_batch_is_delivered_before_the_running_entries_readings() -> None:
    burst = 300
    first = Collector(until=1 + burst)
    running_when_new_arrived: list[int] = []
    second = Collector(until=1)
    original = second.emit

    def note_and_emit(reading: Reading) -> None:
        running_when_new_arrived.append(len(first.readings))
        original(reading)

    second.emit = note_and_emit  # type: ignore[method-assign]
    starts = 0

    def respond(request: pc.DpmRequest) -> list[pc.DpmReply]:
        nonlocal starts
        if not isinstance(request, pc.StartListRequest):
            return []
        starts += 1
        if starts == 1:
            return [pc.StartListReply(request.list_id, 0), pc.ScalarReply(1, MS, 0, 0, 0.0)]
        return [pc.DeviceInfoReply(2, 2, "G:AMANDA", "d", "degF"), pc.StartListReply(request.list_id, 0),
                *(pc.ScalarReply(1, MS + i, 0, 0, float(i)) for i in range(1, burst + 1)),
                pc.ScalarReply(2, MS, 0, 0, 7.0)]

    lane = StreamLane(lambda: opened(MemoryTransport(respond)), Backoff())
    try:
        lane.add(["M:OUTTMP@p,1000"], first)
        wait_until(lambda: len(first.readings) == 1, what="the running entry's first reading")
        lane.add(["G:AMANDA@p,1000"], second)
        assert second.enough.wait(5.0) and first.enough.wait(5.0)
        assert running_when_new_arrived == [1]
        assert second.readings[0].units == "degF"
        assert [r.value for r in first.readings] == [float(i) for i in range(burst + 1)]
    finally:
        lane.stop()
