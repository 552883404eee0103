"""ACL over SSH: ACL scripts run by the ``acl`` program of a remote host through the system OpenSSH
client, read-only, with the same text parsing as the CGI backend.

Every script is one ``ssh`` invocation in batch mode (no prompts): ``ssh -o BatchMode=yes [-J hop,...]
target -- acl '<commands separated by ;>'``. Authentication (Kerberos/GSSAPI, keys, agents) and host
keys follow the user's ssh configuration; ``options`` adds ssh arguments (e.g. ``-o ControlMaster=auto``
to reuse one connection). Readings are emitted on the backend's worker threads
(``pacsys-rx-acl_ssh-N``).
"""

from __future__ import annotations

import math
import shlex
import subprocess
from collections.abc import Sequence

from reactivex import abc as rxabc

from pacsys_rx.backends.acl.backend import DEFAULT_WORKERS, ACLScriptBackend, ScriptFailed
from pacsys_rx.backends.base import DEFAULT_TIMEOUT
from pacsys_rx.errors import AuthenticationError, BackendUnavailable
from pacsys_rx.protocols.acl import batch_by_length

DEFAULT_MAX_SCRIPT_LENGTH = 100_000
"""Longest remote command line (Linux refuses single arguments over 128 KiB)."""

SSH_FAILURE = 255
"""Exit status with which ``ssh`` reports its own failures (connection, host key, login)."""

_SEPARATOR = "; "
_LOGIN_FAILURES = ("permission denied", "authentication failed", "no more authentication methods",
                   "too many authentication failures")


class ACLSSHBackend(ACLScriptBackend):
    """ACL through ``ssh``: ``ACLSSHBackend(hosts, user=None, port=None, ...)``.

    ``hosts``: one host, or several where the last runs ``acl`` and the others are ProxyJump hops.
    ``identity_file``, ``known_hosts_file``, ``port``, ``user`` and ``gssapi`` map to ssh options
    when given; ``command`` is the remote program (default ``acl``). ``timeout`` bounds each ssh run.
    """

    name = "acl_ssh"

    def __init__(self, hosts: str | Sequence[str], *, user: str | None = None, port: int | None = None,
                 identity_file: str | None = None, known_hosts_file: str | None = None,
                 gssapi: bool | None = None, options: Sequence[str] = (), command: str = "acl",
                 ssh: str = "ssh", timeout: float = DEFAULT_TIMEOUT, workers: int = DEFAULT_WORKERS,
                 max_script_length: int = DEFAULT_MAX_SCRIPT_LENGTH,
                 scheduler: rxabc.SchedulerBase | None = None) -> None:
        if not isinstance(hosts, (str, Sequence)):
            raise TypeError(f"hosts must be a host name or a sequence of them, got {type(hosts).__name__}")
        host_list = [hosts] if isinstance(hosts, str) else list(hosts)
        if not host_list or not all(isinstance(h, str) and h.strip() for h in host_list):
            raise ValueError(f"hosts must name at least one host, got {hosts!r}")
        if port is not None and (type(port) is not int or not 1 <= port <= 65535):
            raise ValueError(f"port must be 1..65535, got {port!r}")
        super().__init__(timeout=timeout, workers=workers, scheduler=scheduler)
        self.hosts = host_list
        self.command = command
        self.max_script_length = max_script_length
        self._argv = [ssh, "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, math.ceil(self.timeout))}"]
        if len(host_list) > 1:
            self._argv += ["-J", ",".join(host_list[:-1])]
        for flag, value in (("-p", port), ("-l", user), ("-i", identity_file)):
            if value is not None:
                self._argv += [flag, str(value)]
        if known_hosts_file is not None:
            self._argv += ["-o", f"UserKnownHostsFile={known_hosts_file}", "-o", "StrictHostKeyChecking=yes"]
        if gssapi is not None:
            self._argv += ["-o", f"GSSAPIAuthentication={'yes' if gssapi else 'no'}"]
        self._argv += [*options, host_list[-1], "--"]

    def argv(self, commands: Sequence[str]) -> list[str]:
        """The ``ssh`` command line that runs ``commands``."""
        return [*self._argv, f"{self.command} {shlex.quote(_SEPARATOR.join(commands))}"]

    def _batches(self, commands: Sequence[str]) -> list[list[int]]:
        return batch_by_length([_quoted_size(c) for c in commands], overhead=len(self.command) + 3,
                               separator=len(_SEPARATOR), limit=self.max_script_length)

    def _too_long(self, command: str) -> str | None:
        length = len(self.command) + 3 + _quoted_size(command)
        if length <= self.max_script_length:
            return None
        return f"ACL command too long: {length} characters exceed the limit of {self.max_script_length}"

    def _run(self, commands: Sequence[str]) -> str:
        target = self.hosts[-1]
        try:
            done = subprocess.run(self.argv(commands), stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise BackendUnavailable(f"ACL over ssh to {target} timed out after {self.timeout:g}s") from None
        except OSError as error:
            raise BackendUnavailable(f"cannot run ssh: {error}") from None
        output = done.stdout.decode("utf-8", errors="replace")
        problem = done.stderr.decode("utf-8", errors="replace").strip()
        if done.returncode == SSH_FAILURE:
            if any(text in problem.lower() for text in _LOGIN_FAILURES):
                raise AuthenticationError(f"ssh login to {target} failed: {problem}")
            raise BackendUnavailable(f"ssh to {target} failed: {problem or 'exit status 255'}")
        if done.returncode != 0 and not output.strip():
            raise ScriptFailed(f"{self.command} on {target} exited with status {done.returncode}: {problem}")
        return output


def _quoted_size(command: str) -> int:
    """Length of ``command`` inside the single-quoted remote argument (each ``'`` becomes 5 characters)."""
    return len(command) + 4 * command.count("'")
