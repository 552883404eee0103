"""The backend contract (docs/concepts.md), one rule per test, on every backend that supports it.

The numbered tests reproduce the failures measured in issue 15 (each failed before the shared stream
layer); the others pin the rest of the contract: serial emission, nothing after a terminal event,
disposal releases the server-side subscription.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time

import pytest
from conftest import ALL, STREAMING, Recorder, Target, backends, canonical
from polling import wait_for, wait_until
from reactivex import operators as rxops
from reactivex.disposable import Disposable

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.errors import AuthenticationError, BackendClosed, BackendUnavailable
from pacsys_rx.flow import BufferOverflow
from pacsys_rx.model import Reading
from pacsys_rx.testing import FakeBackend

FAST = "M:OUTTMP@p,100"
SLOW = "M:OUTTMP@p,3000"


def streaming(test):  # type: ignore[no-untyped-def]
    return pytest.mark.parametrize("target", backends(STREAMING), indirect=True)(test)


# ----------------------------------------------------------------- 1. isolation


@streaming
def test_01_a_raising_subscriber_is_unsubscribed_and_the_others_continue(target: Target) -> None:
    backend = target.make()
    hooked: list[tuple[str, BaseException]] = []
    backend.subscriber_error_hook = lambda drf, error: hooked.append((drf, error))
    bad = Recorder()

    def explode(reading: Reading) -> None:
        bad.on_next(reading)
        raise RuntimeError("bad pipeline")

    stream = backend.stream(FAST)
    stream.subscribe(explode, bad.on_error, bad.on_completed)
    good = Recorder()
    stream.subscribe(good.on_next, good.on_error, good.on_completed)
    wait_until(lambda: len(good.data()) >= 4, what="the good subscriber keeps receiving")
    assert good.errors == [] and not good.completed
    assert len(bad.readings) == 1 and bad.errors == []
    assert [drf for drf, _ in hooked] == [canonical(FAST)]
    assert isinstance(hooked[0][1], RuntimeError)
    later = Recorder()
    stream.subscribe(later.on_next, later.on_error)
    wait_until(lambda: len(later.data()) >= 2, what="a later subscriber receives")
    assert backend.subscription_count() == 1


# ----------------------------------------------------------------- 2. close from a callback


@streaming
def test_02_close_from_inside_a_stream_callback_returns_and_completes(target: Target) -> None:
    backend = target.make()
    closed = threading.Event()
    seen = Recorder()

    def close_now(reading: Reading) -> None:
        seen.on_next(reading)
        if not closed.is_set():
            backend.close()
            closed.set()

    backend.stream(FAST).subscribe(close_now, seen.on_error, seen.on_completed)
    wait_until(closed.is_set, what="close() returned inside on_next")
    wait_until(lambda: seen.completed, what="the stream completed")
    assert seen.errors == [] and len(seen.readings) == 1
    assert isinstance(_error_of(backend.read("M:OUTTMP")), BackendClosed)


# ----------------------------------------------------------------- 3. server-ended streams


@streaming
def test_03_an_immediate_stream_completes_after_its_reading(target: Target) -> None:
    backend = target.make()
    for _ in range(2):  # the second subscription opens afresh: nothing stays registered
        seen = Recorder()
        backend.stream("M:OUTTMP@I").subscribe(seen.on_next, seen.on_error, seen.on_completed)
        wait_until(lambda: seen.completed, what="the @I stream completed")  # noqa: B023
        assert len(seen.readings) == 1 and seen.readings[0].ok and seen.errors == []
        wait_until(lambda: backend.subscription_count() == 0, what="the @I stream released")


def test_03_a_server_ended_stream_completes_and_a_later_subscriber_opens_afresh() -> None:
    backend = FakeBackend()
    first = Recorder()
    backend.stream(FAST).subscribe(first.on_next, first.on_error, first.on_completed)
    backend.complete_streams()
    assert first.completed and backend.subscription_count() == 0
    second = Recorder()
    backend.stream(FAST).subscribe(second.on_next)
    backend.emit(FAST, 1.0)
    assert [r.value for r in second.readings] == [1.0] and len(backend.opened) == 2


# ----------------------------------------------------------------- 4. lazy Observables


def test_04_calls_without_credentials_build_and_fail_on_subscribe() -> None:
    backend = prx.dmq("127.0.0.1", 1, "/", timeout=1.0)
    try:
        read, stream = backend.read("M:OUTTMP"), backend.stream(FAST)  # no exception at call time
        fallback = FakeBackend()
        fallback.stream(FAST).subscribe()
        seen = Recorder()
        ops.failover(stream, fallback.stream(FAST)).subscribe(seen.on_next, seen.on_error)
        fallback.emit(FAST, 7.0)
        wait_until(lambda: [r.value for r in seen.readings] == [7.0], what="failover to the fallback")
        for observable in (read, stream, backend.write("Z:ACLTST", 1.0)):
            assert isinstance(_error_of(observable), AuthenticationError)
    finally:
        backend.close()


@pytest.mark.parametrize("target", backends(("dpm", "grpc", "dmq")), indirect=True)
def test_04_a_stream_that_never_connects_fails_with_backend_unavailable(target: Target) -> None:
    backend = target.unreachable()
    seen = Recorder()
    started = time.monotonic()
    backend.stream(FAST).subscribe(seen.on_next, seen.on_error, seen.on_completed)
    wait_until(lambda: seen.ended, timeout=backend.timeout + 5.0, what="the stream failed")
    assert isinstance(seen.errors[0], BackendUnavailable)
    assert time.monotonic() - started < backend.timeout + 4.0
    assert seen.readings == []  # no "connection lost" gap: it was never connected
    assert backend.subscription_count() == 0


@pytest.mark.parametrize("target", backends(("dpm", "grpc", "acl")), indirect=True)
def test_04_a_read_from_an_unreachable_server_fails_on_subscribe(target: Target) -> None:
    backend = target.unreachable()
    observable = backend.read("M:OUTTMP")  # no I/O yet
    assert isinstance(_error_of(observable), BackendUnavailable)


# ----------------------------------------------------------------- 5. late joiner


@streaming
def test_05_a_late_joiner_gets_the_latest_reading_at_once_marked_replayed(target: Target) -> None:
    backend = target.make()
    first = Recorder()
    stream = backend.stream(SLOW)
    stream.subscribe(first.on_next, first.on_error)
    wait_until(lambda: len(first.data()) == 1, what="the first reading")
    late = Recorder()
    joined = time.monotonic()
    stream.subscribe(late.on_next, late.on_error)
    wait_until(lambda: bool(late.readings), timeout=1.0, what="the late joiner's first reading")
    assert late.arrivals[0] - joined < 1.0
    assert late.readings[0].is_replayed and not first.readings[0].is_replayed
    assert late.readings[0].timestamp == first.readings[0].timestamp
    assert late.readings[0].value == first.readings[0].value


# ----------------------------------------------------------------- 6. slow subscriber


@streaming
def test_06_a_slow_subscriber_never_delays_another(target: Target) -> None:
    backend = target.make()
    stream = backend.stream("M:OUTTMP@p,50")
    slow = Recorder()

    def crawl(reading: Reading) -> None:
        slow.on_next(reading)
        time.sleep(0.25)

    backend.stream("M:OUTTMP@p,50", maxsize=2).subscribe(crawl, slow.on_error)
    fast = Recorder()
    stream.subscribe(fast.on_next, fast.on_error)
    wait_for(lambda: False, timeout=2.5)
    recent = [at for at in fast.arrivals if at > fast.arrivals[0] + 0.5]
    assert len(recent) >= 15, f"the fast subscriber got {len(fast.arrivals)} readings in 2.5 s"
    gaps = [b - a for a, b in zip(fast.arrivals, fast.arrivals[1:], strict=False)]
    assert max(gaps) < 0.5, f"the fast subscriber waited {max(gaps):.2f} s"
    stats = {s.maxsize: s for s in backend.stream_stats()}
    assert stats[2].dropped > 0 and stats[2].overflow == "drop_oldest"


# ----------------------------------------------------------------- 7. bridges


@streaming
def test_07_iterate_with_overflow_error_raises_buffer_overflow_to_the_consumer(target: Target) -> None:
    backend = target.make()
    with prx.iterate(backend.stream("M:OUTTMP@p,20"), timeout=3.0, maxsize=2, overflow="error") as it:
        time.sleep(0.5)  # the consumer falls behind on purpose
        with pytest.raises(BufferOverflow):
            for _ in range(10):
                next(it)
    wait_until(lambda: backend.subscription_count() == 0, what="the overflowed stream released")


@streaming
def test_07_breaking_out_of_iterate_without_with_releases_the_stream(target: Target) -> None:
    backend = target.make()
    for reading in prx.iterate(backend.stream(FAST), timeout=3.0):
        assert reading.drf == canonical(FAST)
        break
    gc.collect()
    wait_until(lambda: backend.subscription_count() == 0, what="the abandoned iterator released")
    wait_until(lambda: target.server_subscriptions() == 0, what="the server released the subscription")


@streaming
def test_07_breaking_out_of_aiter_releases_the_stream(target: Target) -> None:
    backend = target.make()

    async def first() -> Reading:
        async for reading in prx.aiter(backend.stream(FAST)):
            return reading
        raise AssertionError("no reading")

    assert asyncio.run(first()).drf == canonical(FAST)
    wait_until(lambda: backend.subscription_count() == 0, what="the async iterator released")


# ----------------------------------------------------------------- 8. read_many race


def test_08_read_many_keeps_every_reading_when_answers_race_on_several_threads() -> None:
    """The first answer's thread is held up between taking its answer and emitting it (as a busy pool
    thread may be); the last answer, from another thread, must not complete the read before it."""

    def held_up(frame, event, arg):  # type: ignore[no-untyped-def]
        if event == "call" and frame.f_code.co_name == "on_next":
            sys.settrace(None)
            time.sleep(0.2)
        return None

    class Racing(FakeBackend):
        def _start_reads(self, requests, sink):  # type: ignore[no-untyped-def]
            def answer(request, first):  # type: ignore[no-untyped-def]
                if first:
                    sys.settrace(held_up)
                else:
                    time.sleep(0.05)
                sink.deliver(request.index, self._reading_for(request))

            for position, request in enumerate(requests):
                threading.Thread(target=answer, args=(request, position == 0)).start()
            return Disposable()

    backend = Racing({"Z:DEV0": 0.0, "Z:DEV1": 1.0})
    got: list[Reading] = []
    done = threading.Event()
    backend.read_many(["Z:DEV0", "Z:DEV1"]).subscribe(got.append, on_completed=done.set)
    assert done.wait(5.0)
    assert sorted(r.value for r in got) == [0.0, 1.0]  # type: ignore[type-var]


# ----------------------------------------------------------------- 9. settings


def test_09_a_setting_whose_timeout_fired_is_never_sent() -> None:
    class Late(FakeBackend):
        def _start_writes(self, requests, sink):  # type: ignore[no-untyped-def]
            def later() -> None:
                time.sleep(0.3)
                FakeBackend._start_writes(self, requests, sink)

            threading.Thread(target=later).start()
            return Disposable()

    backend = Late(timeout=0.1)
    assert isinstance(_error_of(backend.write("Z:ACLTST", 5.0)), BackendUnavailable)
    time.sleep(0.5)
    assert backend.writes == []


# ----------------------------------------------------------------- contract basics


@streaming
def test_emission_is_serial_and_nothing_follows_a_terminal_event(target: Target) -> None:
    backend = target.make()
    active = threading.Semaphore(1)
    overlaps: list[bool] = []
    seen = Recorder()

    def on_next(reading: Reading) -> None:
        if not active.acquire(blocking=False):
            overlaps.append(True)
            return
        seen.on_next(reading)
        time.sleep(0.001)
        active.release()

    backend.stream(["M:OUTTMP@p,20", "G:AMANDA@p,20"]).subscribe(on_next, seen.on_error, seen.on_completed)
    wait_until(lambda: len(seen.readings) >= 10, what="readings of both DRFs")
    backend.close()
    wait_until(lambda: seen.completed, what="completion on close")
    count = len(seen.readings)
    time.sleep(0.2)
    assert overlaps == [] and len(seen.readings) == count and seen.errors == []


@streaming
def test_disposal_releases_the_server_side_subscription(target: Target) -> None:
    backend = target.make()
    first = backend.stream(FAST).subscribe()
    second = backend.stream(FAST).subscribe()
    wait_until(lambda: target.server_subscriptions() >= 1, what="the server-side subscription")
    first.dispose()
    assert backend.subscription_count() == 1
    second.dispose()
    assert backend.subscription_count() == 0
    wait_until(lambda: target.server_subscriptions() == 0, what="the server released it")


@pytest.mark.parametrize("target", backends(ALL), indirect=True)
def test_one_shot_reads_are_lazy_and_complete(target: Target) -> None:
    backend = target.make()
    read = backend.read_many(["M:OUTTMP", "G:AMANDA"])
    readings = read.pipe(rxops.to_list()).run()
    assert sorted(r.drf for r in readings) == ["G:AMANDA", "M:OUTTMP"] and all(r.ok for r in readings)


def _error_of(observable: object) -> BaseException | None:
    errors: list[BaseException] = []
    done = threading.Event()

    def fail(error: BaseException) -> None:
        errors.append(error)
        done.set()

    observable.subscribe(on_error=fail, on_completed=done.set)  # type: ignore[attr-defined]
    assert done.wait(10.0)
    return errors[0] if errors else None


# ----------------------------------------------------------------- 11. GSS off the I/O thread


@pytest.mark.parametrize("target", backends(("dmq",)), indirect=True)
def test_11_a_slow_kdc_never_stalls_running_dmq_streams(target: Target,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from pacsys_rx.backends.dmq import jobs
    from pacsys_rx.kerberos import ClientContext

    slow = threading.Event()

    class SlowKdc(ClientContext):
        def step(self, token: bytes | None) -> bytes | None:
            if slow.is_set():
                time.sleep(1.5)
            return super().step(token)

    monkeypatch.setattr(jobs, "ClientContext", SlowKdc)
    backend = target.make()
    seen = Recorder()
    backend.stream("M:OUTTMP@p,50").subscribe(seen.on_next, seen.on_error)
    wait_until(lambda: len(seen.data()) >= 5, what="the stream runs")
    slow.set()
    started = time.monotonic()
    backend.read("G:AMANDA").subscribe(on_error=lambda e: None)  # its context takes 1.5 s
    wait_for(lambda: False, timeout=1.5)
    during = [at for at in seen.arrivals if at > started]
    gaps = [b - a for a, b in zip([started, *during], during, strict=False)]
    assert len(during) >= 10 and max(gaps) < 0.7, f"the stream stalled {max(gaps, default=1.5):.2f} s"
