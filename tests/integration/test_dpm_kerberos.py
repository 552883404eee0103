"""DPM/HTTP settings end to end: Kerberos with the throwaway realm, roles and per-device statuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx.backends.dpm import DPMBackend
from pacsys_rx.sim import Permissions, Simulator

pytestmark = pytest.mark.kerberos

ROLE_ONLY = Permissions(roles={"testing": ("Z:ACLTS*",)}, authenticated_console_class=0)
"""Only the role admits settings, so a wrong role is refused."""


@pytest.fixture(scope="module")
def sim(kerberos_realm: object) -> Iterator[Simulator]:
    keytab = str(kerberos_realm.service_keytab)  # type: ignore[attr-defined]
    with Simulator(seed=1, servers=["dpm"], keytab=keytab, permissions=ROLE_ONLY) as simulator:
        yield simulator


def backend(sim: Simulator, role: str | None) -> DPMBackend:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    return DPMBackend(host, int(port), auth=prx.KerberosAuth(), role=role, timeout=5.0)


def test_write_with_the_right_role_succeeds_and_changes_the_next_read(sim: Simulator,
                                                                      kerberos_env: object) -> None:
    with backend(sim, "testing") as dpm:
        result = dpm.write("Z:ACLTST", 42.25).run()
        assert result.ok, result
        assert result.drf == "Z:ACLTST.SETTING@N" and result.backend == "dpm"
        assert dpm.read("Z:ACLTST.SETTING").run().value == pytest.approx(42.25)


def test_write_many_reports_one_status_per_setting(sim: Simulator, kerberos_env: object) -> None:
    with backend(sim, "testing") as dpm:
        results = dpm.write_many([("Z:ACLTS1", 3.5), ("Z:ACLTS4", "text!"), ("Z:ACLTS2", 1e6),
                                  ("Z:ACLTST.SETTING.RAW", b"\x00\x00\x00\x00")]).pipe(rxops.to_list()).run()
        by_drf = {r.drf: r for r in results}
        assert by_drf["Z:ACLTS1.SETTING@N"].ok
        assert by_drf["Z:ACLTS4.SETTING@N"].ok
        assert by_drf["Z:ACLTS2.SETTING@N"].status == prx.AcnetStatus.named("DIO_RANGE")
        assert by_drf["Z:ACLTST.SETTING.RAW@N"].ok
        assert dpm.read("Z:ACLTS4").run().value == "text!"


def test_wrong_role_gets_the_permission_status(sim: Simulator, kerberos_env: object) -> None:
    with backend(sim, "operator") as dpm:
        result = dpm.write("Z:ACLTST", 1.0).run()
        assert not result.ok and result.status == prx.AcnetStatus.named("DPM_PRIV")


def test_no_ticket_raises_before_any_setting_traffic(sim: Simulator, kerberos_env: object) -> None:
    kerberos_env.kdestroy()  # type: ignore[attr-defined]
    connections = sim.counters("dpm")["connections"]
    with backend(sim, "testing") as dpm, pytest.raises(prx.AuthenticationError):
        dpm.write("Z:ACLTST", 1.0).run()
    assert sim.counters("dpm")["connections"] == connections


def test_write_without_auth_raises_authentication_error(sim: Simulator) -> None:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    with DPMBackend(host, int(port)) as dpm, pytest.raises(prx.AuthenticationError):
        dpm.write("Z:ACLTST", 1.0).run()
