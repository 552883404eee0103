"""Setting permissions: roles, console classes, JWT claims and permissions files."""

from __future__ import annotations

from pathlib import Path

import pytest

from pacsys_rx.model import OK, AcnetStatus
from pacsys_rx.sim import CatalogueError, Identity, Permissions, identity_from_jwt_claims

DEFAULT = Permissions.default()
ACLTS_MASK = 0x0001
PROTECTED_MASK = 0x8000


def test_default_rules() -> None:
    tester = DEFAULT.identity("t@FNAL.GOV", "testing")
    user = DEFAULT.identity("u@FNAL.GOV")
    assert DEFAULT.check(tester, "Z:ACLTST", 0) == OK
    assert DEFAULT.check(tester, "Z:ACLTS9", 0) == OK
    assert DEFAULT.check(user, "Z:ACLTS3", ACLTS_MASK) == OK
    assert DEFAULT.check(tester, "G:AMANDA", PROTECTED_MASK) == AcnetStatus.named("DPM_PRIV")
    assert DEFAULT.check(user, "G:AMANDA", PROTECTED_MASK) == AcnetStatus.named("DPM_DBPRIV")
    assert DEFAULT.check(Identity(None, "testing", 0xFFFF), "Z:ACLTST", ACLTS_MASK) == AcnetStatus.named(
        "DPM_PRIV"
    )


def test_jwt_claims_map_realm_roles_and_subject() -> None:
    identity = identity_from_jwt_claims(
        {"sub": "alice", "realm_access": {"roles": ["offline_access", "testing"]}}
    )
    assert identity == Identity("alice", "testing", DEFAULT.authenticated_console_class)
    assert identity_from_jwt_claims({"sub": "bob"}).role is None
    assert identity_from_jwt_claims({}).principal is None


def test_permissions_file_replaces_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "permissions.toml"
    path.write_text(
        'authenticated_console_class = 0\n[roles]\nops = ["G:*"]\n[principals]\n"boss@FNAL.GOV" = 0x8000\n'
    )
    rules = Permissions.load(path)
    assert rules.check(rules.identity("x@FNAL.GOV", "ops"), "G:AMANDA", PROTECTED_MASK) == OK
    assert rules.check(rules.identity("x@FNAL.GOV"), "Z:ACLTST", ACLTS_MASK) == AcnetStatus.named(
        "DPM_DBPRIV"
    )
    assert rules.check(rules.identity("boss@FNAL.GOV"), "G:AMANDA", PROTECTED_MASK) == OK
    assert rules.identity_from_jwt_claims({"sub": "x", "realm_access": {"roles": ["testing"]}}).role is None


@pytest.mark.parametrize("text", ['roles = { ops = "G:*" }', "principals = { a = 1.5 }", "colour = 1"])
def test_bad_permissions_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "permissions.toml"
    path.write_text(text)
    with pytest.raises(CatalogueError, match=r"permissions\.toml"):
        Permissions.load(path)
