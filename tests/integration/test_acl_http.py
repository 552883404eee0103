"""ACL over HTTP and HTTPS against the simulator's ``acl.pl`` server."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from importlib import resources
from urllib.parse import urlsplit

import pytest
import requests
from reactivex import operators as rxops

from pacsys_rx.backends.acl import ACLBackend
from pacsys_rx.errors import BackendUnavailable
from pacsys_rx.model import AcnetStatus, BasicStatus, Reading, ValueType
from pacsys_rx.protocols.acl import split_lines
from pacsys_rx.sim.acl_server import ACLServer
from pacsys_rx.sim.catalogue import parse_catalogue
from pacsys_rx.sim.host import Simulator

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

BANK = "Z:BNK"


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    """The simulator with a plain and a TLS ACL server; the bank devices get ACNET names."""
    text = resources.files("pacsys_rx.sim").joinpath("devices.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data["bank"]["prefix"] = BANK
    catalogue = parse_catalogue(data, "test catalogue")
    with Simulator(devices=catalogue, servers={"acl": ACLServer(), "acl_tls": ACLServer(tls=True)}) as sim:
        yield sim


@pytest.fixture(scope="module")
def acl(simulator: Simulator) -> Iterator[ACLBackend]:
    with ACLBackend(simulator.endpoints["acl"], timeout=3.0) as backend:
        yield backend


def requests_served(simulator: Simulator, name: str = "acl") -> int:
    return simulator.counters(name)["requests"]


def read_all(backend: ACLBackend, drfs: list[str]) -> list[Reading]:
    order = {drf: i for i, drf in enumerate(drfs)}
    return sorted(backend.read_many(drfs).pipe(rxops.to_list()).run(), key=lambda r: order[r.drf])


@pytest.mark.parametrize(("drf", "value_type", "check"), [
    ("M:OUTTMP", ValueType.SCALAR, lambda v: 69.9 < v < 75.1),
    ("G:AMANDA", ValueType.SCALAR, lambda v: v == 66.0),
    ("M:OUTTMP@e,02", ValueType.SCALAR, lambda v: 69.9 < v < 75.1),
    ("M:OUTTMP.PRIMARY", ValueType.SCALAR, lambda v: 6.99 < v < 7.51),
    ("Z@ACLTST.MAX", ValueType.SCALAR, lambda v: v == 50.0),
    ("Z:ACLTST.ANALOG.MIN", ValueType.SCALAR, lambda v: v == -4.007),
    ("N:LGXS.STATUS.REMOTE", ValueType.SCALAR, lambda v: v is True),
    ("Z:ACLTS3", ValueType.SCALAR_ARRAY, lambda v: v == (45.0, 2.2, 2.0, 102.81933, 0.0, 0.0, 0.0, 0.0)),
    ("B:IRMS06[0:3]", ValueType.SCALAR_ARRAY, lambda v: len(v) == 4 and all(0.4 < x < 1.6 for x in v)),
    ("Z:ACLTST.RAW", ValueType.RAW, lambda v: len(v) == 4),
    ("M:OUTTMP.RAW@e,0f", ValueType.RAW, lambda v: len(v) == 2 and 6990 < int.from_bytes(v, "little") < 7510),
    ("N@H801.RAW", ValueType.RAW, lambda v: len(v) == 20),
    ("M~OUTTMP", ValueType.TEXT, lambda v: v == "Outdoor Temperature"),
    ("M:FOO.DESCRIPTION", ValueType.TEXT, lambda v: v == "Temperature - external sensor"),
    ("Z:ACLTS4", ValueType.TEXT, lambda v: v == "hello"),
    ("B:BOOSBP", ValueType.TEXT, lambda v: v == "BEAM PERMIT OK"),
    ("N|LGXS", ValueType.BASIC_STATUS,
     lambda v: v == BasicStatus(on=False, ready=False, remote=True, positive=True, ramp=False)),
    ("Z:ACLTST.STATUS", ValueType.BASIC_STATUS,
     lambda v: v.to_dict() == {"on": False, "ready": True, "positive": False, "ramp": False}),
])
def test_read_every_value_type(acl: ACLBackend, drf: str, value_type: ValueType, check: object) -> None:
    reading = acl.read(drf).run()
    assert reading.ok, reading.message
    assert reading.value_type is value_type and reading.drf == drf and reading.backend == "acl"
    assert check(reading.value)  # type: ignore[operator]


def test_units_come_from_the_line(acl: ACLBackend) -> None:
    assert acl.read("M:OUTTMP").run().units == "DegF"


def test_read_many_of_200_devices_is_split_across_requests(simulator: Simulator) -> None:
    drfs = [f"{BANK}{i:03d}" for i in range(200)]
    with ACLBackend(simulator.endpoints["acl"], max_url_length=1500) as backend:
        before = requests_served(simulator)
        readings = read_all(backend, drfs)
        sent = requests_served(simulator) - before
    assert [r.drf for r in readings] == drfs
    assert all(r.ok and r.value_type is ValueType.SCALAR for r in readings)
    assert all(isinstance(r.value, float) and 39.9 < r.value < 60.1 for r in readings)
    assert sent == len(backend._batches([f"read {d}" for d in drfs])) > 1


def test_default_limit_sends_200_devices_in_one_request(acl: ACLBackend, simulator: Simulator) -> None:
    before = requests_served(simulator)
    readings = read_all(acl, [f"{BANK}{i:03d}" for i in range(200, 400)])
    assert all(r.ok for r in readings) and requests_served(simulator) - before == 1


def test_bad_device_in_the_middle_of_a_batch(acl: ACLBackend, simulator: Simulator) -> None:
    before = requests_served(simulator)
    readings = read_all(acl, ["M:OUTTMP", "Z:BAD", "G:AMANDA"])
    assert requests_served(simulator) - before == 4
    assert readings[0].ok and readings[2].value == 66.0
    assert readings[1].is_error and readings[1].status == AcnetStatus.named("DIO_NO_SUCH")
    assert readings[1].message == "Invalid device name (Z:BAD) in read device command at line 1 - DIO_NO_SUCH"


def get_verbatim(url: str) -> str:
    """GET ``url`` with the request target sent exactly as written (no client-side re-encoding)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=3)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def test_server_aborts_a_batch_at_an_unknown_device(simulator: Simulator) -> None:
    body = get_verbatim(simulator.endpoints["acl"] + "?acl=read+M:OUTTMP\\;read+Z:BAD\\;read+G:AMANDA")
    assert split_lines(body) == ["Invalid device name (Z:BAD) in read device command at line 2 - DIO_NO_SUCH"]


def test_backslash_and_brackets_reach_the_cgi_unencoded(acl: ACLBackend) -> None:
    output = acl.execute("read B:IRMS06[0:1]; read G:AMANDA").run()
    assert len(split_lines(output)) == 2 and split_lines(output)[1] == "G:AMANDA       =  66"
    re_encoded = requests.get(acl.url_for(["read G:AMANDA", "read G:AMANDA"]), timeout=3).text
    assert "%5C" in re_encoded and "DIO_NO_SUCH" in re_encoded


def test_server_does_not_decode_other_escapes(simulator: Simulator) -> None:
    body = get_verbatim(simulator.endpoints["acl"] + "?acl=read+M%3AOUTTMP")
    assert split_lines(body) == [
        "Invalid device name (M%3AOUTTMP) in read device command at line 1 - DIO_NO_SUCH"]
    head = requests.head(simulator.endpoints["acl"] + "?acl=read+M:OUTTMP", timeout=3)
    assert head.status_code == 200 and head.text == ""


def test_execute_device_list_and_read_list(acl: ACLBackend) -> None:
    output = acl.execute("device_list/create devs devices='M:OUTTMP,G:AMANDA'\n"
                         "read_list/no_name/no_units device_list=devs").run()
    lines = split_lines(output)
    assert len(lines) == 2 and 69.9 < float(lines[0]) < 75.1 and float(lines[1]) == 66.0
    named = split_lines(acl.execute("device_list/create d devices='G:AMANDA'; read_list device_list=d").run())
    assert named == ["G:AMANDA       =  66"]


def test_timeout_gives_backend_unavailable(simulator: Simulator) -> None:
    simulator.set_reply_delay("acl", 2.0)
    try:
        with ACLBackend(simulator.endpoints["acl"], timeout=0.5) as backend, \
                pytest.raises(BackendUnavailable, match="timed out"):
            backend.read_many(["M:OUTTMP", "G:AMANDA"]).run()
    finally:
        simulator.set_reply_delay("acl", 0.0)


def test_http_error_status_gives_error_readings(acl: ACLBackend, simulator: Simulator) -> None:
    server = simulator.server("acl")
    assert isinstance(server, ACLServer)
    simulator.call(lambda: server.set_http_status(503))
    try:
        readings = read_all(acl, ["M:OUTTMP", "G:AMANDA"])
    finally:
        simulator.call(lambda: server.set_http_status(None))
    assert all(r.is_error and r.message and r.message.endswith("HTTP 503") for r in readings)
    assert readings[0].status == AcnetStatus(0, -1)


def test_corrupted_response_gives_backend_unavailable(simulator: Simulator) -> None:
    with ACLBackend(simulator.endpoints["acl"], timeout=3.0) as backend:
        simulator.corrupt_next_frame("acl")
        with pytest.raises(BackendUnavailable):
            backend.read("M:OUTTMP").run()
        assert backend.read("M:OUTTMP").run().ok


def test_https_with_the_generated_ca_trusted(simulator: Simulator) -> None:
    server = simulator.server("acl_tls")
    assert isinstance(server, ACLServer) and server.ca_path is not None
    url = simulator.endpoints["acl_tls"]
    assert url.startswith("https://") and url.endswith("/cgi-bin/acl.pl")
    with ACLBackend(url, verify=str(server.ca_path)) as backend:
        readings = read_all(backend, ["M:OUTTMP", "Z:BAD", "N|LGXS", "M:OUTTMP.RAW@e,02"])
    assert [r.ok for r in readings] == [True, False, True, True]
    assert readings[2].value_type is ValueType.BASIC_STATUS


def test_https_without_trust_fails_verification(simulator: Simulator) -> None:
    with ACLBackend(simulator.endpoints["acl_tls"]) as backend, \
            pytest.raises(BackendUnavailable, match=r"(?i)certificate[ _]verify[ _]failed"):
        backend.read("M:OUTTMP").run()
