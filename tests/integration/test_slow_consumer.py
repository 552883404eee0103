"""A consumer slower than its DPM stream, behind ``ops.bounded_buffer``: the buffer keeps to its
bound, drops are counted, and memory stays flat."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.model import Reading
from pacsys_rx.sim import Simulator

DEVICES = [f"Z:BANK{i:03d}@p,20" for i in range(200)]
BOUND = 1000
CONSUMER_DELAY = 0.002
RUN_SECONDS = 4.0
RSS_GROWTH_LIMIT_KB = 32 * 1024


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=1, servers=["dpm"]) as simulator:
        yield simulator


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise KeyError("VmRSS")


def test_bounded_buffer_drops_instead_of_growing(sim: Simulator) -> None:
    host, port = sim.endpoints["dpm"].rsplit(":", 1)
    buffer = ops.bounded_buffer(BOUND)
    entered = delivered = max_fill = 0

    def count_entered(_: Reading) -> None:
        nonlocal entered
        entered += 1

    def consume(_: Reading) -> None:
        nonlocal delivered, max_fill
        delivered += 1
        max_fill = max(max_fill, entered - delivered - buffer.dropped)
        time.sleep(CONSUMER_DELAY)

    with prx.dpm(host=host, port=int(port)) as dpm:
        subscription = dpm.stream(DEVICES).pipe(rxops.do_action(count_entered), buffer).subscribe(consume)
        try:
            time.sleep(1.0)
            baseline = rss_kb()
            deadline = time.monotonic() + RUN_SECONDS
            while time.monotonic() < deadline:
                max_fill = max(max_fill, entered - delivered - buffer.dropped)
                time.sleep(0.05)
            growth = rss_kb() - baseline
        finally:
            subscription.dispose()

    assert entered > 2 * delivered > 0, (entered, delivered)
    assert buffer.dropped > 0, (entered, delivered)
    assert max_fill <= BOUND + 1, max_fill
    assert growth < RSS_GROWTH_LIMIT_KB, growth
