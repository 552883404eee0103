"""Verified settings: write, then watch a read-back stream until it shows the value (``Verify``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import reactivex
from reactivex import Observable
from reactivex import operators as rxops

from pacsys_rx.backends.base import Backend
from pacsys_rx.drf import parse_request, prepare_for_write
from pacsys_rx.drf.names import Property
from pacsys_rx.model import Reading, Value, WriteResult

if TYPE_CHECKING:
    from pacsys_rx.operators._verify import Expected

READBACK_EVENT = "p,100"
"""Event of the read-back stream when the read-back DRF names none (every 100 ms)."""

_READ_PROPERTY = {Property.CONTROL: Property.STATUS}
"""A setting of CONTROL is read back from STATUS; every other property from itself."""


def readback_drf(drf: str) -> str:
    """The DRF that shows what a setting of ``drf`` wrote: ``Z:ACLTST`` → ``Z:ACLTST.SETTING``."""
    written = parse_request(prepare_for_write(drf))
    prop = _READ_PROPERTY.get(written.property, written.property)
    return dataclasses.replace(written, property=prop, field=None).with_event(None)


@dataclass(frozen=True)
class Verify:
    """How to check a setting: ``backend.write(drf, value, verify=Verify(tolerance=0.01))``.

    ``readback`` is the DRF to watch (None: the written property, CONTROL read as STATUS); it
    streams with its own event, else ``@p,100``. See ``ops.verify`` for ``tolerance``,
    ``initial_delay``, ``attempts`` and ``timeout``. With ``check_first`` the read-back is read
    once before writing and the setting is skipped (verified, message ``already set``) when it
    already matches.
    """

    tolerance: float = 0.0
    initial_delay: float = 0.0
    attempts: int = 3
    timeout: float = 5.0
    readback: str | None = None
    check_first: bool = False

    def __post_init__(self) -> None:
        from pacsys_rx.operators._verify import check_verify_options

        check_verify_options(self.tolerance, self.initial_delay, self.attempts, self.timeout)

    def readback_stream_drf(self, drf: str) -> str:
        request = parse_request(self.readback or readback_drf(drf))
        return request.to_canonical() if request.has_event else request.with_event(READBACK_EVENT)

    def checker(self, backend: Backend, drf: str, expected: Expected,
                ) -> Callable[[Observable[WriteResult]], Observable[WriteResult]]:
        """``ops.verify`` with these options on the read-back stream of a setting of ``drf``."""
        from pacsys_rx.operators import verify

        return verify(backend.stream(self.readback_stream_drf(drf)), expected, tolerance=self.tolerance,
                      initial_delay=self.initial_delay, attempts=self.attempts, timeout=self.timeout)

    def write(self, backend: Backend, drf: str, value: Value,
              timeout: float | None = None) -> Observable[WriteResult]:
        """The setting's result with ``verified`` and ``readback`` (lazy, like every backend call)."""
        from pacsys_rx.operators import values_match

        stream_drf = self.readback_stream_drf(drf)
        checked = backend.write(drf, value, timeout).pipe(self.checker(backend, drf, value))
        if not self.check_first:
            return checked

        def skip_when_set(current: Reading) -> Observable[WriteResult]:
            if current.ok and values_match(current.value, value, self.tolerance):
                skipped = WriteResult(prepare_for_write(drf), backend=backend.name, message="already set",
                                      verified=True, readback=current.value)
                return reactivex.just(skipped)
            return checked

        return backend.read(parse_request(stream_drf).with_event(None), timeout).pipe(
            rxops.concat_map(skip_when_set))
