"""The private-vhost fixture of the DMQ tests, on ``pacsys_rx.sim.broker``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from pacsys_rx.sim.broker import LOCAL_BROKER, BrokerUnavailable, private_vhost, rabbitmqctl

BROKER = LOCAL_BROKER

__all__ = ["BROKER", "rabbitmqctl", "vhost"]


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    """A private virtual host on the local broker for one test module (so runs never collide)."""
    with contextlib.ExitStack() as stack:
        try:
            name = stack.enter_context(private_vhost("pacsys-test"))
        except BrokerUnavailable as error:
            pytest.fail(str(error), pytrace=False)
        yield name
