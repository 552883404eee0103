"""Connection health: the state of a backend's stream connections per server, as its own signal.

Every streaming backend (DPM/HTTP, DPM/gRPC, DMQ) has ``backend.health()``, an Observable of
:class:`ConnectionHealth` events. A server is CONNECTING until its first stream connection is
established, then UP; it goes DOWN (with the reason) as soon as one of its stream connections is lost
and RECOVERED once all of them work again. Each server's events are edges: a state is announced once,
however many connections share it. A new subscriber first gets the current state of every server with
an open stream, then the changes; ``close()`` of the backend completes it. A subscriber whose
``on_next`` raises is unsubscribed and the error logged on ``pacsys_rx.health``; the others and the
streams go on. Data streams still carry one gap reading per DRF and outage
(``Reading.is_gap``); this signal says the same per server, without a device in sight.
"""

from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable

from pacsys_rx.model.reading import utc_now

log = logging.getLogger("pacsys_rx.health")

__all__ = ["ConnectionHealth", "HealthBoard", "HealthLink", "HealthState", "ReportsHealth"]


class HealthState(str, enum.Enum):
    """Where a server's stream connections stand."""

    CONNECTING = "connecting"
    """No stream connection to the server is established yet."""
    UP = "up"
    """Every stream connection works."""
    DOWN = "down"
    """At least one stream connection is lost; the backend is reconnecting."""
    RECOVERED = "recovered"
    """Every stream connection works again after DOWN (a kind of UP)."""


@dataclass(frozen=True, slots=True)
class ConnectionHealth:
    """``server`` of ``backend`` entered ``state`` at ``at`` (UTC); ``reason`` says why it went DOWN."""

    backend: str
    server: str
    state: HealthState
    reason: str | None
    at: datetime

    @property
    def up(self) -> bool:
        """True for UP and RECOVERED."""
        return self.state is HealthState.UP or self.state is HealthState.RECOVERED


class HealthLink:
    """One stream connection's share of its server's health; the backend reports through it."""

    __slots__ = ("_board", "closed", "is_up", "reason", "server")

    def __init__(self, board: HealthBoard, server: str) -> None:
        self._board = board
        self.server = server
        self.is_up = False
        self.reason: str | None = None
        self.closed = False

    def up(self) -> None:
        """The connection is established (again)."""
        self._board._update(self, True, None)

    def lost(self, reason: str) -> None:
        """The connection is lost; the backend retries."""
        self._board._update(self, False, reason or "connection lost")

    def close(self) -> None:
        """The stream ended: this connection no longer counts."""
        self._board._close(self)


class HealthBoard:
    """The health of one backend's servers, built from the links of its stream connections."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self._lock = threading.RLock()
        self._links: dict[str, list[HealthLink]] = {}
        self._shown: dict[str, ConnectionHealth] = {}
        self._observers: list[abc.ObserverBase[ConnectionHealth]] = []
        self._closed = False

    def link(self, server: str) -> HealthLink:
        """A new stream connection to ``server``, CONNECTING until reported up."""
        link = HealthLink(self, server)
        with self._lock:
            self._links.setdefault(server, []).append(link)
            self._announce(server)
        return link

    def current(self) -> list[ConnectionHealth]:
        """The latest state of every server with an open stream."""
        with self._lock:
            return list(self._shown.values())

    def observe(self) -> Observable[ConnectionHealth]:
        """The current state of each server, then every change, until :meth:`close`."""

        def subscribe(observer: abc.ObserverBase[ConnectionHealth], _: Any = None) -> abc.DisposableBase:
            with self._lock:
                self._observers.append(observer)
                for health in self._shown.values():
                    self._deliver(observer, health)
                if self._closed:
                    if observer in self._observers:
                        self._observers.remove(observer)
                    observer.on_completed()

            def dispose() -> None:
                with self._lock:
                    if observer in self._observers:
                        self._observers.remove(observer)

            return Disposable(dispose)

        return Observable(subscribe)

    def _update(self, link: HealthLink, is_up: bool, reason: str | None) -> None:
        with self._lock:
            if link.closed:
                return
            link.is_up, link.reason = is_up, reason
            self._announce(link.server)

    def _close(self, link: HealthLink) -> None:
        with self._lock:
            if link.closed:
                return
            link.closed = True
            links = self._links.get(link.server, [])
            links.remove(link)
            if links:
                self._announce(link.server)
            else:
                del self._links[link.server]
                self._shown.pop(link.server, None)

    def _announce(self, server: str) -> None:
        """Emit the server's state if it changed (lock held)."""
        links = self._links[server]
        shown = self._shown.get(server)
        lost = next((link for link in links if link.reason is not None), None)
        if lost is not None:
            state, reason = HealthState.DOWN, lost.reason
        elif any(link.is_up for link in links):
            was_down = shown is not None and shown.state is HealthState.DOWN
            state, reason = (HealthState.RECOVERED if was_down else HealthState.UP), None
        else:
            state, reason = HealthState.CONNECTING, None
        if shown is not None and (shown.state is state or (shown.up and state is HealthState.UP)):
            return
        health = self._shown[server] = ConnectionHealth(self.backend, server, state, reason, utc_now())
        for observer in list(self._observers):
            self._deliver(observer, health)

    def _deliver(self, observer: abc.ObserverBase[ConnectionHealth], health: ConnectionHealth) -> None:
        """``on_next`` of one subscriber; one that raises is unsubscribed (lock held)."""
        try:
            observer.on_next(health)
        except Exception:
            log.exception("a health subscriber raised; it is unsubscribed")
            if observer in self._observers:
                self._observers.remove(observer)

    def close(self) -> None:
        """The backend closed: every subscriber completes."""
        with self._lock:
            self._closed = True
            observers, self._observers = self._observers, []
        for observer in observers:
            observer.on_completed()


_BOARD_LOCK = threading.Lock()


class ReportsHealth:
    """Mixin of the streaming backends: ``health()`` and the board their stream connections report to."""

    name: ClassVar[str]
    _health_board: HealthBoard | None = None

    @property
    def health_board(self) -> HealthBoard:
        if self._health_board is None:
            with _BOARD_LOCK:
                if self._health_board is None:
                    self._health_board = HealthBoard(self.name)
        return self._health_board

    def health(self) -> Observable[ConnectionHealth]:
        """Connection state per server (CONNECTING, UP, DOWN with the reason, RECOVERED), current first;
        completes when the backend closes."""
        return self.health_board.observe()

    def close(self) -> None:
        super().close()  # type: ignore[misc]
        self.health_board.close()
