"""The ``pacsys-rx`` command (``python -m pacsys_rx``): one subcommand per task."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from pacsys_rx.console import ack, alarms, demo, history, info, monitor, read, worker, write
from pacsys_rx.console.formatting import INTERRUPTED
from pacsys_rx.errors import PacsysError


class _Parser(argparse.ArgumentParser):
    """Reports a usage error as one line on stderr (no usage dump) and exits with status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pacsys-rx", description="Reactive access to Fermilab's ACNET control system.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    sim = commands.add_parser(
        "sim", help="run the embedded ACNET simulator until interrupted",
        description="Serve DPM/HTTP, DPM/gRPC, ACL and (with --amqp-url) DMQ from one simulated device "
                    "model on loopback. Prints one line per endpoint, then 'ready'; stops on Ctrl-C. "
                    "A server named in --servers that cannot run is an error (exit 1, before 'ready'); "
                    "without --servers, such a server prints 'NAME disabled: REASON' and the others run.")
    sim.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sim.add_argument("--dpm-port", type=_port, default=0, help="DPM/HTTP port (0: any free port)")
    sim.add_argument("--grpc-port", type=_port, default=0, help="DPM/gRPC port (0: any free port)")
    sim.add_argument("--acl-port", type=_port, default=0, help="ACL (HTTP) port (0: any free port)")
    sim.add_argument("--acl-tls", action="store_true",
                     help="serve ACL over HTTPS with a generated certificate (its CA path goes to stderr)")
    sim.add_argument("--amqp-url", help="RabbitMQ broker for the DMQ server (DMQ is disabled without it)")
    sim.add_argument("--keytab", help="Kerberos keytab with the service keys. Without it the DPM server "
                                      "accepts any client token (fake GSS, any principal may set) and the "
                                      "DMQ server uses $KRB5_KTNAME or the system keytab, and is disabled "
                                      "when neither holds the DMQ service key")
    sim.add_argument(
        "--service-principal", default="daeset/localhost@FNAL.GOV", help="Kerberos service principal"
    )
    sim.add_argument("--jwt-secret", help="HMAC secret that signs accepted JWTs")
    sim.add_argument("--jwt-public-key", help="PEM file of the public key that signs accepted JWTs")
    sim.add_argument("--devices", help="device catalogue (TOML or JSON) replacing the built-in one")
    sim.add_argument("--permissions", help="permissions file (TOML or JSON) replacing the built-in rules")
    sim.add_argument("--seed", type=int, default=0, help="seed of the simulated values (default 0)")
    sim.add_argument("--servers", type=_server_names, help="comma-separated servers to run (default: all)")
    sim.set_defaults(handler=run_sim)
    for command in (read, history, monitor, write, info, demo, worker, alarms, ack):
        command.add_parser(commands)
    return parser


def _server_names(text: str) -> list[str]:
    from pacsys_rx.sim import SERVER_MODULES

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVER_MODULES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"servers must be among {', '.join(SERVER_MODULES)}, got {text!r}")
    return names


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 0..65535: {port}")
    return port


def run_sim(args: argparse.Namespace) -> int:
    """Start the simulator, print one line per endpoint and ``ready``, run until SIGINT (130) or SIGTERM."""
    from pacsys_rx.sim import SERVER_MODULES, Simulator, SimulatorError

    stop = threading.Event()
    received: list[int] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Simulator(
            seed=args.seed,
            devices=args.devices,
            dpm_port=args.dpm_port,
            grpc_port=args.grpc_port,
            acl_port=args.acl_port,
            amqp_url=args.amqp_url,
            keytab=args.keytab,
            service_principal=args.service_principal,
            jwt_secret=args.jwt_secret,
            jwt_public_key=args.jwt_public_key,
            permissions=args.permissions,
            host=args.host,
            acl_tls=args.acl_tls,
            servers=args.servers,
        ) as sim:
            refused = [f"{name}: {sim.disabled[name]}" for name in args.servers or () if name in sim.disabled]
            if refused:
                raise SimulatorError(f"cannot serve {'; '.join(refused)}")
            for name in args.servers or SERVER_MODULES:
                line = (
                    f"{name} {sim.endpoints[name]}"
                    if name in sim.endpoints
                    else f"{name} disabled: {sim.disabled.get(name, 'not available')}"
                )
                print(line, flush=True)
            if args.acl_tls and "acl" in sim.endpoints:
                ca_path = getattr(sim.server("acl"), "ca_path", None)
                print(f"acl CA certificate: {ca_path}", file=sys.stderr, flush=True)
            print("ready", flush=True)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return INTERRUPTED if signal.SIGINT in received else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = build_parser().parse_args(history.attach_relative_times(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")
    # pika logs every refused connection; the commands report the failure themselves.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    try:
        return int(args.handler(args))
    except (PacsysError, OSError) as exc:
        print(f"pacsys-rx {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return INTERRUPTED
