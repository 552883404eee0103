"""The simulator behaves like the real services where a client written against them depends on it.

Each test speaks the wire protocol as such a client does: raw PC frames over a TCP socket (DPM/HTTP)
or the generated gRPC stubs (DAQ, DevDB), not only through this project's own backends.
"""

from __future__ import annotations

import itertools
import socket
import struct
import time
from collections.abc import Callable, Iterator

import grpc
import jwt
import pytest
from reactivex import operators as rxops

from pacsys_rx.backends.dpm import DPMBackend
from pacsys_rx.backends.grpc import GRPCBackend
from pacsys_rx.model import AcnetStatus, ValueType
from pacsys_rx.protocols import pc
from pacsys_rx.protocols.proto import DAQ_pb2, DAQ_pb2_grpc, DevDB_pb2, DevDB_pb2_grpc, device_pb2
from pacsys_rx.sim import Permissions, Simulator
from pacsys_rx.sim.dpm_server import DpmServer

SECRET = "fidelity-test-secret-of-at-least-32-bytes"
OPERATOR = "operator@FNAL.GOV"
"""A principal whose console class admits every simulated device (0x8000 included)."""
OK = 0


def status(name: str) -> int:
    return AcnetStatus.named(name).packed


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    permissions = Permissions(roles={"testing": ("Z:ACLTS*",)}, authenticated_console_class=0x0001,
                              principal_console_classes={OPERATOR: 0x8001})
    with Simulator(seed=3, servers=["dpm", "grpc"], jwt_secret=SECRET, permissions=permissions) as simulator:
        yield simulator


class RawDpm:
    """A DPM/HTTP client made of a socket and the PC codec: sends requests, returns replies as they come."""

    def __init__(self, endpoint: str) -> None:
        host, port = endpoint.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5.0)
        self.sock.sendall(pc.HANDSHAKE)
        self.decoder = pc.FrameDecoder(decode=pc.decode_reply)
        self.queue: list[pc.DpmMessage] = []
        opened = self.next()
        assert isinstance(opened, pc.OpenListReply)
        self.list_id = opened.list_id

    def close(self) -> None:
        self.sock.close()

    def send(self, *requests: pc.DpmRequest) -> None:
        self.sock.sendall(b"".join(pc.encode_frame(request) for request in requests))

    def next(self, timeout: float = 5.0, skip_heartbeats: bool = False) -> pc.DpmMessage:
        """The next reply (optionally the next one that is not a ``ListStatus`` heartbeat)."""
        deadline = time.monotonic() + timeout
        while True:
            while self.queue:
                message = self.queue.pop(0)
                if not (skip_heartbeats and isinstance(message, pc.ListStatusReply)):
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from the simulator")
            self.sock.settimeout(left)
            data = self.sock.recv(1 << 16)
            assert data, "the simulator closed the connection"
            self.queue.extend(self.decoder.feed(data))

    def until(self, wanted: Callable[[pc.DpmMessage], bool], timeout: float = 5.0) -> list[pc.DpmMessage]:
        """Replies up to and including the first one ``wanted`` accepts."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            message = self.next(max(0.0, deadline - time.monotonic()))
            seen.append(message)
            if wanted(message):
                return seen

    def read_once(self, ref_id: int, drf: str) -> pc.DpmMessage:
        """AddToList + StartList for one entry; its first data or Status reply."""
        self.send(pc.AddToListRequest(self.list_id, ref_id, drf), pc.StartListRequest(self.list_id))
        return self.until(lambda m: isinstance(m, (pc.StatusReply, *DATA_REPLIES)) and _ref(m) == ref_id)[-1]

    def read_together(self, *entries: tuple[int, str]) -> dict[int, pc.DpmMessage]:
        """One list of several ``@I`` entries started at once: each entry's first data or Status reply."""
        self.send(*(pc.AddToListRequest(self.list_id, ref_id, drf) for ref_id, drf in entries),
                  pc.StartListRequest(self.list_id))
        replies: dict[int, pc.DpmMessage] = {}
        wanted = {ref_id for ref_id, _ in entries}

        def complete(message: pc.DpmMessage) -> bool:
            if isinstance(message, (pc.StatusReply, *DATA_REPLIES)) and _ref(message) in wanted:
                replies.setdefault(message.ref_id, message)
            return set(replies) == wanted

        self.until(complete)
        return replies

    def enable_settings(self, user: str) -> None:
        """The fake-mode Kerberos exchange and EnableSettings (the simulator runs without a keytab)."""
        self.send(pc.AuthenticateRequest(self.list_id, b""))
        assert isinstance(self.next(skip_heartbeats=True), pc.AuthenticateReply)
        self.send(pc.AuthenticateRequest(self.list_id, b"token"))
        assert isinstance(self.next(skip_heartbeats=True), pc.AuthenticateReply)
        self.send(pc.EnableSettingsRequest(self.list_id, b"mic", b"1234"))
        enabled = self.next(skip_heartbeats=True)
        assert isinstance(enabled, pc.StatusReply) and enabled.status == OK
        self.user = user

    def apply(self, ref_id: int, drf: str, setting: pc.RawSetting | pc.ScaledSetting) -> pc.DpmMessage:
        """The real client's write: Stop, Clear, AddToList(@N) + StartList, then ApplySettings."""
        self.send(pc.StopListRequest(self.list_id), pc.ClearListRequest(self.list_id),
                  pc.AddToListRequest(self.list_id, ref_id, drf), pc.StartListRequest(self.list_id))
        added = self.until(lambda m: isinstance(m, pc.AddToListReply) and m.ref_id == ref_id)[-1]
        assert isinstance(added, pc.AddToListReply) and added.status == OK, added
        self.until(lambda m: isinstance(m, pc.StartListReply))
        raw = [setting] if isinstance(setting, pc.RawSetting) else None
        scaled = [setting] if isinstance(setting, pc.ScaledSetting) else None
        self.send(pc.ApplySettingsRequest(self.user, self.list_id, raw, scaled))
        return self.until(lambda m: isinstance(m, pc.ApplySettingsReply))[-1]


DATA_REPLIES = (pc.ScalarReply, pc.ScalarArrayReply, pc.RawReply, pc.TextReply, pc.TextArrayReply,
                pc.TimedScalarArrayReply, pc.AnalogAlarmReply, pc.DigitalAlarmReply, pc.BasicStatusReply)


def _ref(message: pc.DpmMessage) -> int | None:
    return getattr(message, "ref_id", None)


@pytest.fixture
def raw_dpm(sim: Simulator) -> Iterator[RawDpm]:
    client = RawDpm(sim.endpoints["dpm"])
    yield client
    client.close()


def write_status(client: RawDpm, drf: str, setting: pc.RawSetting | pc.ScaledSetting) -> int:
    reply = client.apply(setting.ref_id, drf, setting)
    assert isinstance(reply, pc.ApplySettingsReply)
    return reply.status[0].status


# ------------------------------------------------------------------------ 1. StopList / ClearList


def test_stop_and_clear_get_no_answer_so_the_next_reply_belongs_to_the_next_request(raw_dpm: RawDpm) -> None:
    first = raw_dpm.read_once(1, "M:OUTTMP@I")
    assert isinstance(first, pc.ScalarReply)
    raw_dpm.send(pc.StopListRequest(raw_dpm.list_id), pc.ClearListRequest(raw_dpm.list_id),
                 pc.AddToListRequest(raw_dpm.list_id, 2, "B:BOOSBP@I"), pc.StartListRequest(raw_dpm.list_id))
    assert raw_dpm.next(skip_heartbeats=True) == pc.AddToListReply(raw_dpm.list_id, 2, OK)


@pytest.fixture
def answering(sim: Simulator) -> Iterator[DpmServer]:
    """The DPM server answering StopList and ClearList as the ACNET transport does (a switch)."""
    server = sim.server("dpm")
    assert isinstance(server, DpmServer)
    server.answer_stop = server.answer_clear = True
    yield server
    server.answer_stop = server.answer_clear = False


def test_the_answering_switch_sends_status_and_list_status(answering: DpmServer, raw_dpm: RawDpm) -> None:
    raw_dpm.send(pc.StopListRequest(raw_dpm.list_id), pc.ClearListRequest(raw_dpm.list_id))
    assert raw_dpm.next(skip_heartbeats=True) == pc.StatusReply(0, 0, 0, 0)
    assert isinstance(raw_dpm.next(), pc.ListStatusReply)


@pytest.mark.parametrize("answer", [False, True], ids=["unanswered", "answered"])
def test_own_client_reuses_pooled_connections_correctly_either_way(sim: Simulator, answer: bool) -> None:
    server = sim.server("dpm")
    assert isinstance(server, DpmServer)
    server.answer_stop = server.answer_clear = answer
    try:
        host, port = sim.endpoints["dpm"].rsplit(":", 1)
        with DPMBackend(host, int(port), timeout=5.0, pool_size=1) as dpm:
            for _ in range(3):  # one pooled connection: every read follows the previous Stop + Clear
                text = dpm.read("B:BOOSBP").run()
                number = dpm.read("M:OUTTMP").run()
                assert (text.value, text.value_type) == ("BEAM PERMIT OK", ValueType.TEXT)
                assert number.value_type is ValueType.SCALAR and isinstance(number.value, float)
    finally:
        server.answer_stop = server.answer_clear = False


# ------------------------------------------------------------------------ 2. set-only property with @N


def test_control_entry_with_never_event_is_accepted_and_the_write_applies(raw_dpm: RawDpm) -> None:
    raw_dpm.enable_settings("tester@FNAL.GOV")
    assert write_status(raw_dpm, "Z:ACLTST.CONTROL@N", pc.ScaledSetting(1, [1.0])) == OK  # ON
    on = raw_dpm.read_once(2, "Z:ACLTST.STATUS.ON@I")
    assert isinstance(on, pc.ScalarReply) and on.data == 1.0
    assert write_status(raw_dpm, "Z:ACLTST.CONTROL@N", pc.ScaledSetting(3, [2.0])) == OK  # OFF


def test_reading_the_control_property_is_still_refused(raw_dpm: RawDpm) -> None:
    raw_dpm.send(pc.AddToListRequest(raw_dpm.list_id, 1, "Z:ACLTST.CONTROL@I"))
    reply = raw_dpm.next(skip_heartbeats=True)
    assert reply == pc.AddToListReply(raw_dpm.list_id, 1, status("DIO_SETONLY"))


# ------------------------------------------------------------------------ 3. alarm blocks as raw bytes


def test_analog_alarm_block_reads_and_writes_as_twenty_raw_bytes(raw_dpm: RawDpm) -> None:
    block = raw_dpm.read_once(1, "N:H801.ANALOG{0:20}.RAW@I")
    assert isinstance(block, pc.RawReply) and block.status == OK and len(block.data) == 20
    flags, low, high, needed = struct.unpack_from("<Hiib", block.data)
    assert flags & 1 and (low, high, needed) == (-5000, 5000, 2)  # raw = A / 0.001
    changed = struct.pack("<Hiibb", 1, -4000, 4500, 3, 0) + block.data[12:]
    raw_dpm.enable_settings(OPERATOR)
    assert write_status(raw_dpm, "N:H801.ANALOG{0:20}.RAW@N", pc.RawSetting(2, changed)) == OK
    alarm = raw_dpm.read_once(3, "N:H801.ANALOG@I")
    assert isinstance(alarm, pc.AnalogAlarmReply)
    assert (alarm.minimum, alarm.maximum, alarm.tries_needed) == (-4.0, 4.5, 3)


def test_digital_alarm_block_of_a_device_without_one_is_no_property(raw_dpm: RawDpm) -> None:
    raw_dpm.send(pc.AddToListRequest(raw_dpm.list_id, 1, "M:OUTTMP.DIGITAL{0:20}.RAW@I"))
    assert raw_dpm.next(skip_heartbeats=True) == pc.AddToListReply(raw_dpm.list_id, 1, status("DBM_NOPROP"))
    assert AcnetStatus.named("DBM_NOPROP").facility == 16


# ------------------------------------------------------------------------ 4. device modelling


def test_booster_15_hz_clock_event_0c_drives_a_stream(raw_dpm: RawDpm) -> None:
    list_id = raw_dpm.list_id
    raw_dpm.send(pc.AddToListRequest(list_id, 1, "M:OUTTMP@e,0C"), pc.StartListRequest(list_id))
    samples = [raw_dpm.until(lambda m: isinstance(m, pc.ScalarReply))[-1] for _ in range(8)]
    times = [s.timestamp for s in samples if isinstance(s, pc.ScalarReply)]
    assert all(60 <= b - a <= 75 for a, b in itertools.pairwise(times)), times


def test_dec_f_float_raw_setting_reads_back_in_every_unit(raw_dpm: RawDpm) -> None:
    raw_dpm.enable_settings("tester@FNAL.GOV")
    assert write_status(raw_dpm, "Z:ACLTST.SETTING.RAW@N", pc.RawSetting(1, bytes.fromhex("34430000"))) == OK
    scaled = raw_dpm.read_once(2, "Z:ACLTST.SETTING@I")
    primary = raw_dpm.read_once(3, "Z:ACLTST.SETTING.PRIMARY@I")
    raw = raw_dpm.read_once(4, "Z:ACLTST.SETTING.RAW@I")
    assert isinstance(scaled, pc.ScalarReply) and isinstance(primary, pc.ScalarReply)
    assert (scaled.data, primary.data) == (45.0, 45.0)
    assert isinstance(raw, pc.RawReply) and raw.data == bytes.fromhex("34430000")


def test_ieee_raw_formats(raw_dpm: RawDpm) -> None:
    replies = raw_dpm.read_together((1, "Z:ACLTS6.RAW@I"), (2, "Z:ACLTS6@I"), (3, "Z:ACLTS7.RAW@I"))
    single, scaled, double = replies[1], replies[2], replies[3]  # one list: one sample time
    assert isinstance(single, pc.RawReply) and isinstance(scaled, pc.ScalarReply)
    assert struct.unpack("<f", single.data)[0] == pytest.approx(scaled.data, abs=1e-3)
    assert isinstance(double, pc.RawReply) and 0.8 < struct.unpack("<d", double.data)[0] < 1.2


def test_control_table_ordinals(raw_dpm: RawDpm) -> None:
    raw_dpm.enable_settings("tester@FNAL.GOV")
    for ordinal in range(7, 12):  # TEST .. TEST5: accepted, no status bit changes
        before = raw_dpm.read_once(ordinal * 2, "Z:ACLTST.STATUS.BIT_VALUE@I")
        assert write_status(raw_dpm, "Z:ACLTST.CONTROL@N", pc.ScaledSetting(1, [float(ordinal)])) == OK
        after = raw_dpm.read_once(ordinal * 2 + 1, "Z:ACLTST.STATUS.BIT_VALUE@I")
        assert isinstance(before, pc.ScalarReply) and isinstance(after, pc.ScalarReply)
        assert before.data == after.data
    assert write_status(raw_dpm, "Z:ACLTST.CONTROL@N", pc.ScaledSetting(1, [25.0])) == status("DIO_BADARG")
    for ordinal, bit in ((1, 0x1), (3, 0x8), (5, 0x200)):  # ON, POSITIVE, RAMP
        assert write_status(raw_dpm, "Z:ACLTST.CONTROL@N", pc.ScaledSetting(1, [float(ordinal)])) == OK
        word = raw_dpm.read_once(100 + ordinal, "Z:ACLTST.STATUS.BIT_VALUE@I")
        assert isinstance(word, pc.ScalarReply) and int(word.data) & bit


def test_ramp_table_reads_and_writes_by_slot(raw_dpm: RawDpm) -> None:
    table = b"".join(struct.pack("<hh", 3277 * (i % 3), 10 * i) for i in range(64))
    raw_dpm.enable_settings(OPERATOR)
    assert write_status(raw_dpm, "B:HS23T.SETTING{768:256}.RAW@N", pc.RawSetting(1, table)) == OK
    back = raw_dpm.read_once(2, "B:HS23T.SETTING{768:256}.RAW@I")
    assert isinstance(back, pc.RawReply) and back.data == table
    point = raw_dpm.read_once(3, "B:HS23T.SETTING[193]@I")  # slot 3, point 1: raw 3277, C1/C2 = 2
    assert isinstance(point, pc.ScalarReply) and point.data == pytest.approx(3277 / 3276.8 * 2.0)
    for name in ("B:QS23T", "R:QT606T"):
        slot = raw_dpm.read_once(4, f"{name}.SETTING{{{63 * 256}:256}}.RAW@I")
        assert isinstance(slot, pc.RawReply) and len(slot.data) == 256


# ------------------------------------------------------------------------ 4, 5. DevDB


@pytest.fixture
def channel(sim: Simulator) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(sim.endpoints["grpc"]) as opened:
        yield opened


def test_devdb_describes_z_acltst_as_the_real_devdb_does(channel: grpc.Channel) -> None:
    devdb = DevDB_pb2_grpc.DevDBStub(channel)
    reply = devdb.getDeviceInfo(DevDB_pb2.DeviceList(device=["Z:ACLTST"]), timeout=5)
    info = reply.set[0].device
    assert info.description == "ACL test device!"
    assert (info.reading.min_val, info.reading.max_val) == (-500.0, 500.0)
    assert [(c.value, c.short_name) for c in info.control.cmds] == [
        (3, "RESET"), (1, "ON"), (2, "OFF"), (4, "POSITIVE"), (16, "NEGATIVE"), (5, "RAMP"), (6, "DC"),
        (8, "TEST"), (256, "TEST2"), (257, "TEST3"), (258, "TEST4"), (259, "TEST5")]
    assert {bit.long_name: bit.mask_val for bit in info.status.bits} == {
        "OnOff": 0x1, "Ready": 0x2, "Polarity": 0x8, "RampDC": 0x200}


def test_devdb_serves_alarm_info_and_alarm_text(channel: grpc.Channel) -> None:
    stub = DevDB_pb2_grpc.DevDBStub(channel)
    infos = stub.getAllAlarmInfo(DevDB_pb2.DeviceList(device=["Z:ACLTST", "M:OUTTMP", "X:NOSUCH"]),
                                 timeout=5).alarm_info
    assert [(i.device_name, i.alarm_block.pi) for i in infos] == [("Z:ACLTST", 21), ("Z:ACLTST", 22)]
    analog, digital = infos
    assert analog.alarm_block.di == 140013 and analog.alarm_block.tries_needed == 2
    assert analog.HasField("device_analog_alarm") and not analog.HasField("device_digital_alarm")
    assert (digital.device_digital_alarm.condition, digital.device_digital_alarm.mask) == (2, 3)
    ids = [analog.device_analog_alarm.alarm_text_id, digital.device_digital_alarm.alarm_text_id, 99999]
    texts = stub.getAlarmText(DevDB_pb2.AlarmTextIdList(alarm_text_id=ids), timeout=5).device_alarm_text
    assert [t.alarm_text_id for t in texts] == ids[:2] and all("Z:ACLTST" in t.text for t in texts)


def test_control_ordinals_write_over_grpc_set(channel: grpc.Channel) -> None:
    token = jwt.encode({"sub": "tester@FNAL.GOV", "realm_access": {"roles": ["testing"]},
                        "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")
    settings = [DAQ_pb2.Setting(device="Z:ACLTST.CONTROL@N", value=device_pb2.Value(scalar=float(n)))
                for n in (7, 11, 25)]
    reply = DAQ_pb2_grpc.DAQStub(channel).Set(DAQ_pb2.SettingList(setting=settings), timeout=5,
                                              metadata=[("authorization", f"Bearer {token}")])
    assert [(s.facility_code, s.status_code) for s in reply.status] == [(0, 0), (0, 0), (14, -8)]


# ------------------------------------------------------------------------ 6. <-FTP


def test_ftp_over_dpm_is_a_timed_scalar_array_at_the_requested_rate(raw_dpm: RawDpm) -> None:
    reply = raw_dpm.read_once(1, "M:OUTTMP.READING@I<-FTP:200")
    assert isinstance(reply, pc.TimedScalarArrayReply) and reply.status == OK
    assert len(reply.data) == len(reply.micros) == 200  # one 1 s window (the default period) at 200 Hz
    assert {b - a for a, b in itertools.pairwise(reply.micros)} == {5000}
    assert all(70.0 <= value <= 75.0 for value in reply.data)


def test_ftp_over_grpc_is_a_reply_of_timed_samples(channel: grpc.Channel) -> None:
    call = DAQ_pb2_grpc.DAQStub(channel).Read(DAQ_pb2.ReadingList(drf=["M:OUTTMP@p,500<-FTP:100"]), timeout=5)
    try:
        reply = next(iter(call))
    finally:
        call.cancel()
    samples = reply.readings.reading
    assert len(samples) == 50 and all(s.data.WhichOneof("value") == "scalar" for s in samples)
    nanos = [s.timestamp.seconds * 10**9 + s.timestamp.nanos for s in samples]
    assert {b - a for a, b in itertools.pairwise(nanos)} == {10_000_000}


@pytest.mark.parametrize("backend_name", ["dpm", "grpc"])
def test_own_clients_deliver_ftp_samples_as_readings(sim: Simulator, backend_name: str) -> None:
    host, port = sim.endpoints[backend_name].rsplit(":", 1)
    backend = DPMBackend(host, int(port), timeout=5.0) if backend_name == "dpm" \
        else GRPCBackend(host, int(port), timeout=5.0)
    with backend:
        readings = backend.stream("M:OUTTMP@p,500<-FTP:100").pipe(rxops.take(120), rxops.to_list()).run()
    assert all(r.ok and r.value_type is ValueType.SCALAR for r in readings)
    stamps = [r.timestamp for r in readings]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert (stamps[1] - stamps[0]).total_seconds() == pytest.approx(0.01)
