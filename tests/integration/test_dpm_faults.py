"""DPM/HTTP fault injection: dropped connections, a server that stops answering, a corrupt frame."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from polling import wait_for

import pacsys_rx as prx
from pacsys_rx.backends._gaps import CONNECTION_LOST
from pacsys_rx.backends.dpm import DPMBackend
from pacsys_rx.model import Reading
from pacsys_rx.sim import Simulator
from pacsys_rx.transport import Backoff


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=1, servers=["dpm"]) as simulator:
        yield simulator


FAST_BACKOFF = Backoff(initial=0.05, maximum=0.5)


@pytest.fixture
def dpm(sim: Simulator) -> Iterator[DPMBackend]:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    backend = DPMBackend(host, int(port), timeout=2.0, backoff=FAST_BACKOFF)
    with backend:
        yield backend




def gaps(readings: list[Reading]) -> list[Reading]:
    return [r for r in readings if r.status == CONNECTION_LOST]


def test_stream_resumes_after_dropped_connections_with_the_gap_visible(sim: Simulator,
                                                                       dpm: DPMBackend) -> None:
    readings: list[Reading] = []
    subscription = dpm.stream("M:OUTTMP@p,20").subscribe(readings.append)
    assert wait_for(lambda: len(readings) >= 10)
    sim.drop_connections("dpm")
    assert wait_for(lambda: len(gaps(readings)) == 1)
    at_gap = readings.index(gaps(readings)[0])
    assert wait_for(lambda: len(readings) >= at_gap + 20)
    subscription.dispose()
    assert all(r.ok for r in readings[at_gap + 1 :])
    assert gaps(readings)[0].value is None and "lost" in (gaps(readings)[0].message or "")


def test_stream_survives_a_server_restart(sim: Simulator, dpm: DPMBackend) -> None:
    readings: list[Reading] = []
    subscription = dpm.stream("M:OUTTMP@p,20").subscribe(readings.append)
    assert wait_for(lambda: len(readings) >= 5)
    sim.restart("dpm")
    assert wait_for(lambda: bool(gaps(readings)))
    count = len(readings)
    assert wait_for(lambda: len(readings) >= count + 10)
    subscription.dispose()


@pytest.mark.kerberos
def test_write_while_the_server_is_down_fails_within_its_timeout(sim: Simulator,
                                                                 kerberos_env: object) -> None:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    sim.pause("dpm")
    try:
        with DPMBackend(host, int(port), auth=prx.KerberosAuth(), role="testing", timeout=1.0) as dpm:
            started = time.monotonic()
            with pytest.raises(prx.BackendUnavailable):
                dpm.write("Z:ACLTST", 5.0).run()
            assert time.monotonic() - started < 2.0
    finally:
        sim.resume("dpm")


def test_read_while_the_server_is_paused_fails_with_backend_unavailable(sim: Simulator,
                                                                        dpm: DPMBackend) -> None:
    sim.pause("dpm")
    try:
        with pytest.raises(prx.BackendUnavailable):
            dpm.read("M:OUTTMP", timeout=0.5).run()
    finally:
        sim.resume("dpm")
    assert dpm.read("M:OUTTMP").run().ok


def test_a_corrupt_frame_resets_only_that_connection(sim: Simulator, dpm: DPMBackend) -> None:
    first: list[Reading] = []
    second: list[Reading] = []
    one = dpm.stream("M:OUTTMP@p,20").subscribe(first.append)
    two = dpm.stream("M:FOO@p,20").subscribe(second.append)
    assert wait_for(lambda: len(first) > 5 and len(second) > 5)
    sim.corrupt_next_frame("dpm")
    assert wait_for(lambda: len(gaps(first)) + len(gaps(second)) == 1)
    broken, intact = (first, second) if gaps(first) else (second, first)
    count = len(broken)
    assert wait_for(lambda: len(broken) >= count + 10)
    assert not gaps(intact)
    one.dispose()
    two.dispose()
    assert dpm.read("M:OUTTMP").run().ok


def test_heartbeat_silence_counts_as_a_dead_connection(sim: Simulator) -> None:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    readings: list[Reading] = []
    with DPMBackend(host, int(port), heartbeat_timeout=0.5, backoff=FAST_BACKOFF) as dpm:
        subscription = dpm.stream("M:OUTTMP@p,100").subscribe(readings.append)
        assert wait_for(lambda: len(readings) >= 2)
        sim.pause("dpm")
        try:
            assert wait_for(lambda: bool(gaps(readings)), timeout=3.0)
        finally:
            sim.resume("dpm")
        count = len(readings)
        assert wait_for(lambda: len(readings) > count + 3)
        subscription.dispose()
