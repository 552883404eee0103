"""KerberosAuth / JWTAuth objects and the pure Kerberos helpers (no KDC needed)."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pacsys_rx.auth import JWT_TOKEN_ENV, MISSING_KERBEROS_EXTRA, JWTAuth, KerberosAuth
from pacsys_rx.errors import AuthenticationError
from pacsys_rx.kerberos import (
    DMQ_SERVICE_PRINCIPAL,
    check_credentials,
    dmq_signed_bytes,
    dpm_service_principal,
    service_principal_for,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "dmq_sdd.json"


def make_jwt(claims: dict[str, Any]) -> str:
    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([segment(b'{"alg":"none"}'), segment(json.dumps(claims).encode()), "sig"])


class TestJWTAuth:
    def test_explicit_token_wins_over_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(JWT_TOKEN_ENV, "from.env.token")
        assert JWTAuth("a.b.c").token == "a.b.c"

    def test_falls_back_to_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(JWT_TOKEN_ENV, " x.y.z\n")
        auth = JWTAuth()
        assert auth.has_token
        assert auth.token == "x.y.z"

    @pytest.mark.parametrize("env_value", [None, "", "   "])
    def test_no_token_raises_on_access(self, monkeypatch: pytest.MonkeyPatch, env_value: str | None) -> None:
        if env_value is None:
            monkeypatch.delenv(JWT_TOKEN_ENV, raising=False)
        else:
            monkeypatch.setenv(JWT_TOKEN_ENV, env_value)
        auth = JWTAuth()
        assert not auth.has_token
        with pytest.raises(AuthenticationError, match=JWT_TOKEN_ENV):
            _ = auth.token

    def test_subject_is_decoded_without_verification(self) -> None:
        assert JWTAuth(make_jwt({"sub": "alice@fnal.gov", "name": "Jürgen?>"})).subject == "alice@fnal.gov"

    @pytest.mark.parametrize(
        "token",
        ["not-a-jwt", "a.b", "a.!!!!.c", make_jwt({"name": "nobody"}), make_jwt({"sub": ""}), "a.WzFd.c"],
    )
    def test_bad_subject_raises(self, token: str) -> None:
        with pytest.raises(AuthenticationError):
            _ = JWTAuth(token).subject

    def test_immutable_equal_and_repr_hides_token(self) -> None:
        auth = JWTAuth("secret.token.value")
        with pytest.raises(AttributeError):
            auth._token = "other"
        assert auth == JWTAuth("secret.token.value")
        assert hash(auth) == hash(JWTAuth("secret.token.value"))
        assert "secret" not in repr(auth)


class TestKerberosAuth:
    def test_defaults_and_immutability(self) -> None:
        auth = KerberosAuth()
        assert auth.principal is None
        assert auth.service is None
        with pytest.raises(dataclasses.FrozenInstanceError):
            auth.principal = "bob@FNAL.GOV"  # type: ignore[misc]

    @pytest.mark.parametrize("field", ["principal", "service"])
    def test_empty_names_are_refused(self, field: str) -> None:
        with pytest.raises(AuthenticationError, match=field):
            KerberosAuth(**{field: " "})

    def test_without_gssapi_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "gssapi", None)
        with pytest.raises(AuthenticationError) as info:
            KerberosAuth()
        assert str(info.value) == MISSING_KERBEROS_EXTRA

    def test_importing_the_package_does_not_import_gssapi(self) -> None:
        code = (
            "import sys; import pacsys_rx, pacsys_rx.auth, pacsys_rx.kerberos; "
            "sys.exit('gssapi' in sys.modules)"
        )
        assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

    def test_no_ticket(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        config = tmp_path / "krb5.conf"
        config.write_text("[libdefaults]\n    default_realm = FNAL.GOV\n    dns_lookup_kdc = false\n")
        monkeypatch.setenv("KRB5_CONFIG", str(config))
        monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'no-such-ccache'}")
        with pytest.raises(AuthenticationError, match="kinit"):
            check_credentials(KerberosAuth())


class TestServicePrincipals:
    @pytest.mark.parametrize(
        ("announced", "principal"),
        [
            ("dpm@host.fnal.gov", "dpm/host.fnal.gov@FNAL.GOV"),
            ("daeset@dpm06.fnal.gov", "daeset/dpm06.fnal.gov@FNAL.GOV"),
            ("daeset/bd@dpm06.fnal.gov", "daeset/bd/dpm06.fnal.gov@FNAL.GOV"),
            ("daeset\\@localhost", "daeset/localhost@FNAL.GOV"),
        ],
    )
    def test_dpm_rule(self, announced: str, principal: str) -> None:
        assert dpm_service_principal(announced) == principal

    def test_dpm_without_name(self) -> None:
        with pytest.raises(AuthenticationError):
            dpm_service_principal("")

    def test_override(self) -> None:
        assert (
            service_principal_for(KerberosAuth(), DMQ_SERVICE_PRINCIPAL) == "daeset/bd/dmq.fnal.gov@FNAL.GOV"
        )
        override = KerberosAuth(service="daeset/localhost@FNAL.GOV")
        assert service_principal_for(override, DMQ_SERVICE_PRINCIPAL) == "daeset/localhost@FNAL.GOV"


def mic_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS.read_text())["mic_signed_bytes"]
    return vectors


@pytest.mark.parametrize("vector", mic_vectors(), ids=lambda vector: vector["purpose"][:40])
def test_dmq_signed_bytes_vectors(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    signed = dmq_signed_bytes(
        bytes.fromhex(inputs["body_hex"]),
        message_id=inputs["message_id"],
        correlation_id=inputs["correlation_id"],
        reply_to=inputs["reply_to"],
        app_id=inputs["app_id"],
        host_address=bytes.fromhex(inputs["host_address_hex"]),
    )
    assert signed.hex() == vector["signed_hex"]
    assert len(signed) == vector["signed_length"]


def test_dmq_signed_bytes_unset_properties_are_empty_slots() -> None:
    signed = dmq_signed_bytes(
        b"B",
        message_id="m",
        correlation_id=None,
        reply_to=None,
        app_id=None,
        host_address=b"\x00\x00\x00\x01",
    )
    assert signed == b"B" + b"\x00m" + b"\x00" * 3 + b"\x00" + b"\x00\x00\x00\x01" + b"\x00"


def test_dmq_signed_bytes_needs_four_address_bytes() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        dmq_signed_bytes(b"", message_id="", correlation_id="", reply_to="", app_id="", host_address=b"\x01")
