"""Operator commands: one message on the stream, applied by every worker replica and seen by every console."""

from __future__ import annotations

import getpass
import socket
import uuid

from pacsys_rx.errors import BackendUnavailable
from pacsys_rx.model.reading import utc_now

from .broker import StreamBroker, StreamPublisher, create_stream
from .codec import Action, Command, encode


def send_command(broker: StreamBroker, stream: str, action: Action, device: str | None,
                 origin: str | None = None) -> Command:
    """Publish one command and wait for the broker's confirmation (BackendUnavailable without it)."""
    command = Command(action, device, utc_now(), origin or f"{getpass.getuser()}@{socket.gethostname()}")
    create_stream(broker, stream)
    publisher = StreamPublisher(broker, stream, f"{stream}.command.{uuid.uuid4().hex}")
    try:
        publisher.publish(encode(command))
        if not publisher.flush(broker.timeout):
            raise BackendUnavailable(f"stream {stream}: no confirmation within {broker.timeout:g} s")
    finally:
        publisher.close(0.0)
    return command
