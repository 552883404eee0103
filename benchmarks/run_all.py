"""Run every benchmark script in sequence and write docs/performance.md and docs/performance.png.

Each script runs in its own process with ``--json FILE``; a script that fails is reported on the page
and the others still run. The soak test runs in its short form (``soak.py --minutes 0.5``).

Run: ``.venv/bin/python benchmarks/run_all.py [--quick]`` (``make bench`` runs it in full).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from _common import REFERENCE_PYTHON, ROOT, Figure, Run, load_results, number

BENCHMARKS = ROOT / "benchmarks"
PAGE = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "performance.png"
PROFILES = ROOT / "docs" / "profiles"
BACKENDS = ("DPM/HTTP", "DPM/gRPC", "DMQ")


@dataclass(frozen=True)
class Benchmark:
    """A script with its arguments for a quick and a full run."""

    script: str
    quick: tuple[str, ...]
    full: tuple[str, ...]
    timeout_s: float = 900.0


def window(seconds: int, warmup: int) -> tuple[str, ...]:
    return ("--seconds", str(seconds), "--warmup", str(warmup))


SUITE = (
    Benchmark("bench_codecs.py", ("--quick",), ()),
    Benchmark("bench_drf.py", ("50",), ("200",)),
    Benchmark("bench_operators.py", ("--items", "200000"), ("--items", "1000000")),
    Benchmark("bench_sim_engine.py", ("--seconds", "2"), ("--seconds", "10")),
    Benchmark("bench_dpm.py", window(4, 2), window(10, 3)),
    Benchmark("bench_grpc.py", window(4, 2), window(10, 3)),
    Benchmark("bench_dmq.py", window(4, 2), window(10, 3)),
    Benchmark("bench_streams.py", ("--count", "2000", "--probes", "20", "--seconds", "3"), ()),
    Benchmark("profile_hot_paths.py", ("--seconds", "4", "--warmup", "2"), ()),
    Benchmark("bench_scaleout.py", ("--quick",), ()),
    Benchmark("bench_replay.py", ("--hours", "1"), ("--hours", "24")),
    Benchmark("soak.py", ("--minutes", "0.5"), ("--minutes", "0.5")),
)


@dataclass
class Outcome:
    """What one script produced: its figures and runs, or why it produced none."""

    script: str
    seconds: float
    figures: list[Figure] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    error: str | None = None


def soak_figures(report: dict[str, Any]) -> list[Figure]:
    """The soak report of ``soak.py --json`` as figures."""
    leaked = sum(max(0, report["after"].get(name, 0) - count) for name, count in report["before"].items())
    section = f"soak (short form, {report['minutes']:g} min)"
    workload = f"{report['devices']} devices over DPM/HTTP"
    return [
        Figure(section, f"readings lost of {report['readings_sent']:,} sent, {workload}", "readings",
               report["loss"], higher_is_better=False, target_max=1),
        Figure(section, "RSS growth after the warm-up", "%", report["rss_growth_percent"],
               higher_is_better=False, target_max=10),
        Figure(section, "threads and file descriptors left after close", "", leaked,
               higher_is_better=False, target_max=1),
    ]


def run(benchmark: Benchmark, quick: bool) -> Outcome:
    """Run one script with ``--json`` and read back what it wrote."""
    script = BENCHMARKS / benchmark.script
    print(f"== {benchmark.script}", flush=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result.json"
        command = [sys.executable, str(script), *(benchmark.quick if quick else benchmark.full),
                   "--json", str(result)]
        try:
            completed = subprocess.run(command, cwd=ROOT, timeout=benchmark.timeout_s, stderr=subprocess.PIPE,
                                       text=True)
        except subprocess.TimeoutExpired:
            return Outcome(benchmark.script, time.perf_counter() - began,
                           error=f"timed out after {benchmark.timeout_s:g} s")
        seconds = time.perf_counter() - began
        sys.stderr.write(completed.stderr)
        if not result.exists():
            lines = completed.stderr.strip().splitlines()
            return Outcome(benchmark.script, seconds,
                           error=lines[-1] if lines else f"exit status {completed.returncode}")
        if benchmark.script == "soak.py":
            return Outcome(benchmark.script, seconds, soak_figures(json.loads(result.read_text())))
        figures, runs = load_results(result)
        return Outcome(benchmark.script, seconds, figures, runs)


def version_of(package: str, python: Path | None = None) -> str:
    """Installed version of ``package``, in this environment or in the one of ``python``."""
    if python is None:
        return importlib.metadata.version(package)
    if not python.exists():
        return "not installed"
    query = ("import importlib.metadata as m, platform; "
             f"print(m.version({package!r}), platform.python_version())")
    completed = subprocess.run([str(python), "-c", query], capture_output=True, text=True)
    version, _, python_version = completed.stdout.strip().partition(" ")
    return f"{version} (Python {python_version})" if completed.returncode == 0 else "unavailable"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def commit() -> str:
    completed = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                               text=True)
    return completed.stdout.strip() or "unknown"


def load_text(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def machine(load_before: tuple[float, float, float]) -> list[str]:
    """Lines saying when, where and with what the figures were produced."""
    return [
        f"- produced: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, working tree at commit `{commit()}`",
        f"- host: `{socket.gethostname()}`, {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}",
        f"- load average (1 / 5 / 15 min): {load_text(load_before)} before, "
        f"{load_text(os.getloadavg())} after",
        f"- Python {platform.python_version()}; pacsys_rx {version_of('pacsys_rx')} "
        f"(reactivex {version_of('reactivex')}); reference: pacsys {version_of('pacsys', REFERENCE_PYTHON)} "
        "in its own environment (.venv-bench)",
    ]


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def figure_rows(outcomes: list[Outcome]) -> list[str]:
    rows = ["| Area | Figure | pacsys_rx | pacsys | vs pacsys | Target | Result |",
            "| --- | --- | ---: | ---: | ---: | --- | --- |"]
    for outcome in outcomes:
        for figure in outcome.figures:
            ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else ""
            unit = f" {figure.unit}" if figure.unit else ""
            reference = figure.reference_text + (unit if figure.reference is not None else "")
            rows.append(f"| {figure.section} | {cell(figure.name)} | {number(figure.value)}{unit} | "
                        f"{cell(reference)} | {ratio} | {figure.targets} | {figure.verdict} |")
    return rows


def run_rows(outcomes: list[Outcome]) -> list[str]:
    rows = ["| Area | Workload | Client | readings/s | client cores | client CPU µs/reading "
            "| simulator cores | broker cores | other cores | p50 ms | p99 ms | Note |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for outcome in outcomes:
        for run in outcome.runs:
            note = run.note if run.ok else f"failed: {run.error or 'no readings'}"
            figures = (run.rate, run.client_cores, run.cpu_us_per_reading, run.simulator_cores,
                       run.broker_cores, run.other_cores, run.latency_p50_ms, run.latency_p99_ms)
            rows.append(f"| {run.section} | {cell(run.workload)} | {run.client} | "
                        + "".join(f"{number(value)} | " for value in figures) + f"{cell(note)} |")
    return rows


def profile_lines() -> list[str]:
    """A link per flame graph, with the summary ``profile_hot_paths.py`` wrote beside it."""
    lines = []
    for svg in sorted(PROFILES.glob("*.svg")):
        lines.append(f"- [{svg.stem}](profiles/{svg.name})")
        summary = svg.with_suffix(".txt")
        if summary.exists():
            head, *frames = summary.read_text(encoding="utf-8").splitlines()
            lines.append(f"  {head}")
            lines += [f"    - `{frame.strip()}`" for frame in frames]
    return lines


def write_page(outcomes: list[Outcome], load_before: tuple[float, float, float], quick: bool) -> None:
    failures = [outcome for outcome in outcomes if outcome.error]
    lines = [
        "# Performance",
        "",
        "Generated by `make bench` (`benchmarks/run_all.py" + (" --quick" if quick else "") + "`); "
        "rerun it rather than editing this page.",
        "",
        *machine(load_before),
        "",
        "Every backend benchmark starts one simulator process (`python -m pacsys_rx sim`) and runs "
        "pacsys_rx and the reference library `pacsys` against it one after the other, each once the "
        "simulator is idle again and each with a warm-up before its measuring window. pacsys runs in "
        "its own virtual environment through `benchmarks/reference/pacsys_stream.py`, once per dispatch "
        "mode (worker, direct); the best of its runs is the reference. `vs pacsys` says how many times "
        "better pacsys_rx is (more readings per second, or fewer µs or ms). A client that keeps up with "
        "the offered rate delivers exactly that rate, so at 200,000 readings/s offered the throughput "
        "ratio cannot exceed 200,000 / pacsys's rate; the client CPU per reading shows the headroom. "
        "Client CPU is `time.process_time()` for pacsys_rx and /proc for the pacsys process; simulator "
        "and broker CPU come from /proc over the same window, and `other cores` is what the rest of the "
        "machine used meanwhile: a run with other work on the machine gives lower and noisier figures.",
        "",
        "![readings per second and client CPU per reading, pacsys_rx and pacsys](performance.png)",
        "",
        "## Figures",
        "",
        *figure_rows(outcomes),
        "",
        "## Client runs",
        "",
        "Every measuring window of the backend benchmarks, pacsys_rx and pacsys alike.",
        "",
        *run_rows(outcomes),
        "",
        "## Profiles",
        "",
        "py-spy flame graphs of each backend's client at its highest rate "
        "(`benchmarks/profile_hot_paths.py`; open them in a browser to zoom into a frame):",
        "",
        *profile_lines(),
        "",
        "## Scripts",
        "",
        "| Script | Seconds | Outcome |",
        "| --- | ---: | --- |",
        *(f"| `benchmarks/{outcome.script}` | {outcome.seconds:.0f} | "
          f"{cell('failed: ' + outcome.error) if outcome.error else 'ok'} |" for outcome in outcomes),
    ]
    if failures:
        lines += ["", f"{len(failures)} script(s) failed; their figures are missing from the tables above."]
    PAGE.write_text("\n".join(lines) + "\n", encoding="utf-8")


def headline(figures: list[Figure], section: str, unit: str) -> Figure | None:
    """The figure of ``section`` in ``unit`` that has targets, else the first one."""
    candidates = [figure for figure in figures if figure.section == section and figure.unit == unit]
    return next((figure for figure in candidates if figure.targets), candidates[0] if candidates else None)


def write_plot(outcomes: list[Outcome]) -> None:
    """Bars of ours and pacsys per backend: readings/s with the target, and client CPU per reading."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figures = [figure for outcome in outcomes for figure in outcome.figures]
    plot, axes = pyplot.subplots(2, len(BACKENDS), figsize=(11, 6.5), squeeze=False)
    for column, section in enumerate(BACKENDS):
        for row, (unit, title) in enumerate((("readings/s", "readings/s"),
                                                 ("µs", "CPU µs/reading, lower is better"))):
            axis = axes[row][column]
            figure = headline(figures, section, unit)
            axis.set_title(f"{section}: {title}", fontsize=10)
            if figure is None:
                axis.text(0.5, 0.5, "no result", ha="center", va="center", transform=axis.transAxes)
                continue
            values = [figure.value or 0.0, figure.reference or 0.0]
            bars = axis.bar(["pacsys_rx", "pacsys"], values, color=["tab:blue", "tab:gray"])
            labels = [number(value) if value else "failed" for value in values]
            axis.bar_label(bars, labels=labels, fontsize=8)
            if figure.target_min is not None:
                axis.axhline(figure.target_min, color="tab:red", linestyle="--", linewidth=1,
                             label=f"target {number(figure.target_min)}")
                axis.legend(fontsize=8, loc="upper right")
            axis.margins(y=0.15)
    plot.suptitle(f"pacsys_rx and pacsys {version_of('pacsys', REFERENCE_PYTHON).split()[0]}, "
                  f"{socket.gethostname()}, {datetime.now(timezone.utc):%Y-%m-%d}", fontsize=11)
    plot.tight_layout()
    plot.savefig(PLOT, dpi=110)
    pyplot.close(plot)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows and fewer iterations")
    args = parser.parse_args()
    load_before = os.getloadavg()
    outcomes = [run(benchmark, args.quick) for benchmark in SUITE if (BENCHMARKS / benchmark.script).exists()]
    write_page(outcomes, load_before, args.quick)
    write_plot(outcomes)
    print(f"wrote {PAGE.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")
    for outcome in outcomes:
        for figure in outcome.figures:
            if figure.verdict.startswith("FAIL"):
                print(f"below target: {figure.section}: {figure.line()}")
        if outcome.error:
            print(f"failed: {outcome.script}: {outcome.error}")


if __name__ == "__main__":
    main()
