"""Pipelines the scale-out tests run in ``pacsys-rx worker`` processes."""

from __future__ import annotations

from pacsys_rx.operators import AlarmEvent
from reactivex import Observable

from pacsys_rx import operators as ops
from pacsys_rx.scaleout import ShardInput


def limits_only(shard: ShardInput) -> Observable[AlarmEvent]:
    """The state is a function of the current value alone, so any two runs agree reading by reading."""
    return shard.readings.pipe(ops.limits(45, 55), shard.restore)


def latched(shard: ShardInput) -> Observable[AlarmEvent]:
    """Limits, latched until acknowledged, restored after a restart."""
    return shard.readings.pipe(ops.limits(45, 55), shard.restore, ops.latch(shard.acknowledgements))
