"""The worker's shard table and the consumer's merged table (no I/O)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pacsys_rx.operators import AlarmEvent, AlarmState, Severity

from pacsys_rx.scaleout import (
    Action,
    Command,
    Gap,
    MergedState,
    Output,
    RecentReadings,
    RecentValue,
    Shard,
    ShardState,
    SnapshotPart,
    Transition,
)

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
WHOLE = Shard(0, 1)


def event(device, state, at, severity=None):
    if severity is None:
        severity = Severity.NONE if state in (AlarmState.OK, AlarmState.LATCHED) else Severity.MAJOR
    if state is AlarmState.LATCHED:
        severity = Severity.MAJOR
    return AlarmEvent(device, state, severity, 1.0, T0 + timedelta(seconds=at), "")


def test_shard_state_publishes_changes_only():
    state = ShardState(WHOLE, "a")
    assert state.accept(event("D:A", AlarmState.OK, 0)) is not None
    assert state.accept(event("D:A", AlarmState.OK, 1)) is None
    assert state.accept(event("D:A", AlarmState.ALARM, 2)) is not None


def test_restored_state_is_not_published_again():
    state = ShardState(WHOLE, "a")
    latched = event("D:A", AlarmState.LATCHED, 5)
    state.restore(SnapshotPart(WHOLE, "b", T0, 0, 1, (latched,)))
    assert state.states == {"D:A": latched}
    assert state.accept(latched) is None
    assert state.last_seen == T0


def test_restore_keeps_only_owned_devices_and_outage_commands():
    shard = Shard(0, 2)
    state = ShardState(shard, "a")
    owned = next(f"Z:BANK{i:03d}" for i in range(100) if shard.owns(f"Z:BANK{i:03d}"))
    other = next(f"Z:BANK{i:03d}" for i in range(100) if not shard.owns(f"Z:BANK{i:03d}"))
    ack = Command(Action.ACKNOWLEDGE, owned, T0, "op")
    state.restore(Transition(shard, "b", event(owned, AlarmState.ALARM, 1)))
    state.restore(ack)
    state.restore(Transition(shard, "b", event(owned, AlarmState.ACKNOWLEDGED, 2)))
    state.restore(Transition(Shard(1, 2), "b", event(other, AlarmState.ALARM, 3)))
    late_ack = Command(Action.ACKNOWLEDGE, None, T0, "op")
    state.restore(late_ack)
    assert set(state.states) == {owned}
    assert state.unapplied == [late_ack]
    assert state.last_seen == T0 + timedelta(seconds=2)


def test_disable_hides_changes_and_enable_restores_the_latest():
    state = ShardState(WHOLE, "a")
    state.accept(event("D:A", AlarmState.OK, 0))
    [disabled] = state.command(Command(Action.DISABLE, "D:A", T0 + timedelta(seconds=1), "op"))
    assert disabled.state is AlarmState.DISABLED
    assert state.accept(event("D:A", AlarmState.ALARM, 2)) is None
    [enabled] = state.command(Command(Action.ENABLE, "D:A", T0 + timedelta(seconds=3), "op"))
    assert (enabled.state, enabled.since) == (AlarmState.ALARM, T0 + timedelta(seconds=3))


def test_snapshot_parts_cover_the_table():
    state = ShardState(WHOLE, "a")
    for i in range(5):
        state.accept(event(f"D:{i}", AlarmState.OK, i))
    parts = state.snapshot(T0, part_size=2)
    assert [(p.part, p.parts, len(p.events)) for p in parts] == [(0, 3, 2), (1, 3, 2), (2, 3, 1)]
    assert ShardState(WHOLE, "a").snapshot(T0)[0].events == ()


def test_merged_state_drops_the_second_replica_and_older_events():
    merged = MergedState()
    alarm, cleared = event("D:A", AlarmState.ALARM, 1), event("D:A", AlarmState.LATCHED, 2)
    out = []
    for replica, item in [("a", alarm), ("a", cleared), ("b", alarm), ("b", cleared)]:
        out += merged.accept(Transition(WHOLE, replica, item))
    assert [r.event for r in out] == [alarm, cleared]


def test_merged_state_takes_snapshots_and_reports_a_gap_once():
    merged = MergedState()
    both = (event("D:A", AlarmState.OK, 0), event("D:B", AlarmState.ALARM, 0))
    snapshot = SnapshotPart(WHOLE, "a", T0, 0, 1, both)
    assert len(list(merged.accept(snapshot))) == 2
    assert list(merged.accept(snapshot)) == []
    gap = Gap(WHOLE, "a", T0, T0 + timedelta(seconds=9))
    assert list(merged.accept(gap)) == [gap]
    assert list(merged.accept(Gap(WHOLE, "b", T0, T0 + timedelta(seconds=10)))) == []


def test_restore_keeps_the_newest_recent_readings_of_owned_devices():
    shard = Shard(0, 2)
    owned = next(f"Z:BANK{i:03d}" for i in range(100) if shard.owns(f"Z:BANK{i:03d}"))
    other = next(f"Z:BANK{i:03d}" for i in range(100) if not shard.owns(f"Z:BANK{i:03d}"))
    older, newer = (RecentValue(T0, 60.0, None, 0, 0),), (RecentValue(T0, 61.0, None, 0, 0),)
    state = ShardState(shard, "a")
    state.restore(RecentReadings(shard, "b", T0, ((owned, older), (other, older))))
    state.restore(RecentReadings(shard, "a", T0 + timedelta(seconds=1), ((owned, newer),)))
    assert state.recent == {owned: newer}


def test_merged_state_passes_an_output_once_and_ignores_recent_readings():
    merged = MergedState()
    fields = (("n", 3), ("mean", 1.0))
    outputs = [Output(WHOLE, replica, "WindowStats", "D:A", fields) for replica in "ab"]
    assert [r for o in outputs for r in merged.accept(o)] == outputs[:1]
    assert list(merged.accept(RecentReadings(WHOLE, "a", T0, (("D:A", ()),)))) == []
