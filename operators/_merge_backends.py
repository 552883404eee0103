from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from datetime import datetime

from reactivex import Observable, abc

from pacsys_rx.drf import parse_request
from pacsys_rx.errors import DRFError
from pacsys_rx.model import Reading

from ._merging import subscribe_serialized


def merge_backends(*sources: Observable[Reading], memory: int = 8) -> Observable[Reading]:
    """Merge the same devices read through several backends, dropping duplicates.

    A duplicate has the same canonical request (device, property, field and array range; not the
    event) and the same timestamp; the first copy to arrive is kept, with its ``backend`` tag. Per
    request only the last ``memory`` timestamps are remembered. A gap reading (``Reading.is_gap``)
    is held back while another source still delivers that request; once every running source has
    sent a gap for it (with no data since), one gap goes out. Any source's error ends the output;
    it completes when all sources have.

        dpm:  -a@1----a@2--gap------a@4-|
        grpc: ---a@1------a@3---a@4-----|
        out:  -a@1----a@2-a@3---a@4-----|
    """
    if memory < 1:
        raise ValueError("memory must be at least 1")

    def subscribe(
        observer: abc.ObserverBase[Reading], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        requests: dict[str, _Request] = {}
        by_key: dict[Hashable, _Request] = {}
        running = set(range(len(sources)))

        def request_of(reading: Reading) -> _Request:
            key = _request_key(reading)
            request = by_key.get(key)
            if request is None:
                request = by_key[key] = _Request(memory)
            requests[reading.drf] = request
            return request

        def on_item(index: int, reading: Reading) -> None:
            request = requests.get(reading.drf) or request_of(reading)
            if reading.is_gap:
                request.in_gap.add(index)
                if not request.gap_sent and request.suppliers & running <= request.in_gap:
                    request.gap_sent = True
                    observer.on_next(reading)
                return
            if index not in request.suppliers:
                request.suppliers.add(index)
            if request.in_gap:
                request.in_gap.discard(index)
                request.gap_sent = False
            seen = request.seen
            if reading.timestamp in seen:
                return
            seen.append(reading.timestamp)
            observer.on_next(reading)

        def source_completed(index: int) -> bool:
            running.discard(index)
            return False

        return subscribe_serialized(sources, observer, on_item, scheduler, source_completed)

    return Observable(subscribe)


class _Request:
    """One canonical request's merge state: recent timestamps, the sources delivering it, those in a gap."""

    __slots__ = ("gap_sent", "in_gap", "seen", "suppliers")

    def __init__(self, memory: int) -> None:
        self.seen: deque[datetime] = deque(maxlen=memory)
        self.suppliers: set[int] = set()
        self.in_gap: set[int] = set()
        self.gap_sent = False


def _request_key(reading: Reading) -> Hashable:
    """(device, property, field, range) of the reading's request: two DRFs differing only in event match."""
    try:
        request = parse_request(reading.drf)
    except DRFError:
        return (reading.device, reading.drf)
    return (reading.device, request.property, request.field, request.range)
