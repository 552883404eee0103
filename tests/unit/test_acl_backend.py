"""ACL backends without sockets: batching, per-device fallback, status reads, errors, construction."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx.backends.acl import DEFAULT_URL, ACLBackend, ACLScriptBackend, ScriptFailed
from pacsys_rx.backends.acl.ssh import ACLSSHBackend
from pacsys_rx.backends.base import Capability
from pacsys_rx.errors import AuthenticationError, BackendUnavailable, NotSupported
from pacsys_rx.model import AcnetStatus, BasicStatus, Reading
from pacsys_rx.protocols.acl import batch_by_length, split_script

Answer = Callable[[Sequence[str]], str]


class ScriptedACL(ACLScriptBackend):
    """An ACL backend whose interpreter is a function of the commands; records every script run."""

    name = "scripted"

    def __init__(self, answer: Answer, limit: int = 10_000, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.answer = answer
        self.limit = limit
        self.scripts: list[list[str]] = []
        self.threads: set[str] = set()
        self._record = threading.Lock()

    def _run(self, commands: Sequence[str]) -> str:
        with self._record:
            self.scripts.append(list(commands))
            self.threads.add(threading.current_thread().name)
        return self.answer(commands)

    def _batches(self, commands: Sequence[str]) -> list[list[int]]:
        return batch_by_length([len(c) for c in commands], 0, 1, self.limit)

    def _too_long(self, command: str) -> str | None:
        return None if len(command) <= self.limit else "too long"


LINES = {
    "read M:OUTTMP": "M:OUTTMP       =  72.5 DegF",
    "read G:AMANDA": "G:AMANDA       =  66",
    "read Z:BAD": "Invalid device name (Z:BAD) in read device command at line 0 - DIO_NO_SUCH",
    "read N:LGXS.STATUS.ON": "N:LGXS is on = False",
    "read N:LGXS.STATUS.READY": "N:LGXS is ready = False",
    "read N:LGXS.STATUS.REMOTE": "N:LGXS is remote = True",
    "read N:LGXS.STATUS.POSITIVE": "N:LGXS is positive = True",
    "read N:LGXS.STATUS.RAMP": "N:LGXS is ramping = False",
}


def acl_like(commands: Sequence[str]) -> str:
    """Answers like ACL: one line per read, or only the first error line (abort on first error)."""
    lines = [LINES.get(c, f"Invalid device name ({c[5:]}) - DIO_NO_SUCH") for c in commands]
    errors = [line for line in lines if " - D" in line]
    return (errors[0] if errors else "\n".join(lines)) + "\n"


def read_all(backend: ACLScriptBackend, drfs: list[str]) -> list[Reading]:
    readings = backend.read_many(drfs).pipe(rxops.to_list()).run()
    order = {drf: i for i, drf in enumerate(drfs)}
    return sorted(readings, key=lambda r: order[r.drf])


def test_batch_is_one_script() -> None:
    with ScriptedACL(acl_like) as backend:
        readings = read_all(backend, ["M:OUTTMP", "G:AMANDA"])
        assert [r.value for r in readings] == [72.5, 66.0]
        assert backend.scripts == [["read M:OUTTMP", "read G:AMANDA"]]
        assert all(name.startswith("pacsys-rx-scripted") for name in backend.threads)


def test_spec_example_18_abort_on_first_error_falls_back_per_device() -> None:
    with ScriptedACL(acl_like) as backend:
        readings = read_all(backend, ["M:OUTTMP", "Z:BAD", "G:AMANDA"])
        assert [r.value for r in readings] == [72.5, None, 66.0]
        assert readings[1].status == AcnetStatus.named("DIO_NO_SUCH")
        assert backend.scripts[0] == ["read M:OUTTMP", "read Z:BAD", "read G:AMANDA"]
        assert sorted(map(tuple, backend.scripts[1:])) == [("read G:AMANDA",), ("read M:OUTTMP",),
                                                             ("read Z:BAD",)]


def test_spec_example_19_line_count_mismatch_falls_back() -> None:
    def short(commands: Sequence[str]) -> str:
        return LINES[commands[0]]

    with ScriptedACL(short) as backend:
        assert [r.value for r in read_all(backend, ["M:OUTTMP", "G:AMANDA"])] == [72.5, 66.0]
        assert len(backend.scripts) == 3


def test_spec_example_22_interpreter_failure() -> None:
    def unavailable(commands: Sequence[str]) -> str:
        raise ScriptFailed("ACL request failed (http://x/cgi-bin/acl.pl?acl=read+M:OUTTMP): HTTP 503")

    with ScriptedACL(unavailable) as backend:
        readings = read_all(backend, ["M:OUTTMP", "G:AMANDA"])
        assert all(r.is_error and "HTTP 503" in (r.message or "") for r in readings)
        assert readings[0].status == AcnetStatus(0, -1)
        assert len(backend.scripts) == 3


def test_batches_split_by_length() -> None:
    drfs = [f"Z:DEV{i:03d}" for i in range(50)]

    def fine(commands: Sequence[str]) -> str:
        return "\n".join(f"{c[5:]} = {i}" for i, c in enumerate(commands))

    with ScriptedACL(fine, limit=100) as backend:
        readings = read_all(backend, drfs)
        assert len(readings) == 50 and all(r.ok for r in readings)
        assert len(backend.scripts) > 1
        assert all(len(" ".join(s)) <= 100 for s in backend.scripts)
        assert [c for s in backend.scripts for c in s] == [f"read {d}" for d in drfs]


def test_basic_status_reads_five_attributes() -> None:
    with ScriptedACL(acl_like) as backend:
        (reading,) = read_all(backend, ["N|LGXS"])
        assert reading.value == BasicStatus(on=False, ready=False, remote=True, positive=True, ramp=False)
        assert [s[0] for s in backend.scripts] == [f"read N:LGXS.STATUS.{a}" for a in
                                                   ("ON", "READY", "REMOTE", "POSITIVE", "RAMP")]


def test_refused_requests_send_nothing() -> None:
    with ScriptedACL(acl_like) as backend:
        readings = read_all(backend, ["M:OUTTMP@p,1000", "M:OUTTMP<-LOGGER:1:2"])
        assert all(r.is_error and r.status == AcnetStatus(0, -1) for r in readings)
        assert backend.scripts == []


def test_read_of_one_device_and_errors_as_values() -> None:
    with ScriptedACL(acl_like) as backend:
        reading = backend.read("Z:BAD").run()
        assert reading.is_error and reading.message and reading.message.endswith("DIO_NO_SUCH")


def test_transport_failure_fails_the_observable() -> None:
    def down(commands: Sequence[str]) -> str:
        raise BackendUnavailable("ACL request timed out after 5s")

    with ScriptedACL(down) as backend, pytest.raises(BackendUnavailable, match="timed out"):
        backend.read_many(["M:OUTTMP", "G:AMANDA"]).run()


def test_execute_returns_the_text() -> None:
    with ScriptedACL(acl_like) as backend:
        assert backend.execute("read M:OUTTMP; read G:AMANDA").run() == (
            "M:OUTTMP       =  72.5 DegF\nG:AMANDA       =  66\n")
        assert backend.scripts == [["read M:OUTTMP", "read G:AMANDA"]]
        with pytest.raises(ValueError, match="empty"):
            backend.execute(" ; ")


def test_execute_interpreter_failure_is_backend_unavailable() -> None:
    def broken(commands: Sequence[str]) -> str:
        raise ScriptFailed("HTTP 500")

    with ScriptedACL(broken) as backend, pytest.raises(BackendUnavailable, match="HTTP 500"):
        backend.execute("read M:OUTTMP").run()


# ----------------------------------------------------------------------------- HTTP backend


def test_factory_defaults_and_capabilities(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PACSYS_ACL_URL", raising=False)
    with prx.acl() as backend:
        assert isinstance(backend, ACLBackend)
        assert backend.base_url == DEFAULT_URL == "https://www-bd.fnal.gov/cgi-bin/acl.pl"
        assert backend.timeout == 5.0 and backend.name == "acl"
        assert backend.capabilities == Capability.READ | Capability.BATCH | Capability.HISTORY
        assert Capability.STREAM not in backend.capabilities and Capability.WRITE not in backend.capabilities


def test_environment_and_argument_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACSYS_ACL_URL", "https://localhost:10443/cgi-bin/acl.pl")
    with ACLBackend() as from_env, ACLBackend("http://127.0.0.1:1/cgi-bin/acl.pl") as explicit:
        assert from_env.base_url == "https://localhost:10443/cgi-bin/acl.pl"
        assert explicit.base_url == "http://127.0.0.1:1/cgi-bin/acl.pl"


@pytest.mark.parametrize("url", ["ftp://x/cgi-bin/acl.pl", "https:///acl.pl", "https://x/acl.pl?acl=read"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        ACLBackend(url)


def test_stream_and_write_are_not_supported() -> None:
    with ACLBackend("http://127.0.0.1:1/cgi-bin/acl.pl") as backend:
        with pytest.raises(NotSupported, match="dpm, grpc or dmq"):
            backend.stream("M:OUTTMP@p,1000").run()
        with pytest.raises(NotSupported, match="dpm, grpc or dmq"):
            backend.write("Z:ACLTST", 1.0).run()


def test_url_is_built_with_the_cgi_rules() -> None:
    with ACLBackend("https://www-bd.fnal.gov/cgi-bin/acl.pl") as backend:
        assert backend.url_for(["read M:OUTTMP", "read/pendwait M:OUTTMP.READING/event='e,02'"]) == (
            "https://www-bd.fnal.gov/cgi-bin/acl.pl?acl=read+M:OUTTMP\\;"
            "read/pendwait+M:OUTTMP.READING/event='e,02'")


def test_command_too_long_for_any_url_is_refused_locally() -> None:
    with ACLBackend("http://127.0.0.1:1/cgi-bin/acl.pl", max_url_length=80) as backend:
        reading = backend.read("Z:" + "A" * 60).run()
        assert reading.is_error and "too long" in (reading.message or "")


def test_connection_refused_is_backend_unavailable() -> None:
    with ACLBackend("http://127.0.0.1:1/cgi-bin/acl.pl", timeout=2.0) as backend, \
            pytest.raises(BackendUnavailable, match="ACL request failed"):
        backend.read("M:OUTTMP").run()


# ------------------------------------------------------------------------------ SSH backend


def test_ssh_command_line_with_jump_hosts() -> None:
    backend = ACLSSHBackend(["gw.fnal.gov", "me@hop:2222", "clx01.fnal.gov"], user="me", gssapi=True,
                            options=["-o", "ControlMaster=auto"], timeout=7.5)
    with backend:
        assert backend.argv(split_script("read M:OUTTMP; read M:OUTTMP/event='e,02'")) == [
            "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=8", "-J", "gw.fnal.gov,me@hop:2222",
            "-l", "me", "-o", "GSSAPIAuthentication=yes", "-o", "ControlMaster=auto", "clx01.fnal.gov", "--",
            "acl 'read M:OUTTMP; read M:OUTTMP/event='\"'\"'e,02'\"'\"''"]
        assert backend.name == "acl_ssh"


def test_ssh_failures_are_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ssh = tmp_path / "ssh"
    fake_ssh.write_text("#!/bin/sh\necho \"$FAKE_SSH_ERROR\" >&2\nexit 255\n")
    fake_ssh.chmod(0o755)
    with ACLSSHBackend("host", ssh=str(fake_ssh)) as backend:
        monkeypatch.setenv("FAKE_SSH_ERROR", "root@host: Permission denied (publickey).")
        with pytest.raises(AuthenticationError, match="Permission denied"):
            backend.read("M:OUTTMP").run()
        monkeypatch.setenv("FAKE_SSH_ERROR", "Host key verification failed.")
        with pytest.raises(BackendUnavailable, match="Host key verification failed"):
            backend.read("M:OUTTMP").run()


def test_missing_ssh_program() -> None:
    with ACLSSHBackend("host", ssh="/nonexistent/ssh") as backend, \
            pytest.raises(BackendUnavailable, match="cannot run ssh"):
        backend.read("M:OUTTMP").run()


@pytest.mark.parametrize("hosts", [[], "", [""]])
def test_ssh_needs_a_host(hosts: object) -> None:
    with pytest.raises(ValueError):
        ACLSSHBackend(hosts)  # type: ignore[arg-type]
