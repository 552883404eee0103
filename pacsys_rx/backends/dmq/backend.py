"""DMQ: ACNET device access through a DMQ server over RabbitMQ (AMQP 0-9-1), Kerberos on every operation.

``prx.dmq(host, port, vhost, auth=prx.KerberosAuth())`` gives a backend whose reads, streams and
writes are DMQ jobs (dmq.md): each job has its own channel, mailbox exchange and queue, starts with
an INIT carrying a GSS token and a MIC, and is disposed with ``D``. One I/O thread per backend owns
the pika connection; a lost connection is re-established with capped exponential backoff, and live
jobs start again with a fresh INIT.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from reactivex import abc as rxabc
from reactivex.disposable import Disposable

from pacsys_rx.auth import KerberosAuth
from pacsys_rx.backends.base import (
    Backend,
    Capability,
    OneShotSink,
    ReadRequest,
    ServerSubscription,
    StreamSink,
    WriteRequest,
)
from pacsys_rx.backends.dmq.io import DmqIo, host_address
from pacsys_rx.backends.dmq.jobs import PendingWrite, ReadJob, StreamLane, WriteOp
from pacsys_rx.backends.dmq.settings import DEFAULT_BACKOFF, DmqSettings
from pacsys_rx.backends.dmq.values import setting_sample
from pacsys_rx.backends.health import ReportsHealth
from pacsys_rx.errors import AuthenticationError
from pacsys_rx.kerberos import DMQ_SERVICE_PRINCIPAL, check_credentials, service_principal_for
from pacsys_rx.transport import Backoff, resolve_host, resolve_port

DEFAULT_HOST = "appsrv2.fnal.gov"
DEFAULT_PORT = 5672
DEFAULT_VHOST = "/"
DEFAULT_TIMEOUT = 10.0
HOST_ENV = "PACSYS_DMQ_HOST"
PORT_ENV = "PACSYS_DMQ_PORT"
APP_ID = "pacsys_rx"
DEFAULT_STREAM_JOBS = 16
SMALL_LANE = 100
"""DRFs of a lane that a new lane beyond ``stream_jobs`` takes over (a larger one makes two merge)."""


class DMQBackend(ReportsHealth, Backend):
    """Reads, streams and writes through a DMQ server; every operation needs Kerberos (``auth``).

    ``host``/``port`` default to ``PACSYS_DMQ_HOST``/``PACSYS_DMQ_PORT``, else appsrv2.fnal.gov:5672.
    ``connection_name`` (shown by ``rabbitmqctl list_connections``) defaults to a unique
    ``pacsys_rx-dmq-<uuid>``. Heartbeat, liveness and session intervals are in seconds; ``backoff``
    is the reconnect policy of the broker connection. ``stream_jobs`` bounds the jobs (channels) that
    carry streams: ``stream()`` calls within 0.1 s share a new job, and beyond ``stream_jobs`` jobs a new
    job takes over the smallest one, or the two smallest merge (a job's DRFs are fixed, so a merge
    starts one new job for both).
    """

    name = "dmq"
    capabilities = (Capability.READ | Capability.BATCH | Capability.STREAM | Capability.WRITE
                    | Capability.AUTH_KERBEROS)

    def __init__(
        self, host: str | None = None, port: int | str | None = None, vhost: str = DEFAULT_VHOST,
        auth: KerberosAuth | None = None, *, username: str = "guest", password: str = "guest",
        timeout: float = DEFAULT_TIMEOUT, scheduler: rxabc.SchedulerBase | None = None,
        connection_name: str | None = None, amqp_heartbeat: int = 15, job_heartbeat: float = 5.0,
        server_silence: float = 30.0, session_idle: float = 600.0, max_sessions: int = 1024,
        backoff: Backoff | None = None, stream_jobs: int = DEFAULT_STREAM_JOBS,
    ) -> None:
        super().__init__(timeout=timeout, scheduler=scheduler)
        host = resolve_host(host, HOST_ENV, DEFAULT_HOST)
        port = resolve_port(port, PORT_ENV, DEFAULT_PORT)
        if auth is not None and not isinstance(auth, KerberosAuth):
            raise TypeError(f"DMQ authenticates with KerberosAuth, not {type(auth).__name__}")
        for label, seconds in (("job_heartbeat", job_heartbeat), ("server_silence", server_silence),
                               ("session_idle", session_idle)):
            if not isinstance(seconds, (int, float)) or not seconds > 0:
                raise ValueError(f"{label} must be positive, got {seconds!r}")
        if not isinstance(max_sessions, int) or max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions!r}")
        if not isinstance(stream_jobs, int) or isinstance(stream_jobs, bool) or stream_jobs < 1:
            raise ValueError(f"stream_jobs must be a positive integer, got {stream_jobs!r}")
        self.stream_jobs = stream_jobs
        self._lanes: list[StreamLane] = []
        """Stream lanes, used on the I/O thread only."""
        self._lane_of: dict[StreamSink, StreamLane] = {}
        self.auth = auth
        self.connection_name = connection_name or f"pacsys_rx-dmq-{uuid.uuid4()}"
        self.settings = DmqSettings(
            host=host, port=port, vhost=vhost, username=username, password=password, auth=auth,
            service_principal=service_principal_for(auth, DMQ_SERVICE_PRINCIPAL) if auth
            else DMQ_SERVICE_PRINCIPAL,
            app_id=APP_ID, connection_name=self.connection_name, host_address=host_address(),
            amqp_heartbeat=amqp_heartbeat, blocked_timeout=self.timeout, job_heartbeat=job_heartbeat,
            server_silence=server_silence, session_idle=session_idle, max_sessions=max_sessions,
            backoff=backoff or DEFAULT_BACKOFF,
        )
        self._io = DmqIo(self.settings)

    @property
    def principal(self) -> str:
        """The Kerberos principal operations run as (AuthenticationError without a usable ticket)."""
        return self._require_auth()

    def _require_auth(self) -> str:
        if self.auth is None:
            raise AuthenticationError(
                "DMQ needs Kerberos for every operation: pass auth=KerberosAuth() (and run kinit)")
        return check_credentials(self.auth)

    def _check_read_auth(self) -> None:
        self._require_auth()

    def _check_write_auth(self) -> None:
        self._require_auth()

    def _start_reads(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        self._require_auth()
        job = ReadJob(self._io, requests, sink)
        self._io.submit(lambda: self._io.add(job))
        return Disposable(lambda: self._io.submit(job.close))

    def _open_stream(self, drfs: Sequence[str], sink: StreamSink) -> ServerSubscription:
        self._require_auth()
        self._io.submit(lambda: self._attach(drfs, sink))
        return _LaneSubscription(self, sink)

    # ------------------------------------------------------------------ I/O thread

    def _attach(self, drfs: Sequence[str], sink: StreamSink) -> None:
        """Put ``sink``'s DRFs on the youngest lane while it is young (a burst of ``stream()`` calls
        shares one job), else on a new lane. With ``stream_jobs`` lanes running, the new lane takes over
        the smallest one when it has at most :data:`SMALL_LANE` DRFs, else the two smallest merge. New
        streams thus never wait for a large job to be replaced, and streams arriving one by one beside
        large jobs do not make a large job start again each time."""
        now = time.monotonic()
        taken: StreamLane | None = None
        if self._lanes and self._lanes[-1].young(now):
            lane = self._lanes[-1]
        elif len(self._lanes) >= self.stream_jobs and len(self._lanes) == 1:
            lane = self._lanes[0]
        else:
            server = f"{self.settings.host}:{self.settings.port}/{self.settings.vhost}"
            lane = StreamLane(self._io, self.health_board.link(server), self._forget_lane)
            if len(self._lanes) >= self.stream_jobs:
                smaller, larger = sorted(self._lanes, key=lambda lane: len(lane.sinks))[:2]
                if len(smaller.sinks) <= SMALL_LANE:
                    taken = smaller
                else:
                    self._merge(smaller, into=larger)
                    larger.plan()
            self._lanes.append(lane)
        lane.add(drfs, sink)  # first in the new job: its first reading comes before those taken over
        self._lane_of[sink] = lane
        if taken is not None:
            self._merge(taken, into=lane)
        lane.plan()

    def _merge(self, lane: StreamLane, into: StreamLane) -> None:
        self._lanes.remove(lane)
        into.absorb(lane)
        for moved in lane.counts:
            self._lane_of[moved] = into

    def _forget_lane(self, lane: StreamLane) -> None:
        if lane in self._lanes:
            self._lanes.remove(lane)

    def _release(self, drf: str, sink: StreamSink) -> None:
        lane = self._lane_of.get(sink)
        if lane is None:
            return
        lane.release(drf, sink)
        if sink not in lane.counts:
            del self._lane_of[sink]

    def _start_writes(self, requests: Sequence[WriteRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        op = WriteOp(sink)
        op.entries = [PendingWrite(op, request.index, request.drf, setting_sample(request.drf, request.value))
                      for request in requests]
        self._io.submit(lambda: self._io.write(op))

        def cancel() -> None:
            op.cancelled = True

        return Disposable(lambda: self._io.submit(cancel))

    def _close_transport(self) -> None:
        self._io.close(self.timeout)



class _LaneSubscription(ServerSubscription):
    """One sink's DRFs on a stream lane (released on the I/O thread)."""

    def __init__(self, backend: DMQBackend, sink: StreamSink) -> None:
        self._backend = backend
        self._sink = sink

    def release(self, drf: str) -> None:
        self._backend._io.submit(lambda: self._backend._release(drf, self._sink))
