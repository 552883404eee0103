"""ACL over SSH against a loopback sshd whose ``acl`` program is the simulator's interpreter."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from reactivex import operators as rxops

from pacsys_rx.backends.acl.ssh import ACLSSHBackend
from pacsys_rx.errors import AuthenticationError, BackendUnavailable
from pacsys_rx.model import AcnetStatus, BasicStatus, Reading, ValueType
from pacsys_rx.protocols.acl import split_lines

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sshd import LoopbackSSHD, SSHDProcess

pytestmark = pytest.mark.sshd


@pytest.fixture(scope="module")
def sshd() -> Iterator[LoopbackSSHD]:
    with SSHDProcess() as server:
        yield server


@pytest.fixture(scope="module")
def acl(sshd: LoopbackSSHD) -> Iterator[ACLSSHBackend]:
    with ACLSSHBackend(sshd.host, timeout=20.0, **sshd.client_options()) as backend:  # type: ignore[arg-type]
        yield backend


def read_all(backend: ACLSSHBackend, drfs: list[str]) -> list[Reading]:
    order = {drf: i for i, drf in enumerate(drfs)}
    return sorted(backend.read_many(drfs).pipe(rxops.to_list()).run(), key=lambda r: order[r.drf])


def test_read(acl: ACLSSHBackend) -> None:
    reading = acl.read("M:OUTTMP").run()
    assert reading.ok and reading.value_type is ValueType.SCALAR and reading.units == "DegF"
    assert isinstance(reading.value, float) and 69.9 < reading.value < 75.1
    assert reading.backend == "acl"


def test_read_many(acl: ACLSSHBackend) -> None:
    readings = read_all(acl, ["M:OUTTMP", "G:AMANDA", "M~OUTTMP", "Z:ACLTST.RAW", "B:IRMS06[0:2]", "N|LGXS",
                              "Z:BAD"])
    assert [r.ok for r in readings] == [True, True, True, True, True, True, False]
    assert readings[1].value == 66.0 and readings[2].value == "Outdoor Temperature"
    assert isinstance(readings[3].value, bytes) and len(readings[3].value) == 4
    assert readings[4].value_type is ValueType.SCALAR_ARRAY and len(readings[4].value) == 3  # type: ignore[arg-type]
    assert readings[5].value == BasicStatus(on=False, ready=False, remote=True, positive=True, ramp=False)
    assert readings[6].status == AcnetStatus.named("DIO_NO_SUCH")


def test_execute_script(acl: ACLSSHBackend) -> None:
    output = acl.execute("device_list/create devs devices='M:OUTTMP,G:AMANDA'; "
                         "read_list/no_name/no_units device_list=devs").run()
    lines = split_lines(output)
    assert len(lines) == 2 and float(lines[1]) == 66.0


def test_through_a_proxy_jump(sshd: LoopbackSSHD) -> None:
    config = str(sshd.client_config())
    hosts = [f"{sshd.user}@{sshd.host}:{sshd.port}", "localhost"]
    with ACLSSHBackend(hosts, options=["-F", config], timeout=20.0) as backend:
        assert "-J" in backend.argv(["read G:AMANDA"])
        assert backend.read("G:AMANDA").run().value == 66.0


def test_unknown_host_key_is_a_clear_error(sshd: LoopbackSSHD, tmp_path: Path) -> None:
    other_key = sshd.new_key("other_host_key")
    public = Path(f"{other_key}.pub").read_text().split()
    wrong_known_hosts = tmp_path / "known_hosts"
    wrong_known_hosts.write_text(f"[{sshd.host}]:{sshd.port} {public[0]} {public[1]}\n")
    options = {**sshd.client_options(), "known_hosts_file": str(wrong_known_hosts)}
    with ACLSSHBackend(sshd.host, timeout=20.0, **options) as backend, \
            pytest.raises(BackendUnavailable, match=r"HOST IDENTIFICATION HAS CHANGED|Host key verification"):
        backend.read("M:OUTTMP").run()


def test_refused_login_is_an_authentication_error(sshd: LoopbackSSHD) -> None:
    options = {**sshd.client_options(), "identity_file": str(sshd.new_key("stranger_key"))}
    with ACLSSHBackend(sshd.host, timeout=20.0, **options) as backend, \
            pytest.raises(AuthenticationError, match="Permission denied"):
        backend.read("M:OUTTMP").run()
