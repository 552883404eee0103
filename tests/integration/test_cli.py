"""Every ``pacsys-rx`` command as a subprocess against the simulator: output, exit status, bad input.

A ``pacsys-rx sim`` subprocess (JWT secret, role-only permissions) serves most tests; the Kerberos
tests start one with the realm's service keytab. Bad input must give one clear line and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jwt
import pytest

from pacsys_rx.cli import build_parser

SECRET = secrets.token_hex(32)
ROLE_ONLY_PERMISSIONS = """\
authenticated_console_class = 0
[roles]
testing = ["Z:ACLTST", "Z:ACLTS*"]
"""
COMMANDS = ("sim", "read", "history", "monitor", "write", "info", "demo")
CLIENT_COMMANDS = ("read", "history", "monitor", "write", "info", "demo")
DEMO_DURATION = "8"


def pacsys_rx(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pacsys_rx ARGS``; its output never holds a traceback."""
    result = subprocess.run([sys.executable, "-m", "pacsys_rx", *args], capture_output=True, text=True,
                            timeout=30, env=None if env is None else {**os.environ, **env})
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result


def token(*roles: str) -> str:
    return jwt.encode({"sub": "tester@FNAL.GOV", "realm_access": {"roles": list(roles)}}, SECRET,
                      algorithm="HS256")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class SimProcess:
    """A ``pacsys-rx sim`` subprocess; ``lines`` are its stdout lines up to ``ready``."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "pacsys_rx", "sim", *args], text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=None if env is None else {**os.environ, **env})
        stdout = self.process.stdout
        assert stdout is not None
        received: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [received.put(line.rstrip("\n")) for line in stdout],
                         daemon=True).start()
        self.lines: list[str] = []
        while not self.lines or self.lines[-1] != "ready":
            try:
                self.lines.append(received.get(timeout=10))
            except queue.Empty:
                self.stop()
                pytest.fail(f"pacsys-rx sim did not get ready: {self.lines}")
        self.endpoints = dict(line.split(" ", 1) for line in self.lines[:-1])

    def target(self, backend: str) -> list[str]:
        """The connection flags of a client command for ``backend``."""
        if backend == "acl":
            return ["--backend", "acl", "--url", self.endpoints["acl"]]
        host, port = self.endpoints[backend].rsplit(":", 1)
        return ["--backend", backend, "--host", host, "--port", port]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module", autouse=True)
def demo_run() -> Iterator[subprocess.Popen[str]]:
    """``pacsys-rx demo`` runs in the background while the other tests of this module run."""
    process = subprocess.Popen([sys.executable, "-m", "pacsys_rx", "demo", "--duration", DEMO_DURATION],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def permissions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "permissions.toml"
    path.write_text(ROLE_ONLY_PERMISSIONS)
    return path


@pytest.fixture(scope="module")
def sim(permissions: Path) -> Iterator[SimProcess]:
    process = SimProcess("--seed", "3", "--jwt-secret", SECRET, "--permissions", str(permissions))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def kerberos_sim(kerberos_realm: Any, permissions: Path) -> Iterator[SimProcess]:
    process = SimProcess("--servers", "dpm", "--keytab", str(kerberos_realm.service_keytab),
                         "--permissions", str(permissions), env=kerberos_realm.env)
    yield process
    process.stop()


# ------------------------------------------------------------------------------------------- sim


def test_sim_prints_one_line_per_endpoint_then_ready(sim: SimProcess) -> None:
    assert [line.split(" ", 1)[0] for line in sim.lines] == ["dpm", "grpc", "acl", "dmq", "ready"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", sim.endpoints["dpm"])
    assert re.fullmatch(r"127\.0\.0\.1:\d+", sim.endpoints["grpc"])
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/cgi-bin/acl\.pl", sim.endpoints["acl"])
    assert sim.endpoints["dmq"].startswith("disabled: ")


# ------------------------------------------------------------------------------------------ read


@pytest.mark.parametrize("backend", ["dpm", "grpc", "acl"])
def test_read_prints_values_of_several_types(sim: SimProcess, backend: str) -> None:
    result = pacsys_rx("read", *sim.target(backend), "M:OUTTMP", "B:IRMS06[0:3]", "Z:ACLTS4", "B:BOOSBP")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"M:OUTTMP  7\d(\.\d+)?( DegF)?", lines[0])
    assert re.fullmatch(r"B:IRMS06\[0:3\]  \[.*\] \(4 values\)( mm)?", lines[1])
    assert lines[2:] == ["Z:ACLTS4  hello", "B:BOOSBP  BEAM PERMIT OK"]


def test_read_shows_status_and_alarm_blocks(sim: SimProcess) -> None:
    result = pacsys_rx("read", *sim.target("dpm"), "Z:ACLTST.STATUS", "Z:ACLTST.ANALOG")
    assert result.returncode == 0, result.stderr
    status, alarm = result.stdout.splitlines()
    assert status == "Z:ACLTST.STATUS  on=False ready=True positive=False ramp=False"
    assert alarm.startswith("Z:ACLTST.ANALOG  minimum=-4.007 maximum=50.0 alarm_enable=True")


@pytest.mark.parametrize("backend", ["dpm", "grpc", "acl"])
def test_read_json_prints_one_object_per_device(sim: SimProcess, backend: str) -> None:
    result = pacsys_rx("read", *sim.target(backend), "--json", "M:OUTTMP", "Z:ACLTS3")
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["drf"] for o in objects] == ["M:OUTTMP", "Z:ACLTS3"]
    assert all(o["backend"] == backend and o["status"]["name"] == "OK" for o in objects)
    assert isinstance(objects[0]["value"], float) and len(objects[1]["value"]) == 8


def test_read_with_sim_starts_its_own_simulator() -> None:
    result = pacsys_rx("read", "--sim", "--backend", "grpc", "G:AMANDA")
    assert (result.returncode, result.stdout) == (0, "G:AMANDA  66\n")


@pytest.mark.kerberos
@pytest.mark.rabbitmq
def test_read_through_dmq_with_a_kerberos_ticket(kerberos_env: Any) -> None:
    env = {**kerberos_env.env, "KRB5_KTNAME": str(kerberos_env.service_keytab)}
    result = pacsys_rx("read", "--sim", "--backend", "dmq", "M:OUTTMP", "Z:ACLTS4", env=env)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"M:OUTTMP  7\d(\.\d+)? DegF\nZ:ACLTS4  hello\n", result.stdout)


# --------------------------------------------------------------------------------------- monitor


def test_monitor_summary_counts_readings(sim: SimProcess) -> None:
    result = pacsys_rx("monitor", *sim.target("dpm"), "--duration", "2", "M:OUTTMP@p,200", "Z:ACLTS6@p,500")
    assert result.returncode == 0, result.stderr
    assert "summary" in result.stdout
    total = int(re.search(r"total readings: (\d+), dropped: 0", result.stdout)[1])  # type: ignore[index]
    assert total >= 10
    row = next(line.split("│") for line in result.stdout.splitlines()
               if "M:OUTTMP.READING@p,200" in line and "│" in line)
    assert int(row[2]) >= 5


def test_monitor_json_streams_from_grpc(sim: SimProcess) -> None:
    result = pacsys_rx("monitor", *sim.target("grpc"), "--duration", "1", "--json", "Z:ACLTS9@p,100")
    assert result.returncode == 0, result.stderr
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(objects) >= 5 and {o["backend"] for o in objects} == {"grpc"}


# ----------------------------------------------------------------------------------------- write


def test_grpc_write_with_a_jwt_is_acknowledged_and_read_back(sim: SimProcess) -> None:
    result = pacsys_rx("write", *sim.target("grpc"), "--auth", "jwt", "--token", token("testing"),
                       "Z:ACLTS1", "7.25")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"Z:ACLTS1\.SETTING@N  ok  [\d.]+( blip)? → 7\.25( blip)?\n", result.stdout)
    assert pacsys_rx("read", *sim.target("dpm"), "Z:ACLTS1.SETTING").stdout == "Z:ACLTS1.SETTING  7.25 blip\n"


def test_grpc_write_of_text_and_arrays(sim: SimProcess) -> None:
    auth = ["--auth", "jwt", "--token", token("testing")]
    assert pacsys_rx("write", *sim.target("grpc"), *auth, "Z:ACLTS4", "cli text").returncode == 0
    assert pacsys_rx("write", *sim.target("grpc"), *auth, "Z:ACLTS3", "1,2,3,4,5,6,7,8").returncode == 0
    result = pacsys_rx("read", *sim.target("grpc"), "Z:ACLTS4", "Z:ACLTS3.SETTING")
    assert result.stdout.splitlines() == ["Z:ACLTS4  cli text",
                                          "Z:ACLTS3.SETTING  [1, 2, 3, 4, 5, 6, 7, 8] (8 values)"]


@pytest.mark.parametrize(("credentials", "reason"), [
    (["--auth", "jwt", "--token", token()], "DPM_DBPRIV"),
    (["--auth", "jwt", "--token", "not-a-jwt"], "invalid token"),
])
def test_refused_grpc_write_prints_the_refusal_and_exits_1(sim: SimProcess, credentials: list[str],
                                                           reason: str) -> None:
    result = pacsys_rx("write", *sim.target("grpc"), *credentials, "Z:ACLTST", "1")
    assert result.returncode == 1
    assert result.stdout.startswith("Z:ACLTST.SETTING@N  refused: ") and reason in result.stdout
    assert result.stdout.count("\n") == 1


def test_write_out_of_range_is_refused(sim: SimProcess) -> None:
    result = pacsys_rx("write", *sim.target("grpc"), "--auth", "jwt", "--token", token("testing"),
                       "Z:ACLTS2", "1e6")
    assert result.returncode == 1 and result.stdout.startswith("Z:ACLTS2.SETTING@N  refused: DIO_RANGE")


@pytest.mark.kerberos
def test_dpm_write_with_kerberos_and_role_is_acknowledged_and_read_back(kerberos_sim: SimProcess,
                                                                        kerberos_env: Any) -> None:
    result = pacsys_rx("write", *kerberos_sim.target("dpm"), "--auth", "kerberos", "--role", "testing",
                       "Z:ACLTST", "12.5", env=kerberos_env.env)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"Z:ACLTST\.SETTING@N  ok  \S+ blip → 12\.5 blip\n", result.stdout), result.stdout
    read = pacsys_rx("read", *kerberos_sim.target("dpm"), "Z:ACLTST.SETTING")
    assert read.stdout == "Z:ACLTST.SETTING  12.5 blip\n"


@pytest.mark.kerberos
def test_dpm_write_without_role_is_refused(kerberos_sim: SimProcess, kerberos_env: Any) -> None:
    result = pacsys_rx("write", *kerberos_sim.target("dpm"), "--auth", "kerberos", "Z:ACLTST", "1",
                       env=kerberos_env.env)
    assert result.returncode == 1
    assert result.stdout.startswith("Z:ACLTST.SETTING@N  refused: DPM_DBPRIV")


@pytest.mark.kerberos
def test_dpm_write_without_a_ticket_is_one_line(kerberos_sim: SimProcess, kerberos_env: Any) -> None:
    kerberos_env.kdestroy()
    result = pacsys_rx("write", *kerberos_sim.target("dpm"), "--auth", "kerberos", "--role", "testing",
                       "Z:ACLTST", "1", env=kerberos_env.env)
    assert result.returncode == 1
    assert result.stderr.startswith("pacsys-rx write: error: No Kerberos ticket")
    assert result.stderr.count("\n") == 1


# ------------------------------------------------------------------------------------------ demo


def test_demo_runs_for_its_duration_and_prints_the_summary(demo_run: subprocess.Popen[str]) -> None:
    out, err = demo_run.communicate(timeout=60)
    assert demo_run.returncode == 0, err
    assert "Traceback" not in out + err
    assert f"summary after {DEMO_DURATION}." in out
    assert re.search(r"^totals: readings \d+, shown \d+, alarms \d+", out, re.MULTILINE)


# ------------------------------------------------------------------------------------- bad input


def one_error_line(result: subprocess.CompletedProcess[str], command: str, *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pacsys-rx {command}: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("command", ["read", "monitor"])
def test_malformed_drf(sim: SimProcess, command: str) -> None:
    one_error_line(pacsys_rx(command, *sim.target("dpm"), "M:OUTTMP["), command, "Invalid DRF 'M:OUTTMP['")


def test_malformed_drf_in_a_write(sim: SimProcess) -> None:
    result = pacsys_rx("write", *sim.target("grpc"), "--auth", "jwt", "--token", token("testing"),
                       "Z:ACLTST[", "1")
    one_error_line(result, "write", "Invalid DRF 'Z:ACLTST['")


@pytest.mark.parametrize("backend", ["dpm", "grpc", "acl"])
def test_unknown_device_is_one_line_on_stdout_and_status_1(sim: SimProcess, backend: str) -> None:
    result = pacsys_rx("read", *sim.target(backend), "Z:NOSUCH", "M:OUTTMP")
    assert result.returncode == 1
    unknown, known = result.stdout.splitlines()
    assert unknown.startswith("Z:NOSUCH  error: ") and known.startswith("M:OUTTMP  ")


def test_monitor_of_an_unknown_device_exits_1_with_the_reason(sim: SimProcess) -> None:
    result = pacsys_rx("monitor", *sim.target("dpm"), "--duration", "1", "Z:NOSUCH@p,100")
    one_error_line(result, "monitor", "no data from Z:NOSUCH.READING@p,100", "DPM_NO_SUCH_DEVICE")
    assert "summary" in result.stdout


@pytest.mark.parametrize("backend", ["dpm", "grpc"])
def test_read_from_an_unreachable_host(backend: str) -> None:
    result = pacsys_rx("read", "--backend", backend, "--host", "127.0.0.1", "--port", str(closed_port()),
                       "--timeout", "1", "M:OUTTMP")
    one_error_line(result, "read", "127.0.0.1")


def test_read_from_an_unreachable_acl_url() -> None:
    result = pacsys_rx("read", "--backend", "acl", "--url", f"http://127.0.0.1:{closed_port()}/cgi-bin/acl.pl",
                       "--timeout", "1", "M:OUTTMP")
    one_error_line(result, "read", "ACL request failed")


def test_monitor_of_an_unreachable_host() -> None:
    result = pacsys_rx("monitor", "--host", "127.0.0.1", "--port", str(closed_port()), "--timeout", "1",
                       "--duration", "1", "M:OUTTMP@p,100")
    one_error_line(result, "monitor", "the dpm stream did not connect within 1 s", "cannot connect to DPM")


def test_write_to_an_unreachable_host() -> None:
    result = pacsys_rx("write", "--backend", "grpc", "--host", "127.0.0.1", "--port", str(closed_port()),
                       "--timeout", "1", "--auth", "jwt", "--token", token("testing"), "Z:ACLTST", "1")
    one_error_line(result, "write", "UNAVAILABLE")


@pytest.mark.parametrize(("args", "fragment"), [
    (["write", "--backend", "grpc", "Z:ACLTST", "1"], "No JWT for --backend grpc: give --token TOKEN"),
    (["write", "--backend", "dpm", "Z:ACLTST", "1"], "add --auth kerberos (after kinit) and --role ROLE"),
    (["write", "--backend", "dpm", "--token", "x", "Z:ACLTST", "1"], "--token is the JWT of --auth jwt"),
    (["write", "--backend", "grpc", "--auth", "kerberos", "--token", "x", "Z:ACLTST", "1"],
     "not usable with --backend grpc --auth kerberos"),
    (["write", "--backend", "acl", "Z:ACLTST", "1"], "read-only"),
    (["write", "--backend", "grpc", "--auth", "kerberos", "Z:ACLTST", "1"], "--auth kerberos is for"),
    (["write", "--backend", "dpm", "--auth", "jwt", "--token", "x", "Z:ACLTST", "1"], "--auth jwt is for"),
    (["write", "--backend", "grpc", "--role", "testing", "--auth", "jwt", "--token", "x", "Z:ACLTST", "1"],
     "--role is for --backend dpm"),
    (["monitor", "--backend", "acl", "--duration", "1", "M:OUTTMP"], "cannot stream"),
    (["read", "--backend", "acl", "--url", "not-a-url", "M:OUTTMP"], "ACL URL"),
])
def test_unusable_combinations_fail_before_any_traffic_in_one_line(args: list[str], fragment: str) -> None:
    one_error_line(pacsys_rx(*args), args[0], fragment)


@pytest.mark.parametrize(("args", "fragment"), [
    (["read"], "the following arguments are required: DRF"),
    (["read", "--timeout", "0", "M:OUTTMP"], "argument --timeout: must be positive"),
    (["read", "--port", "99999", "M:OUTTMP"], "argument --port: port out of range"),
    (["read", "--backend", "nope", "M:OUTTMP"], "argument --backend: invalid choice"),
    (["monitor", "--duration", "-1", "M:OUTTMP"], "argument --duration: must be positive"),
    (["write", "Z:ACLTST"], "DRF 'Z:ACLTST' has no VALUE: give DRF VALUE pairs"),
    (["write", "Z:ACLTST", "1", "Z:ACLTS1"], "DRF 'Z:ACLTS1' has no VALUE"),
])
def test_usage_errors_are_one_line_with_status_2(args: list[str], fragment: str) -> None:
    result = pacsys_rx(*args)
    one_error_line(result, args[0], fragment)
    assert result.returncode == 2


def test_unknown_command() -> None:
    result = pacsys_rx("bogus")
    assert result.returncode == 2 and result.stderr.startswith("pacsys-rx: error: argument COMMAND")


# --------------------------------------------------------------------------------------- history


@pytest.mark.parametrize("backend", ["dpm", "grpc", "acl"])
def test_history_prints_one_line_per_logged_sample(sim: SimProcess, backend: str) -> None:
    result = pacsys_rx("history", *sim.target(backend), "M:OUTTMP", "--start", "-10s", "--end", "-5s")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    stamps = [datetime.fromisoformat(line.split()[0]) for line in lines]
    assert [b - a for a, b in itertools.pairwise(stamps)] == [timedelta(seconds=1)] * 4


def test_history_csv_and_json_with_iso_times(sim: SimProcess) -> None:
    end = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=5)
    window = ["--start", (end - timedelta(seconds=3)).isoformat(), "--end", end.isoformat()]
    csv_result = pacsys_rx("history", *sim.target("grpc"), "M:OUTTMP", *window, "--csv")
    assert csv_result.returncode == 0, csv_result.stderr
    header, *rows = csv_result.stdout.splitlines()
    assert header == "timestamp,value,units,status"
    expected = [(end - timedelta(seconds=s)).isoformat() for s in (3, 2, 1)]
    assert [row.split(",")[0] for row in rows] == expected
    json_result = pacsys_rx("history", *sim.target("dpm"), "M:OUTTMP", *window, "--json")
    assert [json.loads(line)["value_type"] for line in json_result.stdout.splitlines()] == ["scalar"] * 3


def test_history_of_an_unknown_device_or_a_bad_time_fails(sim: SimProcess) -> None:
    unknown = pacsys_rx("history", *sim.target("dpm"), "Z:NOSUCH", "--start", "-1h")
    assert unknown.returncode == 1 and "DPM_NO_SUCH_DEVICE" in unknown.stdout
    bad_time = pacsys_rx("history", *sim.target("dpm"), "M:OUTTMP", "--start", "yesterday-ish")
    assert bad_time.returncode == 2 and "cannot read" in bad_time.stderr


# ------------------------------------------------------------------------------------------- help


def test_top_level_help_lists_every_command() -> None:
    result = pacsys_rx("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\w", result.stdout, re.MULTILINE), result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_explains_every_option(command: str) -> None:
    result = pacsys_rx(command, "--help")
    assert result.returncode == 0 and result.stdout.startswith(f"usage: pacsys-rx {command}")
    subcommand = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = subcommand.choices[command]
    if command in CLIENT_COMMANDS:
        assert parser.description and " ".join(parser.description.split()[:3]) in result.stdout
    for action in parser._actions:
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
        for option in action.option_strings:
            assert option in result.stdout


# ------------------------------------------------------------------ terminals, signals and settings


def started(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pacsys_rx", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=None if env is None else {**os.environ, **env})


def test_piped_monitor_prints_one_line_per_update(sim: SimProcess) -> None:
    result = pacsys_rx("monitor", *sim.target("dpm"), "--duration", "1.5", "M:OUTTMP@p,200")
    assert result.returncode == 0, result.stderr
    updates = [line for line in result.stdout.splitlines() if "  M:OUTTMP.READING@p,200  " in line]
    assert len(updates) >= 5, result.stdout
    stamp, _, value = updates[0].split("  ")
    assert datetime.fromisoformat(stamp).tzinfo is not None and re.fullmatch(r"7\d(\.\d+)? DegF", value)


def test_ctrl_c_exits_130_from_monitor_with_the_summary(sim: SimProcess) -> None:
    process = started("monitor", *sim.target("dpm"), "M:OUTTMP@p,100")
    try:
        assert process.stdout is not None
        assert "M:OUTTMP" in process.stdout.readline()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "summary" in out and "Traceback" not in out + err


def test_ctrl_c_exits_130_from_sim() -> None:
    process = SimProcess("--servers", "dpm")
    process.process.send_signal(signal.SIGINT)
    assert process.process.wait(timeout=10) == 130


def test_token_without_auth_jwt_is_used_instead_of_the_environment(sim: SimProcess) -> None:
    refused_by_the_environment = {"PACSYS_JWT_TOKEN": token()}
    result = pacsys_rx("write", *sim.target("grpc"), "--token", token("testing"), "Z:ACLTS2", "2.5",
                       env=refused_by_the_environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Z:ACLTS2.SETTING@N  ok  ")


def test_acl_with_its_own_simulator_leaves_stderr_empty() -> None:
    result = pacsys_rx("read", "--sim", "--backend", "acl", "M:OUTTMP")
    assert result.returncode == 0 and result.stdout.startswith("M:OUTTMP  ")
    assert result.stderr == ""


def test_an_error_about_many_drfs_names_three_and_counts_the_rest(sim: SimProcess) -> None:
    drfs = [f"Z:NOSU{i:02d}@p,100" for i in range(10)]
    result = pacsys_rx("monitor", *sim.target("dpm"), "--duration", "1", *drfs)
    one_error_line(result, "monitor", "no data from Z:NOSU00.READING@p,100", "and 7 more")
    assert "Z:NOSU09" not in result.stderr


def test_write_of_several_pairs_prints_old_and_new_values(sim: SimProcess) -> None:
    auth = ["--auth", "jwt", "--token", token("testing")]
    assert pacsys_rx("write", *sim.target("grpc"), *auth, "Z:ACLTS6", "1", "Z:ACLTS7", "2").returncode == 0
    result = pacsys_rx("write", *sim.target("grpc"), *auth, "Z:ACLTS6", "3.5", "Z:ACLTS7", "4.5")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"Z:ACLTS6\.SETTING@N  ok  1( blip)? → 3\.5( blip)?\n"
                        r"Z:ACLTS7\.SETTING@N  ok  2( blip)? → 4\.5( blip)?\n", result.stdout), result.stdout


def test_verified_write_reads_the_setting_back(sim: SimProcess) -> None:
    auth = ["--auth", "jwt", "--token", token("testing")]
    result = pacsys_rx("write", *sim.target("grpc"), *auth, "--verify", "--tolerance", "0.01",
                       "Z:ACLTS8", "6.5")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"Z:ACLTS8\.SETTING@N  ok  [\d.]+( blip)? → 6\.5( blip)?  verified\n", result.stdout)


def test_refused_verified_write_is_not_verified(sim: SimProcess) -> None:
    result = pacsys_rx("write", *sim.target("grpc"), "--token", token(), "--verify", "Z:ACLTS8", "1")
    assert result.returncode == 1 and result.stdout.startswith("Z:ACLTS8.SETTING@N  refused: ")


# ------------------------------------------------------------------------------------------ info


def test_info_prints_what_devdb_knows(sim: SimProcess) -> None:
    result = pacsys_rx("info", "--devdb", sim.endpoints["grpc"], "Z:ACLTST.SETTING", "M:OUTTMP")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Z:ACLTST" and "description: ACL test device!" in lines[1]
    assert "  reading: units blip (primary Volts), limits -500 .. 500, scaling p0/c0 [1, 0, 1, 0]" in lines
    assert any(line.startswith("  status bits: ON 0x1 (OnOff: On/Off), READY 0x2") for line in lines)
    assert any(line.startswith("  control: RESET=3, ON=1, OFF=2,") for line in lines)
    assert '  analog alarm: "Z:ACLTST outside its alarm limits" priority 5' in lines
    assert "M:OUTTMP" in lines and any("units DegF" in line for line in lines)


def test_info_of_an_unknown_device_exits_1(sim: SimProcess) -> None:
    result = pacsys_rx("info", "--devdb", sim.endpoints["grpc"], "Z:NOSUCH")
    assert result.returncode == 1 and result.stdout.startswith("Z:NOSUCH  error: ")
    assert "not found in DevDB" in result.stdout


def test_info_with_a_bad_devdb_address_names_the_flag() -> None:
    one_error_line(pacsys_rx("info", "--devdb", "nowhere", "Z:ACLTST"), "info", "--devdb must be HOST:PORT")
