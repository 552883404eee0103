"""Gap readings: how every backend shows that a stream's connection was lost.

When a stream loses its connection (dropped, silent past its heartbeat limit, restarted server,
undecodable data) each of its live DRFs gets ONE data-less reading with status
:data:`CONNECTION_LOST`; readings resume once the subscription is re-established. A new gap is
reported only after the stream has recovered (:class:`Outage`).
"""

from __future__ import annotations

from pacsys_rx.model import AcnetStatus, DeviceMeta, Reading
from pacsys_rx.model.reading import utc_now

CONNECTION_LOST = AcnetStatus.named("ACNET_DISCONNECTED")
"""Status of a gap reading: the stream's connection was lost; readings resume after the reconnect."""


def gap_reading(drf: str, device: str, backend: str, reason: str, *, units: str | None = None,
                meta: DeviceMeta | None = None) -> Reading:
    """The gap reading of one stream DRF; ``reason`` names the failure."""
    return Reading(drf, device, None, None, units, utc_now(), None, CONNECTION_LOST, backend, meta,
                   f"connection lost, resubscribing: {reason}")


class Outage:
    """Whether the current outage of one stream was already reported (one gap per DRF per outage)."""

    __slots__ = ("_reported",)

    def __init__(self) -> None:
        self._reported = False

    def begin(self) -> bool:
        """A loss was detected: True only for the first loss since the stream last recovered."""
        first = not self._reported
        self._reported = True
        return first

    def end(self) -> None:
        """The stream works again (its subscription was re-established or data arrived)."""
        self._reported = False
