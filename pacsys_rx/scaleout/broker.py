"""RabbitMQ streams through the stream protocol (``rstream``), run on one asyncio loop thread per client.

``StreamPublisher`` assigns its own publishing ids under a fixed producer name and keeps every message
until the broker confirms it; after a lost connection it reconnects and sends the unconfirmed ones
again, oldest first, and the broker drops those it had already stored (de-duplication by producer
name and publishing id). ``StreamSubscriber`` delivers ``(offset, bytes)`` and, after a lost
connection, subscribes again from the offset after the last one it delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from rstream import (
    ConfirmationStatus,
    Consumer,
    ConsumerOffsetSpecification,
    MessageContext,
    OffsetNotFound,
    OffsetType,
    Producer,
    RawMessage,
)
from rstream.recovery import BackOffRecoveryStrategy

from pacsys_rx.errors import BackendUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_STREAM_URL = "rabbitmq-stream://guest:guest@127.0.0.1:5552/%2F"
RESEND_AFTER_S = 2.0
RECONNECT_DELAY_S = 0.5
BATCH = 500


@dataclass(frozen=True)
class StreamBroker:
    """Where the stream protocol listens (RabbitMQ's ``rabbitmq_stream`` plugin, port 5552)."""

    host: str = "127.0.0.1"
    port: int = 5552
    vhost: str = "/"
    username: str = "guest"
    password: str = "guest"
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, timeout: float = 10.0) -> StreamBroker:
        """``rabbitmq-stream://USER:PASSWORD@HOST:PORT/VHOST`` (vhost URL-quoted; ``%2F`` is ``/``)."""
        parts = urlsplit(url)
        if parts.scheme != "rabbitmq-stream" or not parts.hostname:
            raise ValueError(f"a stream broker URL is rabbitmq-stream://user:password@host:5552/vhost, "
                             f"got {url!r}")
        vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        return cls(parts.hostname, parts.port or 5552, vhost, unquote(parts.username or "guest"),
                   unquote(parts.password or "guest"), timeout)

    def _options(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "vhost": self.vhost, "username": self.username,
                "password": self.password}


class LoopThread:
    """An asyncio loop on a daemon thread; ``call`` runs a coroutine there and waits with a timeout."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise BackendUnavailable(f"stream broker: no answer within {timeout:g} s") from None

    def stop(self) -> None:
        """Cancel the loop's tasks, then stop the loop and its thread."""

        async def cancel_others() -> None:
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(cancel_others(), 2.0)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)


def _producer(broker: StreamBroker, on_close: Callable[[Any], Any] | None = None, name: str = "") -> Producer:
    return Producer(**broker._options(), on_close_handler=on_close, connection_name=name,
                    recovery_strategy=BackOffRecoveryStrategy(False))


async def _guarded(coroutine: Coroutine[Any, Any, T], broker: StreamBroker) -> T:
    try:
        return await asyncio.wait_for(coroutine, broker.timeout)
    except (OSError, asyncio.TimeoutError) as error:
        raise BackendUnavailable(f"stream broker {broker.host}:{broker.port}: {error!r}") from error


def create_stream(broker: StreamBroker, stream: str, max_age_s: float | None = None) -> None:
    """Declare ``stream`` (no error if it exists); ``max_age_s`` sets its retention."""
    arguments = {"max-age": f"{int(max_age_s)}s"} if max_age_s else None

    async def declare() -> None:
        async with _producer(broker) as producer:
            await producer.create_stream(stream, arguments=arguments, exists_ok=True)

    _run_once(broker, declare())


def delete_stream(broker: StreamBroker, stream: str) -> None:
    """Delete ``stream`` and its stored offsets (no error if it is missing)."""

    async def delete() -> None:
        async with _producer(broker) as producer:
            await producer.delete_stream(stream, missing_ok=True)

    _run_once(broker, delete())


def publisher_sequence(broker: StreamBroker, stream: str, producer: str) -> int:
    """The last publishing id the broker stored for ``producer`` on ``stream`` (0 when none)."""

    async def query() -> int:
        async with _producer(broker) as client:
            connection = await client.default_client
            return int(await connection.query_publisher_sequence(stream=stream, reference=producer))

    return _run_once(broker, query())


def _run_once(broker: StreamBroker, coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(_guarded(coroutine, broker))
    except ConnectionError as error:
        raise BackendUnavailable(f"stream broker {broker.host}:{broker.port}: {error}") from error


class StreamPublisher:
    """Publishes message bytes to ``stream`` as producer ``name``; thread-safe ``publish``."""

    def __init__(self, broker: StreamBroker, stream: str, name: str) -> None:
        self.broker, self.stream, self.name = broker, stream, name
        self._thread = LoopThread(f"publish {stream}")
        self._pending: list[RawMessage] = []
        self._unconfirmed: dict[int, tuple[float, RawMessage]] = {}
        self._next_id = 0
        self._wake = asyncio.Event()
        self._broken = False
        self._closing = False
        self._producer: Producer | None = None
        self.confirmed = 0
        self._submitted = 0
        self._taken = 0
        self._idle = threading.Condition()
        self._thread.call(self._start(), broker.timeout)
        self._task = asyncio.run_coroutine_threadsafe(self._send_forever(), self._thread.loop)

    async def _start(self) -> None:
        await self._connect()
        assert self._producer is not None
        client = await self._producer.default_client
        query = client.query_publisher_sequence(stream=self.stream, reference=self.name)
        last = await _guarded(query, self.broker)
        self._next_id = last + 1

    async def _connect(self) -> None:
        producer = _producer(self.broker, self._on_close, self.name)
        await _guarded(producer.start(), self.broker)
        self._producer, self._broken = producer, False

    def _on_close(self, info: Any) -> None:
        self._broken = True
        self._wake.set()

    def publish(self, data: bytes) -> None:
        """Queue ``data``; it is sent, confirmed, and re-sent after a connection loss until confirmed."""
        self._submitted += 1
        self._thread.loop.call_soon_threadsafe(self._enqueue, data)

    def _enqueue(self, data: bytes) -> None:
        self._taken += 1
        self._pending.append(RawMessage(data))
        self._wake.set()

    def flush(self, timeout: float) -> bool:
        """Wait until every queued message is confirmed; False when ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(self._is_idle, timeout)

    def _is_idle(self) -> bool:
        return self._taken == self._submitted and not self._pending and not self._unconfirmed

    @property
    def unconfirmed(self) -> int:
        """Messages sent or queued but not yet confirmed by the broker."""
        return self._submitted - self._taken + len(self._pending) + len(self._unconfirmed)

    async def _send_forever(self) -> None:
        while not self._closing:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), RESEND_AFTER_S / 4)
            self._wake.clear()
            try:
                if self._broken or self._stale_confirmations():
                    await self._reconnect()
                while self._pending and not self._broken:
                    batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                    await self._send(batch)
            except Exception as error:  # any failure of the connection: reconnect and resend
                log.warning("stream %s: publish failed (%r); reconnecting", self.stream, error)
                self._broken = True
                await asyncio.sleep(RECONNECT_DELAY_S)
            self._notify_if_idle()

    async def _send(self, batch: list[RawMessage]) -> None:
        now = time.monotonic()
        for message in batch:
            if message.publishing_id is None:
                message.publishing_id = self._next_id
                self._next_id += 1
            self._unconfirmed[message.publishing_id] = (now, message)
        assert self._producer is not None
        await _guarded(self._producer.send_batch(self.stream, batch, publisher_name=self.name,
                                                 on_publish_confirm=self._on_confirm), self.broker)

    def _on_confirm(self, status: ConfirmationStatus) -> None:
        if status.is_confirmed:
            if self._unconfirmed.pop(status.message_id, None) is not None:
                self.confirmed += 1
            self._notify_if_idle()
        else:
            self._broken = True
            self._wake.set()

    def _stale_confirmations(self) -> bool:
        oldest = min((sent for sent, _ in self._unconfirmed.values()), default=None)
        return oldest is not None and time.monotonic() - oldest > RESEND_AFTER_S

    async def _reconnect(self) -> None:
        """A new connection; every unconfirmed message goes first again, in publishing-id order."""
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.close(), 2.0)
        self._producer = None
        await self._connect()
        resend = [message for _, message in sorted(self._unconfirmed.items())]
        self._unconfirmed.clear()
        self._pending = [message for _, message in resend] + self._pending

    def _notify_if_idle(self) -> None:
        if self._is_idle():
            with self._idle:
                self._idle.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """Wait up to ``timeout`` for confirmations, then close the connection."""
        self.flush(timeout)
        self._closing = True
        self._thread.loop.call_soon_threadsafe(self._wake.set)
        with contextlib.suppress(Exception):
            self._task.result(2.0)
        if self._producer is not None:
            with contextlib.suppress(Exception):
                self._thread.call(self._producer.close(), 2.0)
        self._thread.stop()


Start = str | int | datetime
"""Where a subscription starts: "first", "last" (only new messages), an offset, or a time."""


def offset_specification(start: Start) -> ConsumerOffsetSpecification:
    """The rstream offset of ``start``."""
    if isinstance(start, datetime):
        return ConsumerOffsetSpecification(OffsetType.TIMESTAMP, int(start.timestamp() * 1000))
    if isinstance(start, int):
        return ConsumerOffsetSpecification(OffsetType.OFFSET, start)
    if start == "first":
        return ConsumerOffsetSpecification(OffsetType.FIRST, None)
    if start == "last":
        return ConsumerOffsetSpecification(OffsetType.NEXT, None)
    raise ValueError(f"start must be 'first', 'last', an offset or a datetime, got {start!r}")


class StreamSubscriber:
    """Delivers ``(offset, message bytes)`` of ``stream`` to ``deliver`` on the subscriber's loop thread."""

    def __init__(self, broker: StreamBroker, stream: str, deliver: Callable[[int, bytes], None],
                 on_error: Callable[[Exception], None]) -> None:
        self.broker, self.stream = broker, stream
        self._deliver, self._on_error = deliver, on_error
        self._thread = LoopThread(f"consume {stream}")
        self._consumer: Consumer | None = None
        self._next_offset: int | None = None
        self._closing = False
        self._lost = asyncio.Event()

    def query_offset(self, reference: str) -> int | None:
        """The offset stored under ``reference`` on this stream, None when there is none."""
        return self._thread.call(self._query(reference), self.broker.timeout)

    async def _query(self, reference: str) -> int | None:
        consumer = await self._consumer_ready()
        try:
            return int(await _guarded(consumer.query_offset(self.stream, reference), self.broker))
        except OffsetNotFound:
            return None

    def store_offset(self, reference: str, offset: int) -> None:
        """Store ``offset`` under ``reference`` (the broker's offset tracking); does not wait."""
        asyncio.run_coroutine_threadsafe(self._store(reference, offset), self._thread.loop)

    async def _store(self, reference: str, offset: int) -> None:
        with contextlib.suppress(Exception):
            consumer = await self._consumer_ready()
            await _guarded(consumer.store_offset(self.stream, reference, offset), self.broker)

    async def _consumer_ready(self) -> Consumer:
        if self._consumer is None:
            consumer = Consumer(**self.broker._options(), on_close_handler=self._on_close,
                                recovery_strategy=BackOffRecoveryStrategy(False))
            await _guarded(consumer.start(), self.broker)
            self._consumer = consumer
        return self._consumer

    def _on_close(self, info: Any) -> None:
        self._lost.set()

    def start(self, start: Start) -> None:
        """Subscribe from ``start``; later messages arrive until ``close``."""
        self._thread.call(self._subscribe(offset_specification(start)), self.broker.timeout)
        asyncio.run_coroutine_threadsafe(self._resubscribe_forever(), self._thread.loop)

    async def _subscribe(self, spec: ConsumerOffsetSpecification) -> None:
        consumer = await self._consumer_ready()
        await _guarded(consumer.subscribe(self.stream, self._on_message, decoder=bytes,
                                          offset_specification=spec, initial_credit=50), self.broker)

    async def _on_message(self, data: bytes, context: MessageContext) -> None:
        if self._next_offset is not None and context.offset < self._next_offset:
            return
        self._next_offset = context.offset + 1
        try:
            self._deliver(context.offset, data)
        except Exception as error:  # the receiver's failure ends the subscription
            self._closing = True
            self._on_error(error)

    async def _resubscribe_forever(self) -> None:
        while not self._closing:
            await self._lost.wait()
            self._lost.clear()
            if self._closing:
                return
            if self._consumer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._consumer.close(), 2.0)
            self._consumer = None
            await asyncio.sleep(RECONNECT_DELAY_S)
            spec = (ConsumerOffsetSpecification(OffsetType.OFFSET, self._next_offset)
                    if self._next_offset is not None else ConsumerOffsetSpecification(OffsetType.FIRST, None))
            try:
                await self._subscribe(spec)
            except Exception as error:  # keep trying while the broker is away
                log.warning("stream %s: subscribe again failed (%r)", self.stream, error)
                self._consumer = None
                self._lost.set()

    def close(self) -> None:
        """Stop delivering and close the connection."""
        self._closing = True
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._thread.call(self._consumer.close(), 2.0)
        self._thread.stop()
