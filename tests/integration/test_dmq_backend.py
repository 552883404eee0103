"""DMQ client against the simulated DMQ server on the real RabbitMQ broker, with the throwaway realm.

Each module run gets its own virtual host (``rabbitmqctl add_vhost``), so parallel runs and other
simulators on the same broker never see each other's INITs. A broker that cannot be reached is a
failure with an explanation, not a skip.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pika
import pytest
import reactivex
from broker import BROKER, rabbitmqctl
from kdc import KerberosRealm
from polling import wait_for
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx.backends._gaps import CONNECTION_LOST
from pacsys_rx.backends.dmq import DMQBackend
from pacsys_rx.kerberos import DMQ_SERVICE_PRINCIPAL, ClientContext, dmq_signed_bytes
from pacsys_rx.model import AnalogAlarm, BasicStatus, DigitalAlarm, Reading, ValueType
from pacsys_rx.protocols import sdd
from pacsys_rx.sim.host import Simulator

pytestmark = [pytest.mark.rabbitmq, pytest.mark.kerberos]

HOST_ADDRESS = bytes((131, 225, 142, 68))






@pytest.fixture(scope="module")
def simulator(kerberos_realm: KerberosRealm, vhost: str) -> Iterator[Simulator]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in kerberos_realm.env.items():
            patch.setenv(name, value)
        url = f"amqp://guest:guest@{BROKER[0]}:{BROKER[1]}/{vhost}"
        keytab = str(kerberos_realm.service_keytab)
        with Simulator(seed=1, amqp_url=url, keytab=keytab, servers=["dmq"]) as sim:
            assert "dmq" in sim.endpoints, sim.disabled
            yield sim


@pytest.fixture
def dmq(simulator: Simulator, vhost: str, kerberos_env: KerberosRealm) -> Iterator[DMQBackend]:
    backend = prx.dmq(BROKER[0], BROKER[1], vhost, auth=prx.KerberosAuth(), timeout=5.0)
    assert isinstance(backend, DMQBackend)
    with backend:
        yield backend




def test_reads_of_every_value_type(dmq: DMQBackend) -> None:
    drfs = ["M:OUTTMP", "B:IRMS06[0:3]", "M:OUTTMP.RAW", "M~OUTTMP", "B:BOOSBP", "N|LGXS", "N@H801", "N$H801",
            "Z:ACLTST.STATUS.BIT_NAMES", "Z:ACLTST.STATUS.ON", "M:OUTTMP.INDEX"]
    readings = dmq.read_many(drfs).pipe(rxops.to_list()).run()
    by_drf = {reading.drf: reading for reading in readings}
    assert set(by_drf) == set(drfs)
    assert all(reading.ok and reading.backend == "dmq" for reading in readings), readings
    assert isinstance(by_drf["M:OUTTMP"].value, float) and by_drf["M:OUTTMP"].units == "DegF"
    assert by_drf["M:OUTTMP"].value_type is ValueType.SCALAR
    array = by_drf["B:IRMS06[0:3]"]
    assert array.value_type is ValueType.SCALAR_ARRAY and len(array.value) == 4  # type: ignore[arg-type]
    assert by_drf["M:OUTTMP.RAW"].value_type is ValueType.RAW
    assert isinstance(by_drf["M:OUTTMP.RAW"].value, bytes)
    assert by_drf["M~OUTTMP"].value_type is ValueType.TEXT and isinstance(by_drf["M~OUTTMP"].value, str)
    assert by_drf["B:BOOSBP"].value == "BEAM PERMIT OK"
    expected_status = BasicStatus(on=False, ready=False, remote=True, positive=True, ramp=False)
    assert by_drf["N|LGXS"].value == expected_status
    assert isinstance(by_drf["N@H801"].value, AnalogAlarm)
    assert by_drf["N@H801"].value_type is ValueType.ANALOG_ALARM
    assert isinstance(by_drf["N$H801"].value, DigitalAlarm)
    assert by_drf["Z:ACLTST.STATUS.BIT_NAMES"].value_type is ValueType.TEXT_ARRAY
    assert by_drf["Z:ACLTST.STATUS.ON"].value is False
    assert isinstance(by_drf["M:OUTTMP.INDEX"].value, int)


def test_duplicates_and_device_errors_are_readings(dmq: DMQBackend) -> None:
    readings = dmq.read_many(["G:AMANDA", "Z:NOSUCH", "G:AMANDA"]).pipe(rxops.to_list()).run()
    assert sorted(r.drf for r in readings) == ["G:AMANDA", "G:AMANDA", "Z:NOSUCH"]
    error = next(r for r in readings if r.drf == "Z:NOSUCH")
    assert error.is_error and error.status.name == "DPM_NO_SUCH_DEVICE"


def test_stream_at_50_hz_for_two_seconds(dmq: DMQBackend) -> None:
    readings: list[Reading] = []
    subscription = dmq.stream("M:OUTTMP@p,20").subscribe(readings.append)
    assert wait_for(lambda: readings)
    first = len(readings)
    time.sleep(2.0)
    count = len(readings) - first
    subscription.dispose()
    assert 90 <= count <= 110, count
    assert all(r.ok and r.drf == "M:OUTTMP.READING@p,20" for r in readings)


def test_disposal_sends_drop_and_the_server_drops_the_job(dmq: DMQBackend, simulator: Simulator) -> None:
    before = simulator.counters("dmq")
    readings: list[Reading] = []
    subscription = dmq.stream(["G:AMANDA@p,100", "M:OUTTMP@p,100"]).subscribe(readings.append)
    assert wait_for(lambda: len(readings) >= 4)
    during = simulator.counters("dmq")
    assert during["jobs"] == before["jobs"] + 1
    assert during["consumers"] == before["consumers"] + 1
    subscription.dispose()
    assert wait_for(lambda: simulator.counters("dmq")["jobs"] == before["jobs"])
    after = simulator.counters("dmq")
    assert after["consumers"] == before["consumers"]
    assert after["jobs_dropped"] == during["jobs_dropped"] + 1


def test_a_write_changes_the_next_read(dmq: DMQBackend) -> None:
    result = dmq.write("Z:ACLTST", 17.25).run()
    assert result.ok and result.drf == "Z:ACLTST.SETTING@N"
    assert dmq.read("Z:ACLTST.SETTING").run().value == 17.25
    settings = [("Z:ACLTST", 3.5), ("Z:ACLTS4", "changed"), ("Z:ACLTS3[0:1]", [1.0, 2.0])]
    results = dmq.write_many(settings).pipe(rxops.to_list()).run()  # type: ignore[arg-type]
    assert all(r.ok for r in results), results
    assert dmq.read("Z:ACLTST.SETTING").run().value == 3.5
    assert dmq.read("Z:ACLTS4").run().value == "changed"


def test_refused_settings_come_back_as_results(dmq: DMQBackend) -> None:
    result = dmq.write("M:OUTTMP", 5.0).run()
    assert not result.ok and result.status.is_error
    with pytest.raises(TypeError, match="raw byte"):
        dmq.write("Z:ACLTST", b"\x00\x01").run()


def test_control_and_alarm_writes(dmq: DMQBackend) -> None:
    assert dmq.write("Z:ACLTST.CONTROL", 1).run().ok
    assert dmq.read("Z:ACLTST.STATUS.ON").run().value is True
    assert dmq.write("Z:ACLTST.ANALOG", {"minimum": -1.0, "maximum": 9.0, "alarm_enable": True}).run().ok
    alarm = dmq.read("Z@ACLTST").run().value
    assert isinstance(alarm, AnalogAlarm) and (alarm.minimum, alarm.maximum) == (-1.0, 9.0)


def test_a_forged_signature_is_refused(dmq: DMQBackend, simulator: Simulator, vhost: str) -> None:
    before = simulator.counters("dmq")["security_violations"]
    context = ClientContext(prx.KerberosAuth(), DMQ_SERVICE_PRINCIPAL)
    token = context.step(None) or b""
    connection = pika.BlockingConnection(pika.ConnectionParameters(*BROKER, virtual_host=vhost))
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        exchange, init_id = str(uuid.uuid4()), str(uuid.uuid4())
        channel.exchange_declare(exchange, exchange_type="topic", auto_delete=True)
        channel.queue_bind(queue, exchange, routing_key="R.#")
        body = sdd.encode_message(sdd.ReadingRequest(["M:OUTTMP@I"]))
        signature = context.get_mic(dmq_signed_bytes(
            body, message_id=init_id, correlation_id=None, reply_to=exchange, app_id="forger",
            host_address=HOST_ADDRESS))
        channel.basic_publish("amq.topic", "I", body, pika.BasicProperties(
            message_id=init_id, reply_to=exchange, app_id="pacsys_rx",  # differs from the signed app_id
            headers={"gss-token": token, "signature": signature, "host-address": HOST_ADDRESS}))
        answer = None
        for method, properties, reply_body in channel.consume(queue, inactivity_timeout=5.0):
            if method is not None:
                answer = (method.routing_key, properties.correlation_id, sdd.decode_reply(reply_body))
            break
    finally:
        connection.close()
    assert answer is not None, "no answer to a forged INIT"
    key, correlation_id, reply = answer
    assert key == "R" and correlation_id == init_id
    assert isinstance(reply, sdd.ErrorSample) and (reply.facility_code, reply.error_number) == (72, -99)
    assert simulator.counters("dmq")["security_violations"] == before + 1


def test_no_credentials_give_authentication_error(simulator: Simulator, vhost: str,
                                                  kerberos_env: KerberosRealm) -> None:
    inits = simulator.counters("dmq")["inits"]
    with prx.dmq(BROKER[0], BROKER[1], vhost, timeout=2.0) as anonymous:
        with pytest.raises(prx.AuthenticationError, match="Kerberos"):
            anonymous.read("M:OUTTMP").run()
        with pytest.raises(prx.AuthenticationError):
            anonymous.write("Z:ACLTST", 1.0).run()
        with pytest.raises(prx.AuthenticationError):
            anonymous.stream("M:OUTTMP@p,100").run()
    kerberos_env.kdestroy()
    with prx.dmq(BROKER[0], BROKER[1], vhost, auth=prx.KerberosAuth(), timeout=2.0) as no_ticket, \
            pytest.raises(prx.AuthenticationError, match="kinit"):
        no_ticket.read("M:OUTTMP").run()
    assert simulator.counters("dmq")["inits"] == inits


def client_connection_pid(name: str) -> str | None:
    listing = rabbitmqctl("list_connections", "pid", "client_properties", "--no-table-headers")
    for line in listing.splitlines():
        if name in line:
            return line.split()[0]
    return None


def test_stream_resumes_after_the_broker_closes_the_client_connection(dmq: DMQBackend) -> None:
    readings: list[Reading] = []
    lock = threading.Lock()

    def keep(reading: Reading) -> None:
        with lock:
            readings.append(reading)

    subscription = dmq.stream("M:OUTTMP@p,50").subscribe(keep)
    try:
        assert wait_for(lambda: len(readings) >= 5)
        pid = client_connection_pid(dmq.connection_name)
        assert pid is not None, f"connection {dmq.connection_name} not listed by rabbitmqctl"
        rabbitmqctl("close_connection", pid, "pacsys_rx DMQ reconnect test")
        assert wait_for(lambda: any(r.is_error for r in readings), timeout=10.0)
        with lock:
            gap = next(i for i, r in enumerate(readings) if r.is_error)
        assert wait_for(lambda: sum(r.ok for r in readings[gap:]) >= 5, timeout=15.0)
    finally:
        subscription.dispose()
    error = readings[gap]
    assert error.drf == "M:OUTTMP.READING@p,50" and error.status == CONNECTION_LOST
    assert client_connection_pid(dmq.connection_name) is not None


def test_read_timeout_when_the_server_is_paused(dmq: DMQBackend, simulator: Simulator) -> None:
    simulator.pause("dmq")
    try:
        with pytest.raises(prx.BackendUnavailable, match="timed out"):
            dmq.read("M:OUTTMP", timeout=0.5).run()
    finally:
        simulator.resume("dmq")
    assert dmq.read("M:OUTTMP").run().ok


def test_unreachable_broker_fails_reads_quickly(kerberos_env: KerberosRealm) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with prx.dmq("127.0.0.1", port, auth=prx.KerberosAuth(), timeout=5.0) as dmq:
        started = time.monotonic()
        with pytest.raises(prx.BackendUnavailable, match="cannot connect"):
            reactivex.from_iterable([0]).pipe(rxops.flat_map(lambda _: dmq.read("M:OUTTMP"))).run()
        assert time.monotonic() - started < 4.0
