"""Transport helpers shared by the backends: TCP sockets with timeouts and reconnect backoff."""

from pacsys_rx.transport.backoff import Backoff
from pacsys_rx.transport.tcp import connect_tcp

__all__ = ["Backoff", "connect_tcp"]
