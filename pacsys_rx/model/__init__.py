"""The data model: readings, write results, value shapes and ACNET statuses."""

from pacsys_rx.model.reading import (
    AnalogAlarm,
    BasicStatus,
    DeviceMeta,
    DigitalAlarm,
    GapReading,
    Reading,
    TimedArray,
    Value,
    ValueType,
    WriteResult,
)
from pacsys_rx.model.status import OK, AcnetStatus

__all__ = [
    "OK", "AcnetStatus", "AnalogAlarm", "BasicStatus", "DeviceMeta", "DigitalAlarm", "GapReading", "Reading",
    "TimedArray", "Value", "ValueType", "WriteResult",
]
