"""DMQ stream lanes on a stand-in I/O thread: merged lanes dispose their jobs once the merged job is up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pacsys_rx.backends.dmq.jobs import Job, StreamJob, StreamLane


class FakeIo:
    """Records the jobs started; timers run only when asked."""

    connection: Any = None
    sessions: dict[str, Any] = {}

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.timers: list[Callable[[], None]] = []

    def add(self, job: Job) -> None:
        self.jobs.append(job)

    def forget(self, job: Job) -> None:
        pass

    def call_later(self, seconds: float, work: Callable[[], None]) -> None:
        self.timers.append(work)

    def run_timers(self) -> None:
        timers, self.timers = self.timers, []
        for work in timers:
            work()

    def live(self) -> list[Job]:
        return [job for job in self.jobs if not job.closed]


class Sink:
    def mark_connected(self) -> None:
        pass


def lane_of(io: FakeIo, *drfs: str) -> StreamLane:
    lane = StreamLane(io)  # type: ignore[arg-type]
    lane.add(list(drfs), Sink())  # type: ignore[arg-type]
    return lane


def current(lane: StreamLane) -> StreamJob:
    assert lane.job is not None
    return lane.job


def test_a_lane_merged_twice_before_its_job_is_up_leaves_no_job_behind() -> None:
    io = FakeIo()
    first, second, third = lane_of(io, "Z:A@p,1000"), lane_of(io, "Z:B@p,1000"), lane_of(io, "Z:C@p,1000")
    assert len(io.live()) == 3
    second.absorb(first)
    io.run_timers()
    third.absorb(second)  # before the job second started for both was acknowledged
    io.run_timers()
    current(third).on_pending()
    assert io.live() == [third.job]
    assert sorted(current(third).requests) == ["Z:A@p,1000", "Z:B@p,1000", "Z:C@p,1000"]
