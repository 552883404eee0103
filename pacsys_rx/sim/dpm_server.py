"""The simulator's DPM/HTTP server: the PC protocol over TCP (dpm-http.md §8), on the simulator loop.

One list per connection. Data comes from the shared event engine: each StartList subscribes the
list's entries, and every engine tick becomes ONE socket write per connection (Scalar replies are
encoded by a specialised path). A client that does not read loses data frames once its write
buffer passes :data:`WRITE_BUFFER_LIMIT` (counted in ``dropped_frames``); control replies are
always sent. Kerberos: with a keytab the server is a real GSS acceptor and checks the MIC; without
one it accepts any non-empty token (fake mode) and trusts ``ApplySettings.user_name``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from collections.abc import Iterator
from typing import Any

from pacsys_rx.drf import DataRequest, parse_request
from pacsys_rx.errors import AuthenticationError, DRFError, ProtocolError
from pacsys_rx.kerberos import AcceptorContext
from pacsys_rx.model import AcnetStatus, AnalogAlarm, BasicStatus, DigitalAlarm, TimedArray, ValueType
from pacsys_rx.protocols import pc
from pacsys_rx.protocols.pcitems import encode_double, encode_int
from pacsys_rx.sim.engine import Batch, Subscription
from pacsys_rx.sim.logger import History, is_logger_request
from pacsys_rx.sim.model import CYCLES_PER_MS, Sample
from pacsys_rx.sim.server import SimContext, SimServer

HEARTBEAT_INTERVAL = 2.0
WRITE_BUFFER_LIMIT = 8 << 20
"""Bytes queued for a client beyond which data frames are dropped."""
HELD_REPLY_LIMIT = 1000
"""Control replies kept while paused; later ones are dropped."""
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nNot Found"
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nService Unavailable"
REQUEST_LINE = b"GET /dpm HTTP/1.1"

PRIVILEGE = AcnetStatus.named("DPM_PRIV").packed
BAD_REQUEST = AcnetStatus.named("DPM_BAD_REQUEST").packed
NO_SUCH_LIST_ENTRY = AcnetStatus.named("DPM_NO_SUCH_DEVICE").packed

_LENGTH = struct.Struct(">I")
_DOUBLE = struct.Struct(">d")
_DATA_TAIL = pc.DATA_FIELD + encode_double(0.0)[:1]
"""What follows a Scalar frame's middle and precedes the 8 bytes of its value."""


def scalar_frame(ref_bytes: bytes, middle: bytes, value: float) -> bytes:
    """A Scalar reply frame from its encoded ref_id and the encoded timestamp/cycle/status part."""
    body_length = len(pc.SCALAR_PREFIX) + len(ref_bytes) + len(middle) + len(pc.DATA_FIELD) + 9
    return b"".join(
        (_LENGTH.pack(body_length), pc.SCALAR_PREFIX, ref_bytes, middle, pc.DATA_FIELD, encode_double(value)))


def scalar_middle(timestamp: int, cycle: int, status: int) -> bytes:
    """The encoded timestamp, cycle and status fields of a Scalar reply."""
    return b"".join((pc.TIMESTAMP_FIELD, encode_int(timestamp), pc.CYCLE_FIELD, encode_int(cycle),
                     pc.STATUS_FIELD, encode_int(status)))


def sample_reply(ref_id: int, sample: Sample) -> pc.DpmReply:
    """The data reply (or Status reply) carrying one model sample."""
    value, status = sample.value, sample.status.packed
    head = (ref_id, sample.timestamp, sample.cycle)
    if value is None:
        return pc.StatusReply(*head, status)
    kind = sample.value_type
    if isinstance(value, AnalogAlarm):
        return pc.AnalogAlarmReply(*head, value.minimum, value.maximum, value.alarm_enable,
                                   value.alarm_status, value.abort, value.abort_inhibit, value.tries_needed,
                                   value.tries_now)
    if isinstance(value, DigitalAlarm):
        return pc.DigitalAlarmReply(*head, value.nominal, value.mask, value.alarm_enable, value.alarm_status,
                                    value.abort, value.abort_inhibit, value.tries_needed, value.tries_now)
    if isinstance(value, BasicStatus):
        return pc.BasicStatusReply(*head, value.on, value.ready, value.remote, value.positive, value.ramp)
    if isinstance(value, TimedArray):
        return pc.TimedScalarArrayReply(*head, status, list(value.data), list(value.micros))
    if isinstance(value, (bytes, bytearray)):
        return pc.RawReply(*head, status, bytes(value))
    if isinstance(value, str):
        return pc.TextReply(*head, status, value)
    if isinstance(value, tuple):
        if kind is ValueType.TEXT_ARRAY:
            return pc.TextArrayReply(*head, status, [str(v) for v in value])
        return pc.ScalarArrayReply(*head, status, [float(v) for v in value])
    return pc.ScalarReply(*head, status, float(value))


def history_replies(ref_id: int, history: History) -> Iterator[pc.DpmReply]:
    """A logger answer as DPM replies (dpm-http.md §5.6): TimedScalarArray chunks of up to 487 samples
    or one ScalarArray per array record (its timestamp in microseconds), then an empty terminator of
    the same kind; a LOGGERSINGLE answer is one ordinary reply."""
    array = False
    for sample in history.chunks():
        if history.single:
            yield sample_reply(ref_id, sample)
            return
        array = isinstance(sample.value, tuple)
        if array:
            yield pc.ScalarArrayReply(ref_id, sample.timestamp * 1000, sample.cycle, 0,
                                      [float(v) for v in sample.value])  # type: ignore[union-attr]
        else:
            yield sample_reply(ref_id, sample)
    if array:
        yield pc.ScalarArrayReply(ref_id, 0, 0, 0, [])
    else:
        yield pc.TimedScalarArrayReply(ref_id, 0, 0, 0, [], [])


def _service_name(principal: str) -> str:
    """``daeset/localhost@FNAL.GOV`` -> ``daeset@localhost``, the form a DPM announces."""
    name = principal.rsplit("@", 1)[0]
    service, _, host = name.rpartition("/")
    return f"{service}@{host}" if service else name


class _Entry:
    __slots__ = ("_head", "_head_for", "drf", "ref_bytes", "request")

    def __init__(self, drf: str, request: DataRequest, ref_id: int) -> None:
        self.drf = drf
        self.request = request
        self.ref_bytes = encode_int(ref_id)
        self._head_for = -1
        self._head = b""

    def scalar_head(self, middle_length: int) -> bytes:
        """Length prefix, Scalar prefix and ref_id of a Scalar frame whose middle has that length."""
        if middle_length != self._head_for:
            self._head_for = middle_length
            body_length = len(pc.SCALAR_PREFIX) + len(self.ref_bytes) + middle_length + len(_DATA_TAIL) + 8
            self._head = _LENGTH.pack(body_length) + pc.SCALAR_PREFIX + self.ref_bytes
        return self._head


class _Session:
    """One client connection and its list."""

    def __init__(self, server: DpmServer, writer: asyncio.StreamWriter, list_id: int) -> None:
        self.server = server
        self.writer = writer
        self.transport = writer.transport
        self.list_id = list_id
        self.entries: dict[int, _Entry] = {}
        self.properties: dict[str, str] = {}
        self.subscription: Subscription | None = None
        self.acceptor: AcceptorContext | None = None
        self.authenticated = False
        self.principal: str | None = None
        self.settings_enabled = False
        self.held: list[bytes] = []
        self._middles: dict[tuple[int, int, int], bytes] = {}
        self.logged_windows: set[str] = set()
        """Logger entries this list answered: the real server ignores a repeat (dpm-http.md §5.6)."""
        self.history_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ output

    def reply(self, *messages: pc.DpmReply) -> None:
        """Send control replies (held while the server is paused)."""
        data = b"".join(pc.encode_frame(message) for message in messages)
        if self.server.paused:
            if len(self.held) < HELD_REPLY_LIMIT:
                self.held.append(data)
            return
        self.server.send(self, data)

    def on_batch(self, batch: Batch) -> None:
        """Engine sink: every sample due this tick, encoded into one write."""
        server = self.server
        if server.paused or self.transport.is_closing():
            return
        if self.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            server.dropped_frames += len(batch)
            return
        entries = self.entries
        middles = self._middles
        parts: list[bytes] = []
        append = parts.append
        pack_double = _DOUBLE.pack
        scalar = ValueType.SCALAR
        last_key: tuple[int, int, AcnetStatus] | None = None
        middle_tail, middle_length = b"", 0
        for ref_id, sample in batch:
            entry = entries.get(ref_id)
            if entry is None:
                continue
            value = sample.value
            if sample.value_type is scalar and value is not None:
                # Scalar frame: head (length, prefix, ref_id) + middle + data tag + the value's 8 bytes;
                # samples of one tick share their middle, so it is looked up once per change.
                key = (sample.timestamp, sample.cycle, sample.status)
                if key != last_key:
                    last_key = key
                    packed = (key[0], key[1], key[2].packed)
                    middle = middles.get(packed)
                    if middle is None:
                        if len(middles) > 64:
                            middles.clear()
                        middle = middles[packed] = scalar_middle(*packed)
                    middle_tail, middle_length = middle + _DATA_TAIL, len(middle)
                append(entry.scalar_head(middle_length))
                append(middle_tail)
                append(pack_double(float(value)))  # type: ignore[arg-type]
            else:
                append(pc.encode_frame(sample_reply(ref_id, sample)))
        if parts:
            server.send(self, b"".join(parts))

    def flush_held(self) -> None:
        held, self.held = self.held, []
        for data in held:
            self.server.send(self, data)

    # ------------------------------------------------------------------ requests

    def handle(self, request: pc.DpmRequest) -> None:
        handler = getattr(self, "_on_" + type(request).__name__, None)
        if handler is None:
            raise ProtocolError(f"{type(request).__name__} is not served over TCP")
        handler(request)

    def _on_AddToListRequest(self, request: pc.AddToListRequest) -> None:
        ref_id, text = request.ref_id, request.drf_request
        if ref_id == 0 and text.startswith("#"):
            name, _, value = text[1:].partition(":")
            self.properties[name.upper()] = value
            self.reply(pc.AddToListReply(self.list_id, 0, 0))
            return
        try:
            parsed = parse_request(text)
        except DRFError:
            self.reply(pc.AddToListReply(self.list_id, ref_id, BAD_REQUEST))
            return
        model = self.server.context.model
        error = model.entry_error(parsed)
        if error is not None and self.server.refuse_bad_entries:
            self.reply(pc.AddToListReply(self.list_id, ref_id, error.packed))
            return
        self.entries[ref_id] = _Entry(text, parsed, ref_id)
        replies: list[pc.DpmReply] = [pc.AddToListReply(self.list_id, ref_id, 0)]
        meta = model.device_meta(parsed.device)
        if meta is not None:
            replies.append(
                pc.DeviceInfoReply(ref_id, meta.device_index, meta.name, meta.description, meta.units))
        self.reply(*replies)

    def _on_RemoveFromListRequest(self, request: pc.RemoveFromListRequest) -> None:
        found = self.entries.pop(request.ref_id, None)
        status = 0 if found is not None else NO_SUCH_LIST_ENTRY
        self.reply(pc.RemoveFromListReply(self.list_id, request.ref_id, status))

    def _on_StartListRequest(self, request: pc.StartListRequest) -> None:
        self.stop_data()
        self.reply(pc.StartListReply(self.list_id, 0))
        logged = [(ref, entry) for ref, entry in self.entries.items() if is_logger_request(entry.request)]
        if logged:
            self._start_history(logged)
        refs = [ref for ref, entry in self.entries.items() if not is_logger_request(entry.request)]
        if refs:
            requests = [self.entries[ref_id].request for ref_id in refs]
            self.subscription = self.server.context.engine.subscribe(requests, self.on_batch, refs)

    def _start_history(self, logged: list[tuple[int, _Entry]]) -> None:
        """Answer logger entries in chunks; an entry whose window this list already answered gets nothing."""
        context = self.server.context
        now = context.engine.time()
        answers = []
        for ref_id, entry in logged:
            if entry.drf in self.logged_windows:
                continue
            self.logged_windows.add(entry.drf)
            answers.append((ref_id, context.data_logger.answer(entry.request, now)))
        if answers:
            self.history_task = context.loop.create_task(self._send_history(answers, now))

    async def _send_history(self, answers: list[tuple[int, History | AcnetStatus]], now: float) -> None:
        for ref_id, answer in answers:
            if isinstance(answer, AcnetStatus):
                self.reply(pc.StatusReply(ref_id, int(now), int(now * CYCLES_PER_MS), answer.packed))
                continue
            for reply in history_replies(ref_id, answer):
                self.reply(reply)
                await asyncio.sleep(0)

    def _on_StopListRequest(self, request: pc.StopListRequest) -> None:
        self.stop_data()
        if self.server.answer_stop:
            self.reply(pc.StatusReply(0, 0, 0, 0))

    def _on_ClearListRequest(self, request: pc.ClearListRequest) -> None:
        self.entries.clear()
        self.properties.clear()
        if self.server.answer_clear:
            self.reply(pc.ListStatusReply(self.list_id, 0))

    def _on_AuthenticateRequest(self, request: pc.AuthenticateRequest) -> None:
        config = self.server.context.config
        if not request.token:
            self.reply(pc.AuthenticateReply(service_name=_service_name(config.service_principal)))
            return
        if config.keytab is None:
            self.authenticated = True
            self.reply(pc.AuthenticateReply())
            return
        try:
            if self.acceptor is None or self.acceptor.complete:
                self.acceptor = AcceptorContext(config.keytab, config.service_principal)
            token = self.acceptor.step(request.token)
            if self.acceptor.complete:
                self.principal = self.acceptor.initiator
                self.authenticated = True
        except AuthenticationError as exc:
            self.server.context.logger.info("dpm: list %d: authentication refused: %s", self.list_id, exc)
            self.acceptor = None
            self.reply(pc.StatusReply(0, 0, 0, PRIVILEGE))
            return
        self.reply(pc.AuthenticateReply(token=token))

    def _on_EnableSettingsRequest(self, request: pc.EnableSettingsRequest) -> None:
        enabled = self.authenticated
        if enabled and self.acceptor is not None:
            try:
                self.acceptor.verify_mic(request.message, request.mic)
            except AuthenticationError as exc:
                self.server.context.logger.info("dpm: list %d: MIC refused: %s", self.list_id, exc)
                enabled = False
        self.settings_enabled = enabled
        self.reply(pc.StatusReply(0, 0, 0, 0 if enabled else PRIVILEGE))

    def _on_ApplySettingsRequest(self, request: pc.ApplySettingsRequest) -> None:
        settings: list[tuple[int, Any]] = [(s.ref_id, s.data) for s in request.raw_array or ()]
        for group in (request.scaled_array or (), request.text_array or ()):
            settings.extend((s.ref_id, s.data[0] if len(s.data) == 1 else list(s.data)) for s in group)
        if not self.settings_enabled:
            self.reply(pc.ApplySettingsReply([pc.SettingStatus(ref_id, PRIVILEGE) for ref_id, _ in settings]))
            return
        context = self.server.context
        principal = self.principal if self.acceptor is not None else (request.user_name or None)
        identity = context.permissions.identity(principal, self.properties.get("ROLE"))
        results = []
        for ref_id, value in settings:
            entry = self.entries.get(ref_id)
            if entry is None:
                results.append(pc.SettingStatus(ref_id, NO_SUCH_LIST_ENTRY))
                continue
            status = context.model.apply_setting(entry.request, value, identity)
            results.append(pc.SettingStatus(ref_id, status.packed))
        self.reply(pc.ApplySettingsReply(results))

    def stop_data(self) -> None:
        if self.subscription is not None:
            self.subscription.cancel()
            self.subscription = None
        if self.history_task is not None:
            self.history_task.cancel()
            self.history_task = None


class DpmServer(SimServer):
    """DPM/HTTP on TCP. Switches: ``refuse_bad_entries`` (refuse unknown devices in the AddToList
    reply, else accept them and send a ``Status`` later), ``answer_stop``/``answer_clear`` (answer
    StopList with ``Status(ref_id 0)`` and ClearList with ``ListStatus`` as the ACNET transport does;
    off by default, since the TCP service answers neither), ``http_refusal`` (answer every handshake
    with 503)."""

    name = "dpm"

    def __init__(self) -> None:
        self.refuse_bad_entries = True
        self.answer_stop = False
        self.answer_clear = False
        self.http_refusal = False
        self.paused = False
        self.dropped_frames = 0
        self._sessions: dict[int, _Session] = {}
        self._list_ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._resumed = asyncio.Event()
        self._corrupt_next = False
        self._reply_delay = 0.0
        self._context: SimContext | None = None

    @property
    def context(self) -> SimContext:
        if self._context is None:
            raise RuntimeError("the dpm server is not started")
        return self._context

    # ------------------------------------------------------------------ life cycle

    async def start(self, context: SimContext) -> str:
        self._context = context
        self._resumed = asyncio.Event()
        self._resumed.set()
        self.paused = False
        self._server = await asyncio.start_server(self._serve, context.config.host, context.port(self.name))
        self.bound_port = self._server.sockets[0].getsockname()[1]
        self._heartbeat = asyncio.ensure_future(self._beat())
        return f"{context.config.host}:{self.bound_port}"

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        if self._server is not None:
            self._server.close()
            await self._drop_all()
            await self._server.wait_closed()
            self._server = None

    def counters(self) -> dict[str, int]:
        sessions = list(self._sessions.values())
        return {
            "connections": len(sessions),
            "lists": len(sessions),
            "list_entries": sum(len(s.entries) for s in sessions),
            "subscriptions": sum(1 for s in sessions if s.subscription is not None),
            "dropped_frames": self.dropped_frames,
        }

    # ------------------------------------------------------------------ fault hooks

    async def drop_connections(self) -> None:
        await self._drop_all()

    def pause(self) -> None:
        self.paused = True
        self._resumed.clear()

    def resume(self) -> None:
        self.paused = False
        self._resumed.set()
        for session in list(self._sessions.values()):
            session.flush_held()

    def corrupt_next_frame(self) -> None:
        self._corrupt_next = True

    def set_reply_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"reply delay must not be negative, got {seconds}")
        self._reply_delay = seconds

    # ------------------------------------------------------------------ internals

    def send(self, session: _Session, data: bytes) -> None:
        """Write frames to a client, applying the corrupt-frame and reply-delay faults."""
        if self._corrupt_next:
            self._corrupt_next = False
            data = data[:4] + b"\xde\xad\xbe\xef" + data[8:]
        if self._reply_delay:
            self.context.loop.call_later(self._reply_delay, self._write, session, data)
        else:
            self._write(session, data)

    @staticmethod
    def _write(session: _Session, data: bytes) -> None:
        if not session.transport.is_closing():
            session.transport.write(data)

    async def _drop_all(self) -> None:
        for session in list(self._sessions.values()):
            session.stop_data()
            session.transport.abort()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        for task in handlers:
            with contextlib.suppress(BaseException):
                await task

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            if self.paused:
                continue
            for session in list(self._sessions.values()):
                session.reply(pc.ListStatusReply(session.list_id, 0))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        session: _Session | None = None
        logger = self.context.logger
        try:
            if not await self._handshake(reader, writer):
                return
            list_id = next(self._list_ids)
            session = self._sessions[list_id] = _Session(self, writer, list_id)
            session.reply(pc.OpenListReply(list_id))
            while True:
                head = await reader.readexactly(4)
                await self._resumed.wait()
                length = _LENGTH.unpack(head)[0]
                if not 0 < length <= pc.MAX_FRAME_LENGTH:
                    logger.warning("dpm: list %d: frame length %d; closing the connection", list_id, length)
                    return
                body = await reader.readexactly(length)
                await self._resumed.wait()
                try:
                    request = pc.decode_request(body)
                    session.handle(request)
                except ProtocolError as exc:
                    logger.warning("dpm: list %d: bad request (%s); closing the connection", list_id, exc)
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass
        except Exception:
            logger.exception("dpm: connection failed")
        finally:
            if session is not None:
                session.stop_data()
                self._sessions.pop(session.list_id, None)
            if task is not None:
                self._handlers.discard(task)
            writer.close()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read the HTTP-style request; answer 404/503 and return False unless it is ``GET /dpm``."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError):
            return False
        if head.split(b"\r\n", 1)[0].strip() != REQUEST_LINE:
            writer.write(NOT_FOUND)
            return False
        if self.http_refusal:
            writer.write(UNAVAILABLE)
            return False
        return True


SERVER = DpmServer

__all__ = ["SERVER", "DpmServer", "sample_reply", "scalar_frame", "scalar_middle"]
