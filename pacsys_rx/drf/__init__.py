"""DRF (Data Request Format) parsing: device, property, range, field, event and extra of a request."""

from pacsys_rx.drf.events import (
    ClockEvent,
    DefaultEvent,
    Event,
    ImmediateEvent,
    NeverEvent,
    PeriodicEvent,
    StateEvent,
    parse_time_freq,
)
from pacsys_rx.drf.listing import drf_list_text
from pacsys_rx.drf.names import Field, Property
from pacsys_rx.drf.ranges import ArrayRange, ByteRange
from pacsys_rx.drf.request import (
    DataRequest,
    Extra,
    ensure_immediate,
    parse_request,
    prepare_for_write,
)

__all__ = [
    "ArrayRange",
    "ByteRange",
    "ClockEvent",
    "DataRequest",
    "DefaultEvent",
    "Event",
    "Extra",
    "Field",
    "ImmediateEvent",
    "NeverEvent",
    "PeriodicEvent",
    "Property",
    "StateEvent",
    "drf_list_text",
    "ensure_immediate",
    "parse_request",
    "parse_time_freq",
    "prepare_for_write",
]
