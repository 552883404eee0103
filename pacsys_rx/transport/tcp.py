"""Opening TCP connections with the options every backend wants."""

from __future__ import annotations

import socket


def connect_tcp(host: str, port: int, timeout: float, *, keepalive: bool = False) -> socket.socket:
    """A connected socket with ``TCP_NODELAY`` (and ``SO_KEEPALIVE`` if asked) and ``timeout`` set.

    Raises ``OSError`` (``TimeoutError`` when ``timeout`` passes) like ``socket.create_connection``.
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if keepalive:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except OSError:
        sock.close()
        raise
    return sock
