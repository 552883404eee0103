"""What the DMQ I/O thread and its jobs need to know about the broker, the server and the user."""

from __future__ import annotations

from dataclasses import dataclass

from pacsys_rx.auth import KerberosAuth
from pacsys_rx.transport import Backoff

DEFAULT_BACKOFF = Backoff(initial=0.2, maximum=5.0, stable_after=5.0)
"""Broker reconnects: 0.2 s doubling to 5 s, +-20 % jitter, reset after 5 s connected."""


@dataclass(frozen=True)
class DmqSettings:
    """Everything the I/O thread and the jobs need to know about the broker, the server and the user."""

    host: str
    port: int
    vhost: str
    username: str
    password: str
    auth: KerberosAuth | None
    service_principal: str
    app_id: str
    connection_name: str
    host_address: bytes
    amqp_heartbeat: int = 15
    blocked_timeout: float = 10.0
    job_heartbeat: float = 5.0
    server_silence: float = 30.0
    session_idle: float = 600.0
    max_sessions: int = 1024
    backoff: Backoff = DEFAULT_BACKOFF
