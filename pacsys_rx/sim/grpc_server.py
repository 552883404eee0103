"""The simulator's DPM/gRPC server: ``services.daq.DAQ`` (Read, Set) and ``services.devdb.DevDB``
(getDeviceInfo), served by ``grpc.aio`` on the simulator's loop, plaintext.

Read: one engine subscription per call, entry ``i`` tagged ``i``. Samples are queued per entry and a
writer sends, at most once per ``FLUSH_INTERVAL_S``, one ``ReadingReply`` per entry with every sample
queued for it, so replies carry more samples the busier the call is. A call whose entries are all
one-shot completes once each has been answered. Entries that can never produce data get a terminal
``status`` reply.

Set: the ``authorization: Bearer <jwt>`` metadata is verified with the configured HS256 secret or
RS256 public key (PyJWT); the claims map to an identity through the simulator's permissions. A
missing, expired or forged token refuses every setting with ``DPM_PRIV`` (17, -17) and a message;
otherwise each setting gets the model's status, in order.

DevDB: ``getDeviceInfo`` gives index, description, units, limits and linear scaling constants
(``coeff`` = primary scale, primary offset, common scale, common offset; transform indices 0), the
device's basic-status bits (its masks and DevDB names) and control table from the catalogue; unknown
names get an all-zero ``DeviceInfo`` like production. ``getAllAlarmInfo`` gives one ``AlarmInfo`` per
alarm block of the named devices (none for unknown names or devices without alarms), taken from the
block's raw bytes; ``getAlarmText`` answers the known ids among those asked for (see :class:`AlarmTexts`).

Overload: a call whose queue is full stops acquiring (its engine subscription is cancelled) until its
writer takes the queue for the next round, then subscribes its repeating entries again (so at most
two queues' worth of samples are held: one being written, one filling). This is a decision of
the simulator's: the real service silently drops readings for clients it cannot keep up with
(dpm-grpc.md §5.2); dropping them at the source rather than after sampling keeps a simulator that is
itself short of CPU (more readings offered than one core can sample and send) delivering as much as
it can instead of spending its loop on samples nobody gets.

Counters: ``read_calls`` (open Read calls), ``subscriptions`` (entries of those calls),
``connections`` (distinct client peers with an open call), ``dropped`` (samples discarded because a
call's queue was full), ``suspensions`` (times a call stopped acquiring because of that).
"""

from __future__ import annotations

import asyncio
import functools
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import grpc
from grpc import aio

from pacsys_rx.drf import DataRequest, ImmediateEvent, NeverEvent, parse_request
from pacsys_rx.errors import DRFError
from pacsys_rx.model import AcnetStatus, AnalogAlarm, BasicStatus, DigitalAlarm, TimedArray, Value, ValueType
from pacsys_rx.protocols.grpc_values import setting_value, status_to_proto, value_from_proto
from pacsys_rx.protocols.proto import DAQ_pb2, DevDB_pb2, device_pb2
from pacsys_rx.sim.catalogue import STATUS_ATTRIBUTES, DeviceSpec, StatusSpec, ValueSpec
from pacsys_rx.sim.engine import Batch, Subscription
from pacsys_rx.sim.logger import History, is_logger_request
from pacsys_rx.sim.model import BIT_NAMES, BIT_TEXTS, DeviceModel, Sample
from pacsys_rx.sim.permissions import Identity
from pacsys_rx.sim.server import SimContext, SimServer

PRIVILEGE_REFUSED = AcnetStatus.named("DPM_PRIV")
BAD_REQUEST = AcnetStatus.named("DPM_BAD_REQUEST")
INVALID_DATA = AcnetStatus.named("DIO_INVDATA")
NO_DATA = AcnetStatus.named("ACNET_RETRY")
MAX_QUEUED_SAMPLES = 200_000
"""Per call; further samples are dropped (and counted) and the call stops acquiring until its writer
takes the queue (see the module documentation)."""
FLUSH_INTERVAL_S = 0.1
"""A call writes at most one round of replies per interval, so a busy call's replies carry several
samples each (one write per entry per round) while a quiet call's data leaves at once."""
CORRUPT_FRAME = b"\xff\xff\xff\xff"
ANALOG_ALARM_PI = 21
DIGITAL_ALARM_PI = 22
"""ACNET property indices of the analog and digital alarm blocks (AlarmBlock.pi)."""

_DOUBLE = struct.Struct("<d").pack
_SCALAR_KEYS = b"\x12\x09\x09"
"""``Reading.data`` (field 2, 9 bytes) then ``Value.scalar`` (field 1, a double)."""


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field: key byte (field number < 16), length, payload."""
    return bytes((tag,)) + _varint(len(payload)) + payload


def _timestamp_field(epoch_ms: int) -> bytes:
    """``Reading.timestamp`` (field 1) for an epoch-millisecond time, encoded as protobuf does."""
    seconds, millis = divmod(epoch_ms, 1000)
    body = b"\x08" + _varint(seconds) if seconds else b""
    if millis:
        body += b"\x10" + _varint(millis * 1_000_000)
    return _field(0x0A, body)


def model_value(value: Value, value_type: ValueType) -> device_pb2.Value:
    """The ``Value`` for a model value; basic status goes out as display labels and texts, like DPM."""
    if value_type is ValueType.SCALAR:
        return device_pb2.Value(scalar=float(value))  # type: ignore[arg-type]
    if isinstance(value, AnalogAlarm):
        return device_pb2.Value(
            anaAlarm=device_pb2.Value.AnalogAlarm(
                minimum=value.minimum,
                maximum=value.maximum,
                alarmEnable=value.alarm_enable,
                alarmStatus=value.alarm_status,
                abort=value.abort,
                abortInhibit=value.abort_inhibit,
                triesNeeded=value.tries_needed,
                triesNow=value.tries_now,
            )
        )
    if isinstance(value, DigitalAlarm):
        return device_pb2.Value(
            digAlarm=device_pb2.Value.DigitalAlarm(
                nominal=value.nominal,
                mask=value.mask & 0xFFFFFFFF,
                alarmEnable=value.alarm_enable,
                alarmStatus=value.alarm_status,
                abort=value.abort,
                abortInhibit=value.abort_inhibit,
                triesNeeded=value.tries_needed,
                triesNow=value.tries_now,
            )
        )
    if isinstance(value, BasicStatus):
        texts = {
            BIT_NAMES[name]: BIT_TEXTS[name][0 if state else 1] for name, state in value.to_dict().items()
        }
        return device_pb2.Value(basicStatus=device_pb2.Value.BasicStatus(value=texts))
    return setting_value(value)


def encode_sample(sample: Sample) -> bytes:
    """One ``Reading`` with data, as the bytes of a ``Readings.reading`` (field 2) entry.

    Scalars with a success status (the bulk of any stream) are encoded directly; everything else goes
    through the generated classes.
    """
    if sample.value_type is ValueType.SCALAR and not sample.status.error:
        prefix = _scalar_prefixes.get(sample.timestamp)
        if prefix is None:
            prefix = _scalar_prefix(sample.timestamp)
        return prefix + _DOUBLE(float(sample.value))  # type: ignore[arg-type]
    if isinstance(sample.value, TimedArray):
        return b"".join(
            _timed_entry(value, micros)
            for value, micros in zip(sample.value.data, sample.value.micros, strict=True)
        )
    message = DAQ_pb2.Reading(data=model_value(sample.value, sample.value_type))  # type: ignore[arg-type]
    seconds, millis = divmod(sample.timestamp, 1000)
    message.timestamp.seconds, message.timestamp.nanos = seconds, millis * 1_000_000
    if sample.status.error:
        message.status.CopyFrom(status_to_proto(sample.status))
    return _field(0x12, message.SerializeToString())


def _timed_entry(value: float, micros: int) -> bytes:
    """One sample of a timed array as its own ``Readings.reading`` entry (how the service sends them)."""
    message = DAQ_pb2.Reading(data=device_pb2.Value(scalar=value))
    seconds, rest = divmod(micros, 1_000_000)
    message.timestamp.seconds, message.timestamp.nanos = seconds, rest * 1000
    return _field(0x12, message.SerializeToString())


_scalar_prefixes: dict[int, bytes] = {}
"""Per epoch-ms time: a scalar entry up to its value (the samples of one tick share their time)."""
_PREFIX_CACHE_SIZE = 1024


def _scalar_prefix(epoch_ms: int) -> bytes:
    """Key and length of a scalar ``Readings.reading`` entry, its timestamp and the scalar's key."""
    if len(_scalar_prefixes) >= _PREFIX_CACHE_SIZE:
        _scalar_prefixes.clear()
    body = _timestamp_field(epoch_ms) + _SCALAR_KEYS
    prefix = _scalar_prefixes[epoch_ms] = b"\x12" + _varint(len(body) + 8) + body
    return prefix


@functools.lru_cache(maxsize=4096)
def _index_field(index: int) -> bytes:
    """``ReadingReply.index`` (field 1), absent for 0 as protobuf encodes it."""
    return b"\x08" + _varint(index) if index else b""


def readings_reply(index: int, readings: Sequence[bytes]) -> bytes:
    """A ``ReadingReply`` carrying ``Readings`` made of encoded entries (see :func:`encode_sample`)."""
    return _index_field(index) + _field(0x12, b"".join(readings))


def status_reply(index: int, status: AcnetStatus, message: str = "") -> bytes:
    return DAQ_pb2.ReadingReply(index=index, status=status_to_proto(status, message)).SerializeToString()


def history_replies(index: int, history: History) -> Iterator[bytes]:
    """A logger answer as ``ReadingReply`` messages: one per chunk of up to 487 samples (or per array
    record), then one with empty ``readings``; a LOGGERSINGLE answer is one reply."""
    for sample in history.chunks():
        yield readings_reply(index, [encode_sample(sample)])
    if not history.single:
        yield readings_reply(index, [])


Subscribe = Callable[[Sequence[tuple[int, DataRequest]], Callable[[Batch], None]], Subscription]
"""Subscribes ``(tag, request)`` entries with a sink on the engine."""


class _ReadCall:
    """State of one Read call: its engine subscription, samples queued per entry, terminal statuses,
    the writer's wake-up; acquisition stops while the queue is full (:meth:`suspend`, :meth:`resume`)."""

    def __init__(self, peer: str, size: int) -> None:
        self.peer = peer
        self.size = size
        self.queued: dict[int, list[bytes]] = {}
        self.queued_count = 0
        self.terminal: dict[int, bytes] = {}
        self.closed: set[int] = set()
        self.dropped = 0
        self.suspensions = 0
        self.suspended = False
        self.subscription: Subscription | None = None
        self._subscribe: Subscribe | None = None
        self._repeating: list[tuple[int, DataRequest]] = []
        self.wake = asyncio.Event()
        self.abort_reason: str | None = None

    def start(self, subscribe: Subscribe, entries: Sequence[tuple[int, DataRequest]]) -> None:
        """Subscribe ``entries``; :meth:`resume` later subscribes those that repeat again. One-shot
        entries are answered in the subscription's first batch, before its queue can be full."""
        self._subscribe = subscribe
        self._repeating = [(tag, request) for tag, request in entries
                           if not isinstance(request.event, (ImmediateEvent, NeverEvent))]
        self.subscription = subscribe(entries, self.on_batch)

    @property
    def finished(self) -> bool:
        """No more data can come: the subscription ended and is not merely suspended."""
        return not self.suspended and (self.subscription is None or self.subscription.is_finished)

    def suspend(self) -> None:
        """Stop acquiring: the queue is full."""
        if self.suspended or self.subscription is None:
            return
        self.suspended = True
        self.suspensions += 1
        self.subscription.cancel()

    def resume(self) -> None:
        """Acquire again (the writer took the queue): subscribe the live repeating entries."""
        assert self._subscribe is not None
        self.suspended = False
        entries = [(tag, request) for tag, request in self._repeating if tag not in self.closed]
        self.subscription = self._subscribe(entries, self.on_batch)

    def cancel(self) -> None:
        self.suspended = False
        if self.subscription is not None:
            self.subscription.cancel()

    def on_batch(self, batch: Batch) -> None:
        queued, closed = self.queued, self.closed
        for index, sample in batch:
            if index in closed:
                continue
            if sample.value is None:
                closed.add(index)
                self.terminal[index] = status_reply(index, sample.status if sample.status.error else NO_DATA)
                continue
            if self.queued_count >= MAX_QUEUED_SAMPLES:
                self.dropped += 1
                self.suspend()
                continue
            entry = queued.get(index)
            if entry is None:
                entry = queued[index] = []
            entry.append(encode_sample(sample))
            self.queued_count += 1
        self.wake.set()

    def drain(self) -> list[bytes]:
        """Every reply that can be sent now: one per entry with queued samples, then terminal statuses."""
        replies = [readings_reply(index, readings) for index, readings in self.queued.items()]
        replies.extend(self.terminal.values())
        self.queued, self.terminal, self.queued_count = {}, {}, 0
        return replies

    @property
    def idle(self) -> bool:
        return not self.queued and not self.terminal

    def abort(self, reason: str) -> None:
        self.abort_reason = reason
        self.wake.set()


class GRPCServer(SimServer):
    """The DAQ and DevDB services on one ``grpc.aio`` server (see the module documentation)."""

    name = "grpc"

    def __init__(self) -> None:
        self._context: SimContext | None = None
        self._server: aio.Server | None = None
        self._calls: set[_ReadCall] = set()
        self._set_peers: list[str] = []
        self._dropped = 0
        self._suspensions = 0
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._reply_delay = 0.0
        self._corrupt_next = False
        self._texts: AlarmTexts | None = None

    # ------------------------------------------------------------------ life cycle

    async def start(self, context: SimContext) -> str:
        self._context = context
        server = aio.server(options=(("grpc.so_reuseport", 0),))
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "services.daq.DAQ",
                    {
                        "Read": grpc.unary_stream_rpc_method_handler(
                            self._read, request_deserializer=DAQ_pb2.ReadingList.FromString
                        ),
                        "Set": grpc.unary_unary_rpc_method_handler(
                            self._set, request_deserializer=DAQ_pb2.SettingList.FromString
                        ),
                    },
                ),
                grpc.method_handlers_generic_handler(
                    "services.devdb.DevDB",
                    {
                        "getDeviceInfo": grpc.unary_unary_rpc_method_handler(
                            self._device_info, request_deserializer=DevDB_pb2.DeviceList.FromString
                        ),
                        "getAllAlarmInfo": grpc.unary_unary_rpc_method_handler(
                            self._alarm_info, request_deserializer=DevDB_pb2.DeviceList.FromString
                        ),
                        "getAlarmText": grpc.unary_unary_rpc_method_handler(
                            self._alarm_text, request_deserializer=DevDB_pb2.AlarmTextIdList.FromString
                        ),
                    },
                ),
            )
        )
        host = context.config.host
        port = server.add_insecure_port(f"{host}:{context.port(self.name)}")
        await server.start()
        self._server = server
        self.bound_port = port
        return f"{host}:{port}"

    async def stop(self) -> None:
        server, self._server = self._server, None
        for call in list(self._calls):
            call.abort("the simulator's gRPC server is stopping")
        if server is not None:
            await server.stop(grace=1.0)
        self._calls.clear()
        self._set_peers.clear()

    def counters(self) -> dict[str, int]:
        return {
            "read_calls": len(self._calls),
            "subscriptions": sum(call.size for call in self._calls),
            "connections": len({call.peer for call in self._calls} | set(self._set_peers)),
            "dropped": self._dropped + sum(call.dropped for call in self._calls),
            "suspensions": self._suspensions + sum(call.suspensions for call in self._calls),
        }

    async def drop_connections(self) -> None:
        for call in list(self._calls):
            call.abort("connection dropped by the simulator")

    def pause(self) -> None:
        self._resumed.clear()

    def resume(self) -> None:
        self._resumed.set()

    def corrupt_next_frame(self) -> None:
        self._corrupt_next = True

    def set_reply_delay(self, seconds: float) -> None:
        self._reply_delay = max(0.0, float(seconds))

    async def _before_reply(self) -> None:
        await self._resumed.wait()
        if self._reply_delay:
            await asyncio.sleep(self._reply_delay)

    def _outgoing(self, data: bytes) -> bytes:
        if self._corrupt_next:
            self._corrupt_next = False
            return CORRUPT_FRAME
        return data

    # ------------------------------------------------------------------ DAQ.Read

    async def _read(self, request: DAQ_pb2.ReadingList, context: aio.ServicerContext) -> None:
        assert self._context is not None
        call = _ReadCall(context.peer(), len(request.drf))
        parsed: list[DataRequest] = []
        tags: list[int] = []
        for index, drf in enumerate(request.drf):
            try:
                parsed.append(parse_request(drf))
                tags.append(index)
            except DRFError as error:
                call.closed.add(index)
                call.terminal[index] = status_reply(index, BAD_REQUEST, str(error))
        self._calls.add(call)
        entries = list(zip(tags, parsed, strict=True))
        logged = [(tag, request) for tag, request in entries if is_logger_request(request)]
        live = [(tag, request) for tag, request in entries if not is_logger_request(request)]
        try:
            if logged and not await self._send_history(logged, context):
                return
            call.start(self._subscribe, live)
            await self._serve(call, context)
        finally:
            call.cancel()
            self._calls.discard(call)
            self._dropped += call.dropped
            self._suspensions += call.suspensions

    def _subscribe(self, entries: Sequence[tuple[int, DataRequest]], sink: Callable[[Batch], None]
                   ) -> Subscription:
        assert self._context is not None
        return self._context.engine.subscribe([request for _, request in entries], sink,
                                              [tag for tag, _ in entries])

    async def _send_history(self, logged: list[tuple[int, DataRequest]],
                            context: aio.ServicerContext) -> bool:
        """Answer logger entries (dpm-grpc.md §5.4) before any live data; False when the client went away."""
        assert self._context is not None
        now = self._context.engine.time()
        await self._before_reply()
        for index, request in logged:
            answer = self._context.data_logger.answer(request, now)
            replies = [status_reply(index, answer)] if isinstance(answer, AcnetStatus) \
                else history_replies(index, answer)
            for reply in replies:
                try:
                    await context.write(self._outgoing(reply))
                except Exception:
                    return False
        return True

    async def _serve(self, call: _ReadCall, context: aio.ServicerContext) -> None:
        loop = asyncio.get_running_loop()
        next_flush = loop.time()
        while True:
            if call.idle:
                if call.finished:
                    return
                await call.wake.wait()
            call.wake.clear()
            if call.abort_reason is not None:
                await context.abort(grpc.StatusCode.UNAVAILABLE, call.abort_reason)
            await self._before_reply()
            pause = next_flush - loop.time()
            if pause > 0:
                await asyncio.sleep(pause)
            next_flush = loop.time() + FLUSH_INTERVAL_S
            replies = call.drain()
            if call.suspended:
                call.resume()  # sampling goes on while this round is written
            for reply in replies:
                try:
                    await context.write(self._outgoing(reply))
                except Exception:
                    return  # the client cancelled or went away: a normal end of the call

    # ------------------------------------------------------------------ DAQ.Set

    async def _set(self, request: DAQ_pb2.SettingList, context: aio.ServicerContext) -> bytes:
        assert self._context is not None
        peer = context.peer()
        self._set_peers.append(peer)
        try:
            identity, refusal = self._identity(context.invocation_metadata())
            statuses = [self._apply(setting, identity, refusal) for setting in request.setting]
            await self._before_reply()
            return self._outgoing(DAQ_pb2.SettingReply(status=statuses).SerializeToString())
        finally:
            self._set_peers.remove(peer)

    def _apply(self, setting: DAQ_pb2.Setting, identity: Identity | None, refusal: str) -> Any:
        assert self._context is not None
        if identity is None:
            return status_to_proto(PRIVILEGE_REFUSED, refusal)
        try:
            request = parse_request(setting.device)
        except DRFError as error:
            return status_to_proto(BAD_REQUEST, str(error))
        decoded = value_from_proto(setting.value)
        if decoded is None:
            return status_to_proto(INVALID_DATA, "setting without a value")
        status = self._context.model.apply_setting(request, decoded[0], identity)
        return status_to_proto(status)

    def _identity(self, metadata: Any) -> tuple[Identity | None, str]:
        """The caller's identity from its bearer token, or None and the reason for refusing it."""
        assert self._context is not None
        header = next((value for key, value in metadata or () if key == "authorization"), None)
        if not isinstance(header, str) or not header.startswith("Bearer ") or not header[7:].strip():
            return None, "no bearer token"
        config = self._context.config
        try:
            import jwt
        except ImportError:
            return None, "the simulator cannot verify tokens: PyJWT is not installed"
        token = header[7:].strip()
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            key = {"HS256": config.jwt_secret, "RS256": config.jwt_public_key}.get(algorithm)
            if key is None:
                return None, f"tokens signed with {algorithm} are not accepted"
            claims = jwt.decode(token, key, algorithms=[algorithm], options={"verify_aud": False})
        except jwt.PyJWTError as error:
            return None, f"invalid token: {error}"
        return self._context.permissions.identity_from_jwt_claims(claims), ""

    # ------------------------------------------------------------------ DevDB

    async def _device_info(self, request: DevDB_pb2.DeviceList, context: aio.ServicerContext) -> bytes:
        assert self._context is not None
        devices = self._context.model.devices
        entries = []
        for name in request.device:
            device = devices.get(name.upper())
            info = DevDB_pb2.DeviceInfo()
            if device is not None:
                spec = device.spec
                info.device_index, info.description = spec.index, spec.description
                if spec.reading is not None:
                    info.reading.CopyFrom(_property(spec.reading))
                if spec.setting is not None:
                    info.setting.CopyFrom(_property(spec.setting))
                if spec.status is not None:
                    info.status.bits.extend(_status_bits(spec.status))
                    if spec.status.control:
                        info.control.cmds.extend(
                            DevDB_pb2.DigitalControlItem(
                                value=command.value, short_name=command.name, long_name=command.name.title()
                            )
                            for command in spec.status.commands
                        )
            entries.append(DevDB_pb2.InfoEntry(name=name, device=info))
        await self._before_reply()
        return self._outgoing(DevDB_pb2.DeviceInfoReply(set=entries).SerializeToString())

    async def _alarm_info(self, request: DevDB_pb2.DeviceList, context: aio.ServicerContext) -> bytes:
        assert self._context is not None
        model = self._context.model
        texts = self._alarm_texts()
        now = model.clock()
        infos = [info for name in request.device for info in alarm_infos(model, texts, name.upper(), now)]
        await self._before_reply()
        return self._outgoing(DevDB_pb2.AlarmInfoReply(alarm_info=infos).SerializeToString())

    async def _alarm_text(self, request: DevDB_pb2.AlarmTextIdList, context: aio.ServicerContext) -> bytes:
        texts = self._alarm_texts().texts
        found = [texts[text_id] for text_id in request.alarm_text_id if text_id in texts]
        await self._before_reply()
        return self._outgoing(DevDB_pb2.DeviceAlarmTextList(device_alarm_text=found).SerializeToString())

    def _alarm_texts(self) -> AlarmTexts:
        assert self._context is not None
        if self._texts is None:
            self._texts = AlarmTexts(self._context.model)
        return self._texts


def _property(spec: ValueSpec) -> DevDB_pb2.Property:
    scaling = spec.scaling
    prop = DevDB_pb2.Property(
        min_val=spec.minimum,
        max_val=spec.maximum,
        coeff=[scaling.primary_scale, scaling.primary_offset, scaling.common_scale, scaling.common_offset],
    )
    if spec.units is not None:
        prop.common_units = spec.units
    if spec.primary_units is not None:
        prop.primary_units = spec.primary_units
    return prop


def _status_bits(status: StatusSpec) -> list[DevDB_pb2.DigitalStatusItem]:
    """One item per attribute the device has: its bit mask and DevDB's name for it."""
    items = []
    for attribute in STATUS_ATTRIBUTES:
        if attribute not in status.initial:
            continue
        bit = status.bits[attribute]
        on_text, off_text = BIT_TEXTS[attribute]
        items.append(
            DevDB_pb2.DigitalStatusItem(
                mask_val=bit,
                match_val=bit,
                short_name=attribute.upper(),
                long_name=status.bit_names[attribute],
                true_str=on_text,
                false_str=off_text,
            )
        )
    return items


class AlarmTexts:
    """The alarm texts of the catalogue's alarm blocks: ids 1, 2, ... in catalogue order (analog block
    before digital), each with its device, property index and text."""

    def __init__(self, model: DeviceModel) -> None:
        self.by_block: dict[tuple[str, int], int] = {}
        self.texts: dict[int, DevDB_pb2.DeviceAlarmText] = {}
        for device in model.devices.values():
            spec = device.spec
            for pi, alarm, what in (
                (ANALOG_ALARM_PI, spec.analog_alarm, "outside its alarm limits"),
                (DIGITAL_ALARM_PI, spec.digital_alarm, "status not nominal"),
            ):
                if alarm is None:
                    continue
                text_id = len(self.texts) + 1
                text = f"{spec.name} {what}"[:80]
                self.by_block[spec.name, pi] = text_id
                self.texts[text_id] = DevDB_pb2.DeviceAlarmText(
                    alarm_text_id=text_id, length=len(text), priority=10 if alarm.abort else 5, text=text
                )


def alarm_infos(model: DeviceModel, texts: AlarmTexts, name: str, now: float) -> list[DevDB_pb2.AlarmInfo]:
    """The AlarmInfo entries of one device: one per alarm block, built from its raw 20-byte block."""
    device = model.devices.get(name)
    if device is None:
        return []
    spec: DeviceSpec = device.spec
    infos = []
    for pi, prop in ((ANALOG_ALARM_PI, "ANALOG"), (DIGITAL_ALARM_PI, "DIGITAL")):
        text_id = texts.by_block.get((spec.name, pi))
        if text_id is None:
            continue
        block = model.read(parse_request(f"{spec.name}.{prop}.RAW"), now).value
        assert isinstance(block, bytes)
        first, second = (int.from_bytes(block[i : i + 4], "little", signed=True) for i in (2, 6))
        info = DevDB_pb2.AlarmInfo(
            device_name=spec.name,
            alarm_block=DevDB_pb2.AlarmBlock(
                di=spec.index,
                pi=pi,
                status=int.from_bytes(block[0:2], "little"),
                min_or_nom=first,
                max_or_tol=second,
                tries_needed=block[10],
                tries_now=block[11],
                specific_data=block[14:20].hex(),
            ),
        )
        if pi == ANALOG_ALARM_PI:
            info.device_analog_alarm.CopyFrom(
                DevDB_pb2.DeviceAnalogAlarm(di=spec.index, alarm_text_id=text_id)
            )
        else:
            info.device_digital_alarm.CopyFrom(
                DevDB_pb2.DeviceDigitalAlarm(
                    di=spec.index, condition=first, mask=second, alarm_text_id=text_id
                )
            )
        infos.append(info)
    return infos


SERVER = GRPCServer
