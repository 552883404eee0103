"""Alarm-block writes on every write-capable backend: read the block, change some fields, write, read back.

DPM/HTTP and DPM/gRPC have no structured alarm setting: the changed fields are written one setting
at a time, in the order of dpm-http.md §6.10 (fields of one block share the server's 20-byte block,
so several in one request would overwrite each other), and the first refused field ends the
sequence. DMQ carries whole blocks: the block read is written back with the changes. Either way
the fields not named keep their values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import reactivex
from reactivex import Observable
from reactivex import operators as rxops

from pacsys_rx.backends.base import Backend, Capability
from pacsys_rx.drf import parse_request, prepare_for_write
from pacsys_rx.drf.names import Property
from pacsys_rx.errors import NotSupported
from pacsys_rx.model import AnalogAlarm, DigitalAlarm, Reading, WriteResult
from pacsys_rx.verify import Verify

AlarmField = float | int | bool

WRITABLE = {
    Property.ANALOG: ("minimum", "maximum", "alarm_enable", "abort_inhibit", "tries_needed"),
    Property.DIGITAL: ("nominal", "mask", "alarm_enable", "abort_inhibit", "tries_needed"),
}
"""The writable fields of each block, in the order they are written one by one (dpm-http.md §6.10)."""

DRF_FIELDS = {"minimum": "MIN", "maximum": "MAX", "nominal": "NOM", "mask": "MASK",
              "alarm_enable": "ALARM_ENABLE", "abort_inhibit": "ABORT_INHIBIT",
              "tries_needed": "TRIES_NEEDED"}
"""The DRF field that writes each block field alone."""

WHOLE_BLOCK_BACKENDS = frozenset({"dmq"})
"""Backends whose protocol carries a whole alarm block in one setting (dmq.md's AnalogAlarmSample)."""

DEFAULT_VERIFY = Verify()


def write_alarm_block(backend: Backend, drf: str, changes: Mapping[str, AlarmField], *,
                      verify: Verify | None = DEFAULT_VERIFY,
                      timeout: float | None = None) -> Observable[WriteResult]:
    """One result for changing ``changes`` (block field → value) of the analog or digital alarm block
    that ``drf`` names (``Z:ACLTST.ANALOG``, ``Z@ACLTST``, ``Z$ACLTST``; lazy, like every backend call).

    Bypassing an alarm is ``alarm_enable=False``; ``abort_inhibit=True`` bypasses only its abort.
    ``verify`` reads the block back until it shows the changed fields (``verified``, ``readback`` =
    the block); None gives the plain acknowledgement. Fields that already hold their value are not
    written (the message says ``already set`` when none is left). ValueError at once for read-only,
    unknown or no fields.
    """
    request = parse_request(drf)
    if request.property not in WRITABLE:
        raise ValueError(f"{drf!r} names no alarm block: use DEVICE.ANALOG or DEVICE.DIGITAL")
    writable = WRITABLE[request.property]
    wrong = sorted(set(changes) - set(writable))
    if wrong or not changes:
        raise ValueError(f"the {request.property.name} block's writable fields are {', '.join(writable)}; "
                         f"got {', '.join(wrong) or 'none'}")
    block_drf = f"{request.device}.{request.property.name}"
    result_drf = prepare_for_write(block_drf)

    def modify(current: Reading) -> Observable[WriteResult]:
        block = current.value
        if not current.ok or not isinstance(block, (AnalogAlarm, DigitalAlarm)):
            unread = f"could not read the alarm block: {current.message or block!r}"
            return reactivex.just(WriteResult(result_drf, current.status, backend.name, unread))
        fields = [name for name in writable if name in changes and getattr(block, name) != changes[name]]
        if not fields:
            return reactivex.just(WriteResult(result_drf, backend=backend.name, message="already set"))
        if backend.name in WHOLE_BLOCK_BACKENDS:
            new_values: dict[str, Any] = {name: changes[name] for name in fields}
            changed = dataclasses.replace(block, **new_values, alarm_status=False, abort=False, tries_now=0)
            return backend.write(block_drf, changed, timeout)
        return _field_by_field(backend, block_drf, result_drf, [(name, changes[name]) for name in fields],
                               timeout)

    if Capability.WRITE not in backend.capabilities:
        read_only = f"the {backend.name} backend is read-only; write through dpm, grpc or dmq"
        return reactivex.throw(NotSupported(read_only))
    written = backend.read(block_drf, timeout).pipe(rxops.concat_map(modify))
    return written if verify is None else written.pipe(verify.checker(backend, block_drf, changes))


def _field_by_field(backend: Backend, block_drf: str, result_drf: str, fields: list[tuple[str, AlarmField]],
                    timeout: float | None) -> Observable[WriteResult]:
    """One setting per field, in order, until one is refused; the block's result names that field."""

    def write(name: str, value: AlarmField) -> Observable[WriteResult]:
        def named(result: WriteResult) -> WriteResult:
            message = None if result.ok else f"{name}: {result.message or result.status.describe()}"
            return WriteResult(result_drf, result.status, result.backend, message)

        number = float(value) if isinstance(value, bool) else value
        return backend.write(f"{block_drf}.{DRF_FIELDS[name]}", number, timeout).pipe(rxops.map(named))

    def accepted(result: WriteResult) -> bool:
        return result.ok

    each = [_deferred(write, name, value) for name, value in fields]
    return reactivex.concat(*each).pipe(rxops.take_while(accepted, inclusive=True), rxops.last())


def _deferred(write: Callable[[str, AlarmField], Observable[WriteResult]], name: str,
              value: AlarmField) -> Observable[WriteResult]:
    return reactivex.defer(lambda _: write(name, value))
