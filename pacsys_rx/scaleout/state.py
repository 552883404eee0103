"""Alarm state tables (sans-I/O): a worker's view of its shard, and a consumer's merged view of all."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from pacsys_rx.operators import AlarmEvent, AlarmState, Severity

from .codec import (
    Action,
    Command,
    Gap,
    Output,
    RecentReadings,
    RecentValue,
    Record,
    SnapshotPart,
    Transition,
)
from .sharding import Shard

DISABLED = AlarmState.DISABLED
OUTPUTS_REMEMBERED = 100_000
"""How many recent outputs a consumer remembers to drop the second replica's copy."""


@dataclass
class ShardState:
    """What one worker of ``shard`` publishes: one state per device, changes only.

    ``accept`` turns a pipeline output into a transition to publish (None when it changes nothing or
    the device is disabled); ``restore`` replays the stream's records of the shard; ``command``
    applies enable/disable; ``snapshot`` cuts the table into parts.
    """

    shard: Shard
    replica: str
    states: dict[str, AlarmEvent] = field(default_factory=dict)
    last_seen: datetime | None = None
    """Time of the newest record of this shard (any replica) seen while restoring."""
    unapplied: list[Command] = field(default_factory=list)
    """Commands read while restoring that no live worker of the shard answered (issued in an outage)."""
    recent: dict[str, tuple[RecentValue, ...]] = field(default_factory=dict)
    """Each device's last readings from the newest ``RecentReadings`` read while restoring."""
    _hidden: dict[str, AlarmEvent] = field(default_factory=dict)

    def accept(self, event: AlarmEvent) -> AlarmEvent | None:
        current = self.states.get(event.device)
        if current is not None and current.state is DISABLED:
            self._hidden[event.device] = event
            return None
        if event.same_state(current):
            return None
        if current is not None and event.since < current.since:
            # latch re-shows a LATCHED alarm from before a gap with its first time; consumers
            # order a device's events by time, so it takes the time of the state it replaces.
            event = dataclasses.replace(event, since=current.since)
        self.states[event.device] = event
        return event

    def restore(self, record: Record) -> None:
        if isinstance(record, Command):
            self.unapplied.append(record)
            return
        if isinstance(record, SnapshotPart):
            self._restore_events(record.events)
        elif isinstance(record, Transition):
            self._restore_events([record.event])
        elif isinstance(record, RecentReadings):
            self.recent.update((device, values) for device, values in record.devices
                               if self.shard.owns(device))
        if record.shard != self.shard:
            return
        self.unapplied.clear()
        when = _record_time(record)
        if when is not None and (self.last_seen is None or when > self.last_seen):
            self.last_seen = when

    def _restore_events(self, events: Iterable[AlarmEvent]) -> None:
        for event in events:
            if self.shard.owns(event.device):
                self.states[event.device] = event

    def command(self, command: Command) -> list[AlarmEvent]:
        """The transitions an enable or disable command causes (at the command's time)."""
        if command.action is Action.ACKNOWLEDGE:
            return []
        targets = list(self.states) if command.device is None else [command.device]
        changes = []
        for device in targets:
            if not self.shard.owns(device):
                continue
            current = self.states.get(device)
            if command.action is Action.DISABLE and (current is None or current.state is not DISABLED):
                if current is not None:
                    self._hidden[device] = current
                value = current.value if current is not None else None
                changed = AlarmEvent(device, DISABLED, Severity.NONE, value, command.issued_at,
                                     f"disabled by {command.origin}")
            elif command.action is Action.ENABLE and current is not None and current.state is DISABLED:
                hidden = self._hidden.pop(device, None)
                if hidden is None:
                    changed = AlarmEvent(device, AlarmState.OK, Severity.NONE, current.value,
                                         command.issued_at, f"enabled by {command.origin}")
                else:
                    changed = AlarmEvent(device, hidden.state, hidden.severity, hidden.value,
                                         command.issued_at, hidden.reason)
            else:
                continue
            self.states[device] = changed
            changes.append(changed)
        return changes

    def snapshot(self, taken_at: datetime, part_size: int = 1000) -> list[SnapshotPart]:
        """The table in parts of at most ``part_size`` devices (one empty part for an empty table)."""
        events = [self.states[device] for device in sorted(self.states)]
        chunks = [tuple(events[i:i + part_size]) for i in range(0, len(events), part_size)] or [()]
        return [SnapshotPart(self.shard, self.replica, taken_at, i, len(chunks), chunk)
                for i, chunk in enumerate(chunks)]


def _record_time(record: Record) -> datetime | None:
    if isinstance(record, Transition):
        return record.event.since
    if isinstance(record, (SnapshotPart, RecentReadings)):
        return record.taken_at
    if isinstance(record, Gap):
        return record.end
    return None


@dataclass
class MergedState:
    """A consumer's table of every device, fed by all replicas of all shards; duplicates dropped.

    A device's event is applied when it is not older than the current one (by ``since``) and
    changes its state or severity; so the copy published by the second replica is dropped. Other
    outputs pass once: an output equal (type, device, fields) to one of the last ``OUTPUTS_REMEMBERED``
    is dropped. ``RecentReadings`` are for workers and contribute nothing.
    """

    states: dict[str, AlarmEvent] = field(default_factory=dict)
    _gaps: set[tuple[Shard, datetime]] = field(default_factory=set)
    _outputs: dict[tuple[str, str, str], None] = field(default_factory=dict)

    def accept(self, record: Record) -> Iterator[Record]:
        """The records (new information only) that ``record`` contributes."""
        if isinstance(record, Transition):
            if self._apply(record.event):
                yield record
        elif isinstance(record, SnapshotPart):
            for event in record.events:
                if self._apply(event):
                    yield Transition(record.shard, record.replica, event)
        elif isinstance(record, Gap):
            if (record.shard, record.start) not in self._gaps:
                self._gaps.add((record.shard, record.start))
                yield record
        elif isinstance(record, Output):
            output = (record.type, record.device, repr(record.fields))
            if output not in self._outputs:
                self._outputs[output] = None
                if len(self._outputs) > OUTPUTS_REMEMBERED:
                    del self._outputs[next(iter(self._outputs))]
                yield record
        elif isinstance(record, Command):
            yield record

    def _apply(self, event: AlarmEvent) -> bool:
        current = self.states.get(event.device)
        if current is not None and (event.since < current.since or event.same_state(current)):
            return False
        self.states[event.device] = event
        return True
