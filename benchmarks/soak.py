"""Soak test: 1000 devices at 10 Hz (``Z:BANK000..999@p,100``) over DPM/HTTP for ``--minutes``.

The simulator runs in a child process (this script with ``--serve``) whose DPM server counts every
Scalar frame it writes, per device. At the end the server is paused, in-flight data is let through,
and each device's client count is compared with what the server sent; the server's own
``dropped_frames`` (data it discarded for a slow client) count as loss too. RSS is sampled from
``/proc/self/status`` every ``--sample-seconds``; growth is measured from the end of the warm-up.
Threads and file descriptors are counted before the backend opens and after it closes.

Targets: zero loss, RSS growth under 10 %, equal threads and file descriptors. Not run in CI.

Run: .venv/bin/python benchmarks/soak.py --minutes 10 [--json soak.json]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pacsys_rx as prx
from pacsys_rx.model import Reading
from pacsys_rx.protocols import pc
from pacsys_rx.protocols.pcitems import encode_int, read_int
from pacsys_rx.sim import Simulator
from pacsys_rx.sim.dpm_server import DpmServer, scalar_frame

DEVICES = [f"Z:BANK{i:03d}" for i in range(1000)]
PERIOD_MS = 100
SETTLE_SECONDS = 2.0
_LENGTH = struct.Struct(">I")
SCALAR_PREFIX = scalar_frame(b"", b"", 0.0)[4 : -len(encode_int(pc.FIELD_IDS["data"])) - 9]
"""The bytes every Scalar reply body of the simulator starts with, up to its ref_id."""


# ------------------------------------------------------------------------ simulator side


class CountingDpmServer(DpmServer):
    """The simulator's DPM server, counting the Scalar frames it writes per device."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: Counter[str] = Counter()

    def send(self, session: Any, data: bytes) -> None:
        position = 0
        prefix_length = len(SCALAR_PREFIX)
        while position + 4 <= len(data):
            body = position + 4
            if data.startswith(SCALAR_PREFIX, body):
                ref_id = read_int(data, body + prefix_length)[0]
                entry = session.entries.get(ref_id)
                if entry is not None:
                    self.sent[entry.request.device] += 1
            position = body + _LENGTH.unpack_from(data, position)[0]
        super().send(session, data)


def serve(seed: int) -> None:
    """The child process: run the simulator; answer ``pause`` and ``counts`` on stdin until EOF."""
    server = CountingDpmServer()
    with Simulator(seed=seed, servers={"dpm": server}) as sim:
        print(f"dpm {sim.endpoints['dpm']}\nready", flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "pause":
                sim.pause("dpm")
                print("paused", flush=True)
            elif command == "counts":
                sent = sim.call(lambda: dict(server.sent))
                print(json.dumps({"sent": sent, "dropped_frames": server.dropped_frames}), flush=True)


class SimulatorProcess:
    """This script with ``--serve`` in a child process, driven through its stdin."""

    def __init__(self, seed: int) -> None:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", "--seed", str(seed)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        endpoint = self._expect("dpm ")
        self._expect("ready")
        host, port = endpoint.split()[1].rsplit(":", 1)
        self.host, self.port = host, int(port)

    def _expect(self, start: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(start):
            raise RuntimeError(f"the simulator process printed {line!r}, expected {start!r}")
        return line

    def command(self, text: str, answer: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()
        return self._expect(answer)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


# ---------------------------------------------------------------------------- client side


def proc_status(key: str) -> int:
    """A numeric field of /proc/self/status (kB for memory fields)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def resources() -> dict[str, int]:
    return {"threads": proc_status("Threads"), "python_threads": threading.active_count(),
            "fds": len(os.listdir("/proc/self/fd"))}


def settled_resources(expected: dict[str, int], timeout: float = 10.0) -> dict[str, int]:
    """Resources once they match ``expected`` (threads finish asynchronously), or after ``timeout``."""
    deadline = time.monotonic() + timeout
    current = resources()
    while current != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        current = resources()
    return current


class RssSampler:
    """Samples RSS (kB) every ``interval`` seconds on a daemon thread."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._started = time.monotonic()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - self._started, proc_status("VmRSS")))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic() - self._started, proc_status("VmRSS")))

    def at(self, seconds: float) -> int:
        """The first sample taken at or after ``seconds``."""
        return next((rss for t, rss in self.samples if t >= seconds), self.samples[-1][1])


@dataclass
class SoakReport:
    minutes: float
    warmup_seconds: float
    devices: int
    readings_received: int = 0
    readings_sent: int = 0
    expected_from_period: int = 0
    loss: int = 0
    devices_with_loss: int = 0
    server_dropped_frames: int = 0
    non_ok_readings: int = 0
    rss_after_warmup_kb: int = 0
    rss_end_kb: int = 0
    rss_peak_kb: int = 0
    rss_growth_percent: float = 0.0
    before: dict[str, int] = field(default_factory=dict)
    after: dict[str, int] = field(default_factory=dict)
    rss_samples: list[tuple[float, int]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.loss == 0 and self.rss_growth_percent < 10.0 and self.before == self.after


def soak(minutes: float, warmup: float, sample_seconds: float, seed: int) -> SoakReport:
    report = SoakReport(minutes, warmup, len(DEVICES))
    sim = SimulatorProcess(seed)
    try:
        report.before = resources()
        received: Counter[str] = Counter()
        non_ok = 0

        def on_reading(reading: Reading) -> None:
            nonlocal non_ok
            if reading.ok:
                received[reading.device] += 1
            else:
                non_ok += 1

        sampler = RssSampler(sample_seconds)
        backend = prx.dpm(host=sim.host, port=sim.port)
        try:
            subscription = backend.stream([f"{name}@p,{PERIOD_MS}" for name in DEVICES]).subscribe(
                on_reading, lambda error: print(f"stream failed: {error!r}", file=sys.stderr))
            started = time.monotonic()
            sampler.start()
            end = started + minutes * 60
            while (now := time.monotonic()) < end:
                time.sleep(min(10.0, end - now))
                print(f"  {time.monotonic() - started:7.0f} s  {sum(received.values()):>11,d} readings  "
                      f"RSS {proc_status('VmRSS') / 1024:7.1f} MiB", flush=True)
            sim.command("pause", "paused")
            elapsed = time.monotonic() - started
            time.sleep(SETTLE_SECONDS)
            counts = json.loads(sim.command("counts", "{"))
            client = Counter(received)
            subscription.dispose()
        finally:
            backend.close()
        sampler.stop()
        report.after = settled_resources(report.before)
    finally:
        sim.close()

    sent: dict[str, int] = counts["sent"]
    report.readings_sent = sum(sent.values())
    report.readings_received = sum(client.values())
    report.expected_from_period = int(len(DEVICES) * elapsed * 1000 / PERIOD_MS)
    losses = {device: sent.get(device, 0) - client.get(device, 0) for device in DEVICES}
    report.server_dropped_frames = counts["dropped_frames"]
    report.loss = sum(max(0, lost) for lost in losses.values()) + report.server_dropped_frames
    report.devices_with_loss = sum(1 for lost in losses.values() if lost > 0)
    report.non_ok_readings = non_ok
    report.rss_samples = sampler.samples
    report.rss_after_warmup_kb = sampler.at(warmup)
    report.rss_end_kb = sampler.samples[-1][1]
    report.rss_peak_kb = max(rss for _, rss in sampler.samples)
    baseline = report.rss_after_warmup_kb
    report.rss_growth_percent = 100.0 * (report.rss_end_kb - baseline) / baseline
    return report


def print_report(report: SoakReport) -> None:
    print(f"soak: {report.devices} devices at {1000 // PERIOD_MS} Hz over DPM/HTTP, {report.minutes:g} min")
    print(f"  readings sent by the server  {report.readings_sent:>12,d}   "
          f"(period x time would give {report.expected_from_period:,d})")
    print(f"  readings received            {report.readings_received:>12,d}")
    print(f"  loss                         {report.loss:>12,d}   ({report.devices_with_loss} devices short, "
          f"{report.server_dropped_frames} frames dropped by the server)   target 0")
    print(f"  non-OK readings              {report.non_ok_readings:>12,d}")
    print(f"  RSS after {report.warmup_seconds:g} s warm-up      "
          f"{report.rss_after_warmup_kb / 1024:9.1f} MiB")
    print(f"  RSS at the end               {report.rss_end_kb / 1024:9.1f} MiB   (peak "
          f"{report.rss_peak_kb / 1024:.1f} MiB)   growth {report.rss_growth_percent:+.1f} %   target < 10 %")
    for key in report.before:
        print(f"  {key:28s} {report.before[key]:>5d} before   {report.after.get(key, -1):>5d} after")
    print("PASS" if report.passed else "FAIL")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float,
                        help="seconds before the RSS baseline (default: a quarter of the run, at most 60)")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling interval")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the report to this file as JSON")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.seed)
        return 0
    warmup = args.warmup if args.warmup is not None else min(60.0, args.minutes * 15)
    report = soak(args.minutes, warmup, args.sample_seconds, args.seed)
    print_report(report)
    if args.json is not None:
        args.json.write_text(json.dumps({**asdict(report), "passed": report.passed}, indent=2))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
