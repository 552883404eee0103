"""What runs on a DPM/HTTP connection: one-shot reads (pooled), streams (with reconnect), settings.

Every job runs on the thread that owns its connection; other threads only cancel it.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from pacsys_rx.auth import KerberosAuth
from pacsys_rx.backends._gaps import Outage, gap_reading
from pacsys_rx.backends.base import OneShotSink, ReadRequest, StreamSink, WriteRequest
from pacsys_rx.backends.dpm.connection import SLICE, ConnectionLost, DpmConnection, HandshakeRefused
from pacsys_rx.backends.dpm.values import (
    BACKEND_NAME,
    DATA_REPLIES,
    STATUS,
    ClientFrame,
    Clock,
    Entry,
    LoggerAnswer,
    Setting,
    reply_reading,
    scalar_reading,
    setting_for,
    status_reading,
    stream_readings,
)
from pacsys_rx.backends.health import HealthLink
from pacsys_rx.backends.history import is_chunked
from pacsys_rx.drf import DefaultEvent, ImmediateEvent, PeriodicEvent, parse_request
from pacsys_rx.errors import AuthenticationError, BackendUnavailable, ProtocolError
from pacsys_rx.kerberos import ClientContext, dpm_service_principal
from pacsys_rx.model import OK, AcnetStatus, Reading, ValueType, WriteResult
from pacsys_rx.protocols import pc
from pacsys_rx.transport import Backoff

log = logging.getLogger("pacsys_rx.dpm")

Connector = Callable[[], DpmConnection]
"""Opens a connection (handshake done) or raises BackendUnavailable."""

NO_REPLY = AcnetStatus.named("ACNET_REQTMO")
MIC_MESSAGE = b"1234"
POOL_IDLE_POLL = 1.0
"""How often an idle pooled connection drains heartbeats (and notices a dead peer)."""
POOL_IDLE_LIMIT = 60.0
"""An idle pooled connection is closed after this long."""

_Reply = TypeVar("_Reply", pc.AuthenticateReply, pc.StatusReply, pc.ApplySettingsReply)


class Cancellable:
    """A job the subscriber may abandon; the owning thread checks :attr:`cancelled`."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._connection: DpmConnection | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def done(self) -> bool:
        """Every answer was delivered."""
        return False

    def cancel(self) -> None:
        """Abandon an unfinished job; its connection (which may still carry its replies) is closed."""
        if self.done:
            return
        self._cancelled.set()
        connection = self._connection
        if connection is not None:
            connection.close()


# ---------------------------------------------------------------------------------------- reads


class ReadJob(Cancellable):
    """One read_many on a pooled connection: AddToList per DRF + StartList, one answer per entry."""

    def __init__(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> None:
        super().__init__()
        self.requests = requests
        self.sink = sink
        self.clock = Clock()
        self._entries: dict[int, tuple[int, Entry]] = {}
        self._logger: dict[int, LoggerAnswer] = {}
        """Chunked logger entries: every reply until the terminator counts, not only the first."""
        self._failure: int | None = None

    @property
    def done(self) -> bool:
        return self._connection is not None and not self._entries and not self.cancelled

    def start(self, connection: DpmConnection) -> None:
        """Send the entries and StartList in one write."""
        self._connection = connection
        adds = []
        for request in self.requests:
            ref_id = connection.next_ref()
            self._entries[ref_id] = (request.index, Entry(request.drf, parse_request(request.drf).device))
            if is_chunked(request.wire_drf):
                self._logger[ref_id] = LoggerAnswer()
            adds.append(pc.AddToListRequest(connection.list_id, ref_id, request.wire_drf))
        connection.send(*adds, pc.StartListRequest(connection.list_id))

    def run(self, connection: DpmConnection) -> bool:
        """Run to completion; True when the connection is clean enough to go back to the pool."""
        self.start(connection)
        while self._entries and not self.cancelled:
            self.handle(connection.receive())
        if self.cancelled or self._failure is not None:
            return False
        connection.send(pc.StopListRequest(connection.list_id), pc.ClearListRequest(connection.list_id))
        return all(isinstance(parse_request(r.wire_drf).event, ImmediateEvent) for r in self.requests)

    def handle(self, frames: Iterable[ClientFrame]) -> None:
        """Turn replies into answers; the first answer per entry counts."""
        for frame in frames:
            if isinstance(frame, tuple):
                found = self._entries.get(frame[0])
                if found is not None:
                    self._answer(frame[0], scalar_reading(found[1], frame, self.clock))
            elif isinstance(frame, DATA_REPLIES):
                found = self._entries.get(frame.ref_id)
                logged = self._logger.get(frame.ref_id)
                if found is None:
                    continue
                result = reply_reading(found[1], frame, self.clock) if logged is None \
                    else logged.add(found[1], frame, self.clock)
                if result is not None:
                    self._answer(frame.ref_id, result)
            elif isinstance(frame, pc.DeviceInfoReply):
                found = self._entries.get(frame.ref_id)
                if found is not None:
                    found[1].learn(frame)
            elif isinstance(frame, (pc.AddToListReply, pc.StatusReply)) and frame.ref_id in self._entries:
                entry = self._entries[frame.ref_id][1]
                if frame.status != 0:
                    stamp = frame.timestamp if isinstance(frame, pc.StatusReply) else 0
                    self._answer(frame.ref_id, status_reading(entry, frame.status, self.clock, stamp))
                elif isinstance(frame, pc.StatusReply) and frame.ref_id in self._logger:
                    self._answer(frame.ref_id, self._logger[frame.ref_id].result(entry, self.clock))
            elif _job_failure(frame):
                self._fail_rest(_job_failure(frame))

    def _answer(self, ref_id: int, reading: Reading) -> None:
        index, _ = self._entries.pop(ref_id)
        self.sink.deliver(index, reading)

    def _fail_rest(self, code: int) -> None:
        self._failure = code
        for ref_id in list(self._entries):
            self._answer(ref_id, status_reading(self._entries[ref_id][1], code, self.clock))


class ReadPool:
    """Up to ``size`` pooled connections, each with its own thread, serving a queue of read jobs."""

    def __init__(self, connect: Connector, size: int) -> None:
        if size < 1:
            raise ValueError(f"pool size must be at least 1, got {size}")
        self._connect = connect
        self._size = size
        self._jobs: queue.SimpleQueue[ReadJob | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._workers = 0
        self._idle = 0
        self._closed = False

    def submit(self, job: ReadJob) -> None:
        with self._lock:
            if self._closed:
                raise BackendUnavailable("the DPM read pool is closed")
            self._jobs.put(job)
            if self._idle == 0 and self._workers < self._size:
                self._workers += 1
                threading.Thread(target=self._work, name="pacsys-rx-dpm-read", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for _ in range(self._workers):
                self._jobs.put(None)

    def _work(self) -> None:
        connection: DpmConnection | None = None
        idle_for = 0.0
        try:
            while True:
                with self._lock:
                    self._idle += 1
                try:
                    job = self._jobs.get(timeout=POOL_IDLE_POLL)
                except queue.Empty:
                    idle_for += POOL_IDLE_POLL
                    connection = _drain(connection)
                    if idle_for >= POOL_IDLE_LIMIT and self._retire():
                        return
                    continue
                finally:
                    with self._lock:
                        self._idle -= 1
                if job is None:
                    return
                idle_for = 0.0
                connection = self._run(job, connection)
        finally:
            if connection is not None:
                connection.close()

    def _retire(self) -> bool:
        with self._lock:
            if self._jobs.empty():
                self._workers -= 1
                return True
        return False

    def _run(self, job: ReadJob, connection: DpmConnection | None) -> DpmConnection | None:
        if job.cancelled:
            return connection
        try:
            if connection is None or connection.closed:
                connection = self._connect()
            if job.run(connection):
                return connection
        except BackendUnavailable as exc:
            job.sink.fail(exc)
        except Exception as exc:
            log.exception("DPM read failed")
            job.sink.fail(exc)
        if connection is not None:
            connection.close()
        return None


def _drain(connection: DpmConnection | None) -> DpmConnection | None:
    """Consume what an idle connection received (heartbeats); None once it is dead."""
    if connection is None:
        return None
    try:
        connection.receive(0.0)
    except ConnectionLost:
        return None
    return connection


# -------------------------------------------------------------------------------------- streams


MIN_RESTART_INTERVAL = 0.1
"""Shortest time between two StartList of one list: the server refuses restarts that come too fast
(DPM_RESTART_TOO_FAST), so entries added meanwhile wait and go out together with the next one."""

SharingHook = Callable[[StreamSink, bool], None]
"""Told whether a sink now shares its connection with other sinks (True) or has it alone (False)."""


def _answers_start(drf: str) -> bool:
    """Whether a (re)started list sends this entry a reading at once: default and periodic events with
    their immediate first reading."""
    event = parse_request(drf).event
    return isinstance(event, DefaultEvent) or (isinstance(event, PeriodicEvent) and event.immediate_first)


def _without_first_reading(drf: str) -> str | None:
    """The same request without its immediate first reading (``@P,1000`` -> ``@P,1000,F``), for an
    entry that already had it; None when the event cannot say so (the default event)."""
    request = parse_request(drf)
    event = request.event
    if not isinstance(event, PeriodicEvent) or not event.immediate_first:
        return None
    return request.with_event(f"{'P' if event.continuous else 'Q'},{event.period_ms},F")


def _first_readings_ahead(frames: list[ClientFrame], awaiting: set[int]) -> list[ClientFrame]:
    """The frames of entries awaiting their first reading before the rest (a new stream's first reading
    does not wait behind a burst of running ones); each entry's own frames keep their order."""
    ahead: list[ClientFrame] = []
    rest: list[ClientFrame] = []
    for frame in frames:
        ref_id = frame[0] if type(frame) is tuple else getattr(frame, "ref_id", None)
        (ahead if ref_id in awaiting else rest).append(frame)
    return ahead + rest if ahead else frames


class StreamLane:
    """One pooled stream connection and its list, carrying the DRFs of any number of stream sinks.

    Entries keep their ref_ids across reconnects. New entries are added to the running list and the list
    is restarted, at most once per :data:`MIN_RESTART_INTERVAL` (additions in between are batched).
    A restart starts every entry again, and the server answers each entry whose event asks for an
    immediate first reading at once. So an entry that had its first reading is re-added (same ref_id,
    which replaces its request) without it at the next restart (``@P,1000`` -> ``@P,1000,F``): a restart
    costs the server and this thread one reading per entry added since the previous restart, not one per
    entry of the list. Entries on the default event cannot say so; their reading answering a restart is
    not delivered (their subscribers see their usual cadence). Released entries are removed from the list.
    When the connection is lost each live DRF gets one gap reading (``_gaps``), and the list is
    re-established on a new connection with backoff. The lane's thread ends when its last entry is
    released.
    """

    def __init__(self, connect: Connector, backoff: Backoff, health: HealthLink | None = None,
                 sharing: SharingHook | None = None) -> None:
        self._outage = Outage(health)
        self._connect = connect
        self._backoff = backoff
        self._sharing = sharing
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[Entry, StreamSink]] = {}
        self._refs: dict[tuple[StreamSink, str], int] = {}
        self._sinks: dict[StreamSink, int] = {}
        self._pending: dict[int, None] = {}
        self._started = False
        self._removed: list[int] = []
        self._next_ref = 0
        self._last_start = -MIN_RESTART_INTERVAL
        self._stopped = threading.Event()
        self._connection: DpmConnection | None = None
        self._serving = False
        self._woken = False
        self._echoes: set[int] = set()
        """Entries whose next reading answers a restart they did not need (not delivered)."""
        self._answering: set[int] = set()
        """Entries whose request on the server asks for an immediate first reading at each start."""
        self._awaiting_first: set[int] = set()
        """Entries (re)started with an immediate first reading that has not come yet."""
        self._waker, self._wake = socket.socketpair()
        self._waker.setblocking(False)
        self._wake.setblocking(False)
        self.clock = Clock()
        self._thread = threading.Thread(target=self._run, name="pacsys-rx-dpm-stream", daemon=True)

    # ------------------------------------------------------------------ any thread

    @property
    def entry_count(self) -> int:
        return len(self._entries)

    @property
    def sink_count(self) -> int:
        return len(self._sinks)

    def restart_wait(self, now: float) -> float:
        """Seconds until this list may be restarted again."""
        return max(0.0, self._last_start + MIN_RESTART_INTERVAL - now)

    def add(self, drfs: Sequence[str], sink: StreamSink) -> bool:
        """Carry ``drfs`` for ``sink`` (batched into the next restart); False once the lane has stopped."""
        with self._lock:
            if self._stopped.is_set():
                return False
            for drf in drfs:
                self._next_ref += 1
                self._entries[self._next_ref] = (Entry(drf, parse_request(drf).device), sink)
                self._refs[sink, drf] = self._next_ref
                self._pending[self._next_ref] = None
            joined = sink not in self._sinks
            self._sinks[sink] = self._sinks.get(sink, 0) + len(drfs)
            others = [other for other in self._sinks if other is not sink] if len(self._sinks) == 2 else []
            shared = joined and len(self._sinks) > 1
            serving = self._serving
            start, self._started = not self._started, True
        if start:
            self._thread.start()
        else:
            self.wake()
        if serving:
            sink.mark_connected()
        if self._sharing is not None:
            for now_shared in [*others, sink] if shared else others:
                self._sharing(now_shared, True)
        return True

    def release(self, drf: str, sink: StreamSink) -> None:
        """Stop delivering ``drf`` to ``sink``; the lane stops when no entry is left."""
        with self._lock:
            ref = self._refs.pop((sink, drf), None)
            if ref is None:
                return
            del self._entries[ref]
            self._answering.discard(ref)
            self._awaiting_first.discard(ref)
            if ref in self._pending:
                del self._pending[ref]
            else:
                self._removed.append(ref)
            left = self._sinks.get(sink, 0) - 1
            if left > 0:
                self._sinks[sink] = left
            else:
                self._sinks.pop(sink, None)
            alone = list(self._sinks) if len(self._sinks) == 1 else []
            empty = not self._entries
        if empty:
            self.stop()
            return
        self.wake()
        if alone and self._sharing is not None:
            self._sharing(alone[0], False)

    @property
    def finished(self) -> bool:
        """True once every entry was released or the backend closed."""
        return self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()
        self._outage.close()
        connection = self._connection
        if connection is not None:
            connection.close()
        self.wake()

    def wake(self) -> None:
        """Interrupt the lane thread's receive (once until it ran again)."""
        if self._woken:
            return
        self._woken = True
        try:
            self._wake.send(b"w")
        except OSError:  # closed
            pass

    # ------------------------------------------------------------------ lane thread

    def _run(self) -> None:
        outage = self._outage
        try:
            while not self._stopped.is_set():
                try:
                    connection = self._connect()
                    connection.wake_on(self._waker)
                    self._connection = connection
                    if self._stopped.is_set():
                        return
                    self._backoff.connected()
                    outage.end()
                    self._serve(connection)
                except (HandshakeRefused, ProtocolError) as exc:
                    self._fail(exc)
                    return
                except BackendUnavailable as exc:
                    if self._stopped.is_set():
                        return
                    log.info("DPM stream connection lost: %s", exc)
                    if outage.begin(str(exc)):
                        self._report_gap(str(exc))
                except Exception as exc:
                    log.exception("DPM stream failed")
                    self._fail(exc)
                    return
                finally:
                    self._serving = False
                    if self._connection is not None:
                        self._connection.close()
                self._stopped.wait(self._backoff.next_delay())
        finally:
            self._waker.close()
            self._wake.close()

    def _serve(self, connection: DpmConnection) -> None:
        list_id = connection.list_id
        with self._lock:
            self._pending.clear()
            self._removed.clear()
            self._echoes.clear()
            self._answering = {ref for ref, (entry, _) in self._entries.items() if _answers_start(entry.drf)}
            self._awaiting_first = set(self._answering)
            adds = [pc.AddToListRequest(list_id, ref, entry.drf) for ref, (entry, _) in self._entries.items()]
            sinks = list(self._sinks)
            self._last_start = time.monotonic()
            self._serving = True
        connection.send(*adds, pc.StartListRequest(list_id))
        for sink in sinks:
            sink.mark_connected()
        entries = self._entries
        clock = self.clock
        receive = connection.receive
        scalar = ValueType.SCALAR
        timeout = SLICE
        echoes = self._echoes
        while not self._stopped.is_set():
            frames = receive(timeout)
            self._woken = False
            if self._pending or self._removed:
                timeout = self._send_changes(connection)
            awaiting = self._awaiting_first
            if awaiting and len(frames) > 1:
                frames = _first_readings_ahead(frames, awaiting)
            for frame in frames:
                if self._woken:  # entries added or released while a large batch is being delivered
                    self._woken = False
                    if self._pending or self._removed:
                        timeout = self._send_changes(connection)
                if type(frame) is tuple:
                    found = entries.get(frame[0])
                    if found is None:
                        continue
                    if awaiting:
                        awaiting.discard(frame[0])
                    if echoes and frame[0] in echoes:
                        echoes.discard(frame[0])
                        continue
                    entry = found[0]
                    if frame[3] == 0:
                        found[1].emit(Reading(entry.drf, entry.device, frame[4], scalar, entry.units,
                                              clock(frame[1]), frame[2], OK, BACKEND_NAME, entry.meta, None))
                    else:
                        found[1].emit(scalar_reading(entry, frame, clock))
                else:
                    self._message(frame)  # type: ignore[arg-type]

    def _send_changes(self, connection: DpmConnection) -> float:
        """Send removals, and additions with a restart once allowed; returns the next receive timeout."""
        list_id = connection.list_id
        now = time.monotonic()
        with self._lock:
            removed, self._removed = self._removed, []
            requests: list[pc.DpmRequest] = [pc.RemoveFromListRequest(list_id, ref) for ref in removed]
            wait = self.restart_wait(now)
            if self._pending and wait == 0.0:
                requests += self._quieten(list_id)
                requests += [pc.AddToListRequest(list_id, ref, self._entries[ref][0].drf)
                             for ref in self._pending]
                requests.append(pc.StartListRequest(list_id))
                added = {ref for ref in self._pending if _answers_start(self._entries[ref][0].drf)}
                self._answering |= added
                self._awaiting_first |= added
                self._pending = {}
                self._last_start = now
            elif self._pending:
                return max(wait, 0.001)
        if requests:
            connection.send(*requests)
        return SLICE

    def _quieten(self, list_id: int) -> list[pc.DpmRequest]:
        """Before a restart (under the lock): re-add every running entry that had its immediate first
        reading without it; the rest that will answer the restart anyway become echoes."""
        requests: list[pc.DpmRequest] = []
        self._echoes.clear()
        for ref in list(self._answering):
            if ref in self._awaiting_first:
                continue  # the restart's reading is its first one
            drf = self._entries[ref][0].drf
            quiet = _without_first_reading(drf)
            if quiet is None:
                self._echoes.add(ref)
            else:
                requests.append(pc.AddToListRequest(list_id, ref, quiet))
                self._answering.discard(ref)
        return requests

    def _message(self, message: pc.DpmReply) -> None:
        if isinstance(message, DATA_REPLIES):
            self._awaiting_first.discard(message.ref_id)
            found = self._entries.get(message.ref_id)
            if found is not None:
                for reading in stream_readings(found[0], message, self.clock):
                    found[1].emit(reading)
        elif isinstance(message, pc.DeviceInfoReply):
            found = self._entries.get(message.ref_id)
            if found is not None:
                found[0].learn(message)
        elif isinstance(message, (pc.AddToListReply, pc.StatusReply)):
            found = self._entries.get(message.ref_id)
            if found is not None and message.status != 0:
                self._awaiting_first.discard(message.ref_id)
                stamp = message.timestamp if isinstance(message, pc.StatusReply) else 0
                found[1].emit(status_reading(found[0], message.status, self.clock, stamp))
            elif message.ref_id == 0 and message.status != 0 and isinstance(message, pc.StatusReply):
                raise ProtocolError(f"DPM failed to start the list: {STATUS(message.status).describe()}")
        elif isinstance(message, pc.StartListReply) and message.status != 0:
            raise ProtocolError(f"DPM refused to start the list: {STATUS(message.status).describe()}")

    def _report_gap(self, reason: str) -> None:
        with self._lock:
            entries = list(self._entries.values())
        for entry, sink in entries:
            sink.emit(gap_reading(entry.drf, entry.device, BACKEND_NAME, reason, units=entry.units,
                                  meta=entry.meta))

    def _fail(self, error: Exception) -> None:
        self._stopped.set()
        self._outage.close()
        with self._lock:
            by_sink: dict[StreamSink, list[str]] = {}
            for entry, sink in self._entries.values():
                by_sink.setdefault(sink, []).append(entry.drf)
        for sink, drfs in by_sink.items():
            sink.fail(drfs, error)


# ------------------------------------------------------------------------------------- settings


class WriteJob(Cancellable):
    """One write_many on a fresh connection: Kerberos, EnableSettings, role, entries, ApplySettings.

    A connection failure before ApplySettings is retried once on a new connection; after it the
    outcome is unknown and nothing is resent.
    """

    def __init__(self, requests: Sequence[WriteRequest], sink: OneShotSink, connect: Connector,
                 auth: KerberosAuth, role: str | None, service_principal: str | None) -> None:
        super().__init__()
        self.requests = requests
        self.sink = sink
        self._connect = connect
        self._auth = auth
        self._role = role
        self._service_principal = service_principal
        self._settings = [setting_for(i + 1, r.value) for i, r in enumerate(requests)]
        self._sent = False

    def start(self) -> None:
        threading.Thread(target=self._run, name="pacsys-rx-dpm-write", daemon=True).start()

    def _run(self) -> None:
        for attempt in (1, 2):
            connection: DpmConnection | None = None
            try:
                if self.cancelled:
                    return
                connection = self._connection = self._connect()
                self._write(connection)
                return
            except ConnectionLost as exc:
                if self._sent or attempt == 2 or self.cancelled:
                    self.sink.fail(exc)
                    return
                log.info("DPM write connection lost before ApplySettings, retrying once: %s", exc)
            except Exception as exc:
                self.sink.fail(exc)
                return
            finally:
                if connection is not None:
                    connection.close()

    def _write(self, connection: DpmConnection) -> None:
        principal = self._authenticate(connection)
        list_id = connection.list_id
        role = [pc.AddToListRequest(list_id, 0, f"#ROLE:{self._role}")] if self._role else []
        adds = [pc.AddToListRequest(list_id, i + 1, r.drf) for i, r in enumerate(self.requests)]
        connection.send(*role, *adds, pc.StartListRequest(list_id))
        own = self._await_entries(connection)
        settings = [s for s in self._settings if s.ref_id not in own]
        replies: dict[int, int] = {}
        if settings:
            if self.cancelled or not self.sink.mark_sent():
                return  # timed out or disposed before sending: nothing is sent
            self._sent = True
            connection.send(_apply_settings(principal, list_id, settings))
            reply = self._await(connection, pc.ApplySettingsReply)
            replies = {status.ref_id: status.status for status in reply.status}
        for i, request in enumerate(self.requests):
            ref_id = i + 1
            code = own.get(ref_id, replies.get(ref_id, replies.get(0, NO_REPLY.packed)))
            status = STATUS(code)
            message = None if code == 0 else status.describe()
            self.sink.deliver(request.index, WriteResult(request.drf, status, BACKEND_NAME, message))

    def _authenticate(self, connection: DpmConnection) -> str:
        """The Kerberos exchange and EnableSettings (spec §6.2-6.4); returns the client principal."""
        list_id = connection.list_id
        connection.send(pc.AuthenticateRequest(list_id, b""))
        reply = self._await(connection, pc.AuthenticateReply)
        service = (self._service_principal or self._auth.service
                   or dpm_service_principal(reply.service_name or ""))
        context = ClientContext(self._auth, service)
        token = context.step(None)
        while token:
            connection.send(pc.AuthenticateRequest(list_id, token))
            reply = self._await(connection, pc.AuthenticateReply)
            token = context.step(reply.token) if reply.token and not context.complete else None
        if not context.complete:
            raise AuthenticationError(f"Kerberos context with {service} did not complete")
        connection.send(pc.EnableSettingsRequest(list_id, context.get_mic(MIC_MESSAGE), MIC_MESSAGE))
        status = self._await(connection, pc.StatusReply)
        if status.status != 0:
            raise AuthenticationError(f"DPM refused to enable settings: {STATUS(status.status).describe()}")
        return context.principal

    def _await_entries(self, connection: DpmConnection) -> dict[int, int]:
        """Wait until every entry arrived and the list started; returns the entries' own failures."""
        waiting = set(range(1, len(self.requests) + 1))
        failures: dict[int, int] = {}
        started = False
        while (waiting or not started) and not self.cancelled:
            for frame in connection.receive():
                if isinstance(frame, pc.DeviceInfoReply):
                    waiting.discard(frame.ref_id)
                elif isinstance(frame, (pc.AddToListReply, pc.StatusReply)) and frame.ref_id in waiting:
                    if frame.status != 0:
                        failures[frame.ref_id] = frame.status
                        waiting.discard(frame.ref_id)
                elif _job_failure(frame):
                    code = _job_failure(frame)
                    return {i: failures.get(i, code) for i in range(1, len(self.requests) + 1)}
                elif isinstance(frame, pc.StartListReply):
                    started = True
        return failures

    def _await(self, connection: DpmConnection, kind: type[_Reply]) -> _Reply:
        """The next reply of ``kind``, skipping heartbeats; a refusal or anything else is an error."""
        while not self.cancelled:
            for frame in connection.receive():
                if isinstance(frame, kind):
                    return frame
                if isinstance(frame, pc.ListStatusReply):
                    continue
                if isinstance(frame, pc.StatusReply) and kind is pc.AuthenticateReply:
                    reason = STATUS(frame.status).describe()
                    raise AuthenticationError(f"DPM rejected the authentication: {reason}")
                if kind is not pc.ApplySettingsReply:
                    raise ProtocolError(f"DPM sent {type(frame).__name__} while {kind.__name__} was expected")
        raise ConnectionLost("write cancelled")


def _job_failure(frame: ClientFrame) -> int:
    """The status of a list-level failure (a StartList reply, or a Status reply with ref_id 0), else 0."""
    if isinstance(frame, pc.StartListReply) or (isinstance(frame, pc.StatusReply) and frame.ref_id == 0):
        return frame.status
    return 0


def _apply_settings(principal: str, list_id: int, settings: Sequence[Setting]) -> pc.ApplySettingsRequest:
    raw = [s for s in settings if isinstance(s, pc.RawSetting)]
    scaled = [s for s in settings if isinstance(s, pc.ScaledSetting)]
    text = [s for s in settings if isinstance(s, pc.TextSetting)]
    return pc.ApplySettingsRequest(principal, list_id, raw or None, scaled or None, text or None)

