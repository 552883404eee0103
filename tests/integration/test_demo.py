"""``pacsys-rx demo`` as a subprocess: the story its event log tells, the summary, Ctrl-C, and DMQ.

The 8-second run starts with the module and is checked by the last tests; the others run meanwhile.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

DEMO = [sys.executable, "-m", "pacsys_rx", "demo"]


@pytest.fixture(scope="module", autouse=True)
def eight_seconds() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([*DEMO, "--duration", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def demo_output(eight_seconds: subprocess.Popen[str]) -> str:
    out, err = eight_seconds.communicate(timeout=60)
    assert eight_seconds.returncode == 0, out + err
    assert "Traceback" not in out + err
    return out


def events(output: str) -> list[str]:
    """The event-log lines (``  1.2s  text``) without their times."""
    return [match[1] for match in re.finditer(r"^ *\d+\.\ds  (.*)$", output, re.MULTILINE)]


def test_ctrl_c_ends_with_the_summary_and_status_130() -> None:
    process = subprocess.Popen([*DEMO, "--duration", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        seen = [process.stdout.readline()]
        while seen[-1] and not events(seen[-1]):
            seen.append(process.stdout.readline())  # Ctrl-C once the event log runs
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        out = "".join(seen) + out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, out + err
    assert "interrupted" in out and "summary after" in out and "totals: readings" in out
    assert "Traceback" not in out + err


def test_bad_duration_is_one_line_on_stderr() -> None:
    result = subprocess.run([*DEMO, "--duration", "-3"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "pacsys-rx demo: error: argument --duration: must be positive, got '-3'"]


@pytest.mark.kerberos
@pytest.mark.rabbitmq
def test_make_demo_brings_dmq_into_the_merge_and_the_failover() -> None:
    """``--throwaway-realm`` (what ``make demo`` passes): realm, ticket, keytab and private vhost."""
    result = subprocess.run([*DEMO, "--duration", "12", "--throwaway-realm"],
                            capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("DMQ joins the merge and the failover as alice@FNAL.GOV\n")
    assert "failover: N:H801, Z:ACLTST now served by dmq" in events(result.stdout)
    merged = next(line for line in result.stdout.splitlines() if line.startswith("│ M:OUTTMP"))
    assert re.search(r"dmq:[1-9]", merged), merged
    assert "summary after" in result.stdout and "Traceback" not in result.stderr


def test_the_event_log_tells_the_story_in_order(demo_output: str) -> None:
    log = events(demo_output)
    story = [
        "N:H801, Z:ACLTST served by dpm",
        "write acknowledged via grpc: Z:ACLTST.SETTING@N  ok",
        "alarm Z:ACLTST: ALARM (above high limit 50",
        "alarm Z:ACLTST: LATCHED (was above high limit 50",
        "fault injected: the DPM server stops answering",
        "operator acknowledges every alarm",
        "alarm Z:ACLTST: OK (acknowledged",
        "fault repaired: the DPM server answers again",
    ]
    positions = [next((i for i, line in enumerate(log) if line.startswith(text)), None) for text in story]
    assert None not in positions, (story, log)
    assert positions == sorted(positions), log
    assert "failover: N:H801, Z:ACLTST now served by grpc" in log
    assert "failover: N:H801, Z:ACLTST now served by dpm" in log
    assert "stale Z:ACLTS6: nothing for 2 s" in log
    assert any(line.startswith("recovered Z:ACLTS6 after") for line in log)


def test_the_summary_counts_readings_backends_and_alarms(demo_output: str) -> None:
    assert "summary after 8." in demo_output
    cells = [[cell.strip() for cell in line.strip("│").split("│")] for line in demo_output.splitlines()
             if line.startswith("│")]
    rows = {row[0]: row for row in cells}
    assert set(rows) == {"M:OUTTMP", "N:H801", "Z:ACLTST", "Z:ACLTS6"}
    assert all(int(row[1]) > 5 for row in rows.values())
    assert re.fullmatch(r"dpm:\d+ grpc:\d+", rows["Z:ACLTST"][5]), rows["Z:ACLTST"]
    totals = next(line for line in demo_output.splitlines() if line.startswith("totals: "))
    assert "failovers 2" in totals and "writes ok 2" in totals and "stale 1" in totals


def test_without_a_keytab_dmq_is_left_out_in_one_line(demo_output: str) -> None:
    first = demo_output.splitlines()[0]
    assert first.startswith("DMQ left out: the simulator's DMQ server is disabled: ")


def test_without_a_kdc_the_demo_runs_without_dmq_and_names_what_to_install(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pacsys_rx import cli
    from pacsys_rx.sim import realm

    def missing() -> dict[str, str]:
        raise realm.KerberosRealmUnavailable(
            f"the throwaway Kerberos realm needs krb5kdc; install the Debian packages: "
            f"apt-get install {realm.DEBIAN_PACKAGES}")

    monkeypatch.setattr(realm, "find_programs", missing)
    assert cli.main(["demo", "--duration", "3", "--throwaway-realm"]) == 0
    first, *rest = capsys.readouterr().out.splitlines()
    assert first.startswith("DMQ left out: the throwaway Kerberos realm needs krb5kdc")
    assert first.endswith("apt-get install krb5-kdc krb5-admin-server krb5-user")
    assert not any("DMQ" in line for line in rest)
