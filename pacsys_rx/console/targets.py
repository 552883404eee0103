"""Where a command connects: flags first, then the backends' environment variables, then defaults.

``--sim`` starts the embedded simulator in-process and points the command at it.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

from pacsys_rx import factories
from pacsys_rx.auth import JWT_TOKEN_ENV, JWTAuth, KerberosAuth
from pacsys_rx.backends.base import Backend
from pacsys_rx.errors import BackendUnavailable, PacsysError

BACKENDS = ("dpm", "grpc", "dmq", "acl")
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


class TargetError(PacsysError):
    """The connection flags (or environment variables) do not describe a usable backend."""


def positive_seconds(text: str) -> float:
    """argparse type: a positive number of seconds."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return seconds


def port_number(text: str) -> int:
    """argparse type: a TCP port 1..65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range 1..65535: {port}")
    return port


def add_target_arguments(parser: argparse.ArgumentParser, *, writing: bool = False) -> None:
    """The connection flags shared by every client command."""
    group = parser.add_argument_group("connection")
    group.add_argument("--backend", choices=BACKENDS, default="dpm", help="backend to use (default dpm)")
    group.add_argument("--host", help="server host (default: the backend's environment variable, "
                                      "then Fermilab's host)")
    group.add_argument("--port", type=port_number, help="server port")
    group.add_argument("--url", help="ACL CGI URL (acl backend)")
    group.add_argument("--vhost", help="RabbitMQ virtual host (dmq backend)")
    group.add_argument("--timeout", type=positive_seconds, default=5.0,
                       help="seconds to wait for answers (default 5)")
    group.add_argument("--sim", action="store_true", help="start the embedded simulator and use it")
    group.add_argument("--seed", type=int, default=0, help="simulator seed with --sim (default 0)")
    if writing:
        group.add_argument("--auth", choices=("kerberos", "jwt"),
                           help="credentials for the write: kerberos (dpm, dmq; run kinit) or jwt (grpc)")
        group.add_argument("--role", help="DPM/HTTP role for the setting, e.g. testing")
        group.add_argument("--token", help="JWT for --backend grpc, implies --auth jwt "
                                            "(default: $PACSYS_JWT_TOKEN)")


def _auth_for(args: argparse.Namespace) -> KerberosAuth | JWTAuth | None:
    kind = getattr(args, "auth", None)
    token = getattr(args, "token", None)
    writing = hasattr(args, "auth")
    if token is not None and kind != "jwt":
        if args.backend != "grpc" or kind is not None:
            raise TargetError(f"--token is the JWT of --auth jwt with --backend grpc; "
                              f"not usable with --backend {args.backend}{f' --auth {kind}' if kind else ''}")
        kind = "jwt"
    if kind is None and (args.backend == "dmq" or (writing and args.backend == "grpc")):
        kind = "kerberos" if args.backend == "dmq" else "jwt"
    if kind is None and writing and args.backend == "dpm":
        raise TargetError("DPM writes need Kerberos: add --auth kerberos (after kinit) and --role ROLE")
    if kind == "jwt" and args.backend != "grpc":
        raise TargetError(f"--auth jwt is for --backend grpc; {args.backend} uses --auth kerberos")
    if kind == "kerberos" and args.backend not in ("dpm", "dmq"):
        raise TargetError(f"--auth kerberos is for --backend dpm or dmq, not {args.backend}")
    if kind == "kerberos":
        return KerberosAuth()
    if kind == "jwt":
        auth = JWTAuth(token)
        if not auth.has_token:
            raise TargetError(f"No JWT for --backend grpc: give --token TOKEN or set ${JWT_TOKEN_ENV}")
        return auth
    return None


def _options(args: argparse.Namespace, sim_options: dict[str, Any] | None) -> dict[str, Any]:
    options: dict[str, Any] = {"timeout": args.timeout}
    if sim_options is not None:
        options.update(sim_options)
    elif args.backend == "acl":
        if args.url:
            options["base_url"] = args.url
    else:
        options.update({name: value for name, value in (("host", args.host), ("port", args.port))
                        if value is not None})
    if args.backend == "acl":
        return options
    if args.backend == "dmq" and args.vhost is not None:
        options["vhost"] = args.vhost
    auth = _auth_for(args)
    if auth is not None:
        options["auth"] = auth
    if getattr(args, "role", None):
        if args.backend != "dpm":
            raise TargetError(f"--role is for --backend dpm, not {args.backend}")
        options["role"] = args.role
    return options


@contextlib.contextmanager
def open_backend(args: argparse.Namespace) -> Iterator[Backend]:
    """The backend the flags name, with the in-process simulator around it for ``--sim``."""
    with contextlib.ExitStack() as stack:
        sim_options = None
        if args.sim:
            from pacsys_rx.sim import Simulator

            amqp_url = DEFAULT_AMQP_URL if args.backend == "dmq" else None
            sim = stack.enter_context(Simulator(seed=args.seed, servers=[args.backend], amqp_url=amqp_url))
            if args.backend not in sim.endpoints:
                reason = sim.disabled.get(args.backend, "not available")
                raise BackendUnavailable(f"the simulator's {args.backend} server is disabled: {reason}")
            sim_options = sim.client_options(args.backend)
        options = _options(args, sim_options)
        try:
            backend = getattr(factories, args.backend)(**options)
        except (ValueError, TypeError) as error:
            raise TargetError(str(error)) from None
        yield stack.enter_context(backend)
