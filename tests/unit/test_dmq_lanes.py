"""DMQ stream lanes on a stand-in I/O thread: merged lanes dispose their jobs once the merged job is up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pacsys_rx.backends.dmq import DMQBackend
from pacsys_rx.backends.dmq.backend import SMALL_LANE
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
    lane.plan()
    return lane


def current(lane: StreamLane) -> StreamJob:
    assert lane.job is not None
    return lane.job


def test_a_lane_merged_twice_before_its_job_is_up_leaves_no_job_behind() -> None:
    io = FakeIo()
    first, second, third = lane_of(io, "Z:A@p,1000"), lane_of(io, "Z:B@p,1000"), lane_of(io, "Z:C@p,1000")
    assert len(io.live()) == 3
    second.absorb(first)
    second.plan()
    io.run_timers()
    third.absorb(second)  # before the job second started for both was acknowledged
    third.plan()
    io.run_timers()
    current(third).on_pending()
    assert io.live() == [third.job]
    assert sorted(current(third).requests) == ["Z:A@p,1000", "Z:B@p,1000", "Z:C@p,1000"]


def test_streams_arriving_one_by_one_beside_large_jobs_do_not_restart_them() -> None:
    backend = DMQBackend("127.0.0.1", 1, stream_jobs=3)
    backend.close()
    io = backend._io = FakeIo()  # type: ignore[assignment]

    def attach(drfs: list[str]) -> None:
        backend._attach(drfs, Sink())  # type: ignore[arg-type]
        for lane in backend._lanes:
            lane.created -= 1.0  # the next stream arrives after every lane grew old
        io.run_timers()

    for group in range(3):
        attach([f"Z:G{group}{i:03d}@p,1000" for i in range(SMALL_LANE + 1)])
    for i in range(5):
        attach([f"Z:NEW{i}@p,1000"])
    assert len(backend._lanes) == 3
    large_jobs = [len(job.requests) for job in io.jobs if len(job.requests) > SMALL_LANE]
    assert large_jobs == [SMALL_LANE + 1] * 3 + [2 * SMALL_LANE + 2]  # one merge, for the first new stream
    newest = backend._lanes[-1]
    assert sorted(newest.sinks) == [f"Z:NEW{i}@p,1000" for i in range(5)]
    assert current(newest).requests[0] == "Z:NEW4@p,1000"
