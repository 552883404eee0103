"""The transport helpers every backend shares: endpoint resolution and the backoff template."""

from __future__ import annotations

import pytest

from pacsys_rx.transport import Backoff, resolve_host, resolve_port

ENV = "PACSYS_TEST_PORT"


def test_fresh_copies_the_settings_without_the_history() -> None:
    template = Backoff(initial=0.5, maximum=4.0, factor=3.0, jitter=0.0, stable_after=2.0)
    used = template.fresh()
    used.next_delay()
    used.next_delay()
    copy = template.fresh()
    assert copy is not template and copy.attempts == 0 and template.attempts == 0
    settings = (copy.initial, copy.maximum, copy.factor, copy.jitter, copy.stable_after)
    assert settings == (0.5, 4.0, 3.0, 0.0, 2.0)
    assert [copy.next_delay(), copy.next_delay()] == [0.5, 1.5]


def test_explicit_values_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "7000")
    monkeypatch.setenv("PACSYS_TEST_HOST", "envhost")
    assert resolve_port(6000, ENV, 1) == 6000
    assert resolve_port("6001", ENV, 1) == 6001
    assert resolve_port(None, ENV, 1) == 7000
    assert resolve_host("explicit", "PACSYS_TEST_HOST", "default") == "explicit"
    assert resolve_host(None, "PACSYS_TEST_HOST", "default") == "envhost"


def test_blank_environment_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "  ")
    monkeypatch.delenv("PACSYS_TEST_HOST", raising=False)
    assert resolve_port(None, ENV, 6802) == 6802
    assert resolve_host(None, "PACSYS_TEST_HOST", "default") == "default"


@pytest.mark.parametrize("value", [0, 65536, True, 5672.0, "56x", ""])
def test_bad_ports_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match=r"port 1\.\.65535"):
        resolve_port(value, ENV, 1)  # type: ignore[arg-type]


def test_a_bad_environment_port_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "70000")
    with pytest.raises(ValueError, match=ENV):
        resolve_port(None, ENV, 1)


def test_an_empty_explicit_host_is_refused() -> None:
    with pytest.raises(ValueError, match="host"):
        resolve_host("", "PACSYS_TEST_HOST", "default")
