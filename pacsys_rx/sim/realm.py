"""A throwaway MIT Kerberos realm on loopback, for the tests and the demo.

The realm is called ``FNAL.GOV`` because the client accepts only that realm; a private
krb5.conf (``KRB5_CONFIG``) points it at the loopback KDC with every DNS lookup turned off, so
the real Fermilab realm is never contacted. Nothing outside the realm's temporary directory
is written. Needs Debian's krb5-kdc, krb5-admin-server and krb5-user.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from pacsys_rx.errors import PacsysError

REALM = "FNAL.GOV"
USER = "alice"
DPM_SERVICE = "daeset/localhost"
DMQ_SERVICE = "daeset/bd/dmq.fnal.gov"
DEBIAN_PACKAGES = "krb5-kdc krb5-admin-server krb5-user"
PROGRAMS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "kdestroy")
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
START_TIMEOUT = 10.0


class KerberosRealmUnavailable(PacsysError):
    """The realm cannot be started (programs missing, or the KDC does not come up)."""


def find_programs() -> dict[str, str]:
    """Paths of the MIT Kerberos programs; KerberosRealmUnavailable names the missing packages."""
    found = {name: shutil.which(name, path=SEARCH_PATH) for name in PROGRAMS}
    missing = sorted(name for name, path in found.items() if path is None)
    if missing:
        raise KerberosRealmUnavailable(
            f"the throwaway Kerberos realm needs {', '.join(missing)}; "
            f"install the Debian packages: apt-get install {DEBIAN_PACKAGES}"
        )
    return {name: path for name, path in found.items() if path is not None}


def free_loopback_port() -> int:
    """A port that is free on 127.0.0.1 for both TCP and UDP."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


class KerberosRealm:
    """A KDC for ``realm`` on a free loopback port, with a user and the simulator's services.

    Use it as a context manager. Principals: ``alice@FNAL.GOV`` (the user, with a ticket in
    ``ccache`` after start), ``daeset/localhost@FNAL.GOV`` (what the simulated DPM announces)
    and ``daeset/bd/dmq.fnal.gov@FNAL.GOV`` (DMQ's fixed service principal). Both service keys
    are in ``service_keytab``. ``env`` holds the variables a test or a subprocess needs.
    """

    def __init__(self, realm: str = REALM) -> None:
        self.realm = realm
        self.user_principal = f"{USER}@{realm}"
        self.dpm_service_principal = f"{DPM_SERVICE}@{realm}"
        self.dmq_service_principal = f"{DMQ_SERVICE}@{realm}"
        self.service_principals = (self.dpm_service_principal, self.dmq_service_principal)
        self._programs: dict[str, str] = {}
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._kdc: subprocess.Popen[bytes] | None = None
        self.directory = Path()
        self.port = 0

    @property
    def krb5_config(self) -> Path:
        """The client-side krb5.conf of the realm (what ``KRB5_CONFIG`` points at)."""
        return self.directory / "krb5.conf"

    @property
    def kdc_config(self) -> Path:
        """The KDC's kdc.conf (what ``KRB5_KDC_PROFILE`` points at)."""
        return self.directory / "kdc.conf"

    @property
    def ccache(self) -> str:
        """The user's credential cache, as a ``KRB5CCNAME`` value."""
        return f"FILE:{self.directory / 'ccache'}"

    @property
    def user_keytab(self) -> Path:
        """Keytab holding the user's key (used by ``kinit``)."""
        return self.keytab_path(self.user_principal)

    @property
    def service_keytab(self) -> Path:
        """Keytab holding the keys of every service principal of the simulator."""
        return self.directory / "services.keytab"

    @property
    def env(self) -> dict[str, str]:
        """Environment variables for a Kerberos client or server using this realm."""
        return {
            "KRB5_CONFIG": str(self.krb5_config),
            "KRB5_KDC_PROFILE": str(self.kdc_config),
            "KRB5CCNAME": self.ccache,
            "KRB5RCACHEDIR": str(self.directory),
        }

    def qualified(self, name: str) -> str:
        """``name`` with ``@realm`` appended unless it already names a realm."""
        return name if "@" in name else f"{name}@{self.realm}"

    def keytab_path(self, principal: str) -> Path:
        """Where ``add_principal`` puts the keytab of ``principal``."""
        return self.directory / (principal.replace("/", "_").replace("@", "_at_") + ".keytab")

    def __enter__(self) -> KerberosRealm:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Create the database, the principals and keytabs, start the KDC and get the user's ticket."""
        self._programs = find_programs()
        self._tempdir = tempfile.TemporaryDirectory(prefix="pacsys-krb5-")
        self.directory = Path(self._tempdir.name)
        try:
            self.port = free_loopback_port()
            self._write_configs()
            self._run("kdb5_util", "-r", self.realm, "create", "-s", "-P", secrets.token_urlsafe(24))
            self.add_principal(self.user_principal)
            for principal in self.service_principals:
                self._kadmin(f"addprinc -randkey {principal}")
            self._kadmin(f"ktadd -k {self.service_keytab} {' '.join(self.service_principals)}")
            self._start_kdc()
            self.kinit()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the KDC and delete every file of the realm."""
        if self._kdc is not None:
            self._kdc.terminate()
            try:
                self._kdc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kdc.kill()
                self._kdc.wait()
            self._kdc = None
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def add_principal(self, name: str) -> Path:
        """Add a principal with a random key (realm appended if missing) and return its keytab."""
        principal = self.qualified(name)
        keytab = self.keytab_path(principal)
        self._kadmin(f"addprinc -randkey {principal}")
        self._kadmin(f"ktadd -k {keytab} {principal}")
        return keytab

    def kinit(self, principal: str | None = None, lifetime: str | None = None) -> None:
        """Ticket for ``principal`` (default: the user) from its ``add_principal`` keytab into ``ccache``."""
        principal = self.qualified(principal) if principal else self.user_principal
        lifetime_args = ["-l", lifetime] if lifetime else []
        self._run("kinit", *lifetime_args, "-k", "-t", str(self.keytab_path(principal)), principal)

    def kdestroy(self) -> None:
        """Remove every ticket from ``ccache``."""
        self._run("kdestroy", "-q", check=False)

    def _write_configs(self) -> None:
        d = self.directory
        self.krb5_config.write_text(
            f"""[libdefaults]
    default_realm = {self.realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    default_ccache_name = {self.ccache}

[realms]
    {self.realm} = {{
        kdc = 127.0.0.1:{self.port}
    }}

[domain_realm]
    localhost = {self.realm}
"""
        )
        self.kdc_config.write_text(
            f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{self.port}
    kdc_tcp_listen = 127.0.0.1:{self.port}

[realms]
    {self.realm} = {{
        database_name = {d / "principal"}
        key_stash_file = {d / "stash"}
        acl_file = {d / "kadm5.acl"}
        max_life = 10h
        max_renewable_life = 0
    }}

[logging]
    kdc = FILE:{d / "kdc.log"}
    admin_server = FILE:{d / "kadmin.log"}
    default = FILE:{d / "krb5.log"}
"""
        )

    def _start_kdc(self) -> None:
        log = (self.directory / "krb5kdc.out").open("wb")
        with log:
            self._kdc = subprocess.Popen(
                [self._programs["krb5kdc"], "-n", "-r", self.realm],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._kdc.poll() is not None:
                raise KerberosRealmUnavailable(
                    f"krb5kdc exited with {self._kdc.returncode}: {self._kdc_log()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise KerberosRealmUnavailable(
            f"krb5kdc did not listen on 127.0.0.1:{self.port} within {START_TIMEOUT} s: {self._kdc_log()}"
        )

    def _kdc_log(self) -> str:
        parts = []
        for name in ("krb5kdc.out", "kdc.log"):
            path = self.directory / name
            if path.exists():
                parts.append(path.read_text(errors="replace").strip())
        return " | ".join(part for part in parts if part)

    def _kadmin(self, query: str) -> None:
        self._run("kadmin.local", "-r", self.realm, "-q", query)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        result = subprocess.run(
            [self._programs[program], *args],
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check and result.returncode != 0:
            raise KerberosRealmUnavailable(
                f"{program} {' '.join(args)} failed ({result.returncode}): "
                f"{result.stdout.strip()} {result.stderr.strip()}"
            )
