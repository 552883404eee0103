"""The delivery pool: at most POOL_MAX_THREADS threads, and no waiting subscriber is ever left behind
(queued while every worker is busy, or after idle workers ended)."""

from __future__ import annotations

import threading

import pytest
from polling import wait_until

from pacsys_rx.backends import streams
from pacsys_rx.backends.streams import POOL_MAX_THREADS, _DeliveryPool


class _Task:
    """Stands in for a subscriber: ``drain`` records the call and may block until released."""

    def __init__(self, release: threading.Event | None = None) -> None:
        self.release = release
        self.drained = threading.Event()

    def drain(self) -> None:
        if self.release is not None:
            self.release.wait(10.0)
        self.drained.set()


def delivery_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "pacsys-rx-delivery")


def test_busy_workers_take_the_waiting_subscribers_when_free() -> None:
    pool = _DeliveryPool()
    before = delivery_threads()
    release = threading.Event()
    blocked = [_Task(release) for _ in range(POOL_MAX_THREADS)]
    waiting = [_Task() for _ in range(50)]
    for task in [*blocked, *waiting]:
        pool.run(task)  # type: ignore[arg-type]
    assert delivery_threads() - before <= POOL_MAX_THREADS
    assert not any(task.drained.is_set() for task in waiting)
    release.set()
    wait_until(lambda: all(task.drained.is_set() for task in waiting), what="every waiting task drained")


def test_subscribers_are_drained_after_idle_workers_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "POOL_IDLE_SECONDS", 0.02)
    pool = _DeliveryPool()
    before = delivery_threads()
    for _ in range(5):
        tasks = [_Task() for _ in range(20)]
        for task in tasks:
            pool.run(task)  # type: ignore[arg-type]
        wait_until(lambda tasks=tasks: all(t.drained.is_set() for t in tasks), what="a round drained")
        wait_until(lambda: delivery_threads() <= before, what="idle workers ended")


def test_blocked_subscribers_each_get_a_worker_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "POOL_IDLE_SECONDS", 0.02)
    pool = _DeliveryPool()
    before = delivery_threads()
    quick = [_Task() for _ in range(20)]
    for task in quick:
        pool.run(task)  # type: ignore[arg-type]
    wait_until(lambda: all(t.drained.is_set() for t in quick), what="the quick round drained")
    wait_until(lambda: delivery_threads() <= before, what="idle workers ended")
    release = threading.Event()
    started = [threading.Event() for _ in range(POOL_MAX_THREADS)]

    class _Blocking(_Task):
        def __init__(self, index: int) -> None:
            super().__init__(release)
            self.index = index

        def drain(self) -> None:
            started[self.index].set()
            super().drain()

    try:
        for index in range(POOL_MAX_THREADS):
            pool.run(_Blocking(index))  # type: ignore[arg-type]
        wait_until(lambda: all(event.is_set() for event in started), what="every blocked subscriber started")
    finally:
        release.set()


def test_a_subscriber_queued_behind_a_woken_worker_gets_its_own() -> None:
    pool = _DeliveryPool()
    warm = _Task()
    pool.run(warm)  # type: ignore[arg-type]
    wait_until(warm.drained.is_set, what="one worker idle")
    release = threading.Event()
    blocked, behind = _Task(release), _Task()
    try:
        pool.run(blocked)  # type: ignore[arg-type]
        pool.run(behind)  # type: ignore[arg-type]
        wait_until(behind.drained.is_set, what="the second subscriber drained while the first blocks")
    finally:
        release.set()


def test_a_first_hand_off_goes_ahead_of_subscribers_already_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "POOL_MAX_THREADS", 1)
    pool = _DeliveryPool()
    order: list[str] = []

    class _Named(_Task):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def drain(self) -> None:
            order.append(self.name)
            super().drain()

    release = threading.Event()
    blocked = _Task(release)
    running = [_Named(f"running {i}") for i in range(5)]
    first = _Named("first")
    try:
        pool.run(blocked)  # type: ignore[arg-type]
        for task in running:
            pool.run(task)  # type: ignore[arg-type]
        pool.run(first, urgent=True)  # type: ignore[arg-type]
    finally:
        release.set()
    wait_until(lambda: len(order) == 6, what="every waiting task drained")
    assert order == ["first", *(task.name for task in running)]


def test_a_burst_is_drained_by_workers_that_stay_awake_until_the_list_is_empty() -> None:
    pool = _DeliveryPool()
    before = delivery_threads()
    rounds = [[_Task() for _ in range(500)] for _ in range(3)]
    for tasks in rounds:
        for task in tasks:
            pool.run(task)  # type: ignore[arg-type]
    wait_until(lambda: all(t.drained.is_set() for tasks in rounds for t in tasks), what="the burst drained")
    assert delivery_threads() - before <= POOL_MAX_THREADS


def test_producers_on_several_threads_leave_no_subscriber_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "POOL_IDLE_SECONDS", 0.001)  # workers keep ending and starting again
    pool = _DeliveryPool()
    before = delivery_threads()
    tasks = [[_Task() for _ in range(2000)] for _ in range(4)]
    most = [0]

    def produce(mine: list[_Task]) -> None:
        for index, task in enumerate(mine):
            pool.run(task, urgent=index % 7 == 0)  # type: ignore[arg-type]
            if index % 100 == 0:
                most[0] = max(most[0], delivery_threads() - before)

    producers = [threading.Thread(target=produce, args=(mine,)) for mine in tasks]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    wait_until(lambda: all(t.drained.is_set() for mine in tasks for t in mine), what="every task drained")
    assert most[0] <= POOL_MAX_THREADS
