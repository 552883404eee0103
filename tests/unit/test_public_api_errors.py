# mypy: disable-error-code="arg-type, list-item"
"""Every public function given a wrong type or value raises a typed error naming what is wrong,
before any network traffic."""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import reactivex

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.backends.base import Backend
from pacsys_rx.drf import ensure_immediate, parse_request, parse_time_freq, prepare_for_write
from pacsys_rx.errors import PacsysError

TYPED = (TypeError, ValueError, PacsysError)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation must fail before any connection is attempted."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access during validation: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def dpm() -> Iterator[Backend]:
    with prx.dpm(host="127.0.0.1", port=9) as backend:
        yield backend


def assert_typed(call: Callable[[], object], names: str) -> None:
    """``call`` raises TypeError, ValueError or a PacsysError whose message matches ``names``."""
    with pytest.raises(TYPED, match=names):
        call()


CONSTRUCTORS: list[tuple[str, Callable[[], object], str]] = [
    ("dpm host int", lambda: prx.dpm(host=123, port=6802), "host"),
    ("dpm host empty", lambda: prx.dpm(host="", port=6802), "host"),
    ("dpm port str", lambda: prx.dpm(host="h", port="http"), "port"),
    ("dpm port zero", lambda: prx.dpm(host="h", port=0), "port"),
    ("dpm port too big", lambda: prx.dpm(host="h", port=70000), "port"),
    ("dpm port float", lambda: prx.dpm(host="h", port=6802.0), "port"),
    ("dpm port bool", lambda: prx.dpm(host="h", port=True), "port"),
    ("dpm timeout str", lambda: prx.dpm(host="h", port=1, timeout="5"), "timeout"),
    ("dpm timeout negative", lambda: prx.dpm(host="h", port=1, timeout=-1), "timeout"),
    ("dpm timeout nan", lambda: prx.dpm(host="h", port=1, timeout=float("nan")), "timeout"),
    ("dpm pool_size zero", lambda: prx.dpm(host="h", port=1, pool_size=0), "pool_size"),
    ("dpm pool_size str", lambda: prx.dpm(host="h", port=1, pool_size="4"), "pool_size"),
    ("dpm heartbeat str", lambda: prx.dpm(host="h", port=1, heartbeat_timeout="9"), "heartbeat_timeout"),
    ("dpm auth wrong", lambda: prx.dpm(host="h", port=1, auth="me"), "KerberosAuth"),
    ("dpm role int", lambda: prx.dpm(host="h", port=1, role=7), "role"),
    ("dpm unknown option", lambda: prx.dpm(host="h", port=1, colour="red"), "colour"),
    ("grpc host int", lambda: prx.grpc(host=1, port=50051), "host"),
    ("grpc port negative", lambda: prx.grpc(host="h", port=-1), "port"),
    ("grpc timeout zero", lambda: prx.grpc(host="h", port=1, timeout=0), "timeout"),
    ("grpc auth wrong", lambda: prx.grpc(host="h", port=1, auth="token"), "JWTAuth"),
    ("dmq host bytes", lambda: prx.dmq(host=b"h", port=5672), "host"),
    ("dmq port too big", lambda: prx.dmq(host="h", port=99999), "port"),
    ("dmq timeout none", lambda: prx.dmq(host="h", port=1, timeout=None), "timeout"),
    ("dmq max_sessions str", lambda: prx.dmq(host="h", port=1, max_sessions="8"), "max_sessions"),
    ("dmq job_heartbeat str", lambda: prx.dmq(host="h", port=1, job_heartbeat="5"), "job_heartbeat"),
    ("dmq auth wrong", lambda: prx.dmq(host="h", port=1, auth=object()), "KerberosAuth"),
    ("acl url int", lambda: prx.acl(1), "base_url"),
    ("acl url scheme", lambda: prx.acl("ftp://host/acl"), "URL"),
    ("acl timeout negative", lambda: prx.acl(timeout=-1), "timeout"),
    ("acl workers zero", lambda: prx.acl(workers=0), "workers"),
    ("acl_ssh no host", lambda: prx.acl_ssh([]), "hosts"),
    ("acl_ssh host int", lambda: prx.acl_ssh(5), "hosts"),
    ("acl_ssh port str", lambda: prx.acl_ssh("h", port="22"), "port"),
    ("KerberosAuth principal int", lambda: prx.KerberosAuth(principal=1), "principal"),
    ("KerberosAuth service blank", lambda: prx.KerberosAuth(service=" "), "service"),
    ("JWTAuth token int", lambda: prx.JWTAuth(token=1), "token"),
]


@pytest.mark.parametrize(("call", "names"), [c[1:] for c in CONSTRUCTORS], ids=[c[0] for c in CONSTRUCTORS])
def test_constructors_and_factories(call: Callable[[], object], names: str) -> None:
    assert_typed(call, names)


CALLS: list[tuple[str, Callable[[Backend], object], str]] = [
    ("read int", lambda b: b.read(1), "DRF"),
    ("read None", lambda b: b.read(None), "DRF"),
    ("read bytes", lambda b: b.read(b"M:OUTTMP"), "DRF"),
    ("read empty", lambda b: b.read(""), "DRF"),
    ("read bad DRF", lambda b: b.read("M:OUTTMP[5:2]"), r"M:OUTTMP\[5:2\]"),
    ("read timeout negative", lambda b: b.read("M:OUTTMP", timeout=-1), "timeout"),
    ("read timeout str", lambda b: b.read("M:OUTTMP", timeout="1"), "timeout"),
    ("read_many None", lambda b: b.read_many(None), "drfs"),
    ("read_many int", lambda b: b.read_many(5), "drfs"),
    ("read_many bytes", lambda b: b.read_many(b"M:OUTTMP"), "drfs"),
    ("read_many element", lambda b: b.read_many(["M:OUTTMP", 2]), "DRF"),
    ("stream int", lambda b: b.stream(1), "drfs"),
    ("stream empty list", lambda b: b.stream([]), "drfs"),
    ("stream element", lambda b: b.stream(["M:OUTTMP@p,1000", None]), "DRF"),
    ("stream bad event", lambda b: b.stream("M:OUTTMP@X"), "M:OUTTMP@X"),
    ("write drf int", lambda b: b.write(1, 2.0), "DRF"),
    ("write bad DRF", lambda b: b.write("AB", 2.0), "AB"),
    ("write without auth", lambda b: b.write("Z:ACLTST", 2.0).run(), "auth"),
    ("write timeout zero", lambda b: b.write("Z:ACLTST", 2.0, timeout=0), "auth|timeout"),
    ("write_many None", lambda b: b.write_many(None), "settings"),
    ("write_many str", lambda b: b.write_many("Z:ACLTST"), "settings"),
    ("write_many bare DRF", lambda b: b.write_many(["Z:ACLTST"]), "setting"),
    ("write_many triple", lambda b: b.write_many([("Z:ACLTST", 1.0, 2.0)]), "setting"),
    ("write_many int", lambda b: b.write_many([1]), "setting"),
    ("control name without a table", lambda b: b.control("Z:ACLTST", "ON"), "commands="),
    ("control bool", lambda b: b.control("Z:ACLTST", True, commands=["ON"]), "command"),
    ("write_alarm_block read-only", lambda b: b.write_alarm_block("Z@ACLTST", tries_now=1), "tries_now"),
    ("write_alarm_block no field", lambda b: b.write_alarm_block("Z@ACLTST"), "writable fields"),
    ("write_alarm_block not a block", lambda b: b.write_alarm_block("Z:ACLTST", minimum=1), "alarm block"),
]


@pytest.mark.parametrize(("call", "names"), [c[1:] for c in CALLS], ids=[c[0] for c in CALLS])
def test_backend_methods(dpm: Backend, call: Callable[[Backend], object], names: str) -> None:
    assert_typed(lambda: call(dpm), names)


def test_read_only_backend_refuses_writes_and_streams() -> None:
    with prx.acl("http://127.0.0.1:9/cgi-bin/acl.pl") as backend:
        assert_typed(lambda: backend.write("Z:ACLTST", 1.0).run(), "read-only")
        assert_typed(lambda: backend.stream("M:OUTTMP@p,1000").run(), "cannot stream")


def test_closed_backend(dpm: Backend) -> None:
    dpm.close()
    assert_typed(lambda: dpm.read("M:OUTTMP").run(), "closed")


async def first_item(source: Any, **options: Any) -> object:
    async for item in prx.aiter(source, **options):
        return item
    return None


SOURCE = reactivex.of(1, 2)

BRIDGES: list[tuple[str, Callable[[], object], str]] = [
    ("iterate non-observable", lambda: prx.iterate([1, 2]), "source"),
    ("iterate timeout negative", lambda: prx.iterate(SOURCE, timeout=-1), "timeout"),
    ("iterate timeout str", lambda: prx.iterate(SOURCE, timeout="1"), "timeout"),
    ("iterate maxsize zero", lambda: prx.iterate(SOURCE, maxsize=0), "size"),
    ("iterate maxsize float", lambda: prx.iterate(SOURCE, maxsize=2.5), "size"),
    ("iterate overflow", lambda: prx.iterate(SOURCE, overflow="block"), "overflow"),
    ("aiter non-observable", lambda: asyncio.run(first_item(None)), "source"),
    ("aiter maxsize zero", lambda: asyncio.run(first_item(SOURCE, maxsize=0)), "size"),
    ("aiter overflow", lambda: asyncio.run(first_item(SOURCE, overflow=1)), "overflow"),
]


@pytest.mark.parametrize(("call", "names"), [c[1:] for c in BRIDGES], ids=[c[0] for c in BRIDGES])
def test_bridges(call: Callable[[], object], names: str) -> None:
    assert_typed(call, names)


MODEL_AND_DRF: list[tuple[str, Callable[[], object], str]] = [
    ("AcnetStatus.from_code too big", lambda: prx.AcnetStatus.from_code(0x10000), "65536"),
    ("AcnetStatus.from_code too small", lambda: prx.AcnetStatus.from_code(-0x8001), "-32769"),
    ("AcnetStatus.from_code str", lambda: prx.AcnetStatus.from_code("1"), "packed"),
    ("AcnetStatus.from_code float", lambda: prx.AcnetStatus.from_code(1.5), "packed"),
    ("ValueType unknown", lambda: prx.ValueType("colour"), "colour"),
    ("Capability unknown", lambda: prx.Capability("x"), "x"),
    ("parse_request None", lambda: parse_request(None), "DRF"),
    ("parse_request bytes", lambda: parse_request(b"M:OUTTMP"), "DRF"),
    ("parse_request empty", lambda: parse_request(""), "DRF"),
    ("prepare_for_write int", lambda: prepare_for_write(1), "DRF"),
    ("ensure_immediate list", lambda: ensure_immediate(["M:OUTTMP"]), "DRF"),
    ("parse_time_freq int", lambda: parse_time_freq(1), "token"),
    ("parse_time_freq bad", lambda: parse_time_freq("5X"), "5X"),
    ("Verify attempts zero", lambda: prx.Verify(attempts=0), "attempts"),
    ("Verify tolerance negative", lambda: prx.Verify(tolerance=-0.1), "tolerance"),
    ("Verify timeout zero", lambda: prx.Verify(timeout=0), "timeout"),
]


@pytest.mark.parametrize(("call", "names"), [c[1:] for c in MODEL_AND_DRF], ids=[c[0] for c in MODEL_AND_DRF])
def test_model_and_drf(call: Callable[[], object], names: str) -> None:
    assert_typed(call, names)


OPERATORS: list[tuple[str, Callable[[], object], str]] = [
    ("deadband neither", lambda: ops.deadband(), "abs or rel"),
    ("deadband abs negative", lambda: ops.deadband(abs=-1), "abs"),
    ("deadband rel negative", lambda: ops.deadband(rel=-0.5), "rel"),
    ("deadband abs str", lambda: ops.deadband(abs="1"), "abs"),
    ("limits low above high", lambda: ops.limits(low=5, high=1), "low"),
    ("limits tries zero", lambda: ops.limits(0, 1, tries=0), "tries"),
    ("limits hysteresis negative", lambda: ops.limits(0, 1, hysteresis=-1), "hysteresis"),
    ("limits low str", lambda: ops.limits(low="0", high=1), "low"),
    ("bounded_buffer zero", lambda: ops.bounded_buffer(0), "size"),
    ("bounded_buffer overflow", lambda: ops.bounded_buffer(5, overflow="block"), "overflow"),
    ("bounded_buffer float", lambda: ops.bounded_buffer(2.5), "size"),
    ("bounded_buffer str", lambda: ops.bounded_buffer("5"), "size"),
    ("throttle negative", lambda: ops.throttle(-1), "interval"),
    ("throttle zero", lambda: ops.throttle(0), "interval"),
    ("throttle str", lambda: ops.throttle("1s"), "interval"),
    ("record flush_interval zero", lambda: ops.record("out.jsonl", flush_interval=0), "flush_interval"),
    ("record unknown suffix", lambda: ops.record("out.txt"), "format"),
]


@pytest.mark.parametrize(("call", "names"), [
    pytest.param(call, names, id=label) for label, call, names in OPERATORS])
def test_operators(call: Callable[[], object], names: str) -> None:
    assert_typed(call, names)


COVERED_ELSEWHERE = {"Backend", "Reading", "WriteResult"}
"""Public names whose misuse is covered through other entries (abstract base, frozen data records)."""


def test_every_public_callable_is_covered() -> None:
    cases = CONSTRUCTORS + MODEL_AND_DRF + BRIDGES
    covered = {label.split()[0].split(".")[0] for label, _, _ in cases}
    exceptions = {name for name in prx.__all__
                  if inspect.isclass(getattr(prx, name)) and issubclass(getattr(prx, name), Exception)}
    missing = set(prx.__all__) - covered - exceptions - COVERED_ELSEWHERE
    assert not missing, f"public names without a wrong-argument case: {sorted(missing)}"
