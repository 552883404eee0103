"""Scale-out: one pipeline as many workers (static shards, replicated), coordinated through RabbitMQ streams.

Workers publish alarm transitions, other pipeline outputs, periodic snapshots of their shard's alarm
state (with each device's last readings) and read operator commands on one stream; consumers merge the
replicas and drop duplicates. See docs/scale-out.md.
"""

from .broker import DEFAULT_STREAM_URL, StreamBroker, create_stream, delete_stream
from .codec import (
    Action,
    Command,
    Gap,
    Marker,
    Output,
    RecentReadings,
    RecentValue,
    Record,
    SnapshotPart,
    Transition,
    decode,
    encode,
    output_of,
)
from .commands import send_command
from .sharding import Shard, canonical_device, parse_shard, shard_of
from .state import MergedState, ShardState
from .stream import consume, publish
from .worker import ShardInput, Worker, WorkerOptions

__all__ = [
    "DEFAULT_STREAM_URL",
    "Action",
    "Command",
    "Gap",
    "Marker",
    "MergedState",
    "Output",
    "RecentReadings",
    "RecentValue",
    "Record",
    "Shard",
    "ShardInput",
    "ShardState",
    "SnapshotPart",
    "StreamBroker",
    "Transition",
    "Worker",
    "WorkerOptions",
    "canonical_device",
    "consume",
    "create_stream",
    "decode",
    "delete_stream",
    "encode",
    "output_of",
    "parse_shard",
    "publish",
    "send_command",
    "shard_of",
]
