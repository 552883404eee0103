"""The pytest fixtures of the throwaway Kerberos realm (``pacsys_rx.sim.realm``).

conftest.py only has to import the fixtures::

    from kdc import kerberos_env, kerberos_realm  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pacsys_rx.sim.realm import KerberosRealm, KerberosRealmUnavailable

__all__ = ["KerberosRealm", "kerberos_env", "kerberos_realm"]


@pytest.fixture(scope="session")
def kerberos_realm() -> Iterator[KerberosRealm]:
    """One throwaway realm for the whole session; a missing KDC is a failure, not a skip."""
    realm = KerberosRealm()
    failure = None
    try:
        realm.start()
    except KerberosRealmUnavailable as exc:
        failure = f"Kerberos realm unavailable: {exc}"
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    try:
        yield realm
    finally:
        realm.stop()


@pytest.fixture
def kerberos_env(kerberos_realm: KerberosRealm, monkeypatch: pytest.MonkeyPatch) -> KerberosRealm:
    """The realm's variables in ``os.environ`` for one test, with a fresh ticket for the user."""
    for name, value in kerberos_realm.env.items():
        monkeypatch.setenv(name, value)
    kerberos_realm.kinit()
    return kerberos_realm
