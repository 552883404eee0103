"""Where a command connects: flags first, then the backends' environment variables, then defaults.

``--sim`` starts the embedded simulator in-process and points the command at it.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from pacsys_rx import factories
from pacsys_rx.auth import JWTAuth, KerberosAuth
from pacsys_rx.backends.base import Backend
from pacsys_rx.errors import BackendUnavailable

BACKENDS = ("dpm", "grpc", "dmq", "acl")
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def add_target_arguments(parser: argparse.ArgumentParser, *, writing: bool = False) -> None:
    """The connection flags shared by every client command."""
    group = parser.add_argument_group("connection")
    group.add_argument("--backend", choices=BACKENDS, default="dpm", help="backend to use (default dpm)")
    group.add_argument("--host", help="server host (default: the backend's environment variable, "
                                      "then Fermilab's host)")
    group.add_argument("--port", type=int, help="server port")
    group.add_argument("--url", help="ACL CGI URL (acl backend)")
    group.add_argument("--vhost", help="RabbitMQ virtual host (dmq backend)")
    group.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for answers (default 5)")
    group.add_argument("--sim", action="store_true", help="start the embedded simulator and use it")
    group.add_argument("--seed", type=int, default=0, help="simulator seed with --sim (default 0)")
    if writing:
        group.add_argument("--auth", choices=("kerberos", "jwt"), help="credentials for the write")
        group.add_argument("--role", help="DPM/HTTP role for the setting")
        group.add_argument("--token", help="JWT for --auth jwt (default: $PACSYS_JWT_TOKEN)")


def _auth_for(args: argparse.Namespace) -> KerberosAuth | JWTAuth | None:
    kind = getattr(args, "auth", None)
    if kind is None and args.backend == "dmq":
        kind = "kerberos"
    if kind == "kerberos":
        return KerberosAuth()
    if kind == "jwt":
        return JWTAuth(getattr(args, "token", None))
    return None


def _options(args: argparse.Namespace, endpoint: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {"timeout": args.timeout}
    if args.backend == "acl":
        url = endpoint or args.url
        if url:
            options["base_url"] = url
        return options
    host, port = args.host, args.port
    if endpoint is not None:
        parts = urlsplit(endpoint if "://" in endpoint else f"tcp://{endpoint}")
        host, port = parts.hostname, parts.port
        if args.backend == "dmq" and parts.path not in ("", "/"):
            options["vhost"] = parts.path[1:]
    if host is not None:
        options["host"] = host
    if port is not None:
        options["port"] = port
    if args.backend == "dmq" and args.vhost is not None:
        options["vhost"] = args.vhost
    auth = _auth_for(args)
    if auth is not None:
        options["auth"] = auth
    if getattr(args, "role", None):
        options["role"] = args.role
    return options


@contextlib.contextmanager
def open_backend(args: argparse.Namespace) -> Iterator[Backend]:
    """The backend the flags name, with the in-process simulator around it for ``--sim``."""
    with contextlib.ExitStack() as stack:
        endpoint = None
        if args.sim:
            from pacsys_rx.sim import Simulator

            amqp_url = DEFAULT_AMQP_URL if args.backend == "dmq" else None
            sim = stack.enter_context(Simulator(seed=args.seed, servers=[args.backend], amqp_url=amqp_url))
            if args.backend not in sim.endpoints:
                reason = sim.disabled.get(args.backend, "not available")
                raise BackendUnavailable(f"the simulator's {args.backend} server is disabled: {reason}")
            endpoint = sim.endpoints[args.backend]
        backend = stack.enter_context(getattr(factories, args.backend)(**_options(args, endpoint)))
        yield backend
