"""Transport helpers shared by the backends: endpoints, TCP sockets and the reconnect backoff."""

from pacsys_rx.transport.backoff import Backoff
from pacsys_rx.transport.endpoint import resolve_host, resolve_port
from pacsys_rx.transport.tcp import connect_tcp

__all__ = ["Backoff", "connect_tcp", "resolve_host", "resolve_port"]
