"""Client and acceptor GSS contexts against the throwaway realm of tests/kdc.py, in-process."""

from __future__ import annotations

import re
import time

import pytest
from kdc import KerberosRealm

from pacsys_rx.auth import KerberosAuth
from pacsys_rx.errors import AuthenticationError
from pacsys_rx.kerberos import (
    DMQ_SERVICE_PRINCIPAL,
    AcceptorContext,
    ClientContext,
    check_credentials,
    dmq_signed_bytes,
    dpm_service_principal,
)

pytestmark = pytest.mark.kerberos


def handshake(client: ClientContext, acceptor: AcceptorContext) -> None:
    """Exchange tokens until both sides are established, as the DPM Authenticate loop does."""
    token = client.step(None)
    while token is not None:
        reply = acceptor.step(token)
        token = client.step(reply) if reply is not None and not client.complete else None
    assert client.complete
    assert acceptor.complete


def test_check_credentials_names_the_user(kerberos_env: KerberosRealm) -> None:
    assert check_credentials(KerberosAuth()) == kerberos_env.user_principal
    assert check_credentials(KerberosAuth(principal="alice")) == kerberos_env.user_principal


def test_dpm_handshake_and_enable_settings_mic(kerberos_env: KerberosRealm) -> None:
    client = ClientContext(KerberosAuth(), dpm_service_principal("daeset@localhost"))
    acceptor = AcceptorContext(keytab=kerberos_env.service_keytab)
    token = client.step(None)
    assert token is not None
    assert token[:1] == b"\x60"
    assert client.complete
    assert acceptor.step(token) is None
    assert acceptor.complete
    assert acceptor.initiator == client.principal == kerberos_env.user_principal

    acceptor.verify_mic(b"1234", client.get_mic(b"1234"))


def test_dmq_messages_verify_in_order_and_tampering_is_refused(kerberos_env: KerberosRealm) -> None:
    client = ClientContext(KerberosAuth(), DMQ_SERVICE_PRINCIPAL)
    acceptor = AcceptorContext(kerberos_env.service_keytab, service_principal=DMQ_SERVICE_PRINCIPAL)
    handshake(client, acceptor)

    def signed(body: bytes) -> bytes:
        return dmq_signed_bytes(
            body,
            message_id="m-1",
            correlation_id=None,
            reply_to="x",
            app_id="pacsys",
            host_address=b"\x83\xe1\x8e\x44",
        )

    bodies = [b"init", b"value 1", b"value 2", b"value 3", b"value 4"]
    mics = [client.get_mic(signed(body)) for body in bodies]
    acceptor.verify_mic(signed(bodies[0]), mics[0])
    with pytest.raises(AuthenticationError, match="invalid Message Integrity Check"):
        acceptor.verify_mic(signed(b"value 1 tampered"), mics[1])
    tampered = bytearray(mics[2])
    tampered[-1] ^= 0x01
    with pytest.raises(AuthenticationError, match="invalid Message Integrity Check"):
        acceptor.verify_mic(signed(bodies[2]), bytes(tampered))
    acceptor.verify_mic(signed(bodies[2]), mics[2])
    with pytest.raises(AuthenticationError, match="duplicate"):
        acceptor.verify_mic(signed(bodies[2]), mics[2])
    acceptor.verify_mic(signed(bodies[4]), mics[4])
    with pytest.raises(AuthenticationError, match="signature refused"):
        acceptor.verify_mic(signed(bodies[3]), mics[3])


def test_acceptor_for_another_service_refuses_the_token(kerberos_env: KerberosRealm) -> None:
    client = ClientContext(KerberosAuth(), DMQ_SERVICE_PRINCIPAL)
    acceptor = AcceptorContext(
        kerberos_env.service_keytab, service_principal=kerberos_env.dpm_service_principal
    )
    token = client.step(None)
    assert token is not None
    with pytest.raises(AuthenticationError, match="refused"):
        acceptor.step(token)


def test_acceptor_refuses_garbage_and_empty_tokens(kerberos_env: KerberosRealm) -> None:
    with pytest.raises(AuthenticationError):
        AcceptorContext(kerberos_env.service_keytab).step(b"\x60\x03garbage")
    with pytest.raises(AuthenticationError, match="Empty"):
        AcceptorContext(kerberos_env.service_keytab).step(b"")
    with pytest.raises(AuthenticationError):
        AcceptorContext(kerberos_env.service_keytab).initiator  # noqa: B018


def test_acceptor_without_key(kerberos_env: KerberosRealm) -> None:
    with pytest.raises(AuthenticationError, match="No acceptor key"):
        AcceptorContext(kerberos_env.user_keytab, service_principal=DMQ_SERVICE_PRINCIPAL)
    with pytest.raises(AuthenticationError, match="No acceptor key"):
        AcceptorContext(kerberos_env.directory / "missing.keytab")


def test_unknown_service_principal_fails_on_first_step(kerberos_env: KerberosRealm) -> None:
    client = ClientContext(KerberosAuth(), "nobody/localhost@FNAL.GOV")
    with pytest.raises(AuthenticationError, match="not found"):
        client.step(None)


def test_added_principal_authenticates_with_its_own_keytab(kerberos_env: KerberosRealm) -> None:
    keytab = kerberos_env.add_principal("dpm/sim.example")
    client = ClientContext(KerberosAuth(), "dpm/sim.example@FNAL.GOV")
    acceptor = AcceptorContext(keytab)
    handshake(client, acceptor)
    assert acceptor.initiator == kerberos_env.user_principal


def test_no_ticket_fails_before_any_traffic(kerberos_env: KerberosRealm) -> None:
    kerberos_env.kdestroy()
    with pytest.raises(AuthenticationError, match="No Kerberos ticket"):
        check_credentials(KerberosAuth())
    with pytest.raises(AuthenticationError, match="No Kerberos ticket"):
        ClientContext(KerberosAuth(), DMQ_SERVICE_PRINCIPAL)


def test_ticket_of_another_principal_is_not_used(kerberos_env: KerberosRealm) -> None:
    with pytest.raises(AuthenticationError, match=re.escape("bob@FNAL.GOV")):
        check_credentials(KerberosAuth(principal="bob@FNAL.GOV"))


def test_expired_ticket(kerberos_env: KerberosRealm) -> None:
    kerberos_env.kinit(lifetime="1s")
    time.sleep(1.2)
    with pytest.raises(AuthenticationError, match="expired"):
        check_credentials(KerberosAuth())


def test_principal_outside_fnal_realm_is_refused() -> None:
    with KerberosRealm(realm="EXAMPLE.ORG") as other, pytest.MonkeyPatch.context() as patch:
        for name, value in other.env.items():
            patch.setenv(name, value)
        with pytest.raises(AuthenticationError, match=re.escape("not in realm FNAL.GOV")):
            check_credentials(KerberosAuth())
