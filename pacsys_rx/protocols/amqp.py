"""The broker-to-client AMQP 0-9-1 byte stream, split into frames; ``Basic.Deliver`` on chosen channels
put together (method, content header and body frames) into one :class:`Delivery`. And the frames of one
``Basic.Publish``, as the simulated DMQ server writes them. Sans-I/O: bytes in, bytes out.

A delivery whose content header carries a property this reader does not decode (a ``headers`` table,
a second flags word) comes out as its raw frames instead, for a general AMQP decoder.
"""

from __future__ import annotations

import struct
from collections.abc import Container
from dataclasses import dataclass, field
from typing import NamedTuple

from pacsys_rx.errors import ProtocolError

FRAME_METHOD = 1
FRAME_HEADER = 2
FRAME_BODY = 3
FRAME_END = 0xCE
_END = bytes((FRAME_END,))
PROTOCOL_HEADER = b"AMQP"
BASIC_DELIVER = b"\x00\x3c\x00\x3c"
"""Class 60 (basic), method 60 (deliver)."""

BASIC_PUBLISH = b"\x00\x3c\x00\x28\x00\x00"
"""Class 60 (basic), method 40 (publish), reserved-1."""
_FRAME_HEAD = struct.Struct(">BHI")
_CONTENT_HEADER = struct.Struct(">BHIHHQH")
"""Frame head, class 60, weight 0, body size, property flags."""
_HEAD_SIZE = _FRAME_HEAD.size
_U16 = struct.Struct(">H")
_U64 = struct.Struct(">Q")

_CORRELATION_ID = 0x0400
_UNDECODED_PROPERTIES = 0x2000 | 0x0001
"""``headers`` (a field table) and the continuation bit of the property flags."""
_PROPERTIES = (  # flag, width: 0 = short string, else a fixed number of bytes
    (0x8000, 0), (0x4000, 0), (0x1000, 1), (0x0800, 1), (0x0400, 0), (0x0200, 0), (0x0100, 0),
    (0x0080, 0), (0x0040, 8), (0x0020, 0), (0x0010, 0), (0x0008, 0), (0x0004, 0),
)
"""content-type, content-encoding, delivery-mode, priority, correlation-id, reply-to, expiration,
message-id, timestamp, type, user-id, app-id, cluster-id (AMQP 0-9-1 §4.2.6, without ``headers``)."""


class Delivery(NamedTuple):
    """One message delivered to a consumer: its channel, routing key, correlation id and body."""

    channel: int
    routing_key: str
    correlation_id: str | None
    body: bytes


@dataclass
class _Partial:
    """A delivery whose content is still arriving."""

    routing_key: str
    method_frame: bytes
    correlation_id: str | None = None
    remaining: int = -1
    """Body bytes still expected (-1: the content header has not arrived)."""
    raw: bool = False
    """Passed on as raw frames (undecoded properties)."""
    dropped: bool = False
    """Its channel was forgotten: the rest of its frames are read and dropped."""
    parts: list[bytes] = field(default_factory=list)


def _short_string(payload: bytes, at: int) -> tuple[str, int]:
    end = at + 1 + payload[at] if at < len(payload) else at + 1
    if end > len(payload):
        raise ProtocolError("AMQP short string runs past its frame")
    return payload[at + 1:end].decode("utf-8", "replace"), end


def deliver_routing_key(payload: bytes) -> str:
    """The routing key of a ``Basic.Deliver`` method payload."""
    try:
        at = 5 + payload[4] + 9  # consumer tag, delivery tag, redelivered
        at = at + 1 + payload[at]  # exchange
    except IndexError:
        raise ProtocolError("truncated Basic.Deliver") from None
    return _short_string(payload, at)[0]


def content_header(payload: bytes) -> tuple[int, str | None] | None:
    """Body size and correlation id of a content header payload; None when it carries a property
    this module does not decode."""
    if len(payload) < 14:
        raise ProtocolError("truncated AMQP content header")
    body_size = _U64.unpack_from(payload, 4)[0]
    flags = _U16.unpack_from(payload, 12)[0]
    if flags & _UNDECODED_PROPERTIES:
        return None
    correlation_id = None
    at = 14
    for flag, width in _PROPERTIES:
        if not flags & flag:
            continue
        if width:
            at += width
        elif flag == _CORRELATION_ID:
            correlation_id, at = _short_string(payload, at)
        else:
            at += 1 + payload[at] if at < len(payload) else 1
        if at > len(payload):
            raise ProtocolError("AMQP content header properties run past their frame")
    return body_size, correlation_id


def _plain_content(buffer: bytes, at: int, size: int, channel: int) -> tuple[bytes, int] | None:
    """The body and end of the content at ``at`` when it is all there, without properties, in at most
    one body frame (the common case, taken in one step); else None."""
    if size - at < _CONTENT_HEADER.size + 1:
        return None
    kind, number, length, _, _, body_size, flags = _CONTENT_HEADER.unpack_from(buffer, at)
    at += _CONTENT_HEADER.size + 1
    if kind != FRAME_HEADER or number != channel or length != 14 or flags or buffer[at - 1] != FRAME_END:
        return None
    if not body_size:
        return b"", at
    end = at + _HEAD_SIZE + body_size
    if end >= size:
        return None
    kind, number, length = _FRAME_HEAD.unpack_from(buffer, at)
    if kind != FRAME_BODY or number != channel or length != body_size or buffer[end] != FRAME_END:
        return None
    return buffer[at + _HEAD_SIZE:end], end + 1


class DeliveryReader:
    """Splits the broker's byte stream; deliveries on channels in ``channels`` are put together."""

    def __init__(self, channels: Container[int]) -> None:
        self.channels = channels
        self._buffer = b""
        self._partial: dict[int, _Partial] = {}

    def feed(self, data: bytes) -> list[Delivery | bytes]:
        """Everything ``data`` completes, in arrival order: a :class:`Delivery` per finished delivery on
        a chosen channel and the bytes of every other frame (or protocol header)."""
        buffer = self._buffer + data if self._buffer else data
        out: list[Delivery | bytes] = []
        at, size = 0, len(buffer)
        partial = self._partial
        while size - at > _HEAD_SIZE:
            if buffer[at:at + 4] == PROTOCOL_HEADER:
                out.append(buffer[at:at + 8])
                at += 8
                continue
            kind, channel, length = _FRAME_HEAD.unpack_from(buffer, at)
            end = at + _HEAD_SIZE + length
            if end >= size:
                break
            if buffer[end] != FRAME_END:
                raise ProtocolError("AMQP frame without its end marker")
            start, at = at, end + 1
            payload = buffer[start + _HEAD_SIZE:end]
            if kind == FRAME_METHOD and channel in self.channels and payload[:4] == BASIC_DELIVER:
                key = deliver_routing_key(payload)
                plain = _plain_content(buffer, at, size, channel)
                if plain is None:
                    partial[channel] = _Partial(key, buffer[start:at])
                else:
                    body, at = plain
                    out.append(Delivery(channel, key, None, body))
                continue
            frame = buffer[start:at]
            pending = partial.get(channel)
            if pending is None or kind not in (FRAME_HEADER, FRAME_BODY):
                out.append(frame)
                continue
            if kind == FRAME_HEADER:
                header = content_header(payload)
                if header is None or pending.dropped:
                    pending.remaining = _U64.unpack_from(payload, 4)[0]
                    if not pending.dropped:
                        pending.raw = True
                        out += (pending.method_frame, frame)
                else:
                    pending.remaining, pending.correlation_id = header
            elif pending.remaining < 0:
                raise ProtocolError("AMQP body frame before its content header")
            else:
                pending.remaining -= length
                if pending.raw:
                    out.append(frame)
                elif not pending.dropped:
                    pending.parts.append(payload)
            if pending.remaining <= 0:
                del partial[channel]
                if not (pending.raw or pending.dropped):
                    body = pending.parts[0] if len(pending.parts) == 1 else b"".join(pending.parts)
                    out.append(Delivery(channel, pending.routing_key, pending.correlation_id, body))
        self._buffer = buffer[at:]
        return out

    def forget(self, channel: int) -> None:
        """``channel`` is closing: the rest of a delivery half-received on it is dropped (a decoder that
        never saw its method frame could not take its content frames), unless its first frames were
        already passed on raw."""
        pending = self._partial.get(channel)
        if pending is not None and not pending.raw:
            pending.dropped = True


def _short(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 255:
        raise ValueError(f"AMQP short string longer than 255 bytes: {text[:40]!r}...")
    return bytes((len(data),)) + data


def publish_frames(channel: int, exchange: str, key: str, body: bytes, correlation_id: str | None = None,
                   frame_max: int = 131_072) -> bytes:
    """The method, content header and body frames of a ``Basic.Publish`` (neither mandatory nor
    immediate) whose only property is ``correlation_id``; bodies longer than a frame are split."""
    method = BASIC_PUBLISH + _short(exchange) + _short(key) + b"\x00"
    properties = b"" if correlation_id is None else _short(correlation_id)
    parts = [_FRAME_HEAD.pack(FRAME_METHOD, channel, len(method)), method, _END,
             _CONTENT_HEADER.pack(FRAME_HEADER, channel, 14 + len(properties), 60, 0, len(body),
                                  0 if correlation_id is None else _CORRELATION_ID),
             properties, _END]
    step = frame_max - 8
    for at in range(0, len(body), step):
        piece = body[at:at + step]
        parts += (_FRAME_HEAD.pack(FRAME_BODY, channel, len(piece)), piece, _END)
    return b"".join(parts)
