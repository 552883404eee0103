from __future__ import annotations

from collections.abc import Callable, Sequence

from reactivex import Observable
from reactivex import operators as rxops

from pacsys_rx.digital import BitDefinition, DigitalStatus, decode_status
from pacsys_rx.model import Reading


def digital_status(definitions: Sequence[BitDefinition],
                   ) -> Callable[[Observable[Reading]], Observable[DigitalStatus]]:
    """Each good status-word reading (``STATUS.BIT_VALUE`` or ``STATUS.RAW``) decoded with DevDB's bit
    definitions (``grpc.device_info(name).status_bits``); error and gap readings are left out.

        readings: -0x2----0x3----err-|
        output:   -(Off Ready)-(On Ready)----|
    """
    bits = tuple(definitions)

    def decode(reading: Reading) -> DigitalStatus:
        return decode_status(reading, bits)

    def good(reading: Reading) -> bool:
        return reading.ok

    return rxops.compose(rxops.filter(good), rxops.map(decode))
