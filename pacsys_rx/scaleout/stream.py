"""The publish sink operator and the consume source Observable, and the snapshot index they share."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from reactivex import Observable, abc
from reactivex.disposable import Disposable

from .broker import DEFAULT_STREAM_URL, Start, StreamBroker, StreamPublisher, StreamSubscriber
from .codec import Kind, Record, decode, encode, peek_kind
from .sharding import Shard
from .state import MergedState

SHARDS_REFERENCE = "pacsys-rx.shards"
"""Stored-offset reference whose value is N, the shard count of the workers that last stored a snapshot."""
STORE_EVERY_S = 1.0


def snapshot_reference(shard: Shard) -> str:
    """Stored-offset reference holding the offset of the first part of ``shard``'s latest whole snapshot."""
    return f"pacsys-rx.snapshot.{shard.index}.{shard.count}"


def snapshot_start(subscriber: StreamSubscriber, shard: Shard | None = None) -> Start:
    """Where a reader finds a whole snapshot of ``shard`` (of every shard when None) and all after it:
    the smallest of the shards' snapshot offsets, or the stream's first message if one is missing."""
    count = subscriber.query_offset(SHARDS_REFERENCE) if shard is None else shard.count
    if not count:
        return "first"
    shards = [shard] if shard is not None else [Shard(index, count) for index in range(count)]
    offsets = [subscriber.query_offset(snapshot_reference(each)) for each in shards]
    return "first" if any(offset is None for offset in offsets) else min(o for o in offsets if o is not None)


def default_broker(broker: StreamBroker | None) -> StreamBroker:
    return broker if broker is not None else StreamBroker.from_url(DEFAULT_STREAM_URL)


def publish(stream: str, producer: str, broker: StreamBroker | None = None,
            confirm_timeout: float = 10.0) -> Callable[[Observable[Record]], Observable[Record]]:
    """Publish every record to ``stream`` as producer ``producer`` and pass it on.

    Each message carries a publishing id from the producer's sequence (continued from the broker's
    record of ``producer`` after a restart); unconfirmed messages are sent again after a lost
    connection and the broker stores each id once. On completion it waits up to ``confirm_timeout``
    for the confirmations before completing. The stream must exist (``create_stream``).
    """
    target = default_broker(broker)

    def operator(source: Observable[Record]) -> Observable[Record]:
        def subscribe(observer: abc.ObserverBase[Record],
                      scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
            publisher = StreamPublisher(target, stream, producer)

            def on_next(record: Record) -> None:
                publisher.publish(encode(record))
                observer.on_next(record)

            def on_completed() -> None:
                publisher.close(confirm_timeout)
                observer.on_completed()

            subscription = source.subscribe(on_next, observer.on_error, on_completed, scheduler=scheduler)

            def dispose() -> None:
                subscription.dispose()
                publisher.close(confirm_timeout)

            return Disposable(dispose)

        return Observable(subscribe)

    return operator


def consume(stream: str, start: Literal["snapshot", "first", "last"] | int | datetime = "snapshot", *,
            broker: StreamBroker | None = None, name: str | None = None) -> Observable[Record]:
    """The records of ``stream``: replicas merged, duplicates and unchanged states dropped.

    ``start``: ``"snapshot"`` (every shard's latest whole snapshot, so the first items are the full
    current state), ``"first"``, ``"last"`` (only new messages), an offset, or a time. With ``name``
    the consumer stores its offset under that name every second and on dispose, and a later consumer
    with the same name resumes after it (``start`` is then used only the first time).
    Snapshot parts come out as one ``Transition`` per device whose state they change; other pipeline
    outputs as ``Output`` records (the second replica's equal copy dropped); the readings workers keep
    for a restart (``RecentReadings``) are skipped.
    """
    target = default_broker(broker)

    def subscribe(observer: abc.ObserverBase[Record],
                  scheduler: abc.SchedulerBase | None = None) -> abc.DisposableBase:
        merged = MergedState()
        lock = threading.Lock()
        last_offset: list[int] = []
        stored_at = [time.monotonic()]

        def deliver(offset: int, data: bytes) -> None:
            with lock:
                if peek_kind(data) is not Kind.RECENT:  # the workers' replay data: not decoded here
                    for record in merged.accept(decode(data)):
                        observer.on_next(record)
                last_offset[:] = [offset]
                if name is not None and time.monotonic() - stored_at[0] > STORE_EVERY_S:
                    stored_at[0] = time.monotonic()
                    subscriber.store_offset(name, offset)

        subscriber = StreamSubscriber(target, stream, deliver, observer.on_error)
        try:
            resume = subscriber.query_offset(name) if name is not None else None
            begin: Start = resume + 1 if resume is not None else (
                snapshot_start(subscriber) if start == "snapshot" else start)
            subscriber.start(begin)
        except Exception as error:  # reported to the observer, like any source error
            subscriber.close()
            observer.on_error(error)
            return Disposable()

        def dispose() -> None:
            if name is not None and last_offset:
                subscriber.store_offset(name, last_offset[0])
            subscriber.close()

        return Disposable(dispose)

    return Observable(subscribe)
