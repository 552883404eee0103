"""Rx operators for monitoring pipelines and alarm logic: ``from pacsys_rx import operators as ops``."""

from pacsys_rx.flow import BufferOverflow

from ._alarm_count import alarm_count
from ._alarm_delay import alarm_delay
from ._align_to_event import align_to_event
from ._bit_changes import bit_changes
from ._bounded_buffer import BoundedBuffer, bounded_buffer
from ._by_device import by_device
from ._combine_devices import combine_devices
from ._deadband import deadband
from ._describe_alarms import DescribedAlarm, describe_alarms
from ._digital_alarm import digital_alarm
from ._digital_status import digital_status
from ._distinct_by_cycle import distinct_by_cycle
from ._enable_when import enable_when
from ._errors import errors
from ._events import AlarmEvent, AlarmState, AlignedGroup, Recovered, Severity, Stale, WindowStats
from ._failover import failover
from ._for_device import for_device
from ._from_alarm_blocks import from_alarm_blocks
from ._latch import latch
from ._latest import latest
from ._limits import limits
from ._merge_backends import merge_backends
from ._only_ok import only_ok
from ._record import Recorder, record
from ._retry_with_backoff import retry_with_backoff
from ._sample_latest import sample_latest
from ._scale import scale
from ._stale import stale
from ._throttle import throttle
from ._values import values
from ._verify import values_match, verify
from ._window_stats import window_stats

__all__ = [
    "AlarmEvent",
    "AlarmState",
    "AlignedGroup",
    "BoundedBuffer",
    "BufferOverflow",
    "DescribedAlarm",
    "Recorder",
    "Recovered",
    "Severity",
    "Stale",
    "WindowStats",
    "alarm_count",
    "alarm_delay",
    "align_to_event",
    "bit_changes",
    "bounded_buffer",
    "by_device",
    "combine_devices",
    "deadband",
    "describe_alarms",
    "digital_alarm",
    "digital_status",
    "distinct_by_cycle",
    "enable_when",
    "errors",
    "failover",
    "for_device",
    "from_alarm_blocks",
    "latch",
    "latest",
    "limits",
    "merge_backends",
    "only_ok",
    "record",
    "retry_with_backoff",
    "sample_latest",
    "scale",
    "stale",
    "throttle",
    "values",
    "values_match",
    "verify",
    "window_stats",
]
