"""``python -m pacsys_rx sim`` as a subprocess: endpoint lines, ``ready`` within 2 s, clean SIGINT exit."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pacsys_rx.sim import SERVER_MODULES

READY_WITHIN_S = 2.0


def read_until_ready(process: subprocess.Popen[str], within: float) -> list[str]:
    """The stdout lines up to and including ``ready``; fails if it takes longer than ``within`` seconds."""
    stdout = process.stdout
    assert stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in stdout], daemon=True).start()
    deadline = time.monotonic() + within
    seen: list[str] = []
    while not seen or seen[-1] != "ready":
        try:
            seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            pytest.fail(f"no 'ready' within {within} s; got {seen!r} (exit status {process.poll()})")
    return seen


def test_sim_command_starts_reports_and_stops_on_sigint() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pacsys_rx",
            "sim",
            "--seed",
            "1",
            "--dpm-port",
            "0",
            "--grpc-port",
            "0",
            "--acl-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        lines = read_until_ready(process, READY_WITHIN_S)
        names = [line.split(" ", 1)[0] for line in lines[:-1]]
        assert names == list(SERVER_MODULES)
        for line in lines[:-1]:
            name, rest = line.split(" ", 1)
            if rest.startswith("disabled: "):
                continue
            if name in ("dpm", "grpc"):
                host, port = rest.rsplit(":", 1)
                assert host == "127.0.0.1" and 0 < int(port) < 65536
            elif name == "acl":
                assert rest.startswith("http") and rest.endswith("/cgi-bin/acl.pl")
            else:
                assert rest.startswith("amqp://")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 130
        assert "Traceback" not in (process.stderr.read() if process.stderr else "")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sim_command_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "pacsys_rx", "sim"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    try:
        read_until_ready(process, READY_WITHIN_S)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    "args", [["--devices", "/nonexistent/devices.toml"], ["--dpm-port", "70000"], ["--bogus"]]
)
def test_bad_arguments_give_one_line_and_a_failure_status(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pacsys_rx", "sim", *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_devices_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "devices.toml"
    path.write_text('[devices."Z:ONE"]\nreading = { text = "x" }\n')
    result = subprocess.run(
        [sys.executable, "-m", "pacsys_rx", "sim", "--devices", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == f"pacsys-rx sim: error: {path}: device Z:ONE: missing index"


@pytest.mark.kerberos
def test_a_named_server_that_cannot_run_is_an_error(kerberos_realm: Any) -> None:
    """``--servers dmq`` with no broker: exit 1 with the reason, never ``ready`` with nothing served."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    result = subprocess.run(
        [sys.executable, "-m", "pacsys_rx", "sim", "--servers", "dmq", "--keytab",
         str(kerberos_realm.service_keytab), "--amqp-url", f"amqp://guest:guest@127.0.0.1:{closed_port}/%2F"],
        capture_output=True, text=True, timeout=60, env={**os.environ, **kerberos_realm.env},
    )
    assert result.returncode == 1
    assert "ready" not in result.stdout
    assert result.stderr.startswith("pacsys-rx sim: error: cannot serve dmq: broker unreachable")
    assert len(result.stderr.strip().splitlines()) == 1
