"""Gap readings: how every backend shows that a stream's connection was lost.

When a stream loses its connection (dropped, silent past its heartbeat limit, restarted server,
undecodable data) each of its live DRFs gets ONE data-less :class:`~pacsys_rx.model.GapReading`
(``is_gap`` True, status :data:`CONNECTION_LOST`); readings resume once the subscription is
re-established. A new gap is reported only after the stream has recovered (:class:`Outage`), which
also reports the connection's state to the backend's health signal (:mod:`.health`).
"""

from __future__ import annotations

from pacsys_rx.backends.health import HealthLink
from pacsys_rx.model import DeviceMeta, GapReading
from pacsys_rx.model.reading import CONNECTION_LOST

__all__ = ["CONNECTION_LOST", "Outage", "gap_reading"]


def gap_reading(drf: str, device: str, backend: str, reason: str, *, units: str | None = None,
                meta: DeviceMeta | None = None) -> GapReading:
    """The gap reading of one stream DRF; ``reason`` names the failure."""
    return GapReading.of(drf, device, backend, reason, units=units, meta=meta)


class Outage:
    """Whether the current outage of one stream was already reported (one gap per DRF per outage).

    With a ``health`` link, the stream's connection state goes to the backend's health signal too.
    """

    __slots__ = ("_health", "_reported")

    def __init__(self, health: HealthLink | None = None) -> None:
        self._reported = False
        self._health = health

    def begin(self, reason: str = "") -> bool:
        """A loss was detected: True only for the first loss since the stream last recovered."""
        first = not self._reported
        self._reported = True
        if first and self._health is not None:
            self._health.lost(reason)
        return first

    def end(self) -> None:
        """The stream works again (its subscription was re-established or data arrived)."""
        if self._health is not None and (self._reported or not self._health.is_up):
            self._health.up()
        self._reported = False

    def close(self) -> None:
        """The stream ended: its connection no longer counts in the health signal."""
        if self._health is not None:
            self._health.close()
