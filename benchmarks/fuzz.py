"""Long fuzzing run of the PC, SDD and ACL decoders and the DRF parser.

Runs the ``TARGETS`` of ``tests/unit/test_fuzz_*.py`` (a hypothesis strategy and a check per target)
with fresh random examples until each target's share of ``--seconds`` is used, and reports how many
inputs each target ran, its slowest input and any failure. A check fails on any exception other than
the library's typed errors, and on any input slower than ``--input-limit`` seconds.

Run: .venv/bin/python benchmarks/fuzz.py --seconds 300 [--only pc] [--json fuzz.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

TEST_DIR = Path(__file__).resolve().parents[1] / "tests" / "unit"
EXAMPLES_PER_RUN = 500


@dataclass
class TargetResult:
    """What one target did: inputs run, the slowest one (seconds), and the failure text if any."""

    name: str
    inputs: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    failure: str | None = None


Target = tuple[st.SearchStrategy[Any], Callable[[Any], None]]


def load_targets() -> dict[str, Target]:
    """Every ``TARGETS`` entry of the fuzz test modules, keyed by target name."""
    targets: dict[str, Target] = {}
    for path in sorted(TEST_DIR.glob("test_fuzz_*.py")):
        spec = importlib.util.spec_from_file_location(f"fuzz_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        targets.update(module.TARGETS)
    return targets


def run_target(name: str, target: Target, seconds: float, input_limit: float) -> TargetResult:
    """Run one target with fresh examples until ``seconds`` pass or a check fails."""
    strategy, check = target
    result = TargetResult(name)

    def timed_check(value: Any) -> None:
        started = time.perf_counter()
        check(value)
        elapsed = time.perf_counter() - started
        result.inputs += 1
        result.slowest = max(result.slowest, elapsed)
        if elapsed > input_limit:
            raise AssertionError(f"one input took {elapsed:.3f} s (limit {input_limit} s): {value!r:.200}")

    run = settings(max_examples=EXAMPLES_PER_RUN, deadline=None, database=None,
                   phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
                   print_blob=True)(given(strategy)(timed_check))
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            run()
        except Exception:
            result.failure = traceback.format_exc(limit=-6)
            break
    result.seconds = time.monotonic() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="total run time, shared by the targets")
    parser.add_argument("--only", default="", help="run only targets whose name contains this text")
    parser.add_argument("--input-limit", type=float, default=1.0, help="longest time one input may take (s)")
    parser.add_argument("--json", type=Path, help="write the results to this file as JSON")
    args = parser.parse_args(argv)

    targets = {name: target for name, target in load_targets().items() if args.only in name}
    if not targets:
        parser.error(f"no target matches {args.only!r}")
    share = args.seconds / len(targets)
    results = []
    for name, target in targets.items():
        result = run_target(name, target, share, args.input_limit)
        results.append(result)
        status = "ok" if result.failure is None else "FAILED"
        print(f"{name:32s} {result.inputs:>9,d} inputs in {result.seconds:6.1f} s   "
              f"slowest {result.slowest * 1000:7.2f} ms   {status}", flush=True)
        if result.failure is not None:
            print(result.failure, file=sys.stderr)
    total = sum(r.inputs for r in results)
    failed = [r.name for r in results if r.failure is not None]
    print(f"{'total':32s} {total:>9,d} inputs; {len(failed)} target(s) failed{': ' if failed else ''}"
          f"{', '.join(failed)}")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
