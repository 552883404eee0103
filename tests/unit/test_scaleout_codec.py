"""The scale-out message encoding: round trips, version byte, and rejection of damaged bytes."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pacsys_rx.operators import AlarmEvent, AlarmState, Severity, WindowStats

from pacsys_rx.errors import ProtocolError
from pacsys_rx.model import ValueType
from pacsys_rx.scaleout import (
    Action,
    Command,
    Gap,
    Marker,
    Output,
    RecentReadings,
    RecentValue,
    Shard,
    SnapshotPart,
    Transition,
    decode,
    encode,
    output_of,
)
from pacsys_rx.scaleout.codec import VERSION, peek_snapshot

texts = st.text(max_size=40)
times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                     timezones=st.just(timezone.utc))
durations = st.timedeltas(min_value=timedelta(days=-10**6), max_value=timedelta(days=10**6))
values = st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.integers(-(2**63), 2**63 - 1),
                   texts, st.lists(st.integers(-1000, 1000), max_size=4), times, durations)
shards = st.integers(1, 64).flatmap(lambda n: st.builds(Shard, st.integers(0, n - 1), st.just(n)))
events = st.builds(AlarmEvent, texts, st.sampled_from(AlarmState), st.sampled_from(Severity), values, times,
                   texts)
records = st.one_of(
    st.builds(Transition, shards, texts, events),
    st.integers(1, 5).flatmap(lambda parts: st.builds(
        SnapshotPart, shards, texts, times, st.integers(0, parts - 1), st.just(parts),
        st.lists(events, max_size=5).map(tuple))),
    st.builds(Command, st.sampled_from(Action), st.one_of(st.none(), texts.filter(bool)), times, texts),
    st.builds(Gap, shards, texts, times, times),
    st.builds(Marker, shards, texts, texts),
    st.builds(RecentReadings, shards, texts, times, st.lists(st.tuples(texts, st.lists(st.builds(
        RecentValue, times, values, st.one_of(st.none(), st.sampled_from(ValueType)), st.integers(0, 255),
        st.integers(-128, 127)), max_size=4).map(tuple)), max_size=4).map(tuple)),
    st.builds(Output, shards, texts, texts, texts, st.lists(st.tuples(texts, values), max_size=4).map(tuple)),
)


@given(records)
def test_every_record_round_trips(record):
    data = encode(record)
    assert data[0] == VERSION
    assert decode(data) == record


@given(records, st.data())
def test_truncated_messages_are_protocol_errors(record, data):
    message = encode(record)
    cut = data.draw(st.integers(0, len(message) - 1))
    with pytest.raises(ProtocolError):
        decode(message[:cut])


@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_protocol_error(raw):
    try:
        decode(raw)
    except ProtocolError:
        pass


def test_unknown_version_is_refused():
    message = bytearray(encode(Marker(Shard(0, 1), "a", "t")))
    message[0] = VERSION + 1
    with pytest.raises(ProtocolError, match="version"):
        decode(bytes(message))


def test_trailing_bytes_are_refused():
    with pytest.raises(ProtocolError, match="trailing"):
        decode(encode(Marker(Shard(0, 1), "a", "t")) + b"\0")


def test_a_transition_is_compact():
    event = AlarmEvent("Z:BANK000", AlarmState.ALARM, Severity.MAJOR, 57.5,
                       datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=1),
                       "above high limit 55")
    assert len(encode(Transition(Shard(0, 2), "a", event))) < 64


def test_a_dataclass_output_keeps_its_type_device_and_fields():
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    stats = WindowStats("Z:BANK000", 10, 50.0, 1.5, 47.0, 53.0, start, start + timedelta(seconds=9))
    record = output_of(Shard(0, 1), "a", stats)
    assert (record.type, record.device) == ("WindowStats", "Z:BANK000")
    decoded = decode(encode(record))
    assert isinstance(decoded, Output)
    assert dict(decoded.fields) == {"n": 10, "mean": 50.0, "std": 1.5, "min": 47.0, "max": 53.0,
                                    "start": start, "end": start + timedelta(seconds=9)}


def test_an_output_without_a_device_is_refused():
    with pytest.raises(TypeError, match="device field"):
        output_of(Shard(0, 1), "a", 42.0)


@given(records)
def test_a_snapshot_header_is_read_without_its_events(record):
    data = encode(record)
    if isinstance(record, SnapshotPart):
        assert peek_snapshot(data) == dataclasses.replace(record, events=())
    else:
        with pytest.raises(ProtocolError, match="not a snapshot"):
            peek_snapshot(data)
