"""The simulator host: one asyncio loop in one background thread running the engine and the servers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import jwt

from pacsys_rx.errors import PacsysError
from pacsys_rx.sim.catalogue import Catalogue, load_catalogue
from pacsys_rx.sim.engine import EventEngine, RealTimeDriver
from pacsys_rx.sim.logger import DEFAULT_RETENTION_DAYS
from pacsys_rx.sim.model import DeviceModel
from pacsys_rx.sim.permissions import Permissions
from pacsys_rx.sim.server import (
    SERVER_MODULES,
    ServerDisabled,
    ServerSource,
    SimConfig,
    SimContext,
    SimServer,
    load_server,
)

T = TypeVar("T")
log = logging.getLogger("pacsys_rx.sim")

START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0


class SimulatorError(PacsysError):
    """The simulator could not start, or a call on its loop failed to complete."""


class Simulator:
    """The embedded ACNET simulator: device model, event engine and protocol servers on one loop.

    Use as a context manager (or ``start()``/``stop()``). ``endpoints`` maps each running server to
    its endpoint text; ``disabled`` maps the others to the reason. ``servers`` selects servers: None
    (all of ``SERVER_MODULES``), an iterable of names from it, or a mapping
    name -> module path, ``SimServer`` instance or ``factory(context)``. ``logger_retention_days``
    bounds how far back the data logger answers (:mod:`pacsys_rx.sim.logger`).
    """

    def __init__(
        self,
        seed: int = 0,
        devices: str | Path | Catalogue | None = None,
        dpm_port: int = 0,
        grpc_port: int = 0,
        acl_port: int = 0,
        amqp_url: str | None = None,
        keytab: str | None = None,
        service_principal: str = "daeset/localhost@FNAL.GOV",
        jwt_secret: str | None = None,
        jwt_public_key: str | None = None,
        permissions: str | Path | Permissions | None = None,
        servers: Iterable[str] | Mapping[str, ServerSource] | None = None,
        host: str = "127.0.0.1",
        acl_tls: bool = False,
        logger_retention_days: float = DEFAULT_RETENTION_DAYS,
    ) -> None:
        catalogue = devices if isinstance(devices, Catalogue) else load_catalogue(devices)
        self.permissions = (
            permissions
            if isinstance(permissions, Permissions)
            else (Permissions.default() if permissions is None else Permissions.load(permissions))
        )
        self.config = SimConfig(
            host=host,
            ports={"dpm": dpm_port, "grpc": grpc_port, "acl": acl_port},
            amqp_url=amqp_url,
            keytab=keytab,
            service_principal=service_principal,
            jwt_secret=jwt_secret,
            jwt_public_key=_pem_text(jwt_public_key),
            acl_tls=acl_tls,
            logger_retention_days=logger_retention_days,
        )
        self.model = DeviceModel(catalogue, seed=seed, permissions=self.permissions)
        self.engine = EventEngine(self.model)
        self.endpoints: dict[str, str] = {}
        self.disabled: dict[str, str] = {}
        self._sources = _server_sources(servers)
        self._servers: dict[str, SimServer] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._driver: RealTimeDriver | None = None
        self._context: SimContext | None = None

    # ------------------------------------------------------------------ life cycle

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def client_options(self, name: str) -> dict[str, Any]:
        """Factory arguments for the running server ``name``: ``prx.dpm(**sim.client_options("dpm"))``."""
        if name not in self.endpoints:
            raise SimulatorError(f"the simulator's {name} server is not running: "
                                 f"{self.disabled.get(name, 'not started')}")
        return endpoint_options(name, self.endpoints[name])

    def jwt_token(self, subject: str = "me@FNAL.GOV", roles: Iterable[str] = ("testing",)) -> str:
        """An HS256 token this simulator's gRPC server accepts (role ``testing`` may set Z:ACLTST)."""
        if not self.config.jwt_secret:
            raise SimulatorError("jwt_token needs a simulator started with jwt_secret")
        claims = {"sub": subject, "realm_access": {"roles": list(roles)}}
        return jwt.encode(claims, self.config.jwt_secret, algorithm="HS256")

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the loop thread, the engine driver and every selected server; raises SimulatorError."""
        if self._thread is not None:
            raise SimulatorError("simulator already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="pacsys-rx-sim", daemon=True)
        self._thread.start()
        try:
            self.call(self._start_all(), timeout=START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every server and the loop thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            if loop.is_running():
                self.call(self._stop_all(), timeout=START_TIMEOUT_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=START_TIMEOUT_S)
            loop.close()
            self._loop = self._thread = None

    async def _start_all(self) -> None:
        loop = asyncio.get_running_loop()
        self._context = SimContext(self.model, self.engine, loop, self.config, self.permissions, log)
        self._driver = RealTimeDriver(self.engine, loop)
        self._driver.start()
        for name, source in self._sources.items():
            try:
                server = load_server(name, source, self._context)
                endpoint = await server.start(self._context)
            except ServerDisabled as exc:
                self.disabled[name] = str(exc)
                continue
            except Exception as exc:
                raise SimulatorError(f"{name} server failed to start: {exc}") from exc
            self._servers[name] = server
            self._remember_port(server)
            self.endpoints[name] = endpoint

    async def _stop_all(self) -> None:
        for name, server in reversed(list(self._servers.items())):
            try:
                await server.stop()
            except Exception:
                log.exception("%s server failed to stop cleanly", name)
        self._servers.clear()
        self.endpoints.clear()
        if self._driver is not None:
            self._driver.stop()
        await _finish_leftover_tasks()

    def _remember_port(self, server: SimServer) -> None:
        if self._context is not None and server.bound_port is not None:
            self._context.bound_ports[server.name] = server.bound_port

    # ------------------------------------------------------------------ running code on the loop

    def call(self, work: Awaitable[T] | Callable[[], T], timeout: float | None = CALL_TIMEOUT_S) -> T:
        """Run a coroutine/awaitable or a plain callable on the simulator loop and return its result."""
        loop = self._loop
        if loop is None:
            raise SimulatorError("simulator is not running")
        if threading.current_thread() is self._thread:
            if inspect.isawaitable(work):
                raise SimulatorError(
                    "call() with an awaitable from the simulator thread would deadlock; await it"
                )
            return work()
        if inspect.isawaitable(work):
            future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(_awaited(work), loop)
        else:
            future = concurrent.futures.Future()

            def run() -> None:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(work())
                    except BaseException as exc:
                        future.set_exception(exc)

            loop.call_soon_threadsafe(run)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise SimulatorError(f"call on the simulator loop did not finish within {timeout} s") from None

    # ------------------------------------------------------------------ servers and faults

    def server(self, name: str) -> SimServer:
        """The running server called ``name`` (KeyError with the running names otherwise)."""
        try:
            return self._servers[name]
        except KeyError:
            raise KeyError(
                f"no running server {name!r} (running: {', '.join(self._servers) or 'none'})"
            ) from None

    def counters(self, name: str) -> dict[str, int]:
        server = self.server(name)
        return self.call(server.counters)

    def drop_connections(self, name: str) -> None:
        self.call(self.server(name).drop_connections())

    def pause(self, name: str) -> None:
        self.call(self.server(name).pause)

    def resume(self, name: str) -> None:
        self.call(self.server(name).resume)

    def corrupt_next_frame(self, name: str) -> None:
        self.call(self.server(name).corrupt_next_frame)

    def set_reply_delay(self, name: str, seconds: float) -> None:
        server = self.server(name)
        self.call(lambda: server.set_reply_delay(seconds))

    def restart(self, name: str) -> str:
        """Stop server ``name`` and start it again on the same port; returns its endpoint."""
        server = self.server(name)

        async def restart() -> str:
            assert self._context is not None
            await server.stop()
            endpoint = await server.start(self._context)
            self._remember_port(server)
            self.endpoints[name] = endpoint
            return endpoint

        return self.call(restart())


def _pem_text(key: str | None) -> str | None:
    """PEM text as given, or read from the file it names."""
    if key is None or key.lstrip().startswith("-----BEGIN"):
        return key
    try:
        return Path(key).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SimulatorError(f"cannot read JWT public key {key}: {exc}") from None


async def _awaited(work: Awaitable[T]) -> T:
    return await work


def _server_sources(servers: Iterable[str] | Mapping[str, ServerSource] | None) -> dict[str, ServerSource]:
    if servers is None:
        return dict(SERVER_MODULES)
    if isinstance(servers, Mapping):
        return dict(servers)
    sources: dict[str, ServerSource] = {}
    for name in servers:
        if name not in SERVER_MODULES:
            raise SimulatorError(f"unknown server {name!r} (known: {', '.join(SERVER_MODULES)})")
        sources[name] = SERVER_MODULES[name]
    return sources


async def _finish_leftover_tasks() -> None:
    """Cancel the tasks servers left behind (connection handlers) and let them unwind on the loop."""
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def endpoint_options(backend: str, endpoint: str) -> dict[str, Any]:
    """Factory arguments pointing ``backend`` at an endpoint as the simulator prints it."""
    if backend == "acl":
        return {"base_url": endpoint}
    parts = urlsplit(endpoint if "://" in endpoint else f"tcp://{endpoint}")
    options: dict[str, Any] = {"host": parts.hostname, "port": parts.port}
    if backend == "dmq" and parts.path not in ("", "/"):
        options["vhost"] = unquote(parts.path[1:])
    return options
