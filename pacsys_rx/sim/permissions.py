"""Who may set what: identities, roles with device allowlists, console classes against protection masks.

The rule (dpm-http.md §6.5): a setting is allowed when the identity's role lists the device, or when
the identity's console-class bitmask shares a bit with the device's protection mask. Refusals:

* no authenticated principal: ``DPM_PRIV``;
* a role was given but neither it nor the console class admits the device: ``DPM_PRIV``;
* no role and the console class does not admit the device: ``DPM_DBPRIV``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pacsys_rx.model import OK, AcnetStatus
from pacsys_rx.sim.catalogue import read_config_file
from pacsys_rx.sim.generators import CatalogueError

PRIVILEGE_REFUSED = AcnetStatus.named("DPM_PRIV")
CLASS_REFUSED = AcnetStatus.named("DPM_DBPRIV")

TEST_CONSOLE_CLASS = 0x0001
"""The console class every authenticated principal gets by default; the ``Z:ACLTS*`` devices admit it."""


@dataclass(frozen=True)
class Identity:
    """The caller of a setting: authenticated principal (None = anonymous), ACNET role, console classes."""

    principal: str | None = None
    role: str | None = None
    console_class: int = 0


ANONYMOUS = Identity()


@dataclass(frozen=True)
class Permissions:
    """Role allowlists (device name patterns), console classes, and how principals get them."""

    roles: Mapping[str, Sequence[str]] = field(default_factory=dict)
    authenticated_console_class: int = 0
    principal_console_classes: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def default(cls) -> Permissions:
        """Role ``testing`` may set ``Z:ACLTS*``; authenticated principals get :data:`TEST_CONSOLE_CLASS`."""
        return cls(
            roles={"testing": ("Z:ACLTST", "Z:ACLTS*")}, authenticated_console_class=TEST_CONSOLE_CLASS
        )

    @classmethod
    def load(cls, path: str | Path) -> Permissions:
        """Read a permissions file (TOML or JSON, format in ``docs/simulator.md``)."""
        return cls.from_mapping(read_config_file(path), str(path))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "permissions") -> Permissions:
        unknown = sorted(set(data) - {"roles", "authenticated_console_class", "principals"})
        if unknown:
            raise CatalogueError(f"{where}: unknown key(s) {', '.join(unknown)}")
        roles = data.get("roles", {})
        principals = data.get("principals", {})
        console_class = data.get("authenticated_console_class", 0)
        if not isinstance(roles, Mapping) or not all(
            isinstance(patterns, list) and all(isinstance(p, str) for p in patterns)
            for patterns in roles.values()
        ):
            raise CatalogueError(f"{where}: roles must map each role name to a list of device patterns")
        if not isinstance(principals, Mapping) or not all(_is_int(v) for v in principals.values()):
            raise CatalogueError(f"{where}: principals must map each principal to an integer console class")
        if not _is_int(console_class):
            raise CatalogueError(f"{where}: authenticated_console_class must be an integer")
        return cls(
            {name: tuple(patterns) for name, patterns in roles.items()}, console_class, dict(principals)
        )

    def identity(self, principal: str | None, role: str | None = None) -> Identity:
        """The identity of an (authenticated) principal under a requested role, with its console class."""
        if principal is None:
            return Identity(None, role, 0)
        return Identity(
            principal, role, self.principal_console_classes.get(principal, self.authenticated_console_class)
        )

    def identity_from_jwt_claims(self, claims: Mapping[str, Any]) -> Identity:
        """``sub`` is the principal; the role is the first of ``realm_access.roles`` that is a known role."""
        principal = claims.get("sub") or claims.get("preferred_username")
        realm = claims.get("realm_access")
        realm_roles = realm.get("roles", []) if isinstance(realm, Mapping) else []
        role = next((r for r in realm_roles if isinstance(r, str) and r in self.roles), None)
        return self.identity(str(principal) if principal else None, role)

    def check(self, identity: Identity, device: str, protection_mask: int) -> AcnetStatus:
        """OK, or the refusal status for setting ``device`` (see the module documentation)."""
        if identity.principal is None:
            return PRIVILEGE_REFUSED
        if identity.role is not None and any(
            fnmatchcase(device, p) for p in self.roles.get(identity.role, ())
        ):
            return OK
        if identity.console_class & protection_mask:
            return OK
        return PRIVILEGE_REFUSED if identity.role is not None else CLASS_REFUSED


def identity_from_jwt_claims(claims: Mapping[str, Any], permissions: Permissions | None = None) -> Identity:
    """Map decoded JWT claims to an :class:`Identity` under ``permissions`` (default: the built-in ones)."""
    return (permissions or Permissions.default()).identity_from_jwt_claims(claims)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
