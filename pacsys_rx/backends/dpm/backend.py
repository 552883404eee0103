"""DPM/HTTP backend: the PC binary protocol over TCP through acsys-proxy (docs/backends/dpm.md).

* reads: a pool of up to ``pool_size`` connections, one list each, one read at a time per list;
* streams: up to ``pool_size`` stream connections, each with its own list and I/O thread, shared by
  every ``stream()`` call (the first ``pool_size`` calls get one each); new DRFs are added to a running
  list, which is restarted at most every 0.1 s (``MIN_RESTART_INTERVAL``); a lost connection is
  re-established with capped exponential backoff (each outage shows as one gap reading per DRF);
* writes: a fresh connection per batch with the Kerberos exchange, EnableSettings, the role and
  ApplySettings.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from reactivex import abc as rxabc
from reactivex.disposable import Disposable

from pacsys_rx.auth import KerberosAuth
from pacsys_rx.backends.base import (
    DEFAULT_TIMEOUT,
    Backend,
    Capability,
    OneShotSink,
    ReadRequest,
    ServerSubscription,
    StreamSink,
    WriteRequest,
)
from pacsys_rx.backends.dpm.connection import HEARTBEAT_LIMIT, DpmConnection, SocketTransport, trace_enabled
from pacsys_rx.backends.dpm.jobs import ReadJob, ReadPool, StreamLane, WriteJob
from pacsys_rx.backends.health import ReportsHealth
from pacsys_rx.backends.streams import LaneSubscription
from pacsys_rx.errors import AuthenticationError
from pacsys_rx.kerberos import check_credentials
from pacsys_rx.transport import Backoff, resolve_host, resolve_port

DEFAULT_HOST = "acsys-proxy.fnal.gov"
DEFAULT_PORT = 6802
DEFAULT_POOL_SIZE = 4
HOST_ENV = "PACSYS_DPM_HOST"
PORT_ENV = "PACSYS_DPM_PORT"
DEFAULT_BACKOFF = Backoff(initial=0.1, maximum=10.0, stable_after=5.0)
"""Stream reconnects: 0.1 s doubling to 10 s, +-20 % jitter, reset after 5 s connected."""


class DPMBackend(ReportsHealth, Backend):
    """DPM/HTTP: ``read``/``read_many`` (pooled), ``stream`` (reconnecting), ``write`` (Kerberos).

    ``host``/``port`` default to ``PACSYS_DPM_HOST``/``PACSYS_DPM_PORT``, else acsys-proxy.fnal.gov:6802.
    ``auth`` (a `KerberosAuth`) is needed for writes only; ``role`` is sent as the
    list's ``#ROLE`` property with every write. ``service_principal`` overrides the principal derived
    from the service name the server announces (``auth.service`` does the same).
    ``heartbeat_timeout`` is the silence after which a connection counts as dead; ``backoff`` is the
    reconnect policy (each stream connection works on its own ``backoff.fresh()``). ``pool_size`` bounds the
    read connections and, separately, the stream connections.
    """

    name = "dpm"
    capabilities = (Capability.READ | Capability.BATCH | Capability.STREAM | Capability.WRITE
                    | Capability.AUTH_KERBEROS | Capability.HISTORY)
    dedicated_stream_threads = True

    def __init__(self, host: str | None = None, port: int | None = None, auth: KerberosAuth | None = None,
                 role: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 pool_size: int = DEFAULT_POOL_SIZE, service_principal: str | None = None,
                 heartbeat_timeout: float = HEARTBEAT_LIMIT, backoff: Backoff | None = None,
                 scheduler: rxabc.SchedulerBase | None = None) -> None:
        super().__init__(timeout=timeout, scheduler=scheduler)
        self.host = resolve_host(host, HOST_ENV, DEFAULT_HOST)
        self.port = resolve_port(port, PORT_ENV, DEFAULT_PORT)
        if auth is not None and not isinstance(auth, KerberosAuth):
            raise ValueError(f"the DPM backend authenticates with KerberosAuth, got {type(auth).__name__}")
        if not isinstance(heartbeat_timeout, (int, float)) or not heartbeat_timeout > 0:
            raise ValueError(f"heartbeat_timeout must be positive, got {heartbeat_timeout!r}")
        if not isinstance(pool_size, int) or isinstance(pool_size, bool) or pool_size < 1:
            raise ValueError(f"pool_size must be a positive integer, got {pool_size!r}")
        if role is not None and not isinstance(role, str):
            raise TypeError(f"role must be a str or None, got {type(role).__name__}")
        self.auth = auth
        self.role = role
        self.service_principal = service_principal
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.backoff = backoff or DEFAULT_BACKOFF
        self._trace = trace_enabled()
        self._pool_size = pool_size
        self._pool = ReadPool(self._open_connection, pool_size)
        self._lanes: list[StreamLane] = []

    def __repr__(self) -> str:
        return f"DPMBackend({self.host!r}, {self.port})"

    def _open_connection(self, keepalive: bool = False) -> DpmConnection:
        transport = SocketTransport.connect(self.host, self.port, self.timeout, keepalive=keepalive)
        connection = DpmConnection(transport, silence_limit=self.heartbeat_timeout, trace=self._trace)
        try:
            connection.open(self.timeout)
        except BaseException:
            connection.close()
            raise
        return connection

    def _open_stream_connection(self) -> DpmConnection:
        return self._open_connection(keepalive=True)

    def _start_reads(self, requests: Sequence[ReadRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        job = ReadJob(requests, sink)
        self._pool.submit(job)
        return Disposable(job.cancel)

    def _start_writes(self, requests: Sequence[WriteRequest], sink: OneShotSink) -> rxabc.DisposableBase:
        assert self.auth is not None  # _check_write_auth ran first
        job = WriteJob(requests, sink, self._open_connection, self.auth, self.role, self.service_principal)
        job.start()
        return Disposable(job.cancel)

    def _open_stream(self, drfs: Sequence[str], sink: StreamSink) -> ServerSubscription:
        while True:
            lane = self._lane_for_new_stream()
            if lane.add(drfs, sink):
                return LaneSubscription(lane, sink)

    def _lane_for_new_stream(self) -> StreamLane:
        """A new stream connection while fewer than ``pool_size`` run, else the one that may restart its
        list soonest (the fewest entries among equals)."""
        with self._lock:
            self._lanes = [lane for lane in self._lanes if not lane.finished]
            if len(self._lanes) < self._pool_size:
                health = self.health_board.link(f"{self.host}:{self.port}")
                lane = StreamLane(self._open_stream_connection, self.backoff.fresh(), health,
                                  self._streams_hub.set_shared)
                self._lanes.append(lane)
                return lane
            now = time.monotonic()
            return min(self._lanes, key=lambda lane: (lane.restart_wait(now), lane.entry_count))

    def _check_write_auth(self) -> None:
        if self.auth is None:
            raise AuthenticationError("DPM writes need Kerberos: pass auth=KerberosAuth() to prx.dpm()")
        check_credentials(self.auth)

    def _close_transport(self) -> None:
        self._pool.close()
        with self._lock:
            lanes, self._lanes = self._lanes, []
        for lane in lanes:
            lane.stop()


