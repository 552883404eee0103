"""DPM/HTTP backend against the simulator over real sockets: reads, streams, sharing, release."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from polling import wait_for
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx.backends.dpm import DPMBackend
from pacsys_rx.model import AnalogAlarm, BasicStatus, DigitalAlarm, Reading, ValueType
from pacsys_rx.sim import Simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=1, servers=["dpm"]) as simulator:
        yield simulator


@pytest.fixture
def dpm(sim: Simulator) -> Iterator[DPMBackend]:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    backend = DPMBackend(host, int(port), timeout=5.0)
    with backend:
        yield backend




@pytest.mark.parametrize(("drf", "value_type", "check"), [
    ("M:OUTTMP", ValueType.SCALAR, lambda v: isinstance(v, float)),
    ("Z:ACLTS3", ValueType.SCALAR_ARRAY, lambda v: isinstance(v, tuple) and len(v) == 8),
    ("M:OUTTMP.RAW", ValueType.RAW, lambda v: isinstance(v, bytes) and len(v) == 2),
    ("B:BOOSBP", ValueType.TEXT, lambda v: v == "BEAM PERMIT OK"),
    ("Z:ACLTST.STATUS.BIT_NAMES", ValueType.TEXT_ARRAY, lambda v: "On" in v),
    ("Z:ACLTST.ANALOG", ValueType.ANALOG_ALARM, lambda v: isinstance(v, AnalogAlarm) and v.maximum == 50.0),
    ("Z:ACLTST.DIGITAL", ValueType.DIGITAL_ALARM, lambda v: isinstance(v, DigitalAlarm) and v.mask == 3),
    ("Z:ACLTS5.STATUS", ValueType.BASIC_STATUS, lambda v: isinstance(v, BasicStatus) and v.on is True),
])
def test_read_every_value_type(dpm: DPMBackend, drf: str, value_type: ValueType,
                               check: Callable[[object], bool]) -> None:
    reading = dpm.read(drf).run()
    assert reading.ok, reading
    assert reading.value_type is value_type and check(reading.value)
    assert reading.drf == drf and reading.timestamp.tzinfo is not None and reading.meta is not None


def test_read_carries_units_from_device_info(dpm: DPMBackend) -> None:
    reading = dpm.read("M:OUTTMP").run()
    assert reading.units == "DegF" and reading.meta is not None and reading.meta.device_index == 27235


def test_unknown_device_is_an_error_reading(dpm: DPMBackend) -> None:
    reading = dpm.read("X:NOSUCH").run()
    assert reading.value is None and reading.status == prx.AcnetStatus.named("DPM_NO_SUCH_DEVICE")


def test_read_many_of_fifty_devices(dpm: DPMBackend) -> None:
    names = [f"Z:BANK{i:03d}" for i in range(50)]
    readings = dpm.read_many(names).pipe(rxops.to_list()).run()
    assert sorted(r.drf for r in readings) == sorted(names)
    assert all(r.ok and r.units == "mA" for r in readings)


def test_concurrent_reads_share_the_pool(dpm: DPMBackend) -> None:
    results: list[Reading] = []
    lock = threading.Lock()

    def read() -> None:
        reading = dpm.read("M:OUTTMP").run()
        with lock:
            results.append(reading)

    threads = [threading.Thread(target=read) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 12 and all(r.ok for r in results)


def count_for(dpm: DPMBackend, drf: str, seconds: float) -> list[Reading]:
    readings: list[Reading] = []
    subscription = dpm.stream(drf).subscribe(readings.append)
    assert wait_for(lambda: bool(readings))
    time.sleep(seconds)
    subscription.dispose()
    return readings


def test_periodic_stream_at_100_hz_for_two_seconds(dpm: DPMBackend) -> None:
    readings = count_for(dpm, "M:OUTTMP@p,10", 2.0)
    assert 180 <= len(readings) <= 222
    assert all(r.ok and r.drf == "M:OUTTMP.READING@p,10" for r in readings)


def test_clock_event_stream_on_0f(dpm: DPMBackend) -> None:
    readings = count_for(dpm, "M:OUTTMP@e,0F", 2.0)
    assert 27 <= len(readings) <= 33
    assert readings[0].drf == "M:OUTTMP.READING@e,0F"


def test_two_subscribers_share_one_list_and_disposal_releases_it(sim: Simulator, dpm: DPMBackend) -> None:
    first: list[Reading] = []
    second: list[Reading] = []
    source = dpm.stream("M:FOO@p,50")
    one = source.subscribe(first.append)
    two = dpm.stream("M:FOO@p,50").subscribe(second.append)
    assert wait_for(lambda: len(first) > 3 and len(second) > 3)
    counters = sim.counters("dpm")
    assert counters["subscriptions"] == 1 and counters["list_entries"] == 1
    one.dispose()
    assert sim.counters("dpm")["subscriptions"] == 1
    before = len(second)
    assert wait_for(lambda: len(second) > before)
    two.dispose()
    assert wait_for(lambda: sim.counters("dpm")["subscriptions"] == 0)
    assert wait_for(lambda: sim.counters("dpm")["list_entries"] == 0)
    assert dpm.subscription_count() == 0


def test_close_completes_open_streams(sim: Simulator) -> None:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    completed = threading.Event()
    backend = DPMBackend(host, int(port))
    backend.stream("M:OUTTMP@p,100").subscribe(on_completed=completed.set)
    backend.close()
    assert completed.is_set()
    assert wait_for(lambda: sim.counters("dpm")["subscriptions"] == 0)


def test_factory_reads_host_and_port_from_the_environment(sim: Simulator,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    monkeypatch.setenv("PACSYS_DPM_HOST", host)
    monkeypatch.setenv("PACSYS_DPM_PORT", port)
    with prx.dpm() as backend:
        assert backend.read("M:OUTTMP").run().ok
    with pytest.raises(ValueError):
        prx.dpm(port=0)
