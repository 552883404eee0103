"""Codec micro-benchmarks: ``python benchmarks/bench_codecs.py [--quick] [--json FILE]``.

Each codec contributes one function returning ``(label, value, unit)`` rows; add a codec by
adding its function to ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import time
import timeit
from collections.abc import Callable

from _common import Figure, add_json_option, publish

from pacsys_rx.protocols import pc, sdd

Row = tuple[str, float, str]
TIMESTAMP_MS = 1704067200000


def per_call_us(function: Callable[[], object], number: int) -> float:
    """Best of five runs, in microseconds per call."""
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def bench_dpm_pc(number: int) -> list[Row]:
    """DPM/HTTP PC codec: the Scalar reply hot path and frame splitting."""
    scalar = pc.ScalarReply(ref_id=1, timestamp=TIMESTAMP_MS, cycle=0, status=0, data=72.5)
    encoded = pc.encode_message(scalar)
    frames = pc.encode_frame(scalar) * 10_000

    def feed_all() -> None:
        pc.FrameDecoder().feed(frames)

    feed_seconds = min(timeit.repeat(feed_all, number=1, repeat=5))
    return [
        ("Scalar reply decode_reply", per_call_us(lambda: pc.decode_reply(encoded), number), "µs"),
        ("Scalar reply encode_message", per_call_us(lambda: pc.encode_message(scalar), number), "µs"),
        ("Scalar reply encode_frame", per_call_us(lambda: pc.encode_frame(scalar), number), "µs"),
        ("FrameDecoder.feed, 10,000 coalesced Scalar frames", 10_000 / feed_seconds, "messages/s"),
    ]


def bench_dmq_sdd(number: int) -> list[Row]:
    """DMQ SDD codec: the DoubleSample reply, DMQ's equivalent of the Scalar reply."""
    sample = sdd.DoubleSample(time=TIMESTAMP_MS, value=72.5, unit="mA", ref_id=1)
    encoded = sdd.encode_message(sample)
    return [
        ("DoubleSample decode_reply", per_call_us(lambda: sdd.decode_reply(encoded), number), "µs"),
        ("DoubleSample encode_message", per_call_us(lambda: sdd.encode_message(sample), number), "µs"),
    ]


SECTIONS: dict[str, Callable[[int], list[Row]]] = {
    "DPM/HTTP (PC)": bench_dpm_pc,
    "DMQ (SDD)": bench_dmq_sdd,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    add_json_option(parser)
    args = parser.parse_args()
    number = 20_000 if args.quick else 200_000
    started = time.perf_counter()
    figures = []
    for title, bench in SECTIONS.items():
        print(title)
        for label, value, unit in bench(number):
            print(f"  {label:<52} {value:>12,.3f} {unit}")
            figures.append(Figure(f"codec {title}", label, unit, value, higher_is_better=unit != "µs"))
    print(f"({time.perf_counter() - started:.1f} s)")
    publish("bench_codecs", figures, json_path=args.json, echo=False)


if __name__ == "__main__":
    main()
