"""Exceptions raised on purpose by pacsys_rx.

Per-device failures travel as values (error `Reading`s and `WriteResult`s);
exceptions are for request-level problems.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pacsys_rx.model.status import AcnetStatus


class PacsysError(Exception):
    """Base class of every error pacsys_rx raises on purpose."""


class DRFError(PacsysError, ValueError):
    """A DRF request string does not parse; ``error_class`` names the rule it broke."""

    def __init__(self, message: str, *, text: str | None = None, error_class: str = "invalid") -> None:
        super().__init__(message)
        self.text = text
        self.error_class = error_class


class ProtocolError(PacsysError):
    """Bytes or text received from a peer do not follow the wire protocol."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(message if offset is None else f"{message} (at offset {offset})")
        self.offset = offset


class AuthenticationError(PacsysError):
    """Credentials are missing, expired or refused."""


class BackendUnavailable(PacsysError):
    """The control system cannot be reached: connection refused or lost, or a timeout passed."""


class WriteOutcomeUnknown(BackendUnavailable):
    """A setting was sent but the connection was lost before its acknowledgement; it is not resent."""


class NotSupported(PacsysError, NotImplementedError):
    """The backend cannot perform this kind of operation (e.g. ACL cannot stream or write)."""


class DeviceError(PacsysError):
    """A single device answered with an error status."""

    def __init__(self, drf: str, status: AcnetStatus, message: str | None = None) -> None:
        text = message or status.describe()
        super().__init__(f"{drf}: {text} (facility={status.facility}, error={status.error})")
        self.drf = drf
        self.status = status
        self.message = text


class BackendClosed(PacsysError, RuntimeError):
    """An operation was requested on a backend that has been closed."""
