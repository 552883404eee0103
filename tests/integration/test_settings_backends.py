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
from pacsys_rx.model import BasicStatus, Reading
from pacsys_rx.scaling import Scaling, Units
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


@pytest.mark.parametrize(("device", "raw_bytes"), [("M:OUTTMP", 2), ("Z:ACLTS3", 4)])
def test_scaling_from_devdb_agrees_with_the_simulators_own(writer: Backend, devdb: GRPCBackend, device: str,
                                                           raw_bytes: int) -> None:
    """.RAW, .PRIMARY and the scaled value of one sample, converted into each other with DevDB's constants."""
    prop = devdb.device_info(device).reading
    assert prop is not None
    scaling = Scaling.from_property(prop, raw_bytes=raw_bytes)
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
