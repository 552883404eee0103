"""The DMQ client's I/O thread: one pika ``SelectConnection`` re-established with capped backoff.

Every pika object is used on this thread only; other threads hand work over with :meth:`DmqIo.submit`.
The jobs (``jobs``) register here; the periodic tick publishes their ``H`` heartbeats, watches
the server's ``Q`` heartbeats, expires idle write sessions and restarts interrupted jobs. Kerberos
context creation (which may wait on the KDC) runs on a separate GSS thread, never on this one.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.select_connection import IOLoop

from pacsys_rx.backends.dmq.jobs import FIRST_REPLY_WAIT, Job, WriteOp, WriteSession
from pacsys_rx.backends.dmq.settings import DEFAULT_BACKOFF, DmqSettings
from pacsys_rx.backends.dmq.values import BACKEND, GENERIC_ERROR
from pacsys_rx.errors import BackendUnavailable
from pacsys_rx.model import WriteResult
from pacsys_rx.protocols.amqp import Delivery, DeliveryReader

log = logging.getLogger("pacsys_rx.dmq")

FERMILAB_PREFIXES = ((0x83E10000, 16), (0xC0BED800, 22), (0xC631D000, 24))
"""131.225.0.0/16, 192.190.216.0/22 and 198.49.208.0/24."""
FALLBACK_HOST_ADDRESS = bytes((131, 225, 142, 68))
RECV_BYTES = 256 * 1024
"""Bytes per socket read: a tick of 1000 deliveries is about 100 KB (pika reads 4 KB at a time)."""

__all__ = ["DEFAULT_BACKOFF", "DmqIo", "DmqSettings", "host_address"]


def host_address(probe: tuple[str, int] = ("131.225.142.68", 5672)) -> bytes:
    """The ``host-address`` header: the outbound IPv4 address if it is a Fermilab one, else 131.225.142.68."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.connect(probe)
            address = socket.inet_aton(udp.getsockname()[0])
    except OSError:
        return FALLBACK_HOST_ADDRESS
    number = int.from_bytes(address, "big")
    if any(number >> (32 - bits) == prefix >> (32 - bits) for prefix, bits in FERMILAB_PREFIXES):
        return address
    return FALLBACK_HOST_ADDRESS


Consumer = Callable[[str, "str | None", bytes], None]
"""Takes a delivery's routing key, correlation id and body."""


class DeliveringConnection(pika.SelectConnection):
    """pika's connection, except that deliveries on channels in :attr:`consumers` are put together by
    :class:`~pacsys_rx.protocols.amqp.DeliveryReader` and handed straight to their consumer (pika
    decodes every other frame), and the socket is read :data:`RECV_BYTES` at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.consumers: dict[int, Consumer] = {}
        self._reader = DeliveryReader(self.consumers)
        super().__init__(*args, **kwargs)

    def consume(self, channel: Any, consumer: Consumer) -> None:
        """Deliveries on ``channel`` go to ``consumer`` from now on."""
        self.consumers[channel.channel_number] = consumer

    def stop_consuming(self, channel: Any, consumer: Consumer) -> None:
        """Deliveries on ``channel`` no longer go to ``consumer`` (the channel is closing)."""
        number = channel.channel_number
        if self.consumers.get(number) == consumer:
            del self.consumers[number]
            self._reader.forget(number)

    def _proto_connection_made(self, transport: Any) -> None:
        super()._proto_connection_made(transport)
        transport._MAX_RECV_BYTES = RECV_BYTES

    def _on_data_available(self, data_in: bytes) -> None:
        self.bytes_received += len(data_in)
        for item in self._reader.feed(data_in):
            if type(item) is Delivery:
                consumer = self.consumers.get(item.channel)
                if consumer is not None:
                    consumer(item.routing_key, item.correlation_id, item.body)
            else:
                self._process_frame(pika.frame.decode_frame(item)[1])


class DmqIo:
    """Owns the I/O thread, the connection, the live jobs and the write-session cache."""

    def __init__(self, settings: DmqSettings) -> None:
        self.settings = settings
        self.ioloop = IOLoop()
        self.connection: Any = None
        self.jobs: set[Job] = set()
        self.sessions: OrderedDict[str, WriteSession] = OrderedDict()
        self._connecting = False
        self._retry: Any = None
        self._tick_handle: Any = None
        self._backoff = settings.backoff.fresh()
        self._closing = False
        self._closed_connection = False
        self._stopped = threading.Event()
        self._submit_lock = threading.Lock()
        self._gss_work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._gss_thread = threading.Thread(target=self._run_gss, name="pacsys-rx-dmq-gss", daemon=True)
        self._thread = threading.Thread(target=self._run, name=f"pacsys-rx-dmq-{settings.connection_name}",
                                        daemon=True)
        self._gss_thread.start()
        self._thread.start()

    # ------------------------------------------------------------------ any thread

    def submit(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the I/O thread; ignored once the backend is closed."""
        with self._submit_lock:
            if not self._stopped.is_set():
                self.ioloop.add_callback_threadsafe(work)

    def off_thread(self, work: Callable[[], Any], then: Callable[[Any], None]) -> None:
        """Run blocking ``work`` (GSS) on the GSS thread, then ``then(result or exception)`` on this one."""
        def run() -> None:
            try:
                result = work()
            except Exception as error:
                result = error
            self.submit(lambda: then(result))

        self._gss_work.put(run)

    def close(self, timeout: float) -> None:
        """Drop every job (``D``), close the connection and stop the threads (waits at most ``timeout``,
        and not at all when called on the I/O thread itself, e.g. from a callback)."""
        self.submit(self._shutdown)
        self._gss_work.put(None)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run_gss(self) -> None:
        while (work := self._gss_work.get()) is not None:
            work()

    # ------------------------------------------------------------------ I/O thread

    def _run(self) -> None:
        try:
            self.ioloop.start()
        finally:
            with self._submit_lock:
                self._stopped.set()
            self.ioloop.close()

    def add(self, job: Job) -> None:
        """Register a job and start it now, or as soon as the connection is open."""
        if self._closing:
            return
        self.jobs.add(job)
        self.start_when_connected(job)

    def start_when_connected(self, job: Job) -> None:
        """Start an idle job now if the connection is open, else connect (the job starts on open)."""
        if self.connection is not None:
            job.start(self.connection)
        else:
            self._connect()

    def forget(self, job: Job) -> None:
        self.jobs.discard(job)
        if self._closing and not self.jobs:
            self._close_connection()

    def call_later(self, seconds: float, work: Callable[[], None]) -> None:
        self.ioloop.call_later(seconds, work)

    def write(self, op: WriteOp) -> None:
        """Queue every setting of ``op`` on the cached session of its init DRF (created when missing)."""
        for entry in op.entries:
            session = self.sessions.get(entry.drf)
            if session is None:
                session = self._new_session(entry.drf)
                if session is None:
                    op.sink.deliver(entry.index, WriteResult(
                        entry.drf, GENERIC_ERROR, BACKEND, "Too many active write sessions"))
                    continue
            else:
                self.sessions.move_to_end(entry.drf)
            session.enqueue(entry)

    def _new_session(self, drf: str) -> WriteSession | None:
        if len(self.sessions) >= self.settings.max_sessions:
            idle = next((s for s in self.sessions.values() if not s.busy), None)
            if idle is None:
                return None
            idle.close()
        session = self.sessions[drf] = WriteSession(self, drf)
        self.add(session)
        return session

    def _connect(self) -> None:
        if self.connection is not None or self._connecting or self._retry is not None or self._closing:
            return
        s = self.settings
        parameters = pika.ConnectionParameters(
            host=s.host, port=s.port, virtual_host=s.vhost,
            credentials=pika.PlainCredentials(s.username, s.password), heartbeat=s.amqp_heartbeat,
            blocked_connection_timeout=s.blocked_timeout, connection_attempts=1,
            socket_timeout=s.blocked_timeout, stack_timeout=s.blocked_timeout,
            client_properties={"connection_name": s.connection_name, "product": "pacsys_rx"},
        )
        self._connecting = True
        DeliveringConnection(parameters, on_open_callback=self._on_open,
                              on_open_error_callback=self._on_open_error, on_close_callback=self._on_close,
                              custom_ioloop=self.ioloop)

    def _on_open(self, connection: Any) -> None:
        self._connecting = False
        self.connection = connection
        self._backoff.connected()
        if self._closing:
            connection.close()
            return
        log.debug("connected to %s:%d%s", self.settings.host, self.settings.port, self.settings.vhost)
        self._restart_idle_jobs()
        if self._tick_handle is None:
            self._tick_handle = self.ioloop.call_later(self.settings.job_heartbeat, self._tick)

    def _on_open_error(self, connection: Any, error: BaseException) -> None:
        self._connecting = False
        if self._closing:
            self.ioloop.stop()
            return
        reason = BackendUnavailable(
            f"cannot connect to the DMQ broker {self.settings.host}:{self.settings.port}: {error!r}")
        for job in list(self.jobs):
            job.connect_failed(reason)
        self._schedule_reconnect()

    def _on_close(self, connection: Any, reason: BaseException) -> None:
        self.connection = None
        if self._closing:
            self.ioloop.stop()
            return
        log.warning("DMQ broker connection lost: %r", reason)
        self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        if not any(job.has_work for job in self.jobs):
            return
        self._retry = self.ioloop.call_later(self._backoff.next_delay(), self._reconnect)

    def _reconnect(self) -> None:
        self._retry = None
        self._connect()

    def _restart_idle_jobs(self) -> None:
        for job in list(self.jobs):
            if job.idle and job.has_work:
                job.start(self.connection)

    def _tick(self) -> None:
        """Heartbeats, server-liveness checks, idle-session expiry, restarts after channel failures."""
        self._tick_handle = None
        now = time.monotonic()
        for job in list(self.jobs):
            job.tick(now)
        for session in [s for s in self.sessions.values() if s.expired(now)]:
            session.close()
        if self.connection is not None:
            self._restart_idle_jobs()
        if self.jobs or self.connection is not None:
            self._tick_handle = self.ioloop.call_later(self.settings.job_heartbeat, self._tick)

    def _shutdown(self) -> None:
        self._closing = True
        for job in list(self.jobs):
            job.close()
        for handle in (self._retry, self._tick_handle):
            if handle is not None:
                self.ioloop.remove_timeout(handle)
        if not self.jobs:  # else the last disposed job closes the connection (or the bound below does)
            self._close_connection()
        else:
            self.ioloop.call_later(FIRST_REPLY_WAIT, self._close_connection)

    def _close_connection(self) -> None:
        if self._closed_connection:
            return
        self._closed_connection = True
        if self.connection is not None and self.connection.is_open:
            self.connection.close()
        elif not self._connecting:
            self.ioloop.stop()
