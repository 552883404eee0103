"""Parses per second of the DRF parser, uncached and cached, over the parse vectors of tests/vectors/drf.json.

Run: .venv/bin/python benchmarks/bench_drf.py [rounds]
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pacsys_rx.drf import parse_request
from pacsys_rx.drf.request import _parse_uncached

VECTOR_FILE = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "drf.json"


def parses_per_second(parse: Callable[[str], object], inputs: list[str], rounds: int) -> float:
    """Parse every input ``rounds`` times and return the rate."""
    start = time.perf_counter()
    for _ in range(rounds):
        for text in inputs:
            parse(text)
    return rounds * len(inputs) / (time.perf_counter() - start)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    inputs = [vector["input"] for vector in json.loads(VECTOR_FILE.read_text(encoding="utf-8"))["parse"]]
    for text in inputs:
        parse_request(text)
    print(f"{len(inputs)} inputs x {rounds} rounds")
    print(f"uncached: {parses_per_second(_parse_uncached, inputs, rounds):12,.0f} parses/s")
    print(f"cached:   {parses_per_second(parse_request, inputs, rounds):12,.0f} parses/s")


if __name__ == "__main__":
    main()
