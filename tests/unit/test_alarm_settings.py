"""Alarm-block writes: the per-field sequence of dpm-http.md §6.10 and the whole block for DMQ."""

from __future__ import annotations

import pytest

from pacsys_rx.alarm_settings import write_alarm_block
from pacsys_rx.backends.base import Capability
from pacsys_rx.errors import NotSupported
from pacsys_rx.model import AnalogAlarm, DigitalAlarm
from pacsys_rx.testing import FakeBackend

BLOCK = AnalogAlarm(-4.0, 50.0, True, True, True, False, 2, 1)


def test_changed_fields_are_written_one_by_one_in_the_spec_order() -> None:
    with FakeBackend({"Z:ACLTST.ANALOG": BLOCK}) as fake:
        changes = {"tries_needed": 3, "alarm_enable": False, "minimum": -5.0, "maximum": 50.0}
        result = write_alarm_block(fake, "Z@ACLTST", changes, verify=None).run()
        assert result.ok and result.drf == "Z:ACLTST.ANALOG@N" and result.verified is None
        assert fake.writes == [("Z:ACLTST.ANALOG.MIN@N", -5.0), ("Z:ACLTST.ANALOG.ALARM_ENABLE@N", 0.0),
                               ("Z:ACLTST.ANALOG.TRIES_NEEDED@N", 3)]


def test_nothing_is_written_when_every_field_holds_its_value() -> None:
    with FakeBackend({"Z:ACLTST.DIGITAL": DigitalAlarm(2, 3, True, False, False, False, 1, 0)}) as fake:
        result = write_alarm_block(fake, "Z$ACLTST", {"nominal": 2}, verify=None).run()
        assert result.ok and result.message == "already set" and fake.writes == []


class WholeBlockBackend(FakeBackend):
    name = "dmq"


def test_whole_block_backends_write_the_block_read_with_the_changes() -> None:
    with WholeBlockBackend({"Z:ACLTST.ANALOG": BLOCK}) as fake:
        assert write_alarm_block(fake, "Z:ACLTST.ANALOG", {"maximum": 60.0}, verify=None).run().ok
        written = AnalogAlarm(-4.0, 60.0, True, False, False, False, 2, 0)
        assert fake.writes == [("Z:ACLTST.ANALOG@N", written)]


def test_an_unreadable_block_is_the_result() -> None:
    with FakeBackend() as fake:
        result = write_alarm_block(fake, "Z:ACLTST.ANALOG", {"minimum": 1.0}, verify=None).run()
        assert not result.ok and "could not read the alarm block" in (result.message or "")
        assert fake.writes == []


def test_read_only_backends_fail_on_subscribe_with_not_supported() -> None:
    class ReadOnly(FakeBackend):
        name = "acl"
        capabilities = Capability.READ

    with ReadOnly({"Z:ACLTST.ANALOG": BLOCK}) as fake:
        changed = write_alarm_block(fake, "Z@ACLTST", {"minimum": 1.0})
        with pytest.raises(NotSupported, match="read-only"):
            changed.run()
