"""The simulated DMQ server: consumes INITs from ``amq.topic``/``I`` and runs jobs on the device model.

It behaves like dmq.md §4.7: every INIT's GSS token is accepted with the service keytab and its
MIC verified (a failure answers ``ErrorSample{72, -99}`` on ``R``); a job binds its own queue to the
client's mailbox (``S.#``, ``H``, ``D``), then answers PENDING on ``R``, data on ``R.<drf>``, setting
results on ``R.<init drf>``, jobs it cannot build on ``R.null``. ``Q`` goes to every job every
``q_interval`` seconds; a job is disposed on ``D`` or after ``h_limit`` seconds without ``H``.

pika's ``AsyncioConnection`` runs on the simulator loop, so the model and the engine are only ever
touched from that loop. A lost broker connection is re-established with capped backoff (its jobs
are gone; clients notice through the missing ``Q``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pika
from pika.adapters.asyncio_connection import AsyncioConnection

from pacsys_rx.drf import DataRequest, Field, parse_request
from pacsys_rx.errors import AuthenticationError, DRFError, ProtocolError
from pacsys_rx.kerberos import AcceptorContext, dmq_signed_bytes
from pacsys_rx.model import AcnetStatus, TimedArray, ValueType
from pacsys_rx.protocols import sdd
from pacsys_rx.protocols.amqp import publish_frames
from pacsys_rx.sim.engine import Batch, Subscription
from pacsys_rx.sim.model import DeviceModel, Sample
from pacsys_rx.sim.permissions import Identity
from pacsys_rx.sim.server import ServerDisabled, SimContext, SimServer
from pacsys_rx.transport import Backoff

INIT_EXCHANGE = "amq.topic"
INIT_KEY = "I"
CONTROL_KEYS = ("S.#", "H", "D")
BROKER_TIMEOUT_S = 10.0
PUBLISH_CHUNK = 32
"""Data messages a job publishes per event-loop turn: the socket is written between turns, as a server
that writes each message at once would, instead of after the whole tick was encoded."""
RECONNECT = Backoff(initial=0.2, maximum=5.0, jitter=0.0, stable_after=0.0)
"""The server's reconnect policy towards the broker: every successful connect starts it over."""

PENDING = AcnetStatus.named("DMQ_PENDING")
INVALID_DATA_TYPE = AcnetStatus.named("DMQ_INVALID_DATA_TYPE")
SYSTEM_ERROR = AcnetStatus.named("DMQ_SYSTEM_ERROR")
LOGIN_REQUIRED = AcnetStatus.named("DMQ_LOGIN_REQUIRED")
INVALID_REQUEST = AcnetStatus.named("DMQ_INVALID_REQUEST")
SECURITY_VIOLATION = AcnetStatus.named("DMQ_SECURITY_VIOLATION")
BAD_REQUEST = AcnetStatus.named("DPM_BAD_REQUEST")
_INT32 = range(-(2**31), 2**31)


def now_ms() -> int:
    return int(time.time() * 1000)


def header_bytes(headers: dict[str, Any], name: str) -> bytes | None:
    """A header as bytes: AMQP byte arrays arrive as ``bytes``, long strings as ``str``."""
    value = headers.get(name)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return None


def settle(future: asyncio.Future[Any]) -> Callable[[Any], None]:
    """A pika callback that resolves ``future`` unless it is done already (its wait timed out): pika
    calls back from its frame handling, where an exception would drop the broker connection."""
    def resolve(result: Any) -> None:
        if not future.done():
            future.set_result(result)

    return resolve


def signed_bytes(properties: Any, body: bytes, host_address: bytes) -> bytes:
    """The MIC input rebuilt from a received message (dmq.md §7.3)."""
    return dmq_signed_bytes(body, message_id=properties.message_id, correlation_id=properties.correlation_id,
                            reply_to=properties.reply_to, app_id=properties.app_id, host_address=host_address)


def error_sample(status: AcnetStatus, *, message: str | None = None, ref_id: int | None = None,
                 time_ms: int | None = None) -> sdd.ErrorSample:
    return sdd.ErrorSample(facility_code=status.facility, error_number=status.error,
                           time=now_ms() if time_ms is None else time_ms, message=message, ref_id=ref_id)


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _scalar_sample(value: Any, common: dict[str, Any]) -> sdd.DataSample:
    if isinstance(value, bool):
        return sdd.BooleanSample(value=value, **common)
    if isinstance(value, int):
        return (sdd.IntegerSample if value in _INT32 else sdd.LongSample)(value=value, **common)
    return sdd.DoubleSample(value=value, **common)


def reply_for(sample: Sample, ref_id: int) -> sdd.DataSample | sdd.ErrorSample:
    """The DAQData reply for one model sample (dmq.md §6.6)."""
    value, status = sample.value, sample.status
    if value is None or status.is_error:
        return error_sample(status, message=status.describe(), ref_id=ref_id, time_ms=sample.timestamp)
    plain: dict[str, Any] = {"time": sample.timestamp, "cycle_time": sample.cycle, "ref_id": ref_id}
    numeric = {**plain, "unit": None if sample.units is None else _latin1(sample.units)}
    kind = sample.value_type
    if kind is ValueType.SCALAR:
        return _scalar_sample(value, plain if isinstance(value, bool) else numeric)
    if kind is ValueType.SCALAR_ARRAY:
        return sdd.DoubleArraySample(value=[float(v) for v in value], **numeric)  # type: ignore[union-attr]
    if kind is ValueType.TIMED_SCALAR_ARRAY and isinstance(value, TimedArray):
        return sdd.DoubleArraySample(value=list(value.data), **numeric)
    if kind is ValueType.RAW:
        return sdd.BinarySample(value=value, **plain)  # type: ignore[arg-type]
    if kind is ValueType.TEXT:
        return sdd.StringSample(value=_latin1(str(value)), **plain)
    if kind is ValueType.TEXT_ARRAY:
        return sdd.StringArraySample(value=[_latin1(str(v)) for v in value], **plain)  # type: ignore[union-attr]
    if kind is ValueType.BASIC_STATUS:
        return sdd.BasicStatusSample(value=value, **plain)  # type: ignore[arg-type]
    if kind is ValueType.ANALOG_ALARM:
        return sdd.AnalogAlarmSample(value=value, **plain)  # type: ignore[arg-type]
    if kind is ValueType.DIGITAL_ALARM:
        return sdd.DigitalAlarmSample(value=value, **plain)  # type: ignore[arg-type]
    return error_sample(SYSTEM_ERROR, message=f"no DAQData reply for {kind}", ref_id=ref_id)


class _Job:
    """One client job: its channel and control queue, and the engine subscription or setting target."""

    def __init__(self, server: DmqServer, model: DeviceModel, init_id: str, exchange: str,
                 requests: list[str], acceptor: AcceptorContext, identity: Identity) -> None:
        self.server = server
        self.model = model
        self.init_id = init_id
        self.exchange = exchange
        self.requests = requests
        self.acceptor = acceptor
        self.identity = identity
        self.channel: Any = None
        self.subscription: Subscription | None = None
        self.setting: DataRequest | None = None
        self.last_h = time.monotonic()
        self.disposed = False
        self.keys = {text: f"R.{text}" for text in requests}

    def publish(self, key: str, reply: sdd.Reply | sdd.DataSample, correlation_id: str | None = None) -> None:
        self.server.publish(self.channel, self.exchange, key, sdd.encode_message(reply), correlation_id)

    def on_batch(self, batch: Batch, start: int = 0) -> None:
        """Engine samples: one ``R.<drf>`` message each; the tag is the 1-based ref_id.

        At most :data:`PUBLISH_CHUNK` samples are published per loop turn, the rest on the next one,
        so the first messages of a large tick reach the broker while the rest are still encoded.
        """
        if self.server.paused or self.disposed:
            return
        requests, keys = self.requests, self.keys
        end = start + PUBLISH_CHUNK
        self.server.publish_many(self.channel, self.exchange, [
            (keys[requests[ref_id - 1]], sdd.encode_message(reply_for(sample, ref_id)))
            for ref_id, sample in batch[start:end]])
        if end < len(batch):
            asyncio.get_running_loop().call_soon(self.on_batch, batch, end)

    def on_control(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        key = method.routing_key
        if key == "H":
            self.last_h = time.monotonic()
        elif key == "D":
            self.server.dispose(self)
        elif key.startswith("S.") and not self.server.paused:
            self.server.counts["settings"] += 1
            self.publish(f"R.{self.requests[0]}", self._apply(key[2:], properties, body), "")

    def _apply(self, target: str, properties: Any, body: bytes) -> sdd.Reply | sdd.DataSample:
        """Check and apply one setting value; the reply is the echoed sample or an ErrorSample."""
        headers = properties.headers or {}
        signature, host = header_bytes(headers, "signature"), header_bytes(headers, "host-address")
        try:
            if signature is None or host is None or len(host) != 4:
                raise AuthenticationError("setting without signature or host-address")
            self.acceptor.verify_mic(signed_bytes(properties, body, host), signature)
        except AuthenticationError as error:
            self.server.counts["security_violations"] += 1
            return error_sample(SECURITY_VIOLATION, message=str(error))
        if self.setting is None or target != self.requests[0]:
            return error_sample(INVALID_REQUEST, message=f"no setting job for {target!r}")
        try:
            reply = sdd.decode_reply(body)
        except ProtocolError as error:
            return error_sample(INVALID_REQUEST, message=f"undecodable setting: {error}")
        value = self._setting_value(reply)
        if value is None:
            return error_sample(INVALID_DATA_TYPE, message=f"{type(reply).__name__} cannot be set")
        status = self.model.apply_setting(self.setting, value, self.identity)
        if status.is_error:
            return error_sample(status, message=status.describe())
        return reply

    def _setting_value(self, reply: sdd.Reply) -> Any:
        """The model value a setting sample carries (None: not settable over DMQ)."""
        if isinstance(reply, sdd.BasicControlSample):
            return reply.value.command
        if isinstance(reply, (sdd.AnalogAlarmSample, sdd.DigitalAlarmSample)):
            block = reply.value.to_dict()
            analog = isinstance(reply, sdd.AnalogAlarmSample)
            writable = ("minimum", "maximum") if analog else ("nominal", "mask")
            fields = {key: block[key] for key in (*writable, "alarm_enable", "abort_inhibit")}
            if block["tries_needed"]:
                fields["tries_needed"] = block["tries_needed"]
            return fields
        if isinstance(reply, (sdd.BinarySample, sdd.ErrorSample, sdd.ServiceDiscoveryReply,
                              sdd.OpenListReply)):
            return None
        value = reply.value
        raw = self.setting is not None and self.setting.field is Field.RAW
        if raw and isinstance(reply, (sdd.ShortSample, sdd.IntegerSample, sdd.LongSample)):
            return self._raw_bytes(reply.value)
        return tuple(value) if isinstance(value, list) else value

    def _raw_bytes(self, raw: int) -> bytes:
        """An integer raw setting as the device's little-endian raw bytes (empty when it does not fit)."""
        assert self.setting is not None
        device = self.model.devices.get(self.setting.device)
        size = device.spec.setting.scaling.raw_bytes if device is not None and device.spec.setting else 4
        try:
            return raw.to_bytes(size, "little", signed=True)
        except OverflowError:
            return b""


class DmqServer(SimServer):
    """The DMQ server on the simulator's broker (``--amqp-url``), Kerberos from ``--keytab``."""

    name = "dmq"

    def __init__(self, q_interval: float = 5.0, h_limit: float = 30.0, setting_delay: float = 0.0) -> None:
        self.q_interval = q_interval
        self.h_limit = h_limit
        self.setting_delay = setting_delay
        self.context: SimContext | None = None
        self.connection: Any = None
        self.jobs: dict[str, _Job] = {}
        self.counts = {"inits": 0, "jobs_created": 0, "jobs_dropped": 0, "security_violations": 0,
                       "settings": 0}
        self.paused = False
        self.reply_delay = 0.0
        self._corrupt_next = False
        self._url = ""
        self._stopping = False
        self._sweeper: asyncio.TimerHandle | None = None
        self._backoff = RECONNECT.fresh()
        self._closed: asyncio.Future[None] | None = None
        self._closing_on_purpose: Any = None

    # ------------------------------------------------------------------ life cycle

    async def start(self, context: SimContext) -> str:
        url = context.config.amqp_url
        if not url:
            raise ServerDisabled("no AMQP broker URL (--amqp-url)")
        try:
            AcceptorContext(context.config.keytab)
        except AuthenticationError as error:
            raise ServerDisabled(f"no usable keytab for the DMQ service principal: {error}") from None
        self.context, self._url, self._stopping = context, url, False
        try:
            await self._connect()
        except (OSError, asyncio.TimeoutError, pika.exceptions.AMQPError) as error:
            raise ServerDisabled(f"broker unreachable at {url}: {error!r}") from None
        self._sweeper = context.loop.call_later(self.q_interval, self._sweep)
        return url

    async def stop(self) -> None:
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for job in list(self.jobs.values()):
            self.dispose(job)
        await self._close_connection()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[Any] = loop.create_future()
        self._closed = loop.create_future()

        def on_open_error(connection: Any, error: BaseException) -> None:
            if not opened.done():
                opened.set_exception(error if isinstance(error, Exception) else RuntimeError(str(error)))

        AsyncioConnection(pika.URLParameters(self._url), on_open_callback=settle(opened),
                          on_open_error_callback=on_open_error, on_close_callback=self._on_connection_closed,
                          custom_ioloop=loop)
        self.connection = await asyncio.wait_for(opened, BROKER_TIMEOUT_S)
        channel = await self._channel()
        frame = await self._rpc(channel.queue_declare, "", exclusive=True, auto_delete=True)
        queue = frame.method.queue
        await self._rpc(channel.queue_bind, queue, INIT_EXCHANGE, routing_key=INIT_KEY)
        channel.basic_consume(queue, self._on_init, auto_ack=True)
        self._backoff.reset()

    async def _close_connection(self) -> None:
        connection, closed = self.connection, self._closed
        self.connection = None
        if connection is not None and connection.is_open:
            self._closing_on_purpose = connection
            connection.close()
            if closed is not None:
                await asyncio.wait_for(asyncio.shield(closed), BROKER_TIMEOUT_S)

    def _on_connection_closed(self, connection: Any, reason: BaseException) -> None:
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        for job in list(self.jobs.values()):
            self.dispose(job)
        if connection is self._closing_on_purpose:
            self._closing_on_purpose = None
            return
        self.connection = None
        if not self._stopping and self.context is not None:
            self.context.logger.warning("dmq: broker connection lost (%r); reconnecting", reason)
            self._schedule_reconnect()

    def _schedule_reconnect(self) -> None:
        assert self.context is not None
        loop = self.context.loop
        delay = self._backoff.next_delay()
        loop.call_later(delay, lambda: loop.create_task(self._reconnect()))

    async def _reconnect(self) -> None:
        if self._stopping or self.connection is not None:
            return
        try:
            await self._connect()
        except (OSError, asyncio.TimeoutError, pika.exceptions.AMQPError) as error:
            assert self.context is not None
            self.context.logger.warning("dmq: reconnect failed: %r", error)
            self._schedule_reconnect()

    async def _channel(self) -> Any:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[Any] = loop.create_future()
        self.connection.channel(on_open_callback=settle(opened))
        return await asyncio.wait_for(opened, BROKER_TIMEOUT_S)

    async def _rpc(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        method(*args, callback=settle(done), **kwargs)
        return await asyncio.wait_for(done, BROKER_TIMEOUT_S)

    # ------------------------------------------------------------------ INIT handling

    def _on_init(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self.counts["inits"] += 1
        if not self.paused and properties.reply_to and self.context is not None:
            self.context.loop.create_task(self._handle_init(properties, body))

    async def _handle_init(self, properties: Any, body: bytes) -> None:
        init_id, exchange = properties.message_id, properties.reply_to
        try:
            request = sdd.decode_request(body)
        except ProtocolError as error:
            await self._refuse(exchange, init_id, INVALID_REQUEST, f"undecodable INIT: {error}")
            return
        if not isinstance(request, (sdd.ReadingRequest, sdd.SettingRequest)):
            await self._refuse(exchange, init_id, INVALID_REQUEST, f"{type(request).__name__} is not a job")
            return
        headers = properties.headers or {}
        token = header_bytes(headers, "gss-token")
        if not token:
            await self._refuse(exchange, init_id, LOGIN_REQUIRED, "INIT without a GSS token")
            return
        assert self.context is not None
        try:
            signature, host = header_bytes(headers, "signature"), header_bytes(headers, "host-address")
            if signature is None or host is None or len(host) != 4:
                raise AuthenticationError("INIT without signature or host-address")
            acceptor = AcceptorContext(self.context.config.keytab)
            acceptor.step(token)
            acceptor.verify_mic(signed_bytes(properties, body, host), signature)
        except AuthenticationError as error:
            self.counts["security_violations"] += 1
            await self._refuse(exchange, init_id, SECURITY_VIOLATION, str(error))
            return
        identity = self.context.permissions.identity(acceptor.initiator)
        await self._build(request, init_id, exchange, acceptor, identity)

    async def _refuse(self, exchange: str, init_id: str | None, status: AcnetStatus, message: str) -> None:
        """A job-level ErrorSample on ``R`` (correlated to the INIT) over a short-lived channel."""
        try:
            channel = await self._channel()
        except (asyncio.TimeoutError, pika.exceptions.AMQPError):
            return
        body = sdd.encode_message(error_sample(status, message=message))
        self.publish(channel, exchange, "R", body, init_id)
        channel.close()

    async def _build(self, request: sdd.ReadingRequest | sdd.SettingRequest, init_id: str, exchange: str,
                     acceptor: AcceptorContext, identity: Identity) -> None:
        assert self.context is not None
        job = _Job(self, self.context.model, init_id, exchange, list(request.data_request), acceptor,
                   identity)
        try:
            job.channel = await self._channel()
            job.channel.add_on_close_callback(lambda channel, reason: self.dispose(job))
            frame = await self._rpc(job.channel.queue_declare, "", exclusive=True, auto_delete=True)
            queue = frame.method.queue
            for key in CONTROL_KEYS:
                await self._rpc(job.channel.queue_bind, queue, exchange, routing_key=key)
            job.channel.basic_consume(queue, job.on_control, auto_ack=True)
        except (asyncio.TimeoutError, pika.exceptions.AMQPError):
            self.dispose(job)
            return
        if job.disposed:
            return
        self.jobs[exchange] = job
        self.counts["jobs_created"] += 1
        if isinstance(request, sdd.SettingRequest):
            await asyncio.sleep(self.setting_delay)
            self._start_setting(job)
        else:
            self._start_reading(job)

    def _start_reading(self, job: _Job) -> None:
        assert self.context is not None
        if not job.requests:
            self._broken(job, "empty reading request")
            return
        job.publish("R", error_sample(PENDING), job.init_id)
        first: dict[str, int] = {}
        for index, text in enumerate(job.requests, 1):
            first.setdefault(text, index)
        parsed: list[DataRequest] = []
        tags: list[int] = []
        for text, ref_id in first.items():
            try:
                parsed.append(parse_request(text))
                tags.append(ref_id)
            except DRFError as error:
                job.publish(job.keys[text], error_sample(BAD_REQUEST, message=str(error), ref_id=ref_id))
        if parsed:
            job.subscription = self.context.engine.subscribe(parsed, job.on_batch, tags)

    def _start_setting(self, job: _Job) -> None:
        try:
            if len(job.requests) != 1:
                raise DRFError(f"a setting job needs exactly one request, got {len(job.requests)}")
            job.setting = parse_request(job.requests[0])
        except DRFError as error:
            self._broken(job, str(error))
            return
        job.publish("R", error_sample(PENDING), job.init_id)

    def _broken(self, job: _Job, message: str) -> None:
        job.publish("R.null", error_sample(INVALID_REQUEST, message=message))
        self.dispose(job)

    # ------------------------------------------------------------------ jobs

    def publish(self, channel: Any, exchange: str, key: str, body: bytes,
                correlation_id: str | None = None) -> None:
        """Publish one reply (after the configured delay; damaged once after ``corrupt_next_frame``)."""
        if self._corrupt_next:
            self._corrupt_next = False
            body = body[: len(body) // 2]
        properties = None if correlation_id is None else pika.BasicProperties(correlation_id=correlation_id)
        if self.reply_delay > 0 and self.context is not None:
            self.context.loop.call_later(self.reply_delay, self._send, channel, exchange, key, body,
                                         properties)
        else:
            self._send(channel, exchange, key, body, properties)

    def publish_many(self, channel: Any, exchange: str, messages: list[tuple[str, bytes]]) -> None:
        """Publish data replies (routing key, body) in one socket write, its frames marshalled here.

        The real DMQ service publishes through a buffered client that costs a few microseconds per
        message; pika's ``basic_publish`` costs tens, and writes each frame separately, which put most of
        a tick's latency in the simulator. While a fault is armed (reply delay, damaged frame) the
        replies go one by one through :meth:`publish`."""
        if self._corrupt_next or self.reply_delay > 0:
            for key, body in messages:
                self.publish(channel, exchange, key, body)
            return
        if channel is None or not channel.is_open:
            return
        connection = channel.connection
        number, frame_max = channel.channel_number, connection.params.frame_max
        connection._output_marshaled_frames([b"".join(
            publish_frames(number, exchange, key, body, None, frame_max) for key, body in messages)])

    @staticmethod
    def _send(channel: Any, exchange: str, key: str, body: bytes, properties: Any) -> None:
        if channel is not None and channel.is_open:
            channel.basic_publish(exchange, key, body, properties)

    def dispose(self, job: _Job) -> None:
        """Cancel the job's data and close its channel (its queue and bindings go with it)."""
        if job.disposed:
            return
        job.disposed = True
        if self.jobs.get(job.exchange) is job:
            del self.jobs[job.exchange]
            self.counts["jobs_dropped"] += 1
        if job.subscription is not None:
            job.subscription.cancel()
        if job.channel is not None and job.channel.is_open:
            job.channel.close()

    def _sweep(self) -> None:
        """Send ``Q`` to every job; dispose the jobs whose client stopped sending ``H``."""
        assert self.context is not None
        self._sweeper = self.context.loop.call_later(self.q_interval, self._sweep)
        limit = time.monotonic() - self.h_limit
        for job in list(self.jobs.values()):
            if job.last_h < limit:
                self.dispose(job)
            elif not self.paused:
                self._send(job.channel, job.exchange, "Q", b"", None)

    # ------------------------------------------------------------------ introspection and faults

    def counters(self) -> dict[str, int]:
        consumers = (1 if self.connection is not None else 0) + len(self.jobs)
        return {"jobs": len(self.jobs), "consumers": consumers,
                "connections": 1 if self.connection is not None else 0, **self.counts}

    async def drop_connections(self) -> None:
        """Close the server's broker connection (every job is lost) and connect again."""
        if self.connection is None:
            return
        await self._close_connection()
        await self._connect()

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def corrupt_next_frame(self) -> None:
        self._corrupt_next = True

    def set_reply_delay(self, seconds: float) -> None:
        self.reply_delay = max(0.0, seconds)


SERVER = DmqServer
