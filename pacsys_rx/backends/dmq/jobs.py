"""DMQ jobs on the client's I/O thread: one-shot reads, subscriptions and cached write sessions.

A job owns one channel, a private topic exchange (its mailbox, a fresh UUID) and a private queue
bound with ``R.#`` and ``Q``; it starts with a signed INIT on ``amq.topic``/``I`` (dmq.md §3.2).
After an interruption (channel or connection lost, server heartbeat silent) a job that still has
work is started again from scratch: new mailbox, new GSS context, new INIT.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import pika

from pacsys_rx.backends._gaps import Outage, gap_reading
from pacsys_rx.backends.base import OneShotSink, ReadRequest, StreamSink
from pacsys_rx.backends.dmq.settings import DmqSettings
from pacsys_rx.backends.dmq.values import BACKEND, GENERIC_ERROR, client_error, reading_of, status_of
from pacsys_rx.backends.health import HealthLink
from pacsys_rx.drf import parse_request
from pacsys_rx.errors import (
    AuthenticationError,
    BackendUnavailable,
    PacsysError,
    ProtocolError,
    WriteOutcomeUnknown,
)
from pacsys_rx.kerberos import ClientContext, dmq_signed_bytes
from pacsys_rx.model import OK, AcnetStatus, WriteResult
from pacsys_rx.protocols import sdd

log = logging.getLogger("pacsys_rx.dmq")

INIT_EXCHANGE = "amq.topic"
INIT_KEY = "I"
PENDING = (72, 1)
FIRST_REPLY_WAIT = 1.0
"""Seconds a disposed job waits for the server's first message before it sends ``D`` anyway."""
_SECURITY = frozenset({(72, -97), (72, -99)})
_EMPTY_PROPERTIES = pika.BasicProperties()


def _job_failure(reply: sdd.ErrorSample) -> PacsysError:
    status = status_of(reply)
    text = f"DMQ refused the job: {reply.message or status.describe()}"
    if (reply.facility_code, reply.error_number) in _SECURITY:
        return AuthenticationError(text)
    return BackendUnavailable(text)


class JobHost(Protocol):
    """What a job needs from the I/O thread that runs it (``io.DmqIo``); every call is made on it."""

    settings: DmqSettings
    connection: Any

    @property
    def sessions(self) -> MutableMapping[str, WriteSession]:
        """The cached write sessions by init DRF."""

    def submit(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the I/O thread (from any thread)."""

    def off_thread(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """Run blocking ``work`` elsewhere, then ``then(result or exception)`` on the I/O thread."""

    def add(self, job: Job) -> None:
        """Register a job and start it now, or once the connection is open."""

    def forget(self, job: Job) -> None:
        """The job is closed."""

    def call_later(self, seconds: float, work: Callable[[], None]) -> None:
        """Run ``work`` on the I/O thread after ``seconds``."""

    def start_when_connected(self, job: Job) -> None:
        """Start an idle job now, or once the connection is open."""


class Job:
    """Channel setup, INIT, delivery dispatch, heartbeats and teardown shared by every job."""

    init_class: type[sdd.ReadingRequest] | type[sdd.SettingRequest] = sdd.ReadingRequest

    def __init__(self, io: JobHost, requests: list[str]) -> None:
        self.io = io
        self.requests = requests
        self.channel: Any = None
        self.exchange = ""
        self.init_id = ""
        self.context: ClientContext | None = None
        self.started = False
        self.closed = False
        self.disposed = False
        self.consuming = False
        self.heard = False
        """The server's first message (``Q``, PENDING or data) for the current INIT arrived."""
        self.last_q = time.monotonic()
        self.orphan = ""
        """Mailbox of a server job left behind when this job's channel was lost (to be sent ``D``)."""

    # ------------------------------------------------------------------ state

    @property
    def idle(self) -> bool:
        """Not running and not closed: waiting to be (re)started."""
        return not self.started and not self.closed

    @property
    def has_work(self) -> bool:
        """Whether the job must be (re)started when it is interrupted."""
        raise NotImplementedError

    # ------------------------------------------------------------------ set-up

    def start(self, connection: Any) -> None:
        """Create the GSS context (off the I/O thread: it may wait on the KDC), then the channel."""
        self.dispose_orphan(connection)
        self.started = True
        self.consuming = self.heard = False
        self.io.off_thread(self._new_context, lambda result: self._open_channel(connection, result))

    def _new_context(self) -> tuple[ClientContext, bytes]:
        settings = self.io.settings
        if settings.auth is None:
            raise AuthenticationError("DMQ needs Kerberos credentials for every operation")
        context = ClientContext(settings.auth, settings.service_principal)
        return context, context.step(None) or b""

    def _open_channel(self, connection: Any, result: tuple[ClientContext, bytes] | Exception) -> None:
        """Back on the I/O thread with the GSS context: open the channel; the rest follows in callbacks."""
        if self.closed:
            return
        if connection is not self.io.connection:  # lost while the context was made: start over
            self.started = False
            if self.has_work and self.io.connection is not None:
                self.start(self.io.connection)
            return
        if isinstance(result, Exception):
            self.started = False
            self.fail(result if isinstance(result, PacsysError) else AuthenticationError(str(result)))
            return
        settings = self.io.settings
        self.context, token = result
        self.exchange = str(uuid.uuid4())
        self.init_id = str(uuid.uuid4())
        body = sdd.encode_message(self.init_class(list(self.requests)))
        signature = self.context.get_mic(dmq_signed_bytes(
            body, message_id=self.init_id, correlation_id=None, reply_to=self.exchange,
            app_id=settings.app_id, host_address=settings.host_address))
        properties = pika.BasicProperties(
            message_id=self.init_id, reply_to=self.exchange, app_id=settings.app_id,
            headers={"gss-token": token, "signature": signature, "host-address": settings.host_address})
        self.last_q = time.monotonic()
        try:
            channel = connection.channel(
                on_open_callback=lambda opened: self._declare_queue(opened, body, properties))
        except Exception as error:  # the connection is going away; its close callback restarts the job
            self.started = False
            log.warning("cannot open a DMQ channel: %r", error)
            return
        channel.add_on_close_callback(self._on_channel_closed)
        self.channel = channel

    def _declare_queue(self, channel: Any, body: bytes, properties: Any) -> None:
        if self._abandoned(channel):
            return
        channel.queue_declare("", exclusive=True, auto_delete=True,
                              callback=lambda frame: self._declare_exchange(channel, frame.method.queue, body,
                                                                            properties))

    def _declare_exchange(self, channel: Any, queue: str, body: bytes, properties: Any) -> None:
        if self._abandoned(channel):
            return
        channel.exchange_declare(
            self.exchange, exchange_type="topic", auto_delete=True,
            callback=lambda _: self._bind(channel, queue, ["R.#", "Q"], body, properties))

    def _bind(self, channel: Any, queue: str, keys: list[str], body: bytes, properties: Any) -> None:
        if self._abandoned(channel):
            return
        if keys:
            channel.queue_bind(queue, self.exchange, routing_key=keys[0],
                               callback=lambda _: self._bind(channel, queue, keys[1:], body, properties))
            return
        channel.basic_publish(INIT_EXCHANGE, INIT_KEY, body, properties)
        channel.connection.consume(channel, self.on_message)
        channel.basic_consume(queue, self._on_pika_delivery, auto_ack=True)
        self.consuming = True
        self.on_init_sent()

    def _abandoned(self, channel: Any) -> bool:
        """True (and the channel closed) when the job was closed during set-up."""
        if self.closed or channel is not self.channel:
            if channel.is_open:
                channel.close()
            return True
        return False

    # ------------------------------------------------------------------ traffic

    def _on_pika_delivery(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        """A delivery pika decoded (one with properties the connection's own reader leaves to pika)."""
        self.on_message(method.routing_key, properties.correlation_id, body)

    def on_message(self, key: str, correlation_id: str | None, body: bytes) -> None:
        """One message from the server on the job's queue."""
        self.heard = True
        if self.closed:
            self._dispose()
            return
        if key == "Q":
            self.last_q = time.monotonic()
            return
        try:
            reply = sdd.decode_reply(body)
        except ProtocolError as error:
            self.on_undecodable(key, error)
            return
        if isinstance(reply, sdd.ErrorSample) and (reply.facility_code, reply.error_number) == PENDING:
            self.on_pending()
            return
        self.on_reply(key, correlation_id, reply)

    def is_job_failure(self, key: str, correlation_id: str | None, reply: sdd.Reply) -> bool:
        """A job-level ErrorSample: no ref_id, on ``R`` or ``R.null``, for this INIT (dmq.md §4.2 step 6)."""
        return (isinstance(reply, sdd.ErrorSample) and reply.ref_id is None and key in ("R", "R.null")
                and correlation_id in (None, "", self.init_id))

    def publish_control(self, key: str) -> None:
        """``H`` or ``D``: an empty body without properties on the job's own mailbox."""
        if self.consuming and self.channel is not None and self.channel.is_open:
            self.channel.basic_publish(self.exchange, key, b"", _EMPTY_PROPERTIES)

    def tick(self, now: float) -> None:
        """Heartbeat, and the server-liveness check for long-lived jobs."""
        if not self.consuming:
            return
        self.publish_control("H")
        if self.watches_server and now - self.last_q > self.io.settings.server_silence:
            self.restart("no heartbeat from the DMQ server; job presumed disposed")

    watches_server = False

    def restart(self, reason: str) -> None:
        """Drop the current server job and start a fresh one."""
        self._teardown()
        self.interrupted(reason)
        if self.has_work and self.io.connection is not None:
            self.start(self.io.connection)

    # ------------------------------------------------------------------ teardown

    def _on_channel_closed(self, channel: Any, reason: BaseException) -> None:
        channel.connection.stop_consuming(channel, self.on_message)
        if channel is not self.channel:
            return
        if self.consuming:
            self.orphan = self.exchange
        self.channel = None
        self.started = self.consuming = False
        if not self.closed:
            self.interrupted(f"DMQ channel closed: {reason}")
            if not self.has_work:
                self.close()

    def _teardown(self) -> None:
        """Send ``D``, cancel the consumer and close the channel (the queue and exchange auto-delete)."""
        channel, self.channel = self.channel, None
        self.started = False
        if channel is not None:
            channel.connection.stop_consuming(channel, self.on_message)
        if channel is not None and channel.is_open:
            if self.consuming:
                channel.basic_publish(self.exchange, "D", b"", _EMPTY_PROPERTIES)
            channel.close()
        self.consuming = False

    def dispose_orphan(self, connection: Any) -> None:
        """Send ``D`` to the mailbox of the server job this one lost with its channel, on a throwaway
        channel: the server's control queue keeps that mailbox alive, and without ``D`` its job would
        run on until its heartbeat limit. A mailbox that is gone closes only the throwaway channel."""
        exchange, self.orphan = self.orphan, ""
        if not exchange or connection is None:
            return

        def send(channel: Any) -> None:
            channel.basic_publish(exchange, "D", b"", _EMPTY_PROPERTIES)
            channel.close()

        try:
            connection.channel(on_open_callback=send)
        except Exception as error:  # the connection is going away; the server's heartbeat limit remains
            log.warning("cannot dispose an orphaned DMQ job: %r", error)

    def close(self) -> None:
        """Dispose the job for good.

        A job whose INIT is out but which has not heard from the server yet waits (at most
        :data:`FIRST_REPLY_WAIT`) for the server's first message before sending ``D``: until then the
        server may not have bound its control queue to the mailbox, and a ``D`` would be lost (the server
        job would run on until its heartbeat limit).
        """
        if self.closed:
            return
        self.closed = True
        if self.consuming and not self.heard:
            self.io.call_later(FIRST_REPLY_WAIT, self._dispose)
            return
        self._dispose()

    def _dispose(self) -> None:
        if self.disposed:
            return
        self.disposed = True
        self._teardown()
        self.dispose_orphan(self.io.connection)
        self.io.forget(self)

    # ------------------------------------------------------------------ hooks

    def on_init_sent(self) -> None:
        """INIT published and consuming."""

    def on_pending(self) -> None:
        """The server acknowledged the job (PENDING)."""

    def on_reply(self, key: str, correlation_id: str | None, reply: sdd.Reply) -> None:
        raise NotImplementedError

    def on_undecodable(self, key: str, error: ProtocolError) -> None:
        """A body that is not a DAQData reply."""

    def interrupted(self, reason: str) -> None:
        """The channel or connection was lost, or the server went silent."""

    def connect_failed(self, error: BackendUnavailable) -> None:
        """A connection attempt failed while this job waited for it."""

    def fail(self, error: PacsysError) -> None:
        """Set-up failed for a reason a retry will not cure (credentials)."""
        raise NotImplementedError


def _indices_by_string(requests: Sequence[str]) -> dict[str, list[int]]:
    indices: dict[str, list[int]] = {}
    for i, text in enumerate(requests):
        indices.setdefault(text, []).append(i)
    return indices


class _ReadingJob(Job):
    """Resolves replies to request indices (dmq.md §4.2): ``ref_id`` first, then the routing key."""

    def __init__(self, io: JobHost, requests: list[str]) -> None:
        super().__init__(io, requests)
        self.by_string = _indices_by_string(requests)
        self.devices = [parse_request(text).device for text in requests]

    def indices_for(self, key: str, reply: sdd.Reply) -> list[int] | None:
        ref_id = getattr(reply, "ref_id", None)
        if ref_id is not None and 1 <= ref_id <= len(self.requests):
            return self.by_string[self.requests[ref_id - 1]]
        if key.startswith("R."):
            return self.by_string.get(key[2:])
        return None


class ReadJob(_ReadingJob):
    """A one-shot read of several DRFs; closes itself when every index has its reading."""

    def __init__(self, io: JobHost, requests: Sequence[ReadRequest], sink: OneShotSink) -> None:
        super().__init__(io, [request.wire_drf for request in requests])
        self.entries = list(requests)
        self.sink = sink
        self.missing = set(range(len(requests)))

    @property
    def has_work(self) -> bool:
        return bool(self.missing)

    def _deliver(self, index: int, reading: Any) -> None:
        if index in self.missing:
            self.missing.discard(index)
            self.sink.deliver(self.entries[index].index, reading)

    def on_reply(self, key: str, correlation_id: str | None, reply: sdd.Reply) -> None:
        indices = self.indices_for(key, reply)
        if indices is None:
            if self.is_job_failure(key, correlation_id, reply):
                for index in sorted(self.missing):
                    self._deliver(index, reading_of(self.entries[index].drf, self.devices[index], reply))
                self.close()
            return
        for index in indices:
            reading = reading_of(self.entries[index].drf, self.devices[index], reply)
            if reading is not None:
                self._deliver(index, reading)
        if not self.missing:
            self.close()

    def on_undecodable(self, key: str, error: ProtocolError) -> None:
        for index in self.by_string.get(key[2:], []) if key.startswith("R.") else []:
            self._deliver(index, client_error(self.entries[index].drf, GENERIC_ERROR,
                                              f"undecodable DMQ reply: {error}"))
        if not self.missing:
            self.close()

    def connect_failed(self, error: BackendUnavailable) -> None:
        self.fail(error)

    def fail(self, error: PacsysError) -> None:
        self.missing.clear()
        self.sink.fail(error)
        self.close()


MIN_REISSUE_INTERVAL = 0.1
"""Shortest time between two jobs of one stream lane started for added DRFs (additions in between are
batched into the next one)."""


class StreamLane:
    """The streams of any number of sinks, carried by one DMQ job at a time; used on the I/O thread only.

    Added DRFs start a new job for every live DRF (at most once per :data:`MIN_REISSUE_INTERVAL`) and
    dispose the previous one; released DRFs leave at the next new job (at once when half of the job is
    released). Each outage of the job shows as one gap reading per live DRF. A lane can absorb another:
    it takes over the other's DRFs, and the other's job runs until the absorbing lane's new job is
    acknowledged.
    """

    def __init__(self, io: JobHost, health: HealthLink | None = None,
                 on_closed: Callable[[StreamLane], None] | None = None) -> None:
        self.io = io
        self._on_closed = on_closed
        self.sinks: dict[str, StreamSink] = {}
        """The sink of every live DRF."""
        self.counts: dict[StreamSink, int] = {}
        self.outage = Outage(health)
        self.job: StreamJob | None = None
        self.closed = False
        self.absorbed = False
        """Its DRFs belong to another lane now: its job only delivers until that lane's job is up."""
        self.retiring: list[StreamLane] = []
        self.created = time.monotonic()
        self._planned = False
        self._last_start = -MIN_REISSUE_INTERVAL

    def reissue_wait(self, now: float) -> float:
        return max(0.0, self._last_start + MIN_REISSUE_INTERVAL - now)

    def young(self, now: float) -> bool:
        """Created less than :data:`MIN_REISSUE_INTERVAL` ago: new streams join it (batched)."""
        return now - self.created < MIN_REISSUE_INTERVAL

    def absorb(self, other: StreamLane) -> None:
        """Take over ``other``'s DRFs (with the next job: :meth:`plan`); ``other``'s job, and those of the
        lanes ``other`` absorbed, are disposed once this lane's next job is up."""
        other.absorbed = True
        for drf, sink in other.sinks.items():
            self.sinks[drf] = sink
            self.counts[sink] = self.counts.get(sink, 0) + 1
        self.retiring += [other, *other.retiring]
        other.retiring = []

    def retire(self) -> None:
        """Dispose an absorbed lane's job (its DRFs are delivered by the absorbing lane)."""
        self.closed = True
        self.outage.close()
        if self.job is not None:
            self.job.close()

    def add(self, drfs: Sequence[str], sink: StreamSink) -> None:
        """Take ``sink``'s DRFs (they go out with the next job: :meth:`plan`)."""
        for drf in drfs:
            self.sinks[drf] = sink
        self.counts[sink] = self.counts.get(sink, 0) + len(drfs)

    def release(self, drf: str, sink: StreamSink) -> None:
        if self.sinks.get(drf) is not sink:
            return
        del self.sinks[drf]
        left = self.counts[sink] - 1
        if left:
            self.counts[sink] = left
        else:
            del self.counts[sink]
        if not self.sinks:
            self.close()
        elif self.job is not None and len(self.job.requests) > 2 * len(self.sinks):
            self.plan()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.outage.close()
        if self.job is not None:
            self.job.close()
        retiring, self.retiring = self.retiring, []
        for absorbed in retiring:
            absorbed.retire()
        if self._on_closed is not None:
            self._on_closed(self)

    def plan(self) -> None:
        """Start a job for the lane's DRFs now, or when :data:`MIN_REISSUE_INTERVAL` has passed since the
        last one (unless the current job carries them already)."""
        if self._planned or self.closed:
            return
        wait = self.reissue_wait(time.monotonic())
        if wait > 0:
            self._planned = True
            self.io.call_later(wait, self._reissue)
        else:
            self._reissue()

    def _reissue(self) -> None:
        self._planned = False
        if self.closed or (self.job is not None and self.job.requests == list(self.sinks)):
            return
        previous, self.job = self.job, StreamJob(self.io, list(self.sinks), self)
        self._last_start = time.monotonic()
        if previous is not None:
            previous.close()
        self.io.add(self.job)

    def fail(self, drfs: Sequence[str], error: PacsysError) -> None:
        """These DRFs failed for good: their subscribers get the error; the lane closes when none is left."""
        by_sink: dict[StreamSink, list[str]] = {}
        for drf in drfs:
            sink = self.sinks.pop(drf, None)
            if sink is not None:
                by_sink.setdefault(sink, []).append(drf)
                self.counts[sink] -= 1
                if not self.counts[sink]:
                    del self.counts[sink]
        if not self.sinks:
            self.close()
        for sink, failed in by_sink.items():
            sink.fail(failed, error)


class StreamJob(_ReadingJob):
    """One job of a :class:`StreamLane`: survives reconnections while it is the lane's current job,
    showing each outage as one gap reading per live DRF (the outage ends when the server acknowledges
    the new job)."""

    watches_server = True

    def __init__(self, io: JobHost, drfs: Sequence[str], lane: StreamLane) -> None:
        super().__init__(io, list(drfs))
        self.lane = lane

    @property
    def has_work(self) -> bool:
        return self.lane.job is self and bool(self.lane.sinks)

    def on_reply(self, key: str, correlation_id: str | None, reply: sdd.Reply) -> None:
        indices = self.indices_for(key, reply)
        if indices is None:
            if self.is_job_failure(key, correlation_id, reply):
                assert isinstance(reply, sdd.ErrorSample)
                self.fail(_job_failure(reply))
            return
        drf = self.requests[indices[0]]
        sink = self.lane.sinks.get(drf)
        if sink is not None and self.lane.job is self:
            reading = reading_of(drf, self.devices[indices[0]], reply)
            if reading is not None:
                sink.emit(reading)

    def on_undecodable(self, key: str, error: ProtocolError) -> None:
        sink = self.lane.sinks.get(key[2:]) if key.startswith("R.") and self.lane.job is self else None
        if sink is not None:
            sink.emit(client_error(key[2:], GENERIC_ERROR, f"undecodable DMQ reply: {error}"))

    def on_pending(self) -> None:
        lane = self.lane
        if lane.job is not self:
            return
        lane.outage.end()
        retiring, lane.retiring = lane.retiring, []
        for absorbed in retiring:
            absorbed.retire()
        for sink in list(lane.counts):
            sink.mark_connected()

    def interrupted(self, reason: str) -> None:
        lane = self.lane
        if lane.job is not self or lane.absorbed or not lane.outage.begin(reason):
            return
        for drf, device in zip(self.requests, self.devices, strict=True):
            sink = lane.sinks.get(drf)
            if sink is not None:
                sink.emit(gap_reading(drf, device, BACKEND, reason))

    def fail(self, error: PacsysError) -> None:
        if self.lane.job is self and not self.lane.absorbed:
            self.lane.fail(self.requests, error)
        self.close()


# ------------------------------------------------------------------------------ writes


@dataclass(eq=False)
class PendingWrite:
    """One setting of one ``write_many`` call, waiting in a session."""

    op: WriteOp
    index: int
    drf: str
    sample: sdd.DataSample
    message_id: str = ""


@dataclass(eq=False)
class WriteOp:
    """The settings of one ``write_many`` call; ``cancelled`` after a timeout or disposal."""

    sink: OneShotSink
    entries: list[PendingWrite] = field(default_factory=list)
    cancelled: bool = False


class WriteSession(Job):
    """A cached setting job for one init DRF: values wait for PENDING, replies match FIFO (dmq.md §4.5)."""

    init_class = sdd.SettingRequest
    watches_server = True

    def __init__(self, io: JobHost, drf: str) -> None:
        super().__init__(io, [drf])
        self.drf = drf
        self.routing_key = f"S.{drf}"
        self.reply_key = f"R.{drf}"
        self.queued: deque[PendingWrite] = deque()
        self.sent: deque[PendingWrite] = deque()
        self.confirmed = False
        self.last_used = time.monotonic()

    @property
    def has_work(self) -> bool:
        return bool(self.queued)

    @property
    def busy(self) -> bool:
        return bool(self.queued or self.sent)

    def expired(self, now: float) -> bool:
        return not self.busy and now - self.last_used > self.io.settings.session_idle

    def enqueue(self, entry: PendingWrite) -> None:
        self.last_used = time.monotonic()
        self.queued.append(entry)
        if self.idle:
            self.io.start_when_connected(self)
        elif self.confirmed:
            self._publish_queued()

    def start(self, connection: Any) -> None:
        self.confirmed = False
        super().start(connection)

    def on_pending(self) -> None:
        if not self.confirmed:
            self.confirmed = True
            self._publish_queued()

    def _publish_queued(self) -> None:
        """Sign and publish every queued value, in order (MICs must reach the server in signing order)."""
        settings = self.io.settings
        assert self.context is not None
        while self.queued and self.consuming:
            entry = self.queued.popleft()
            if entry.op.cancelled or not entry.op.sink.mark_sent():
                continue  # timed out or disposed before sending: never sent
            body = sdd.encode_message(replace(entry.sample, time=int(time.time() * 1000)))
            entry.message_id = str(uuid.uuid4())
            signature = self.context.get_mic(dmq_signed_bytes(
                body, message_id=entry.message_id, correlation_id=None, reply_to=None, app_id=None,
                host_address=settings.host_address))
            properties = pika.BasicProperties(message_id=entry.message_id, headers={
                "signature": signature, "host-address": settings.host_address})
            self.channel.basic_publish(self.exchange, self.routing_key, body, properties)
            self.sent.append(entry)
        self.last_used = time.monotonic()

    def on_reply(self, key: str, correlation_id: str | None, reply: sdd.Reply) -> None:
        if self.is_job_failure(key, correlation_id, reply) and (
                correlation_id == self.init_id or not self.confirmed):
            assert isinstance(reply, sdd.ErrorSample)
            self._finish_all(status_of(reply), reply.message)
            return
        if key != self.reply_key:
            return
        entry = self._match(correlation_id)
        if entry is None:
            return
        if isinstance(reply, sdd.ErrorSample):
            status = status_of(reply)
            entry.op.sink.deliver(entry.index, WriteResult(entry.drf, status, BACKEND,
                                                           reply.message or status.describe()))
        else:
            entry.op.sink.deliver(entry.index, WriteResult(entry.drf, OK, BACKEND))
        self.last_used = time.monotonic()

    def _match(self, correlation_id: str | None) -> PendingWrite | None:
        """The value a reply answers: the one whose message id it echoes, else the oldest (FIFO)."""
        if correlation_id:
            for entry in self.sent:
                if entry.message_id == correlation_id:
                    self.sent.remove(entry)
                    return entry
        return self.sent.popleft() if self.sent else None

    def on_undecodable(self, key: str, error: ProtocolError) -> None:
        if key == self.reply_key and self.sent:
            entry = self.sent.popleft()
            entry.op.sink.deliver(entry.index, WriteResult(entry.drf, GENERIC_ERROR, BACKEND,
                                                           f"undecodable DMQ reply: {error}"))

    def _finish_all(self, status: AcnetStatus, message: str | None) -> None:
        text = message or status.describe()
        for entry in [*self.sent, *self.queued]:
            entry.op.sink.deliver(entry.index, WriteResult(entry.drf, status, BACKEND, text))
        self.sent.clear()
        self.queued.clear()
        self.close()

    def interrupted(self, reason: str) -> None:
        """Writes with a value sent but unanswered fail with ``WriteOutcomeUnknown`` (their other values
        are dropped, nothing is resent); queued values of other writes wait for the next session."""
        ops = list(dict.fromkeys(entry.op for entry in self.sent))
        self.sent.clear()
        self.confirmed = False
        for op in ops:
            op.cancelled = True
            op.sink.fail(WriteOutcomeUnknown(f"{reason} after a setting was sent; its outcome is unknown"))

    def connect_failed(self, error: BackendUnavailable) -> None:
        ops = list(dict.fromkeys(entry.op for entry in self.queued))
        self.queued.clear()
        for op in ops:
            op.sink.fail(error)
        if not self.sent:
            self.close()

    def fail(self, error: PacsysError) -> None:
        ops = list(dict.fromkeys(entry.op for entry in [*self.queued, *self.sent]))
        self.queued.clear()
        self.sent.clear()
        for op in ops:
            op.sink.fail(error)
        self.close()

    def close(self) -> None:
        super().close()
        if self.io.sessions.get(self.drf) is self:
            del self.io.sessions[self.drf]
