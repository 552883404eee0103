from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_error,
    on_next,
    rd,
    subscribe,
    timed,
)


def test_merge_backends_drops_duplicates_and_keeps_the_first_backend() -> None:
    scheduler = TestScheduler()
    dpm = scheduler.create_hot_observable(
        on_next(210, rd("A", 1, 1.0, backend="dpm")), on_next(230, rd("A", 2, 2.0, backend="dpm")),
        on_next(240, rd("B", 7, 2.0, backend="dpm")), on_completed(250),
    )
    grpc = scheduler.create_hot_observable(
        on_next(215, rd("A", 1, 1.0, backend="grpc")), on_next(225, rd("A", 2, 2.0, backend="grpc")),
        on_next(245, rd("A", 3, 3.0, backend="grpc")), on_completed(260),
    )
    results = scheduler.start(lambda: ops.merge_backends(dpm, grpc))
    assert [(t, r.device, r.value, r.backend) for t, r in timed(results.messages)] == [
        (210, "A", 1, "dpm"), (225, "A", 2, "grpc"), (240, "B", 7, "dpm"), (245, "A", 3, "grpc"),
    ]
    assert results.messages[-1] == on_completed(260)


def test_merge_backends_memory_is_bounded() -> None:
    scheduler = TestScheduler()
    first = scheduler.create_hot_observable([on_next(210 + i, rd("A", i, float(i))) for i in range(4)])
    late_copy = scheduler.create_hot_observable(on_next(250, rd("A", 0, 0.0)), on_next(251, rd("A", 3, 3.0)))
    results = scheduler.start(lambda: ops.merge_backends(first, late_copy, memory=2))
    assert [r.value for _, r in timed(results.messages)] == [0, 1, 2, 3, 0]


def test_merge_backends_error_of_any_source_ends_and_unsubscribes_all() -> None:
    scheduler = TestScheduler()
    boom = RuntimeError("grpc down")
    dpm = scheduler.create_hot_observable(on_next(210, rd("A", 1)))
    grpc = scheduler.create_hot_observable(on_error(220, boom))
    results = scheduler.start(lambda: ops.merge_backends(dpm, grpc))
    assert results.messages[-1] == on_error(220, boom)
    assert dpm.subscriptions == [subscribe(200, 220)]


def test_merge_backends_error_propagates() -> None:
    check_error_passes(lambda _: lambda source: ops.merge_backends(source), rd("A", 1.0))


def test_merge_backends_completion_propagates() -> None:
    check_completion_passes(lambda _: lambda source: ops.merge_backends(source), rd("A", 1.0))


def test_merge_backends_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: lambda source: ops.merge_backends(source), rd("A", 1.0))


def test_merge_backends_serializes_sources_emitting_from_threads() -> None:
    import threading

    from reactivex.subject import Subject

    dpm: Subject = Subject()
    grpc: Subject = Subject()
    seen: list = []
    ops.merge_backends(dpm, grpc, memory=600).subscribe(seen.append)
    readings = [rd(f"D{i % 8}", i, float(i)) for i in range(4000)]
    start = threading.Barrier(2)

    def feed(subject: Subject) -> None:
        start.wait()
        for reading in readings:
            subject.on_next(reading)

    threads = [threading.Thread(target=feed, args=(s,)) for s in (dpm, grpc)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.value for r in seen) == list(range(4000))
