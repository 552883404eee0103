"""Every script in examples/ runs against its own simulator: exit status 0 and meaningful output.

The scripts run concurrently (they mostly wait for their streams), each with a short duration.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TIMEOUT_S = 60


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plot") / "stream.png"


@pytest.fixture(scope="module")
def runs(png: Path) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Every example started at once, each with ``--seconds`` (which every example accepts)."""
    arguments = {
        "monitoring_pipeline.py": ["--seconds", "2.5"],
        "alarm_logic.py": ["--seconds", "3"],
        "failover.py": ["--seconds", "3"],
        "write_with_ack.py": ["--seconds", "5"],
        "asyncio_integration.py": ["--seconds", "2"],
        "plot_stream.py": ["--seconds", "2", "--output", str(png)],
        "history_plot.py": ["--seconds", "3600", "--output", str(png.with_name("history.png"))],
    }
    assert set(arguments) == {path.name for path in EXAMPLES.glob("*.py")}, "an example without a smoke test"
    assert all(args[0] == "--seconds" for args in arguments.values())
    processes = {name: subprocess.Popen([sys.executable, str(EXAMPLES / name), *args], text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for name, args in arguments.items()}
    yield processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.wait()


def output_of(runs: dict[str, subprocess.Popen[str]], name: str) -> str:
    """The stdout of a finished example that exited with status 0 and printed no traceback."""
    out, err = runs[name].communicate(timeout=TIMEOUT_S)
    assert runs[name].returncode == 0, out + err
    assert "Traceback" not in out + err
    return out


def test_monitoring_pipeline_prints_changes_and_statistics(runs: dict[str, subprocess.Popen[str]]) -> None:
    out = output_of(runs, "monitoring_pipeline.py")
    assert "change   N:H801" in out
    assert "stats    M:OUTTMP" in out


def test_alarm_logic_raises_latches_acknowledges_and_detects_staleness(
        runs: dict[str, subprocess.Popen[str]]) -> None:
    out = output_of(runs, "alarm_logic.py")
    for state in ("alarm", "latched", "stale", "recovered"):
        assert f"Z:ACLTS9  {state}" in out
    assert "acknowledged at" in out
    assert "alarms raised: " in out


def test_failover_moves_to_grpc_and_back(runs: dict[str, subprocess.Popen[str]]) -> None:
    out = output_of(runs, "failover.py")
    switches = [line.split()[-1] for line in out.splitlines() if "now reading from" in line]
    assert switches == ["dpm", "grpc", "dpm"]


def test_write_with_ack_prints_acknowledgements_refusals_and_read_back(
        runs: dict[str, subprocess.Popen[str]]) -> None:
    out = output_of(runs, "write_with_ack.py")
    assert "Z:ACLTST.SETTING@N: ok" in out
    assert "Z:ACLTS2.SETTING@N: refused, DIO_RANGE" in out
    assert "Z:ACLTST.SETTING = 45.0" in out


def test_asyncio_integration_sees_the_setting_arrive(runs: dict[str, subprocess.Popen[str]]) -> None:
    out = output_of(runs, "asyncio_integration.py")
    assert "setting  Z:ACLTS1.SETTING@N: ok" in out
    assert "reading  Z:ACLTS1 = 5.000" in out


def test_plot_stream_writes_a_png(runs: dict[str, subprocess.Popen[str]], png: Path) -> None:
    out = output_of(runs, "plot_stream.py")
    assert f"wrote {png}" in out
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 1000


def test_history_plot_draws_the_last_hour_and_the_replayed_transitions(
        runs: dict[str, subprocess.Popen[str]], png: Path) -> None:
    out = output_of(runs, "history_plot.py")
    history_png = png.with_name("history.png")
    assert re.search(rf"wrote {re.escape(str(history_png))}: 3600 readings, \d+ alarm transitions", out)
    assert history_png.read_bytes().startswith(b"\x89PNG")
