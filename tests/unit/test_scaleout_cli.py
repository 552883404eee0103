"""The scale-out commands' help pages, argument errors and JSON lines (no broker needed)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from pacsys_rx.cli import main
from pacsys_rx.console.alarms import record_json
from pacsys_rx.scaleout import DEFAULT_STREAM_URL, Output, Shard


@pytest.mark.parametrize("command", ["worker", "alarms", "ack", "enable", "disable"])
def test_help_names_the_stream_and_the_default_broker(command: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_status:
        main([command, "--help"])
    assert exit_status.value.code == 0
    out = capsys.readouterr().out
    assert "--stream" in out
    assert DEFAULT_STREAM_URL in out.replace("\n", "").replace(" ", "")


@pytest.mark.parametrize("command", ["enable", "disable"])
def test_enable_and_disable_need_a_device_and_a_stream(command: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_status:
        main([command, "Z:BANK001"])
    assert exit_status.value.code == 2
    assert "--stream" in capsys.readouterr().err


def test_an_output_is_one_json_line_with_iso_times_and_seconds() -> None:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    fields = (("gap", timedelta(seconds=1.5)), ("at", start))
    output = Output(Shard(0, 2), "a", "Recovered", "Z:BANK001", fields)
    assert json.loads(record_json(output)) == {
        "gap": 1.5, "at": "2024-01-01T00:00:00+00:00", "type": "output", "output": "Recovered",
        "shard": "0/2", "replica": "a", "device": "Z:BANK001"}
