"""Slow consumer behind ``ops.bounded_buffer``: memory stays bounded and drops are counted.

A DPM/HTTP stream of 1000 devices at ``@p,20`` (50,000 readings/s offered, simulator in a child
process) passes through ``bounded_buffer(--buffer)`` to a consumer that sleeps ``--consumer-delay``
seconds per reading. Every ``--sample-seconds`` the script samples RSS and the buffer's fill
(readings that entered it minus readings delivered minus readings dropped), then prints the dropped
count, the largest fill seen (at most the bound, plus the one reading in the consumer's hands) and
the peak RSS.

Run: .venv/bin/python benchmarks/slow_consumer.py --seconds 30 [--json slow.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from reactivex import operators as rxops

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.model import Reading

DEVICES = [f"Z:BANK{i:03d}" for i in range(1000)]


@contextmanager
def simulator(seed: int) -> Iterator[tuple[str, int]]:
    """``python -m pacsys_rx sim --servers dpm`` in its own process; yields the DPM host and port."""
    command = [sys.executable, "-m", "pacsys_rx", "sim", "--seed", str(seed), "--servers", "dpm"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        endpoint = None
        for line in process.stdout:
            if line.startswith("dpm "):
                endpoint = line.split()[1]
            if line.strip() == "ready":
                break
        if endpoint is None:
            raise RuntimeError("the simulator printed no dpm endpoint")
        host, port = endpoint.rsplit(":", 1)
        yield host, int(port)
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def rss_kb(key: str = "VmRSS") -> int:
    """Resident set size (or ``VmHWM``, its peak) from /proc/self/status, in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


@dataclass
class SlowConsumerReport:
    seconds: float
    buffer: int
    consumer_delay: float
    offered: int = 0
    delivered: int = 0
    dropped: int = 0
    max_fill: int = 0
    rss_start_kb: int = 0
    rss_after_warmup_kb: int = 0
    rss_end_kb: int = 0
    rss_peak_kb: int = 0

    @property
    def offered_rate(self) -> float:
        return self.offered / self.seconds

    @property
    def passed(self) -> bool:
        return self.max_fill <= self.buffer + 1 and self.dropped > 0


def run(host: str, port: int, seconds: float, period_ms: int, buffer_size: int, consumer_delay: float,
        sample_seconds: float, warmup: float) -> SlowConsumerReport:
    report = SlowConsumerReport(seconds, buffer_size, consumer_delay)
    entered = delivered = 0

    def count_entered(_: Reading) -> None:
        nonlocal entered
        entered += 1

    def consume(_: Reading) -> None:
        nonlocal delivered
        delivered += 1
        time.sleep(consumer_delay)

    buffer = ops.bounded_buffer(buffer_size)
    report.rss_start_kb = rss_kb()
    with prx.dpm(host=host, port=port) as dpm:
        source = dpm.stream([f"{name}@p,{period_ms}" for name in DEVICES])
        subscription = source.pipe(rxops.do_action(count_entered), buffer).subscribe(consume)
        started = time.monotonic()
        try:
            while (elapsed := time.monotonic() - started) < seconds:
                time.sleep(min(sample_seconds, seconds - elapsed))
                dropped = buffer.dropped
                report.max_fill = max(report.max_fill, entered - delivered - dropped)
                rss = rss_kb()
                if not report.rss_after_warmup_kb and time.monotonic() - started >= warmup:
                    report.rss_after_warmup_kb = rss
                print(f"  {time.monotonic() - started:5.1f} s  entered {entered:>10,d}  delivered "
                      f"{delivered:>7,d}  dropped {dropped:>10,d}  RSS {rss / 1024:6.1f} MiB", flush=True)
        finally:
            subscription.dispose()
    report.offered, report.delivered, report.dropped = entered, delivered, buffer.dropped
    report.rss_end_kb = rss_kb()
    report.rss_peak_kb = rss_kb("VmHWM")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--period-ms", type=int, default=20, help="period of each device (20: 50,000/s)")
    parser.add_argument("--buffer", type=int, default=10_000, help="bound of ops.bounded_buffer")
    parser.add_argument("--consumer-delay", type=float, default=0.001,
                        help="seconds the consumer sleeps per reading")
    parser.add_argument("--sample-seconds", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before the RSS baseline")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the report to this file as JSON")
    args = parser.parse_args()
    with simulator(args.seed) as (host, port):
        report = run(host, port, args.seconds, args.period_ms, args.buffer, args.consumer_delay,
                     args.sample_seconds, args.warmup)
    print(f"slow consumer: {len(DEVICES)} devices @p,{args.period_ms} through bounded_buffer({args.buffer}), "
          f"consumer sleeping {args.consumer_delay * 1000:g} ms per reading, {args.seconds:g} s")
    print(f"  offered   {report.offered:>12,d}  ({report.offered_rate:,.0f}/s)")
    print(f"  delivered {report.delivered:>12,d}")
    print(f"  dropped   {report.dropped:>12,d}")
    print(f"  largest buffer fill {report.max_fill:,d} (bound {args.buffer:,d})")
    print(f"  RSS start {report.rss_start_kb / 1024:.1f} MiB, after warm-up "
          f"{report.rss_after_warmup_kb / 1024:.1f} MiB, end {report.rss_end_kb / 1024:.1f} MiB, "
          f"peak {report.rss_peak_kb / 1024:.1f} MiB")
    print("PASS" if report.passed else "FAIL")
    if args.json is not None:
        args.json.write_text(json.dumps({**asdict(report), "passed": report.passed}, indent=2))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
