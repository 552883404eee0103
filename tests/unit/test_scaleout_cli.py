"""The scale-out commands' help pages and argument errors (no broker needed)."""

from __future__ import annotations

import pytest

from pacsys_rx.cli import main
from pacsys_rx.scaleout import DEFAULT_STREAM_URL


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
