"""GSS-API (Kerberos 5) helpers: client contexts for DPM/HTTP and DMQ, acceptor contexts for the simulator.

``gssapi`` is imported only when a function here needs it, so this module can be imported
without the ``kerberos`` extra. Every GSS failure surfaces as ``AuthenticationError``.

The MIT library reads ``KRB5_CONFIG`` and ``KRB5CCNAME`` each time a context or credential is
acquired, so changing ``os.environ`` in-process takes effect for the next call.
"""

from __future__ import annotations

import os
from typing import Any

from pacsys_rx.auth import KerberosAuth, load_gssapi
from pacsys_rx.errors import AuthenticationError

REALM = "FNAL.GOV"
DMQ_SERVICE_PRINCIPAL = f"daeset/bd/dmq.fnal.gov@{REALM}"
HOST_ADDRESS_LENGTH = 4


def dpm_service_principal(service_name: str) -> str:
    """The principal for the service name a DPM announces: ``daeset@host`` -> ``daeset/host@FNAL.GOV``."""
    if not service_name:
        raise AuthenticationError("DPM announced no Kerberos service name")
    return service_name.replace("@", "/").replace("\\", "") + "@" + REALM


def service_principal_for(auth: KerberosAuth, backend_default: str) -> str:
    """The service principal to use: ``auth.service`` if set, else the backend's default."""
    return auth.service or backend_default


def dmq_signed_bytes(
    body: bytes,
    *,
    message_id: str | None,
    correlation_id: str | None,
    reply_to: str | None,
    app_id: str | None,
    host_address: bytes,
) -> bytes:
    """The byte string a DMQ message's MIC covers: body and properties joined by NUL bytes.

    Unset properties are empty slots; ``host_address`` is the 4-byte ``host-address`` header.
    """
    if len(host_address) != HOST_ADDRESS_LENGTH:
        raise ValueError(f"host_address must be {HOST_ADDRESS_LENGTH} bytes, got {len(host_address)}")
    slots = [(text or "").encode("utf-8") for text in (message_id, correlation_id, reply_to, app_id)]
    return b"\x00".join([bytes(body), *slots, bytes(host_address)]) + b"\x00"


def check_credentials(auth: KerberosAuth) -> str:
    """The client principal of a usable ticket; AuthenticationError if it is missing or expired."""
    _, principal = _initiator_credentials(auth)
    return principal


class ClientContext:
    """An initiating Kerberos context towards ``service_principal``.

    Requests integrity, replay and out-of-sequence detection, without mutual authentication,
    delegation or confidentiality, so the first token usually completes the context.
    Credentials are checked on construction, before any network traffic.
    """

    def __init__(self, auth: KerberosAuth, service_principal: str) -> None:
        gssapi = load_gssapi()
        credentials, self.principal = _initiator_credentials(auth)
        self.service_principal = service_principal
        flags = (
            gssapi.RequirementFlag.integrity
            | gssapi.RequirementFlag.replay_detection
            | gssapi.RequirementFlag.out_of_sequence_detection
        )
        try:
            target = gssapi.Name(service_principal, gssapi.NameType.kerberos_principal)
            self._context = gssapi.SecurityContext(
                name=target, creds=credentials, usage="initiate", mech=gssapi.MechType.kerberos, flags=flags
            )
        except gssapi.exceptions.GSSError as exc:
            raise AuthenticationError(
                f"Bad Kerberos service principal {service_principal!r}: {_gss_reason(exc)}"
            ) from exc

    @property
    def complete(self) -> bool:
        """Whether the context is established."""
        return bool(self._context.complete)

    def step(self, token: bytes | None = None) -> bytes | None:
        """Process the server's token (None for the first step); return the token to send, if any."""
        if self.complete:
            raise AuthenticationError("Kerberos context is already established")
        gssapi = load_gssapi()
        try:
            output = self._context.step(token or None)
        except gssapi.exceptions.GSSError as exc:
            raise AuthenticationError(
                f"Kerberos authentication of {self.principal} to {self.service_principal} failed: "
                f"{_gss_reason(exc)}"
            ) from exc
        return output or None

    def get_mic(self, data: bytes) -> bytes:
        """A MIC over ``data``; MICs must reach the server in the order they were made."""
        if not self.complete:
            raise AuthenticationError("Kerberos context is not established; cannot sign")
        gssapi = load_gssapi()
        try:
            return bytes(self._context.get_signature(data))
        except gssapi.exceptions.GSSError as exc:
            raise AuthenticationError(f"Kerberos signing failed: {_gss_reason(exc)}") from exc


class AcceptorContext:
    """An accepting Kerberos context for a server, with keys from ``keytab``.

    ``keytab`` None uses the library default (``KRB5_KTNAME``); ``service_principal`` None
    accepts any service principal whose key is in the keytab.
    """

    def __init__(
        self, keytab: str | os.PathLike[str] | None = None, service_principal: str | None = None
    ) -> None:
        gssapi = load_gssapi()
        store = {"keytab": os.fspath(keytab)} if keytab is not None else None
        try:
            name = (
                gssapi.Name(service_principal, gssapi.NameType.kerberos_principal)
                if service_principal
                else None
            )
            credentials = gssapi.Credentials(
                name=name, usage="accept", mechs=[gssapi.MechType.kerberos], store=store
            )
            self._context = gssapi.SecurityContext(creds=credentials, usage="accept")
        except gssapi.exceptions.GSSError as exc:
            raise AuthenticationError(
                f"No acceptor key for {service_principal or 'any service'} "
                f"in {keytab or 'the default keytab'}: {_gss_reason(exc)}"
            ) from exc

    @property
    def complete(self) -> bool:
        """Whether the context is established."""
        return bool(self._context.complete)

    def step(self, token: bytes) -> bytes | None:
        """Process a client token; return the reply token, if any."""
        if not token:
            raise AuthenticationError("Empty GSS-API token")
        if self.complete:
            raise AuthenticationError("Kerberos context is already established")
        gssapi = load_gssapi()
        try:
            output = self._context.step(token)
        except gssapi.exceptions.GSSError as exc:
            raise AuthenticationError(f"Kerberos token refused: {_gss_reason(exc)}") from exc
        return output or None

    @property
    def initiator(self) -> str:
        """The authenticated client principal, e.g. ``alice@FNAL.GOV``."""
        if not self.complete:
            raise AuthenticationError("Kerberos context is not established; no client principal yet")
        return str(self._context.initiator_name)

    def verify_mic(self, data: bytes, mic: bytes) -> None:
        """Check a client's MIC over ``data``; AuthenticationError if it does not verify.

        Replayed and out-of-order MICs are refused. A valid MIC that follows a gap (an earlier
        signed message never arrived or was refused) is accepted.
        """
        if not self.complete:
            raise AuthenticationError("Kerberos context is not established; cannot verify")
        gssapi = load_gssapi()
        try:
            self._context.verify_signature(data, mic)
        except gssapi.exceptions.TokenTooEarlyError:
            return
        except gssapi.exceptions.GSSError as exc:
            raise AuthenticationError(f"Kerberos signature refused: {_gss_reason(exc)}") from exc


def _gss_reason(exc: Any) -> str:
    """The most specific message of a GSSError: the mechanism's (minor) one when there is one."""
    uninformative = {"", "Success", "Unknown error"}
    try:
        messages = exc.get_all_statuses(exc.min_code, False) if exc.min_code else []
        messages = [message for message in messages if message not in uninformative]
        if not messages:
            messages = [m for m in exc.get_all_statuses(exc.maj_code, True) if m not in uninformative]
    except (AttributeError, ValueError):
        messages = []
    return "; ".join(messages) or str(exc)


def _initiator_credentials(auth: KerberosAuth) -> tuple[Any, str]:
    """Initiator credentials for ``auth`` and their principal name, checked for realm and expiry."""
    gssapi = load_gssapi()
    who = auth.principal or "the default principal"
    cache = os.environ.get("KRB5CCNAME", "the default credential cache")
    try:
        name = gssapi.Name(auth.principal, gssapi.NameType.kerberos_principal) if auth.principal else None
        credentials = gssapi.Credentials(name=name, usage="initiate", mechs=[gssapi.MechType.kerberos])
        lifetime = credentials.lifetime
        principal = str(credentials.name)
    except gssapi.exceptions.ExpiredCredentialsError as exc:
        raise AuthenticationError(f"Kerberos ticket of {who} in {cache} has expired; run kinit") from exc
    except gssapi.exceptions.MissingCredentialsError as exc:
        raise AuthenticationError(
            f"No Kerberos ticket for {who} in {cache}; run kinit ({_gss_reason(exc)})"
        ) from exc
    except gssapi.exceptions.GSSError as exc:
        raise AuthenticationError(f"Kerberos credentials of {who} unusable: {_gss_reason(exc)}") from exc
    if lifetime is not None and lifetime <= 0:
        raise AuthenticationError(f"Kerberos ticket of {principal} in {cache} has expired; run kinit")
    if principal.rpartition("@")[2] != REALM:
        raise AuthenticationError(f"Kerberos principal {principal} is not in realm {REALM}")
    return credentials, principal
