"""Settings on every write-capable backend against one simulator: control by name with the status read
back, digital status decoded with DevDB's bits, alarm-block writes and verified writes.

DPM/HTTP and DMQ write with the throwaway Kerberos realm (DMQ on a private vhost), gRPC with a JWT;
DevDB is the simulator's, on its gRPC port.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import reactivex
from broker import BROKER
from kdc import KerberosRealm
from polling import wait_until
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.backends.base import Backend
from pacsys_rx.backends.grpc.backend import GRPCBackend
from pacsys_rx.digital import BitChange, DigitalStatus
from pacsys_rx.model import AnalogAlarm, BasicStatus, DigitalAlarm, Reading
from pacsys_rx.scaling import RawFormat, Scaling, Units
from pacsys_rx.sim import Simulator

pytestmark = [pytest.mark.rabbitmq, pytest.mark.kerberos]

JWT_SECRET = "a-secret-of-at-least-32-bytes-for-hs256"
WRITERS = ["dpm", "grpc", "dmq"]


@pytest.fixture(scope="module")
def sim(kerberos_realm: KerberosRealm, vhost: str) -> Iterator[Simulator]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in kerberos_realm.env.items():
            patch.setenv(name, value)
        url = f"amqp://guest:guest@{BROKER[0]}:{BROKER[1]}/{vhost}"
        with Simulator(seed=1, servers=["dpm", "grpc", "dmq"], amqp_url=url, jwt_secret=JWT_SECRET,
                       keytab=str(kerberos_realm.service_keytab)) as simulator:
            assert {"dpm", "grpc", "dmq"} <= set(simulator.endpoints), simulator.disabled
            yield simulator


@pytest.fixture
def devdb(sim: Simulator) -> Iterator[GRPCBackend]:
    """The gRPC backend with the simulator's DevDB and a token that may set Z:ACLTST."""
    options = sim.client_options("grpc")
    backend = prx.grpc(**options, auth=prx.JWTAuth(sim.jwt_token()), devdb_host=options["host"],
                       devdb_port=options["port"], devdb_tls=False)
    assert isinstance(backend, GRPCBackend)
    with backend:
        yield backend


@pytest.fixture(params=WRITERS)
def writer(request: pytest.FixtureRequest, sim: Simulator, devdb: GRPCBackend,
           kerberos_env: KerberosRealm) -> Iterator[Backend]:
    """Each write-capable backend, authenticated (the gRPC one is ``devdb``)."""
    if request.param == "grpc":
        yield devdb
        return
    options = sim.client_options(request.param)
    backend = (prx.dpm(**options, auth=prx.KerberosAuth(), role="testing") if request.param == "dpm"
               else prx.dmq(**options, auth=prx.KerberosAuth()))
    with backend:
        yield backend


def control_table(devdb: GRPCBackend) -> list[str]:
    return [command.short_name for command in devdb.device_info("Z:ACLTST").control or ()]


def test_control_by_name_reads_the_status_back(writer: Backend, devdb: GRPCBackend) -> None:
    """gRPC looks the name up in its own DevDB; DPM/HTTP and DMQ get the table passed in."""
    commands = None if writer is devdb else control_table(devdb)
    on = writer.control("Z:ACLTST", "ON", commands=commands).run()
    assert on.ok and on.verified, on
    assert on.drf == "Z:ACLTST.CONTROL@N"
    assert isinstance(on.readback, BasicStatus) and on.readback.on is True
    off = writer.control("Z|ACLTST", "off", commands=commands).run()
    assert off.verified and isinstance(off.readback, BasicStatus) and off.readback.on is False


def test_control_by_ordinal_and_with_another_backends_devdb(writer: Backend, devdb: GRPCBackend) -> None:
    from pacsys_rx.control import control

    positive = control(writer, "Z:ACLTST", "POSITIVE", devdb=devdb).run()
    assert positive.verified and positive.readback.positive is True  # type: ignore[union-attr]
    negative = writer.write("Z:ACLTST.CONTROL", control_table(devdb).index("NEGATIVE")).run()
    assert negative.ok and writer.read("Z:ACLTST.STATUS").run().value.positive is False  # type: ignore[union-attr]


def test_control_name_without_a_table_is_refused_naming_the_options(sim: Simulator,
                                                                    kerberos_env: KerberosRealm) -> None:
    with prx.dpm(**sim.client_options("dpm"), auth=prx.KerberosAuth()) as dpm, \
            pytest.raises(ValueError, match="commands="):
        dpm.control("Z:ACLTST", "ON")


def test_unknown_command_names_the_table(devdb: GRPCBackend) -> None:
    with pytest.raises(ValueError, match="no control command 'SPIN'; the table has RESET, ON, OFF"):
        devdb.control("Z:ACLTST", "SPIN").run()


def test_command_without_a_status_effect_is_only_acknowledged(devdb: GRPCBackend) -> None:
    result = devdb.control("Z:ACLTST", "TEST").run()
    assert result.ok and result.verified is None


@pytest.mark.parametrize("drf", ["Z:ACLTST.STATUS.BIT_VALUE", "Z:ACLTST.STATUS.RAW"])
def test_status_words_decode_with_devdb_bits_and_follow_control(writer: Backend, devdb: GRPCBackend,
                                                                drf: str) -> None:
    """Each backend's status word, decoded with DevDB's bits, shows what a control command did."""
    bits = devdb.device_info("Z:ACLTST").status_bits or ()
    commands = control_table(devdb)
    assert writer.control("Z:ACLTST", "ON", commands=commands).run().verified
    status = writer.read(drf).pipe(ops.digital_status(bits)).run()
    assert isinstance(status, DigitalStatus) and status["OnOff"] and status["READY"]
    assert status.text.startswith("On Ready ")
    changes: list[BitChange] = []
    subscription = writer.stream(f"{drf}@p,100").pipe(ops.digital_status(bits), ops.bit_changes()).subscribe(
        changes.append)
    try:
        wait_until(lambda: len(changes) == len(bits), what="the initial state of every bit")
        assert writer.control("Z:ACLTST", "OFF", commands=commands).run().verified
        wait_until(lambda: len(changes) > len(bits), what="the change of ON")
    finally:
        subscription.dispose()
    change = changes[len(bits)]
    assert (change.name, change.long_name, change.active, change.previous, change.text) == (
        "ON", "OnOff", False, True, "Off")


@pytest.mark.parametrize(("device", "raw_bytes", "raw_format"), [
    ("M:OUTTMP", 2, "int"), ("Z:ACLTS3", 4, "int"), ("Z:ACLTST", 4, "dec_f"), ("Z:ACLTS6", 4, "ieee")])
def test_scaling_from_devdb_agrees_with_the_simulators_own(writer: Backend, devdb: GRPCBackend, device: str,
                                                           raw_bytes: int, raw_format: RawFormat) -> None:
    """.RAW, .PRIMARY and the scaled value of one sample, converted into each other with DevDB's constants."""
    prop = devdb.device_info(device).reading
    assert prop is not None
    scaling = Scaling.from_property(prop, raw_bytes=raw_bytes, raw_format=raw_format)
    raw, primary, common = writer.read_many([f"{device}.RAW", f"{device}.PRIMARY", device]).pipe(
        rxops.to_list()).run()
    assert raw.timestamp == primary.timestamp == common.timestamp
    one_count = abs(scaling.primary_scale) / 2 + 1e-12

    def converted(reading: Reading, source: Units, target: Units) -> tuple[float, ...]:
        value = reactivex.of(reading).pipe(ops.scale(scaling, source, target)).run().value
        return value if isinstance(value, tuple) else (value,)  # type: ignore[return-value]

    def numbers(reading: Reading) -> tuple[float, ...]:
        return reading.value if isinstance(reading.value, tuple) else (reading.value,)  # type: ignore[return-value]

    assert converted(raw, "raw", "primary") == pytest.approx(numbers(primary), abs=one_count)
    assert converted(primary, "primary", "common") == pytest.approx(numbers(common))
    assert converted(common, "common", "primary") == pytest.approx(numbers(primary))
    assert converted(common, "common", "raw") == pytest.approx(scaling.raw_elements(raw.value), abs=1)  # type: ignore[arg-type]
    assert reactivex.of(raw).pipe(ops.scale(scaling)).run().units == common.units


@pytest.mark.parametrize("prop", ["ANALOG", "DIGITAL"])
def test_alarm_block_write_changes_the_named_fields_and_keeps_the_others(writer: Backend, prop: str) -> None:
    """DPM/HTTP (field by field, dpm-http.md §6.10), gRPC (field by field) and DMQ (whole block)."""
    block_drf = f"Z:ACLTST.{prop}"
    before = writer.read(block_drf).run().value
    assert isinstance(before, (AnalogAlarm, DigitalAlarm))
    first = "minimum" if prop == "ANALOG" else "nominal"
    new_first = getattr(before, first) - 1
    changes = {first: new_first, "tries_needed": before.tries_needed % 9 + 1,
               "alarm_enable": not before.alarm_enable}
    result = writer.write_alarm_block(block_drf, **changes).run()
    assert result.ok and result.verified, result
    assert result.drf == f"{block_drf}@N"
    after = writer.read(block_drf).run().value
    assert isinstance(after, type(before))
    kept = [name for name in ("maximum", "mask", "abort_inhibit") if hasattr(before, name)]
    assert {name: getattr(after, name) for name in changes} == changes
    assert {name: getattr(after, name) for name in kept} == {name: getattr(before, name) for name in kept}
    assert {name: getattr(result.readback, name) for name in changes} == changes


def test_alarm_block_write_of_what_is_already_there_sends_nothing(writer: Backend) -> None:
    block = writer.read("Z@ACLTST").run().value
    assert isinstance(block, AnalogAlarm)
    result = writer.write_alarm_block("Z@ACLTST", maximum=block.maximum).run()
    assert result.ok and result.verified and result.message == "already set"


def test_refused_alarm_field_ends_the_sequence_with_its_name(writer: Backend) -> None:
    """tries_needed 0 is out of range: never verified; DPM/HTTP and gRPC refuse the field and name it (the
    simulated DMQ server acknowledges the whole block and keeps its tries, which the read-back shows)."""
    result = writer.write_alarm_block("Z:ACLTST.ANALOG", tries_needed=0).run()
    assert result.verified is False
    if writer.name == "dmq":
        assert isinstance(result.readback, AnalogAlarm) and result.readback.tries_needed != 0
    else:
        assert not result.ok and result.message == "tries_needed: DIO_RANGE: value out of range"


def test_alarm_block_write_refuses_read_only_and_foreign_fields(writer: Backend) -> None:
    with pytest.raises(ValueError, match="writable fields are minimum, maximum"):
        writer.write_alarm_block("Z:ACLTST.ANALOG", tries_now=3)
    with pytest.raises(ValueError, match="got nominal"):
        writer.write_alarm_block("Z@ACLTST", nominal=1)
    with pytest.raises(ValueError, match="names no alarm block"):
        writer.write_alarm_block("Z:ACLTST", minimum=1)


def test_verified_write_reads_the_setting_back(writer: Backend) -> None:
    """write(..., verify=Verify(...)) on DPM/HTTP (Kerberos), gRPC (JWT) and DMQ (Kerberos)."""
    value = {"dpm": 7.25, "grpc": 7.5, "dmq": 7.75}[writer.name]
    result = writer.write("Z:ACLTS1", value, verify=prx.Verify(tolerance=0.001)).run()
    assert result.ok and result.verified and result.readback == pytest.approx(value), result
    again = writer.write("Z:ACLTS1", value, verify=prx.Verify(check_first=True)).run()
    assert again.verified and again.message == "already set"
    elsewhere = writer.write("Z:ACLTS1", value + 1, verify=prx.Verify(readback="Z:ACLTS2", attempts=2)).run()
    assert elsewhere.ok and elsewhere.verified is False and elsewhere.readback is not None
    refused = writer.write("Z:ACLTS2", 1e6, verify=prx.Verify()).run()
    assert not refused.ok and refused.verified is False
