"""The protocol-server interface: what a DPM, gRPC, ACL or DMQ server plugs into the simulator.

A server lives in its own module listed in :data:`SERVER_MODULES` and exposes either a ``SERVER``
class (a :class:`SimServer` subclass constructed without arguments) or a ``create(context)``
function returning a :class:`SimServer`. Modules that do not exist yet are reported as
"not available".

Life cycle and threading. The :class:`~pacsys_rx.sim.Simulator` runs ONE asyncio event loop in one
background thread. Every method of a server is called on that loop, so servers use asyncio
primitives (``asyncio.start_server``, ``loop.create_datagram_endpoint``, an ``aio`` gRPC server, or
a library's own thread that hands work back with ``loop.call_soon_threadsafe``) and touch the model
and the engine only from the loop thread.

* ``await start(context)`` binds to ``context.config.host`` and ``context.port(name)`` (0 = any free
  port), sets :attr:`SimServer.bound_port`, and returns the endpoint text printed by the command:
  ``HOST:PORT`` for dpm and grpc, ``http://HOST:PORT/cgi-bin/acl.pl`` for acl, the broker URL for dmq.
  A server that cannot run in this configuration raises :class:`ServerDisabled` with the reason
  (e.g. no AMQP URL); any other exception aborts the simulator's start.
* ``await stop()`` closes listeners and connections and cancels its engine subscriptions. After a
  stop the host may call ``start`` again (``Simulator.restart``): the context then asks for the port
  the server had, so clients reconnect to the same address.
* Readings: ``context.engine.subscribe(requests, sink, tags)``; the sink gets one batch of
  ``(tag, Sample)`` per subscription per tick; ``Subscription.is_finished`` tells a one-shot job is
  complete. Settings: ``context.model.apply_setting(request, value, identity)`` with an identity
  built by ``context.permissions``.

Fault hooks (used by integration tests through the host): ``drop_connections`` closes every client
connection abruptly; ``pause`` stops answering and stops sending while keeping sockets open, and
``resume`` undoes it (buffered work may then be sent or dropped, server's choice); ``corrupt_next_frame``
damages the next frame or response sent; ``set_reply_delay`` delays every reply.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Union

from pacsys_rx.errors import PacsysError
from pacsys_rx.sim.engine import EventEngine
from pacsys_rx.sim.logger import DEFAULT_RETENTION_DAYS, DataLogger
from pacsys_rx.sim.model import DeviceModel
from pacsys_rx.sim.permissions import Permissions

SERVER_MODULES: dict[str, str] = {
    "dpm": "pacsys_rx.sim.dpm_server",
    "grpc": "pacsys_rx.sim.grpc_server",
    "acl": "pacsys_rx.sim.acl_server",
    "dmq": "pacsys_rx.sim.dmq_server",
}
"""Server name -> module, in the order the endpoints are printed."""


class ServerDisabled(PacsysError):
    """Raised by a server's factory or ``start`` when it cannot run in this configuration."""


@dataclass(frozen=True)
class SimConfig:
    """Everything the command line or ``Simulator(...)`` configures, for the servers to read."""

    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)
    amqp_url: str | None = None
    keytab: str | None = None
    service_principal: str = "daeset/localhost@FNAL.GOV"
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    acl_tls: bool = False
    logger_retention_days: float = DEFAULT_RETENTION_DAYS


@dataclass
class SimContext:
    """What a server gets in ``start``: the shared model, engine and loop, the configuration, a logger."""

    model: DeviceModel
    engine: EventEngine
    loop: asyncio.AbstractEventLoop
    config: SimConfig
    permissions: Permissions
    logger: logging.Logger
    bound_ports: dict[str, int] = field(default_factory=dict)
    data_logger: DataLogger = field(init=False)
    """Answers ``<-LOGGER...`` requests and ACL ``logger_get`` (:mod:`pacsys_rx.sim.logger`)."""

    def __post_init__(self) -> None:
        self.data_logger = DataLogger(self.model, self.config.logger_retention_days)

    def port(self, name: str) -> int:
        """The port server ``name`` should bind: the one it had before a restart, else the configured one."""
        return self.bound_ports.get(name, self.config.ports.get(name, 0))


class SimServer(abc.ABC):
    """One protocol server hosted by the simulator (see the module documentation for the contract)."""

    name: str = ""
    bound_port: int | None = None

    @abc.abstractmethod
    async def start(self, context: SimContext) -> str:
        """Bind, start serving, and return the endpoint text."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Close everything this server opened."""

    @abc.abstractmethod
    def counters(self) -> dict[str, int]:
        """Live resource counts, e.g. ``{"connections": 2, "lists": 3, "subscriptions": 5, "jobs": 0}``."""

    @abc.abstractmethod
    async def drop_connections(self) -> None:
        """Abruptly close every client connection (the listener stays up)."""

    @abc.abstractmethod
    def pause(self) -> None:
        """Stop answering and sending; sockets stay open."""

    @abc.abstractmethod
    def resume(self) -> None:
        """Undo :meth:`pause`."""

    @abc.abstractmethod
    def corrupt_next_frame(self) -> None:
        """Damage the next frame/response this server sends."""

    @abc.abstractmethod
    def set_reply_delay(self, seconds: float) -> None:
        """Delay every reply by ``seconds`` (0 restores normal behaviour)."""


ServerFactory = Callable[[SimContext], SimServer]
ServerSource = Union[str, SimServer, ServerFactory]
"""A module path from the registry, a ready server instance, or a factory taking the context."""


class ServerNotAvailable(ServerDisabled):
    """The server's module does not exist (yet)."""

    def __init__(self) -> None:
        super().__init__("not available")


def load_server(name: str, source: ServerSource, context: SimContext) -> SimServer:
    """Build server ``name`` from its source; :class:`ServerNotAvailable` when its module is missing."""
    if isinstance(source, SimServer):
        server = source
    elif isinstance(source, str):
        try:
            module = importlib.import_module(source)
        except ModuleNotFoundError as exc:
            if exc.name == source:
                raise ServerNotAvailable() from None
            raise
        create = getattr(module, "create", None)
        server_class = getattr(module, "SERVER", None)
        if create is not None:
            server = create(context)
        elif server_class is not None:
            server = server_class()
        else:
            raise TypeError(f"{source} defines neither SERVER nor create(context)")
    else:
        server = source(context)
    if not server.name:
        server.name = name
    return server
