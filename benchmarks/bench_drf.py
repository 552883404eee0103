"""Parses per second of the DRF parser, uncached and cached, over the parse vectors of tests/vectors/drf.json.

Run: .venv/bin/python benchmarks/bench_drf.py [rounds] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from _common import ROOT, Figure, add_json_option, publish

from pacsys_rx.drf import parse_request
from pacsys_rx.drf.request import _parse_uncached

VECTOR_FILE = ROOT / "tests" / "vectors" / "drf.json"


def parses_per_second(parse: Callable[[str], object], inputs: list[str], rounds: int) -> float:
    """Parse every input ``rounds`` times and return the rate."""
    start = time.perf_counter()
    for _ in range(rounds):
        for text in inputs:
            parse(text)
    return rounds * len(inputs) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", type=int, nargs="?", default=200,
                        help="rounds over the inputs (default 200)")
    add_json_option(parser)
    args = parser.parse_args()
    inputs = [vector["input"] for vector in json.loads(VECTOR_FILE.read_text(encoding="utf-8"))["parse"]]
    for text in inputs:
        parse_request(text)
    print(f"{len(inputs)} inputs x {args.rounds} rounds")
    uncached = parses_per_second(_parse_uncached, inputs, args.rounds)
    cached = parses_per_second(parse_request, inputs, args.rounds)
    print(f"uncached: {uncached:12,.0f} parses/s")
    print(f"cached:   {cached:12,.0f} parses/s")
    figures = [Figure("DRF", f"parse_request, uncached ({len(inputs)} vectors)", "parses/s", uncached),
               Figure("DRF", f"parse_request, cached ({len(inputs)} vectors)", "parses/s", cached)]
    publish("bench_drf", figures, json_path=args.json, echo=False)


if __name__ == "__main__":
    main()
