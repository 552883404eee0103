"""Control by name: ``backend.control("Z:ACLTST", "ON")`` writes the command's ordinal to CONTROL and
reads the basic status back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import reactivex
from reactivex import Observable

from pacsys_rx.digital import CommandDefinition, check_command, command_name, command_ordinal, expected_status
from pacsys_rx.drf import parse_request
from pacsys_rx.model import WriteResult
from pacsys_rx.verify import Verify

if TYPE_CHECKING:
    from pacsys_rx.backends.base import Backend
    from pacsys_rx.backends.grpc.backend import DeviceInfoResult


class DeviceDatabase(Protocol):
    """Where control tables come from: the gRPC backend's DevDB client (``device_info``)."""

    def device_info(self, name: str) -> DeviceInfoResult: ...


DEFAULT_VERIFY = Verify()


def control(backend: Backend, drf: str, command: str | int, *,
            commands: Sequence[str | CommandDefinition] | None = None, devdb: DeviceDatabase | None = None,
            verify: Verify | None = DEFAULT_VERIFY, timeout: float | None = None) -> Observable[WriteResult]:
    """The result of sending ``command`` to the device of ``drf`` (lazy, like every backend call).

    A name is looked up in ``commands`` (a control table: names or DevDB ``ControlCommandDef``s, in
    ordinal order), else in DevDB's table of the device (``devdb``, by default ``backend`` itself
    when it has ``device_info``: the gRPC backend); an int is the ordinal. A basic-control command
    (ON, OFF, RESET, POSITIVE, NEGATIVE, RAMP, DC, LOCAL, REMOTE, TRIP) is then read back from the
    device's STATUS with ``verify`` (``verified``, ``readback`` = the BasicStatus); other commands, or
    ``verify=None``, give the plain acknowledgement.
    """
    check_command(command)
    device = parse_request(drf).device
    source = devdb if devdb is not None else backend if hasattr(backend, "device_info") else None
    if commands is None and source is None and isinstance(command, str):
        raise ValueError(f"the {backend.name} backend has no DevDB: pass commands=[...] (the device's "
                         f"control table) or devdb=a gRPC backend, or give the command's ordinal")
    control_drf = f"{device}.CONTROL"

    def send() -> Observable[WriteResult]:
        table = commands
        if table is None and source is not None:
            table = source.device_info(device).control or ()
        table = table or ()
        written = backend.write(control_drf, command_ordinal(command, table), timeout)
        expected = expected_status(command_name(command, table))
        if verify is None or expected is None:
            return written
        return written.pipe(verify.checker(backend, control_drf, expected))

    return reactivex.defer(lambda _: send())
