"""One DPM/HTTP connection (handshake, framing, liveness) and the transports it runs over.

A :class:`DpmConnection` is used by exactly one thread at a time (its owner); only
:meth:`DpmConnection.close` may be called from elsewhere, and it wakes a blocked receive.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol, cast

from pacsys_rx.backends.dpm.values import ClientFrame, decode_client_frame
from pacsys_rx.errors import BackendUnavailable, ProtocolError
from pacsys_rx.protocols import pc
from pacsys_rx.transport import connect_tcp

log = logging.getLogger("pacsys_rx.dpm")

RECEIVE_SIZE = 1 << 18
"""Bytes asked of the socket per receive."""
SLICE = 0.5
"""Longest a receive blocks before the owner checks for cancellation and silence."""
HEARTBEAT_LIMIT = 10.0
"""Silence (no frame at all) after which a connection is presumed dead (spec §7.4)."""
TRACE_ENV = "PACSYS_DPM_TRACE"


def trace_enabled() -> bool:
    """Whether ``PACSYS_DPM_TRACE`` asks for a log line per frame."""
    return os.environ.get(TRACE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class ConnectionLost(BackendUnavailable):
    """The connection failed (refused, reset, EOF, silence, bad frame); its list is gone."""


class HandshakeRefused(BackendUnavailable):
    """The proxy answered the handshake with an HTTP error; such a connect is not retried."""


class Transport(Protocol):
    """The byte pipe under a connection."""

    def send(self, data: bytes) -> None:
        """Send all of ``data`` (raises OSError on failure)."""

    def recv(self, timeout: float) -> bytes | None:
        """Bytes received within ``timeout`` seconds: None if nothing came, ``b""`` at end of stream."""

    def close(self) -> None:
        """Close; a receive blocked in another thread returns at once."""


class SocketTransport:
    """A TCP socket as a :class:`Transport`."""

    def __init__(self, sock: socket.socket, send_timeout: float) -> None:
        self._sock = sock
        self._send_timeout = send_timeout
        self._waker: socket.socket | None = None

    @classmethod
    def connect(cls, host: str, port: int, timeout: float, *, keepalive: bool = False) -> SocketTransport:
        try:
            sock = connect_tcp(host, port, timeout, keepalive=keepalive)
        except OSError as exc:
            raise ConnectionLost(f"cannot connect to DPM at {host}:{port}: {exc}") from exc
        return cls(sock, timeout)

    def send(self, data: bytes) -> None:
        self._sock.settimeout(self._send_timeout)
        self._sock.sendall(data)

    def wake_on(self, waker: socket.socket) -> None:
        """Let a byte arriving on ``waker`` end a blocked receive early (it returns None)."""
        self._waker = waker

    def recv(self, timeout: float) -> bytes | None:
        if self._waker is not None:
            try:
                ready = select.select((self._sock, self._waker), (), (), timeout)[0]
            except ValueError as exc:  # closed by another thread meanwhile
                raise OSError(f"socket closed: {exc}") from exc
            if self._waker in ready:
                _drain(self._waker)
            if self._sock not in ready:
                return None
            timeout = 0.0
        self._sock.settimeout(timeout)
        try:
            return self._sock.recv(RECEIVE_SIZE)
        except (TimeoutError, BlockingIOError):
            return None

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


def _drain(waker: socket.socket) -> None:
    try:
        waker.recv(4096)
    except (BlockingIOError, InterruptedError):
        pass


class DpmConnection:
    """A handshaken connection and its list: send requests, receive decoded frames.

    :meth:`receive` returns Scalar replies as tuples (see ``decode_client_frame``) and every other
    reply as the codec's message object; it raises :class:`ConnectionLost` once the connection
    is unusable (EOF, transport error, a bad frame, or ``silence_limit`` seconds without a frame).
    """

    def __init__(self, transport: Transport, *, silence_limit: float = HEARTBEAT_LIMIT,
                 clock: Callable[[], float] = time.monotonic, trace: bool = False) -> None:
        self._transport = transport
        self._decoder = pc.FrameDecoder(decode=cast(Callable[[bytes], pc.DpmMessage], decode_client_frame))
        self._silence_limit = silence_limit
        self._clock = clock
        self._trace = trace
        self._last_frame = clock()
        self._pending: list[ClientFrame] = []
        self._broken: ConnectionLost | None = None
        self._closed = threading.Event()
        self._next_ref = 0
        self.list_id = 0

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def open(self, timeout: float) -> None:
        """Send the handshake and wait (at most ``timeout`` s) for the OpenList reply."""
        deadline = self._clock() + timeout
        self._send_bytes(pc.HANDSHAKE)
        head = b""
        while len(head) < 4:
            head += self._recv_until(deadline, "the first frame")
        if pc.is_http_answer(head):
            answer = head
            while b"\r\n" not in answer and len(answer) < pc.HTTP_ANSWER_LIMIT and self._clock() < deadline:
                answer += self._recv_until(deadline, "the HTTP answer")
            self.close()
            raise HandshakeRefused(f"DPM proxy refused the connection: {pc.http_status_line(answer)}")
        frames = self._feed(head)
        while not frames:
            frames = self._feed(self._recv_until(deadline, "the first frame"))
        first = frames[0]
        if not isinstance(first, pc.OpenListReply):
            self.close()
            raise ConnectionLost(f"DPM sent {type(first).__name__} instead of the OpenList reply")
        self.list_id = first.list_id
        self._pending = frames[1:]

    def wake_on(self, waker: socket.socket) -> None:
        """A byte on ``waker`` (non-blocking) ends a blocked :meth:`receive` early, if the transport can."""
        wake_on = getattr(self._transport, "wake_on", None)
        if wake_on is not None:
            wake_on(waker)

    def next_ref(self) -> int:
        """A ref_id never used before on this connection (stale replies can never match it)."""
        self._next_ref += 1
        return self._next_ref

    def send(self, *requests: pc.DpmRequest) -> None:
        """Send requests as frames in one write."""
        if self._trace:
            for request in requests:
                log.debug("dpm list %d -> %s", self.list_id, request)
        self._send_bytes(b"".join(pc.encode_frame(request) for request in requests))

    def receive(self, timeout: float = SLICE) -> list[ClientFrame]:
        """Frames that arrived within ``timeout`` (possibly none)."""
        if self._pending:
            frames, self._pending = self._pending, []
            return frames
        if self._broken is not None:
            raise self._broken
        data = self._recv(timeout)
        if data is None:
            if self._clock() - self._last_frame > self._silence_limit:
                self.close()
                raise ConnectionLost(f"no frame from DPM for {self._silence_limit:g} s")
            return []
        return self._feed(data)

    def close(self) -> None:
        """Close the connection (idempotent, any thread)."""
        if not self._closed.is_set():
            self._closed.set()
            self._transport.close()

    # ------------------------------------------------------------------------------ internals

    def _feed(self, data: bytes) -> list[ClientFrame]:
        try:
            frames = cast(list[ClientFrame], self._decoder.feed(data))
        except pc.BadFrameError as exc:
            self._broken = ConnectionLost(f"bad frame from DPM: {exc}")
            self.close()
            frames = cast(list[ClientFrame], exc.messages)
        except ProtocolError as exc:
            self.close()
            raise ConnectionLost(f"DPM stream unusable: {exc}") from exc
        if frames:
            self._last_frame = self._clock()
            if self._trace:
                for frame in frames:
                    log.debug("dpm list %d <- %s", self.list_id, frame)
        return frames

    def _recv(self, timeout: float) -> bytes | None:
        if self._closed.is_set():
            raise ConnectionLost("connection closed")
        try:
            data = self._transport.recv(timeout)
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"connection to DPM failed: {exc}") from exc
        if data == b"":
            self.close()
            raise ConnectionLost("DPM closed the connection")
        return data

    def _recv_until(self, deadline: float, what: str) -> bytes:
        remaining = deadline - self._clock()
        data = self._recv(min(max(remaining, 0.0), SLICE)) if remaining > 0 else None
        if data is None and self._clock() >= deadline:
            self.close()
            raise ConnectionLost(f"timed out waiting for {what} from DPM")
        return data or b""

    def _send_bytes(self, data: bytes) -> None:
        if self._closed.is_set():
            raise ConnectionLost("connection closed")
        try:
            self._transport.send(data)
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"sending to DPM failed: {exc}") from exc
