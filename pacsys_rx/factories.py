"""Factories for the four backends; each returns a context manager (``with prx.dpm() as dpm:``)."""

from __future__ import annotations

import importlib
from typing import Any

from pacsys_rx.backends.base import Backend

_BACKENDS = {
    "dpm": ("pacsys_rx.backends.dpm", "DPMBackend", "DPM/HTTP"),
    "grpc": ("pacsys_rx.backends.grpc", "GRPCBackend", "DPM/gRPC"),
    "dmq": ("pacsys_rx.backends.dmq", "DMQBackend", "DMQ"),
    "acl": ("pacsys_rx.backends.acl", "ACLBackend", "ACL"),
    "acl_ssh": ("pacsys_rx.backends.acl", "ACLSSHBackend", "ACL over SSH"),
}


def _create(kind: str, *args: Any, **options: Any) -> Backend:
    module_name, class_name, label = _BACKENDS[kind]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise
        raise NotImplementedError(f"the {label} backend ({kind}) is not available in this version") from None
    backend: Backend = getattr(module, class_name)(*args, **options)
    return backend


def dpm(*args: Any, **options: Any) -> Backend:
    """DPM/HTTP: the PC protocol over TCP (default port 6802); Kerberos for writes."""
    return _create("dpm", *args, **options)


def grpc(*args: Any, **options: Any) -> Backend:
    """DPM/gRPC: the DAQ service (default port 50051); a JWT for writes."""
    return _create("grpc", *args, **options)


def dmq(*args: Any, **options: Any) -> Backend:
    """DMQ over RabbitMQ (AMQP, default port 5672); Kerberos for every operation."""
    return _create("dmq", *args, **options)


def acl(*args: Any, **options: Any) -> Backend:
    """ACL: the read-only CGI over HTTPS."""
    return _create("acl", *args, **options)


def acl_ssh(*args: Any, **options: Any) -> Backend:
    """ACL run on a remote host through the system's OpenSSH client (read-only)."""
    return _create("acl_ssh", *args, **options)
