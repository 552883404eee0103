"""The local RabbitMQ broker for the DMQ tests: reachability, rabbitmqctl and a private vhost."""

from __future__ import annotations

import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

BROKER = ("127.0.0.1", 5672)


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl; a failure fails the test with its message."""
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}", pytrace=False)
    return result.stdout


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    """A private virtual host on the local broker for one test module (so runs never collide)."""
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError as error:
        pytest.fail(f"RabbitMQ broker not reachable at {BROKER[0]}:{BROKER[1]} ({error}); "
                    "start it with `rabbitmq-server -detached`", pytrace=False)
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl not found: the DMQ tests need it to create a private vhost", pytrace=False)
    name = f"pacsys-test-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield name
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)
