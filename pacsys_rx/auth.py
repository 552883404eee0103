"""Credentials a backend needs for authenticated operations: Kerberos or a JWT.

Both objects are immutable. Neither talks to the network: ``KerberosAuth`` names which ticket
(from ``kinit``) and which service to use, ``JWTAuth`` carries a bearer token for DPM/gRPC.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NoReturn

from pacsys_rx.errors import AuthenticationError

JWT_TOKEN_ENV = "PACSYS_JWT_TOKEN"
MISSING_KERBEROS_EXTRA = "Kerberos support needs the 'kerberos' extra: pip install pacsys_rx[kerberos]"


def load_gssapi() -> ModuleType:
    """Import the optional ``gssapi`` package; AuthenticationError says how to install it."""
    try:
        import gssapi
    except ImportError as exc:
        raise AuthenticationError(MISSING_KERBEROS_EXTRA) from exc
    module: ModuleType = gssapi
    return module


@dataclass(frozen=True)
class KerberosAuth:
    """Kerberos credentials from the user's ticket cache (``kinit``; ``KRB5CCNAME`` selects it).

    ``principal`` picks the client principal (None: the cache's default principal); ``service``
    is a Kerberos principal name that replaces the backend's service principal (None: the
    backend's default). Needs the ``kerberos`` extra; without it construction raises
    AuthenticationError.
    """

    principal: str | None = None
    service: str | None = None

    def __post_init__(self) -> None:
        for field, value in (("principal", self.principal), ("service", self.service)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise AuthenticationError(f"KerberosAuth {field} must be a non-empty string, got {value!r}")
        load_gssapi()


class JWTAuth:
    """A JWT bearer token: the ``token`` argument, else ``PACSYS_JWT_TOKEN`` at construction time.

    The token is never validated here; ``subject`` only decodes its ``sub`` claim for display.
    """

    __slots__ = ("_token",)
    _token: str | None

    def __init__(self, token: str | None = None) -> None:
        if token is not None and not isinstance(token, str):
            raise TypeError(f"token must be a str or None, got {type(token).__name__}")
        text = (token or os.environ.get(JWT_TOKEN_ENV, "")).strip()
        object.__setattr__(self, "_token", text or None)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"JWTAuth is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"JWTAuth is immutable; cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JWTAuth) and other._token == self._token

    def __hash__(self) -> int:
        return hash((JWTAuth, self._token))

    def __repr__(self) -> str:
        return f"JWTAuth(token={'<set>' if self._token else None})"

    @property
    def has_token(self) -> bool:
        """Whether a token was given or found in the environment."""
        return self._token is not None

    @property
    def token(self) -> str:
        """The compact JWT (``header.payload.signature``)."""
        if self._token is None:
            raise AuthenticationError(f"No JWT: pass JWTAuth(token=...) or set {JWT_TOKEN_ENV}")
        return self._token

    @property
    def subject(self) -> str:
        """The token's ``sub`` claim, decoded without verifying the signature."""
        claims = jwt_claims(self.token)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise AuthenticationError("JWT has no 'sub' claim")
        return subject


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWT as a dict, without any verification."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthenticationError(f"JWT must have three dot-separated parts, got {len(parts)}")
    payload = parts[1]
    try:
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (binascii.Error, ValueError) as exc:
        raise AuthenticationError(f"JWT payload is not base64url-encoded JSON: {exc}") from exc
    if not isinstance(claims, dict):
        raise AuthenticationError("JWT payload is not a JSON object")
    return claims
