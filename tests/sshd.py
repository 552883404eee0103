"""A throwaway OpenSSH server on a free loopback port, for the ACL-over-SSH tests.

Everything lives in one temporary directory: a generated host key, a generated client key listed in
``authorized_keys``, a private ``known_hosts`` for the client, and an ``acl`` program on the remote
PATH that runs the simulator's ``python -m pacsys_rx.sim.acl_command``. Remote commands go through a
ForceCommand wrapper that puts that program first on PATH. Needs Debian's openssh-server
(``/usr/sbin/sshd``) and the ``ssh``/``ssh-keygen`` client tools.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"
START_TIMEOUT_S = 10.0


class SSHDUnavailable(RuntimeError):
    """openssh-server or the ssh client tools are missing, or sshd did not start."""


@dataclass(frozen=True)
class LoopbackSSHD:
    """A running sshd: where it listens, who may log in, and the client-side files to use."""

    host: str
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    directory: Path

    def client_options(self) -> dict[str, object]:
        """Keyword arguments for ``ACLSSHBackend`` that log in to this server and nothing else."""
        return {"port": self.port, "user": self.user, "identity_file": str(self.client_key),
                "known_hosts_file": str(self.known_hosts),
                "options": ["-F", "/dev/null", "-o", "IdentitiesOnly=yes",
                            "-o", "GlobalKnownHostsFile=/dev/null"]}

    def client_config(self) -> Path:
        """An ssh_config that logs in to this server under any host name (for ProxyJump hops too)."""
        path = self.directory / "ssh_config"
        path.write_text("\n".join([
            "Host *", f"  User {self.user}", f"  Port {self.port}", f"  IdentityFile {self.client_key}",
            "  IdentitiesOnly yes", f"  UserKnownHostsFile {self.known_hosts}",
            "  GlobalKnownHostsFile /dev/null", "  StrictHostKeyChecking yes", "  BatchMode yes", "",
        ]))
        return path

    def new_key(self, name: str) -> Path:
        """A fresh key pair that this server does not accept; returns the private key path."""
        return _keygen(self.directory / name)


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
                   check=True, capture_output=True)
    return path


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _write_program(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _wait_listening(host: str, port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            raise SSHDUnavailable(f"sshd exited with status {process.returncode}: {error}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SSHDUnavailable(f"sshd did not listen on {host}:{port} within {START_TIMEOUT_S} s")


class SSHDProcess:
    """Starts sshd in a temporary directory (``with SSHDProcess() as server: ...``)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LoopbackSSHD:
        missing = [tool for tool in (SSHD, "ssh", "ssh-keygen") if shutil.which(tool) is None]
        if missing:
            raise SSHDUnavailable(f"missing {', '.join(missing)}: apt-get install -y openssh-server")
        self._temporary = tempfile.TemporaryDirectory(prefix="pacsys-rx-sshd-")
        directory = Path(self._temporary.name)
        directory.chmod(0o755)
        host_key = _keygen(directory / "host_key")
        client_key = _keygen(directory / "client_key")
        (directory / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
        port = _free_port(self.host)
        host_public = Path(f"{host_key}.pub").read_text().split()
        known_hosts = directory / "known_hosts"
        known_hosts.write_text("".join(f"[{name}]:{port} {host_public[0]} {host_public[1]}\n"
                                       for name in (self.host, "localhost")))
        bin_directory = directory / "bin"
        bin_directory.mkdir()
        _write_program(bin_directory / "acl",
                       f'#!/bin/sh\nexec "{sys.executable}" -m pacsys_rx.sim.acl_command "$@"\n')
        _write_program(directory / "session",
                       f'#!/bin/sh\nPATH="{bin_directory}:$PATH"\nexport PATH\n'
                       'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n')
        config = directory / "sshd_config"
        config.write_text("\n".join([
            f"ListenAddress {self.host}", f"Port {port}", f"HostKey {host_key}",
            f"AuthorizedKeysFile {directory / 'authorized_keys'}", f"PidFile {directory / 'sshd.pid'}",
            f"ForceCommand {directory / 'session'}", f"SetEnv PYTHONPATH={os.pathsep.join(sys.path)}",
            "StrictModes no", "UsePAM no", "PubkeyAuthentication yes", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "AllowTcpForwarding yes",
            "LogLevel ERROR", "",
        ]))
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self._process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_listening(self.host, port, self._process)
        except BaseException:
            self.__exit__()
            raise
        return LoopbackSSHD(self.host, port, getpass.getuser(), client_key, known_hosts, directory)

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None
