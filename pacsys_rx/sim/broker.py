"""The local RabbitMQ broker for the simulator's DMQ server: reachability and a private vhost.

Two DMQ servers on one vhost both answer every INIT, so each simulator that serves DMQ on a shared
broker gets a virtual host of its own (``rabbitmqctl add_vhost``), removed when it stops.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote

from pacsys_rx.errors import PacsysError

LOCAL_BROKER = ("127.0.0.1", 5672)
RABBITMQCTL_TIMEOUT_S = 60


class BrokerUnavailable(PacsysError):
    """The local broker cannot be reached, or rabbitmqctl is missing or failed."""


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl; BrokerUnavailable with its message when it fails."""
    if shutil.which("rabbitmqctl") is None:
        raise BrokerUnavailable("rabbitmqctl not found; install Debian's rabbitmq-server")
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True,
                            timeout=RABBITMQCTL_TIMEOUT_S)
    if result.returncode != 0:
        raise BrokerUnavailable(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def check_local_broker() -> None:
    """BrokerUnavailable unless something listens on the local broker's port."""
    try:
        socket.create_connection(LOCAL_BROKER, timeout=2).close()
    except OSError as error:
        raise BrokerUnavailable(f"no RabbitMQ broker at {LOCAL_BROKER[0]}:{LOCAL_BROKER[1]} ({error}); "
                                "start it with `rabbitmq-server -detached`") from None


@contextlib.contextmanager
def private_vhost(prefix: str = "pacsys-rx") -> Iterator[str]:
    """A new virtual host on the local broker, open to guest, deleted on exit; yields its name."""
    check_local_broker()
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True,
                       timeout=RABBITMQCTL_TIMEOUT_S)


def local_amqp_url(vhost: str) -> str:
    """The guest URL of ``vhost`` on the local broker."""
    return f"amqp://guest:guest@{LOCAL_BROKER[0]}:{LOCAL_BROKER[1]}/{quote(vhost, safe='')}"
