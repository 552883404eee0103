"""``pacsys-rx demo``: the showcase pipeline, live, against the embedded simulator.

``build_showcase`` is the pipeline, written the way a monitoring application would write it:

* redundancy: M:OUTTMP streams from DPM/HTTP *and* DPM/gRPC (and DMQ, when available) at once;
  ``merge_backends`` keeps the first copy of each reading, so losing one backend costs nothing;
* failover: N:H801 and Z:ACLTST stream from one backend at a time; ``failover`` moves to gRPC (then
  DMQ, when available) once DPM has been silent for a second, and back when DPM speaks again;
* Z:ACLTS6 streams from DPM only, so ``stale`` reports it when DPM stops and ``Recovered`` after;
* a deadband on what is displayed, ``limits`` alarms with tries and hysteresis, and ``latch`` so an
  alarm that cleared stays visible until an operator acknowledges it through a Subject;
* a setting written over gRPC with a JWT, its acknowledgement arriving through the Observable.

A timeline drives the story: Z:ACLTST is set above its high limit, then back; the DPM server is
paused half-way and resumed later (with DMQ, the gRPC server is paused for a while too, so DMQ
serves alone); the operator acknowledges the alarms. ``present`` shows it all.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import reactivex
from reactivex import Observable
from reactivex import operators as rxops
from reactivex.abc import DisposableBase, SchedulerBase
from reactivex.disposable import CompositeDisposable
from reactivex.scheduler import EventLoopScheduler
from reactivex.subject import Subject
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.backends.base import Backend
from pacsys_rx.console.formatting import INTERRUPTED, describe_status, format_value, make_console, write_line
from pacsys_rx.console.monitor import DeviceRow, sparkline
from pacsys_rx.console.targets import DEFAULT_AMQP_URL, positive_seconds
from pacsys_rx.drf import parse_request
from pacsys_rx.flow import BoundedQueue
from pacsys_rx.kerberos import check_credentials
from pacsys_rx.model import Reading, WriteResult
from pacsys_rx.sim import Simulator
from pacsys_rx.sim.broker import BrokerUnavailable, local_amqp_url, private_vhost
from pacsys_rx.sim.realm import KerberosRealm, KerberosRealmUnavailable

T = TypeVar("T")

DEFAULT_DURATION_S = 20.0
REDUNDANT = ["M:OUTTMP@p,500"]
PROTECTED = ["N:H801@p,250", "Z:ACLTST@p,250"]
DPM_ONLY = ["Z:ACLTS6@p,500"]
LIMITS = {"N:H801": (-5.0, 5.0, 0.5), "Z:ACLTST": (-4.0, 50.0, 1.0)}
"""Per device: low limit, high limit, hysteresis."""
ALARM_TRIES = 3
DEADBAND = 0.1
STALL_AFTER_S = 1.0
STALE_AFTER_S = 2.0
WRITE_DEVICE = "Z:ACLTST"
WRITE_HIGH, WRITE_NORMAL = 60.0, 20.0
LOG_LINES = 12
REFRESH_S = 0.25


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "demo", help="run the showcase pipeline against the embedded simulator",
        description="Start the embedded simulator and run a monitoring pipeline against it: the same "
                    "devices from DPM/HTTP and DPM/gRPC (merged, and with failover), a deadband, limit "
                    "alarms with tries and hysteresis, stale detection, a latched alarm acknowledged "
                    "half-way, and a gRPC setting with its acknowledgement. Half-way the DPM server is "
                    "paused so the failover shows. Ends after --duration seconds or Ctrl-C with a summary.")
    parser.add_argument("--duration", type=positive_seconds, default=DEFAULT_DURATION_S, metavar="SECONDS",
                        help=f"seconds to run (default {DEFAULT_DURATION_S:g})")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP_URL, metavar="URL",
                        help="RabbitMQ broker for DMQ (default: the local broker, guest/guest)")
    parser.add_argument("--keytab", default=os.environ.get("KRB5_KTNAME"), metavar="FILE",
                        help="keytab with the DMQ service key daeset/bd/dmq.fnal.gov "
                             "(default $KRB5_KTNAME); DMQ also needs a ticket from kinit")
    parser.add_argument("--throwaway-realm", action="store_true",
                        help="for DMQ, start a throwaway Kerberos realm on loopback (krb5-kdc) with a "
                             "ticket and the service keytab, and a private vhost on the local RabbitMQ "
                             "broker; without them the demo runs without DMQ and says what to install")
    parser.set_defaults(handler=run)


# ------------------------------------------------------------------------------------------ pipeline


@dataclass(frozen=True)
class Showcase:
    """The Observables of the showcase pipeline; nothing runs until they are subscribed."""

    readings: Observable[Reading]
    """Every reading of every device, whichever backend delivered it."""
    shown: Observable[Reading]
    """The readings that passed the deadband."""
    alarms: Observable[ops.AlarmEvent]
    """Limit alarms, latched until acknowledged."""
    health: Observable[ops.Stale | ops.Recovered]
    """Devices that fell silent, and their recovery."""
    serving: Observable[str]
    """The backend serving the failover devices, at every change."""
    acks: Observable[WriteResult]
    """Acknowledgements of the settings of the timeline."""
    timeline: Observable[str]
    """What the timeline did: the fault, its repair, the operator's acknowledgement."""
    routes: dict[str, str]
    """How each device is fed, for display."""


def build_showcase(sim: Simulator, dpm: Backend, grpc: Backend, dmq: Backend | None, duration: float,
                   scheduler: SchedulerBase) -> Showcase:
    """The pipeline; ``scheduler`` keeps the time of every time-based operator and of the timeline."""
    sources = [dpm, grpc] if dmq is None else [dpm, grpc, dmq]
    # Redundancy: every backend at once, the first copy of each reading wins.
    redundant = ops.merge_backends(*(backend.stream(REDUNDANT) for backend in sources))
    # Failover: one backend at a time; the next one takes over after STALL_AFTER_S without data.
    failover_sources = sources
    protected = ops.failover(
        *(backend.stream(PROTECTED).pipe(ops.only_ok()) for backend in failover_sources),
        stall_after=STALL_AFTER_S, switch_back=True, scheduler=scheduler,
    ).pipe(rxops.share())
    readings = reactivex.merge(redundant, protected, dpm.stream(DPM_ONLY)).pipe(rxops.share())

    # Alarms per device with tries and hysteresis, latched until the operator acknowledges them.
    acknowledge: Subject[str | None] = Subject()
    alarms = reactivex.merge(*(
        readings.pipe(ops.for_device(device), ops.limits(low, high, hysteresis=hysteresis, tries=ALARM_TRIES))
        for device, (low, high, hysteresis) in LIMITS.items()
    )).pipe(ops.latch(acknowledge, scheduler=scheduler))

    def at(fraction: float) -> Observable[int]:
        return reactivex.timer(fraction * duration, scheduler=scheduler)

    def step(fraction: float, report: str, action: Callable[[], None]) -> Observable[str]:
        """``report`` at ``fraction`` of the run, then ``action``."""
        return at(fraction).pipe(rxops.map(lambda _: report), rxops.do_action(on_completed=action))

    return Showcase(
        readings=readings,
        shown=readings.pipe(ops.deadband(abs=DEADBAND)),
        alarms=alarms,
        health=readings.pipe(ops.stale(after=STALE_AFTER_S, devices=_devices(REDUNDANT, PROTECTED, DPM_ONLY),
                                       scheduler=scheduler)),
        serving=protected.pipe(rxops.map(_backend_of), rxops.distinct_until_changed()),
        acks=reactivex.merge(at(0.15).pipe(rxops.flat_map(lambda _: grpc.write(WRITE_DEVICE, WRITE_HIGH))),
                             at(0.30).pipe(rxops.flat_map(lambda _: grpc.write(WRITE_DEVICE, WRITE_NORMAL)))),
        timeline=reactivex.merge(
            step(0.40, "fault injected: the DPM server stops answering", lambda: sim.pause("dpm")),
            step(0.50, "operator acknowledges every alarm", lambda: acknowledge.on_next(None)),
            *([] if dmq is None else [
                step(0.55, "fault injected: the gRPC server stops answering too", lambda: sim.pause("grpc")),
                step(0.70, "fault repaired: the gRPC server answers again", lambda: sim.resume("grpc")),
            ]),
            step(0.75, "fault repaired: the DPM server answers again", lambda: sim.resume("dpm")),
        ),
        routes={
            **dict.fromkeys(_devices(REDUNDANT), "+".join(b.name for b in sources) + " merged"),
            **dict.fromkeys(_devices(PROTECTED), "failover " + "→".join(b.name for b in failover_sources)),
            **dict.fromkeys(_devices(DPM_ONLY), "dpm only"),
        },
    )


def _backend_of(reading: Reading) -> str:
    return reading.backend


def _devices(*groups: Iterable[str]) -> list[str]:
    return [parse_request(drf).device for group in groups for drf in group]


# -------------------------------------------------------------------------------------- presentation


@dataclass
class Board:
    """What the demo shows, updated on the main thread only."""

    routes: dict[str, str]
    started: float = field(default_factory=time.monotonic)
    rows: dict[str, DeviceRow] = field(init=False)
    serving: str | None = None
    served_by: dict[str, Counter[str]] = field(default_factory=dict)
    shown: Counter[str] = field(default_factory=Counter)
    alarm: dict[str, ops.AlarmEvent] = field(default_factory=dict)
    raised: Counter[str] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    on_log: Callable[[str], None] = print
    interrupted: bool = False

    def __post_init__(self) -> None:
        self.rows = {device: DeviceRow() for device in self.routes}

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note(self, text: str) -> None:
        line = f"{self.elapsed():5.1f}s  {text}"
        self.log.append(line)
        self.on_log(line)

    def on_reading(self, reading: Reading) -> None:
        self.rows.setdefault(reading.device, DeviceRow()).add(reading, time.monotonic())
        self.served_by.setdefault(reading.device, Counter())[reading.backend] += 1
        self.totals["readings"] += 1
        if not reading.ok:
            self.note(f"{reading.device}: error reading from {reading.backend}: {describe_status(reading)}")

    def on_shown(self, reading: Reading) -> None:
        self.shown[reading.device] += 1
        self.totals["shown"] += 1

    def on_alarm(self, event: ops.AlarmEvent) -> None:
        previous = self.alarm.get(event.device)
        self.alarm[event.device] = event
        if previous is None and event.state is ops.AlarmState.OK:
            return
        if event.state is ops.AlarmState.ALARM:
            self.raised[event.device] += 1
            self.totals["alarms"] += 1
        value = f", value {format_value(event.value)}" if event.value is not None else ""
        reason = f"was {event.reason}" if event.state is ops.AlarmState.LATCHED else event.reason
        self.note(f"alarm {event.device}: {event.state.value.upper()} ({reason}{value})")

    def on_health(self, event: ops.Stale | ops.Recovered) -> None:
        if isinstance(event, ops.Stale):
            self.totals["stale"] += 1
            self.note(f"stale {event.device}: nothing for {STALE_AFTER_S:g} s")
        else:
            self.totals["recovered"] += 1
            self.note(f"recovered {event.device} after {event.gap.total_seconds():.1f} s of silence")

    def on_serving(self, backend: str) -> None:
        devices = ", ".join(_devices(PROTECTED))
        if self.serving is None:
            self.note(f"{devices} served by {backend}")
        else:
            self.totals["failovers"] += 1
            self.note(f"failover: {devices} now served by {backend}")
        self.serving = backend

    def on_ack(self, result: WriteResult) -> None:
        self.totals["writes ok" if result.ok else "writes refused"] += 1
        self.note(f"write acknowledged via {result.backend}: {write_line(result)}")

    def on_failure(self, what: str, error: Exception) -> None:
        self.totals["failures"] += 1
        self.note(f"{what} ended: {error}")


def present(showcase: Showcase, duration: float, console: Console) -> Board:
    """Subscribe the showcase, show it (live on a terminal, as an event log otherwise), return the board."""
    live = console.is_terminal
    board = Board(showcase.routes, on_log=(lambda _: None) if live else partial(_print_line, console))
    inbox: BoundedQueue[Callable[[], None]] = BoundedQueue(100_000, "drop_oldest")

    def deliver(source: Observable[T], handler: Callable[[T], None], what: str) -> DisposableBase:
        """Hand every item to ``handler`` on the main thread."""
        return source.subscribe(on_next=lambda item: inbox.put(partial(handler, item)),
                                on_error=lambda error: inbox.put(partial(board.on_failure, what, error)))

    subscriptions = CompositeDisposable(
        deliver(showcase.readings, board.on_reading, "reading stream"),
        deliver(showcase.shown, board.on_shown, "deadband stream"),
        deliver(showcase.alarms, board.on_alarm, "alarm stream"),
        deliver(showcase.health, board.on_health, "stale detection"),
        deliver(showcase.serving, board.on_serving, "failover stream"),
        deliver(showcase.acks, board.on_ack, "write"),
        deliver(showcase.timeline, board.note, "timeline"),
    )
    deadline = board.started + duration
    screen = Live(_screen(board), console=console, auto_refresh=False) if live else None
    try:
        with screen or contextlib.nullcontext():
            while time.monotonic() < deadline:
                got, first = inbox.get(REFRESH_S)
                for update in ([first] if got and first is not None else []) + inbox.drain():
                    update()
                if screen is not None:
                    screen.update(_screen(board), refresh=True)
    except KeyboardInterrupt:
        board.note("interrupted")
        board.interrupted = True
    finally:
        subscriptions.dispose()
    return board


def _print_line(console: Console, line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _screen(board: Board) -> RenderableType:
    now = time.monotonic()
    table = Table(title=f"pacsys-rx demo  {board.elapsed():.1f} s", expand=True)
    for column in ("device", "value", "units", "backend", "rate Hz", "recent", "alarm", "fed by"):
        table.add_column(column, justify="right" if column == "rate Hz" else "left", no_wrap=True)
    for device, row in board.rows.items():
        last = row.last
        alarm = board.alarm.get(device)
        table.add_row(
            device,
            "-" if last is None else (format_value(last.value) if last.ok else describe_status(last)),
            "" if last is None else last.units or "",
            "" if last is None else last.backend,
            f"{row.rate(now):.1f}",
            sparkline(row.history),
            "" if alarm is None else alarm.state.value,
            board.routes.get(device, ""),
        )
    counters = "  ".join(f"{name}: {count}" for name, count in _counter_items(board))
    return Group(table, Panel("\n".join(board.log) or "waiting for events", title="events"), counters)


def _counter_items(board: Board) -> list[tuple[str, int]]:
    always = ("readings", "shown", "alarms")
    sometimes = ("stale", "recovered", "failovers", "writes ok", "writes refused", "failures")
    return [(name, board.totals[name]) for name in always + sometimes if name in always or board.totals[name]]


def print_summary(board: Board, console: Console) -> None:
    """Per device: readings, deadband, rate, range, backends, alarms; then the totals."""
    now = time.monotonic()
    table = Table(title=f"summary after {board.elapsed():.1f} s")
    for column in ("device", "readings", "shown", "rate Hz", "range", "backends", "alarms"):
        table.add_column(column)
    for device, row in board.rows.items():
        served = " ".join(f"{backend}:{count}" for backend, count in board.served_by.get(device, {}).items())
        span = "-" if row.low is None or row.high is None else f"{row.low:.4g} .. {row.high:.4g}"
        table.add_row(device, str(row.count), str(board.shown[device]), f"{row.rate(now):.1f}", span,
                      served or "-", str(board.raised[device]))
    console.print(table)
    _print_line(console, "totals: " + ", ".join(f"{name} {count}" for name, count in _counter_items(board)))


# ---------------------------------------------------------------------------------------------- run


def open_dmq(sim: Simulator) -> tuple[Backend | None, str]:
    """A DMQ backend on the simulator's DMQ server, or None and why DMQ is left out."""
    if "dmq" not in sim.endpoints:
        return None, f"the simulator's DMQ server is disabled: {sim.disabled.get('dmq', 'not available')}"
    try:
        auth = prx.KerberosAuth()
        principal = check_credentials(auth)
    except prx.AuthenticationError as error:
        return None, str(error)
    return prx.dmq(**sim.client_options("dmq"), auth=auth), f"as {principal}"


def throwaway_dmq_setup(stack: contextlib.ExitStack) -> tuple[str, str]:
    """A throwaway realm (its variables in ``os.environ`` until ``stack`` closes, the user's ticket)
    and a private vhost on the local broker: the service keytab and the vhost's AMQP URL."""
    realm = stack.enter_context(KerberosRealm())
    vhost = stack.enter_context(private_vhost("pacsys-rx-demo"))
    saved = {name: os.environ.get(name) for name in realm.env}
    os.environ.update(realm.env)
    stack.callback(_restore_environment, saved)
    return str(realm.service_keytab), local_amqp_url(vhost)


def _restore_environment(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def run(args: argparse.Namespace) -> int:
    """Exit status 0 after the duration, 130 after Ctrl-C; the summary goes to stdout."""
    console = make_console()
    secret = secrets.token_hex(32)
    with contextlib.ExitStack() as stack:
        keytab, amqp_url, dmq_problem = args.keytab, args.amqp_url, None
        if args.throwaway_realm:
            try:
                keytab, amqp_url = throwaway_dmq_setup(stack)
            except (KerberosRealmUnavailable, BrokerUnavailable) as error:
                dmq_problem = str(error)
        sim = stack.enter_context(Simulator(seed=args.seed, jwt_secret=secret,
                                            amqp_url=None if dmq_problem else amqp_url, keytab=keytab))
        dpm = stack.enter_context(prx.dpm(**sim.client_options("dpm")))
        grpc = stack.enter_context(prx.grpc(**sim.client_options("grpc"),
                                            auth=prx.JWTAuth(sim.jwt_token("demo@FNAL.GOV"))))
        dmq, how = (None, dmq_problem) if dmq_problem else open_dmq(sim)
        if dmq is None:
            _print_line(console, f"DMQ left out: {how}")
        else:
            stack.enter_context(dmq)
            _print_line(console, f"DMQ joins the merge and the failover {how}")
        scheduler = EventLoopScheduler()
        stack.callback(scheduler.dispose)
        showcase = build_showcase(sim, dpm, grpc, dmq, args.duration, scheduler)
        board = present(showcase, args.duration, console)
    print_summary(board, console)
    return INTERRUPTED if board.interrupted else 0

