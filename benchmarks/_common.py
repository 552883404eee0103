"""What the benchmark scripts share: figures and their JSON, the simulator process, measuring windows
for our clients and the runner of the reference library (``reference/pacsys_stream.py``)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
REFERENCE_DRIVER = ROOT / "benchmarks" / "reference" / "pacsys_stream.py"
REFERENCE_DISPATCH_MODES = ("worker", "direct")
READY_TIMEOUT_S = 60.0
IDLE_CORES = 0.15
IDLE_TIMEOUT_S = 20.0


# Figures and their JSON.


@dataclass(frozen=True)
class Figure:
    """One reported figure: ours, the reference's when there is one, and the targets it is held to."""

    section: str
    name: str
    unit: str
    value: float | None
    higher_is_better: bool = True
    reference: float | None = None
    reference_error: str | None = None
    target_min: float | None = None
    target_max: float | None = None
    target_ratio: float | None = None

    @property
    def ratio(self) -> float | None:
        """How many times better than the reference ours is (above 1: ours is ahead)."""
        if self.value is None or self.reference is None or min(self.value, self.reference) <= 0:
            return None
        return self.value / self.reference if self.higher_is_better else self.reference / self.value

    @property
    def targets(self) -> str:
        parts = []
        if self.target_min is not None:
            parts.append(f"≥ {number(self.target_min)}")
        if self.target_max is not None:
            parts.append(f"< {number(self.target_max)}")
        if self.target_ratio is not None:
            parts.append(f"≥ {self.target_ratio:g}x pacsys" if self.target_ratio > 1 else "ahead of pacsys")
        return "; ".join(parts)

    @property
    def verdict(self) -> str:
        """``pass``, ``FAIL``, or empty when the figure has no target."""
        if not self.targets:
            return ""
        if self.value is None:
            return "FAIL"
        checks = []
        if self.target_min is not None:
            checks.append(self.value >= self.target_min)
        if self.target_max is not None:
            checks.append(self.value < self.target_max)
        ratio = self.ratio
        if self.target_ratio is not None and ratio is not None:
            checks.append(ratio >= self.target_ratio)
        verdict = "pass" if all(checks) else "FAIL"
        if self.target_ratio is not None and ratio is None:
            verdict += " (no pacsys figure)"
        return verdict

    @property
    def reference_text(self) -> str:
        if self.reference is not None:
            return number(self.reference)
        return self.reference_error or ""

    def line(self) -> str:
        """One human-readable line: ours, theirs, the ratio and the verdict."""
        text = f"{self.name}: {number(self.value)} {self.unit}"
        if self.reference is not None or self.reference_error:
            text += f" | pacsys {self.reference_text}"
        if self.ratio is not None:
            text += f" | {self.ratio:.2f}x pacsys"
        if self.targets:
            text += f" | target {self.targets}: {self.verdict}"
        return text


def number(value: float | None) -> str:
    """A figure with as many digits as it deserves."""
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1000:
        return f"{value:.0f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results to FILE as JSON")


def publish(script: str, figures: Sequence[Figure], runs: Sequence[Run] = (), json_path: Path | None = None,
            echo: bool = True) -> None:
    """Print every figure (unless ``echo`` is off) and, with ``json_path``, write figures and runs as JSON."""
    if echo:
        for figure in figures:
            print(figure.line(), flush=True)
    if json_path is not None:
        payload = {"script": script, "figures": [asdict(figure) for figure in figures],
                   "runs": [asdict(run) for run in runs]}
        json_path.write_text(json.dumps(payload, indent=1), encoding="utf-8")


def load_results(path: Path) -> tuple[list[Figure], list[Run]]:
    """The figures and runs a script wrote with ``publish``."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    return ([Figure(**figure) for figure in payload["figures"]],
            [Run(**run) for run in payload["runs"]])


# The simulator process.


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` so far (Linux /proc)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    user, system = stat[stat.rindex(")") + 2:].split()[11:13]
    return (int(user) + int(system)) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy so far, all cores together (Linux /proc)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = Path("/proc/stat").read_text().split()[1:9]
    return sum(int(ticks) for ticks in (user, nice, system, irq, softirq, steal)) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds of the simulator, the broker (None without one) and the whole machine."""

    simulator: float
    broker: float | None
    machine: float

    def __sub__(self, before: CpuSample) -> CpuSample:
        broker = None if self.broker is None or before.broker is None else self.broker - before.broker
        return CpuSample(self.simulator - before.simulator, broker, self.machine - before.machine)


@dataclass
class Simulator:
    """``python -m pacsys_rx sim`` running in its own process, with the endpoints it printed and, when
    it serves through RabbitMQ, the broker's process id."""

    process: subprocess.Popen[str]
    endpoints: dict[str, str]
    broker_pid: int | None = None

    def address(self, server: str) -> tuple[str, int]:
        host, port = self.endpoints[server].rsplit(":", 1)
        return host, int(port)

    def cpu(self) -> CpuSample:
        broker = cpu_seconds(self.broker_pid) if self.broker_pid is not None else None
        return CpuSample(cpu_seconds(self.process.pid), broker, machine_cpu_seconds())

    def wait_idle(self) -> None:
        """Wait until the simulator uses less than ``IDLE_CORES`` (a client has just left), at most 20 s."""
        deadline = time.monotonic() + IDLE_TIMEOUT_S
        while time.monotonic() < deadline:
            before = self.cpu()
            time.sleep(0.5)
            if (self.cpu() - before).simulator / 0.5 < IDLE_CORES:
                return


def rabbitmq_pid() -> int:
    """Process id of the local RabbitMQ node."""
    output = subprocess.run(["rabbitmqctl", "eval", "os:getpid()."], check=True, capture_output=True,
                            text=True).stdout
    return int(output.strip().strip('"'))


@contextmanager
def simulator(*options: str, env: dict[str, str] | None = None, broker_pid: int | None = None
              ) -> Iterator[Simulator]:
    """Start ``python -m pacsys_rx sim --seed 1 OPTIONS`` and yield it once it printed ``ready``."""
    process = subprocess.Popen([sys.executable, "-m", "pacsys_rx", "sim", "--seed", "1", *options],
                               stdout=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(READY_TIMEOUT_S, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        endpoints: dict[str, str] = {}
        for line in process.stdout:
            if line.strip() == "ready":
                break
            name, _, endpoint = line.strip().partition(" ")
            if endpoint.startswith("disabled"):
                raise RuntimeError(f"simulator: {line.strip()}")
            endpoints[name] = endpoint
        else:
            raise RuntimeError(f"the simulator exited or hung before 'ready' (status {process.poll()})")
        watchdog.cancel()
        yield Simulator(process, endpoints, broker_pid)
    finally:
        watchdog.cancel()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Measuring windows.


@dataclass(frozen=True)
class Run:
    """What one client achieved over one measuring window of one workload."""

    section: str
    workload: str
    client: str
    readings: int = 0
    seconds: float = 0.0
    client_cpu_s: float = 0.0
    simulator_cpu_s: float = 0.0
    broker_cpu_s: float | None = None
    machine_cpu_s: float = 0.0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    error: str | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.readings > 0

    @property
    def rate(self) -> float | None:
        return self.readings / self.seconds if self.ok else None

    @property
    def cpu_us_per_reading(self) -> float | None:
        return self.client_cpu_s / self.readings * 1e6 if self.ok else None

    @property
    def client_cores(self) -> float | None:
        return self.client_cpu_s / self.seconds if self.ok else None

    @property
    def simulator_cores(self) -> float | None:
        return self.simulator_cpu_s / self.seconds if self.ok else None

    @property
    def broker_cores(self) -> float | None:
        return self.broker_cpu_s / self.seconds if self.ok and self.broker_cpu_s is not None else None

    @property
    def other_cores(self) -> float | None:
        """Cores busy with anything but the client, the simulator and the broker: other work."""
        if not self.ok:
            return None
        ours = self.client_cpu_s + self.simulator_cpu_s + (self.broker_cpu_s or 0.0)
        return max(0.0, self.machine_cpu_s - ours) / self.seconds

    def line(self) -> str:
        if not self.ok:
            return f"{self.client:28s} {self.workload}: failed: {self.error or 'no readings'}"
        text = (f"{self.client:28s} {self.workload}: {self.rate:,.0f} readings/s, "
                f"{self.cpu_us_per_reading:.1f} µs CPU/reading ({self.client_cores:.2f} cores), "
                f"simulator {self.simulator_cores:.2f} cores")
        if self.broker_cores is not None:
            text += f", broker {self.broker_cores:.2f} cores"
        text += f", other processes {self.other_cores:.2f} cores"
        if self.latency_p50_ms is not None:
            text += f", latency p50 {self.latency_p50_ms:.2f} ms p99 {self.latency_p99_ms:.2f} ms"
        return text + (f"; {self.note}" if self.note else "")


class Counter:
    """Counts what a stream delivers; one delivering thread writes, the measuring thread only reads."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, _item: object) -> None:
        self.count += 1


class LatencyRecorder(Counter):
    """Counts readings and, while ``recording``, the milliseconds from their server timestamp to now."""

    def __init__(self) -> None:
        super().__init__()
        self.recording = False
        self.samples_ms: list[float] = []

    def add(self, reading: Any) -> None:
        self.count += 1
        if self.recording:
            self.samples_ms.append((datetime.now(timezone.utc) - reading.timestamp).total_seconds() * 1000.0)


def percentile(samples: Sequence[float], fraction: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(section: str, workload: str, counter: Counter, sim: Simulator, seconds: float,
            warmup: float) -> Run:
    """Our client's window: readings counted ``warmup`` seconds after subscribing, for ``seconds``."""
    time.sleep(warmup)
    recorder = counter if isinstance(counter, LatencyRecorder) else None
    if recorder is not None:
        recorder.recording = True
    first, cpu, servers, began = counter.count, time.process_time(), sim.cpu(), time.perf_counter()
    time.sleep(seconds)
    last, cpu_end, ended = counter.count, time.process_time(), time.perf_counter()
    used = sim.cpu() - servers
    latencies: list[float] = []
    if recorder is not None:
        recorder.recording = False
        latencies = recorder.samples_ms
    return Run(section, workload, "pacsys_rx", last - first, ended - began, cpu_end - cpu, used.simulator,
               used.broker, used.machine, percentile(latencies, 0.5), percentile(latencies, 0.99))


# The reference library.


def run_reference(section: str, workload: str, backend: str, address: tuple[str, int], sim: Simulator, *,
                  seconds: float, warmup: float, devices: int, event: str, prefix: str = "Z:BANK",
                  dispatch: str = "worker", latency: bool = False, vhost: str | None = None,
                  env: dict[str, str] | None = None) -> Run:
    """The reference driver in ``.venv-bench`` against ``sim``; its CPU and the simulator's are read
    from /proc between the driver's ``measuring`` line and its result. Failures come back as the
    Run's ``error``."""
    client = f"pacsys ({dispatch})"
    if not REFERENCE_PYTHON.exists():
        return Run(section, workload, client, error="not installed (scripts/setup.sh bench makes it)")
    command = [str(REFERENCE_PYTHON), str(REFERENCE_DRIVER), "--backend", backend, "--host", address[0],
               "--port", str(address[1]), "--devices", str(devices), "--prefix", prefix, "--event", event,
               "--seconds", str(seconds), "--warmup", str(warmup), "--dispatch", dispatch]
    command += ["--latency"] * latency + (["--vhost", vhost] if vhost else [])
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                   env={**os.environ, **(env or {})})
        watchdog = threading.Timer(warmup + seconds + 60.0, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            start: tuple[float, CpuSample] | None = None
            result: dict[str, Any] | None = None
            cpu, used = 0.0, CpuSample(0.0, None, 0.0)
            for line in process.stdout:
                if line.strip() == "measuring":
                    start = cpu_seconds(process.pid), sim.cpu()
                elif line.startswith("{") and start is not None:
                    cpu, used = cpu_seconds(process.pid) - start[0], sim.cpu() - start[1]
                    result = json.loads(line)
            status = process.wait()
        finally:
            watchdog.cancel()
        stderr.seek(0)
        problem = stderr.read().strip().splitlines()
    if result is None:
        reason = problem[-1] if problem else f"exit status {status}"
        return Run(section, workload, client, error=reason)
    latencies = result["latencies_ms"]
    note = f"{result['error_count']} stream errors, first: {result['errors'][0]}" if result["errors"] else ""
    if status != 0:
        note = "; ".join(filter(None, [note, f"exited with {status} after measuring"]))
    return Run(section, workload, result["client"], result["readings"], result["seconds"], cpu,
               used.simulator, used.broker, used.machine, percentile(latencies, 0.5),
               percentile(latencies, 0.99), note=note)


def compare(section: str, name: str, unit: str, ours: Run, theirs: Sequence[Run],
            metric: Callable[[Run], float | None], higher_is_better: bool = True, **targets: float) -> Figure:
    """A figure of ours against the best of the reference's runs (by ``metric``)."""
    values = [value for run in theirs if run.ok and (value := metric(run)) is not None]
    best = (max if higher_is_better else min)(values, default=None)
    failure = next((run for run in theirs if not run.ok), None)
    error = None
    if best is None and failure is not None:
        error = f"pacsys: failed: {failure.error or 'no readings'}"
    return Figure(section, name, unit, metric(ours) if ours.ok else None, higher_is_better, best, error,
                  **targets)


def reference_runs(run: Callable[[str], Run], sim: Simulator) -> list[Run]:
    """``run(dispatch)`` once per pacsys dispatch mode, each against an idle simulator; prints each run."""
    runs = []
    for dispatch in REFERENCE_DISPATCH_MODES:
        sim.wait_idle()
        runs.append(run(dispatch))
        print(runs[-1].line(), flush=True)
    return runs


def add_window_options(parser: argparse.ArgumentParser, seconds: float = 10.0, warmup: float = 3.0) -> None:
    """``--seconds``, ``--warmup`` and ``--json``."""
    parser.add_argument("--seconds", type=float, default=seconds,
                        help=f"measured seconds (default {seconds:g})")
    parser.add_argument("--warmup", type=float, default=warmup,
                        help=f"seconds streamed before measuring (default {warmup:g})")
    add_json_option(parser)
