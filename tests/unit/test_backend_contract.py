"""The Observable backend contract, exercised through FakeBackend."""

from __future__ import annotations

import asyncio

import pytest
import reactivex
from polling import wait_for
from reactivex import operators as rxops
from reactivex.testing import TestScheduler

import pacsys_rx as prx
from pacsys_rx.errors import BackendClosed, BackendUnavailable, DRFError, NotSupported, WriteOutcomeUnknown
from pacsys_rx.model import AcnetStatus, Reading, ValueType, WriteResult
from pacsys_rx.testing import FakeBackend


def collect(observable: reactivex.Observable) -> tuple[list, list, list]:
    items: list = []
    errors: list = []
    done: list = []
    observable.subscribe(items.append, errors.append, lambda: done.append(True))
    return items, errors, done


def test_read_emits_one_reading_then_completes() -> None:
    fake = FakeBackend({"M:OUTTMP": 72.5})
    items, errors, done = collect(fake.read("M:OUTTMP"))
    assert [r.value for r in items] == [72.5]
    assert items[0].drf == "M:OUTTMP" and items[0].device == "M:OUTTMP"
    assert items[0].value_type is ValueType.SCALAR and items[0].ok
    assert items[0].timestamp.tzinfo is not None
    assert errors == [] and done == [True]


def test_read_blocking_with_run() -> None:
    fake = FakeBackend({"G:AMANDA": 1.5})
    assert fake.read("G:AMANDA").run().value == 1.5


def test_read_many_one_reading_per_request() -> None:
    fake = FakeBackend({"M:OUTTMP": 1.0, "G:AMANDA": 2.0})
    items, errors, done = collect(fake.read_many(["M:OUTTMP", "G:AMANDA", "Z:NOSUCH"]))
    assert [r.drf for r in items] == ["M:OUTTMP", "G:AMANDA", "Z:NOSUCH"]
    assert done == [True] and errors == []


def test_error_reading_is_a_value_not_an_error() -> None:
    fake = FakeBackend()
    items, errors, done = collect(fake.read("Z:NOSUCH"))
    assert errors == [] and done == [True]
    assert items[0].is_error and not items[0].ok and items[0].value is None
    assert items[0].status == AcnetStatus.named("DBM_NOPROP")


def test_read_many_of_nothing_completes_at_once() -> None:
    items, errors, done = collect(FakeBackend().read_many([]))
    assert (items, errors, done) == ([], [], [True])


def test_bad_drf_raises_before_anything_is_sent() -> None:
    fake = FakeBackend()
    with pytest.raises(DRFError, match=r"M:OUTTMP\[5:2\]"):
        fake.read("M:OUTTMP[5:2]")
    with pytest.raises(DRFError):
        fake.stream(["M:OUTTMP@p,1000", "M:OUTTMP@X"])
    with pytest.raises(DRFError):
        fake.write("AB", 1.0)
    assert fake.writes == []


def test_wrong_argument_types_give_type_errors() -> None:
    fake = FakeBackend()
    with pytest.raises(TypeError, match="str"):
        fake.read_many([1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="timeout"):
        fake.read("M:OUTTMP", timeout=-1)
    with pytest.raises(ValueError, match="timeout"):
        FakeBackend(timeout=0)


def test_timeout_yields_backend_unavailable_in_virtual_time() -> None:
    scheduler = TestScheduler()
    fake = FakeBackend(answer=False, scheduler=scheduler, timeout=2.0)
    results = scheduler.start(lambda: fake.read("M:OUTTMP"), created=0, subscribed=100, disposed=10_000)
    assert len(results.messages) == 1
    time, notification = results.messages[0].time, results.messages[0].value
    assert notification.kind == "E" and isinstance(notification.exception, BackendUnavailable)
    assert time == 102.0  # subscribed at 100, timeout of 2 s (TestScheduler ticks are seconds)


def test_timeout_keeps_what_was_received() -> None:
    scheduler = TestScheduler()
    fake = FakeBackend({"M:OUTTMP": 1.0}, scheduler=scheduler, timeout=1.0)
    original = fake._start_reads

    def answer_first_only(requests, sink):  # type: ignore[no-untyped-def]
        return original(requests[:1], sink)

    fake._start_reads = answer_first_only  # type: ignore[method-assign]
    results = scheduler.start(lambda: fake.read_many(["M:OUTTMP", "G:AMANDA"]))
    kinds = [m.value.kind for m in results.messages]
    assert kinds == ["N", "E"]
    assert results.messages[0].value.value.value == 1.0


def test_write_to_reading_is_sent_as_setting_with_never_event() -> None:
    fake = FakeBackend()
    items, _errors, done = collect(fake.write("M:OUTTMP", 45.0))
    assert fake.writes == [("M:OUTTMP.SETTING@N", 45.0)]
    assert isinstance(items[0], WriteResult) and items[0].ok and items[0].drf == "M:OUTTMP.SETTING@N"
    assert done == [True]
    assert fake.read("M:OUTTMP").run().value == 45.0


def test_write_conversion_status_to_control() -> None:
    fake = FakeBackend()
    fake.write_many([("Z|ACLTST", 1), ("Z:ACLTST.STATUS.RAW@p,1000", 2)]).run()
    assert fake.writes == [("Z:ACLTST.CONTROL@N", 1), ("Z:ACLTST.CONTROL.RAW@N", 2)]


def test_write_timeout_after_sending_reports_unknown_outcome() -> None:
    scheduler = TestScheduler()
    fake = FakeBackend(answer=False, scheduler=scheduler, timeout=1.0)
    results = scheduler.start(lambda: fake.write("Z:ACLTST", 3.0))
    error = results.messages[-1].value.exception
    assert isinstance(error, WriteOutcomeUnknown) and isinstance(error, BackendUnavailable)
    assert fake.writes == [("Z:ACLTST.SETTING@N", 3.0)]


def test_stream_shares_one_server_subscription_and_releases_it() -> None:
    fake = FakeBackend()
    first: list[Reading] = []
    second: list[Reading] = []
    a = fake.stream("M:OUTTMP@p,1000").subscribe(first.append)
    b = fake.stream(["m:outtmp.read@p,1000"]).subscribe(second.append)
    assert fake.server_subscriptions == {"M:OUTTMP.READING@p,1000": 1}
    assert fake.opened == [("M:OUTTMP.READING@p,1000",)]
    fake.emit("M:OUTTMP@p,1000", 70.0)
    assert wait_for(lambda: [r.value for r in first] == [70.0] and [r.value for r in second] == [70.0])
    assert first[0].drf == "M:OUTTMP.READING@p,1000"
    a.dispose()
    assert fake.server_subscriptions == {"M:OUTTMP.READING@p,1000": 1}
    fake.emit("M:OUTTMP@p,1000", 71.0)
    assert len(first) == 1 and [r.value for r in second] == [70.0, 71.0]
    b.dispose()
    assert fake.server_subscriptions == {} and fake.subscription_count() == 0


def test_resubscribing_after_release_opens_again() -> None:
    fake = FakeBackend()
    fake.stream("G:AMANDA@p,500").subscribe().dispose()
    fake.stream("G:AMANDA@p,500").subscribe()
    assert len(fake.opened) == 2 and fake.server_subscriptions == {"G:AMANDA.READING@p,500": 1}


def test_stream_of_several_drfs_opens_only_the_new_ones() -> None:
    fake = FakeBackend()
    fake.stream("M:OUTTMP@p,1000").subscribe()
    fake.stream(["M:OUTTMP@p,1000", "G:AMANDA@p,1000"]).subscribe()
    assert fake.opened == [("M:OUTTMP.READING@p,1000",), ("G:AMANDA.READING@p,1000",)]


def test_stream_error_readings_are_values() -> None:
    fake = FakeBackend()
    items, errors, _ = collect(fake.stream("M:OUTTMP@p,1000"))
    fake.emit("M:OUTTMP@p,1000", status=AcnetStatus.named("DPM_PEND"), value=1.0)
    fake.emit("M:OUTTMP@p,1000", status=AcnetStatus.named("DIO_NOATT"))
    assert errors == [] and [r.ok for r in items] == [True, False]


def test_stream_failure_beyond_retry_reaches_on_error_and_frees_the_drf() -> None:
    fake = FakeBackend()
    _items, errors, _ = collect(fake.stream("M:OUTTMP@p,1000"))
    fake.fail_streams(BackendUnavailable("gone"))
    assert isinstance(errors[0], BackendUnavailable) and fake.subscription_count() == 0


def test_close_completes_streams_and_rejects_new_work() -> None:
    with FakeBackend() as fake:
        _items, _errors, done = collect(fake.stream("M:OUTTMP@p,1000"))
    assert done == [True] and fake.server_subscriptions == {} and fake.closed
    for observable in (fake.read("M:OUTTMP"), fake.stream("M:OUTTMP@p,1000"), fake.write("Z:ACLTST", 1.0)):
        _items, errors, _done = collect(observable)
        assert isinstance(errors[0], BackendClosed)


def test_read_only_backend_refuses_writes_with_not_supported() -> None:
    class ReadOnly(FakeBackend):
        capabilities = prx.Capability.READ

    _items, errors, _done = collect(ReadOnly().write("Z:ACLTST", 1.0))
    assert isinstance(errors[0], NotSupported) and "read-only" in str(errors[0])
    _items, errors, _done = collect(ReadOnly().stream("M:OUTTMP@p,1000"))
    assert isinstance(errors[0], NotSupported) and "stream" in str(errors[0])


def test_streams_compose_with_rx_operators() -> None:
    fake = FakeBackend()
    values: list[float] = []
    fake.stream("M:OUTTMP@p,1000").pipe(
        rxops.map(lambda r: r.value), rxops.filter(lambda v: v > 1)).subscribe(values.append)
    for v in (0.5, 1.5, 2.5):
        fake.emit("M:OUTTMP@p,1000", v)
    assert values == [1.5, 2.5]


def test_iterate_blocks_until_items_and_disposes_on_exit() -> None:
    fake = FakeBackend()
    with prx.iterate(fake.stream("M:OUTTMP@p,1000"), timeout=1.0) as it:
        fake.emit("M:OUTTMP@p,1000", 1.0)
        fake.emit("M:OUTTMP@p,1000", 2.0)
        assert [next(it).value, next(it).value] == [1.0, 2.0]
        assert fake.subscription_count() == 1
    assert fake.subscription_count() == 0


def test_iterate_ends_on_completion_and_raises_on_timeout() -> None:
    fake = FakeBackend({"M:OUTTMP": 3.0})
    assert [r.value for r in prx.iterate(fake.read("M:OUTTMP"), timeout=1.0)] == [3.0]
    with prx.iterate(reactivex.never(), timeout=0.01) as it, pytest.raises(BackendUnavailable):
        next(it)


def test_iterate_is_bounded_and_counts_drops() -> None:
    fake = FakeBackend()
    with prx.iterate(fake.stream("M:OUTTMP@p,1000"), timeout=1.0, maxsize=2) as it:
        for v in range(5):
            fake.emit("M:OUTTMP@p,1000", float(v))
        assert it.dropped == 3
        assert [next(it).value, next(it).value] == [3.0, 4.0]


def test_iterate_reraises_the_source_error() -> None:
    with prx.iterate(reactivex.throw(BackendUnavailable("down")), timeout=1.0) as it, \
            pytest.raises(BackendUnavailable, match="down"):
        next(it)


def test_aiter_yields_items_in_async_for() -> None:
    async def main() -> list[int]:
        return [x async for x in prx.aiter(reactivex.from_iterable([1, 2, 3]))]

    assert asyncio.run(main()) == [1, 2, 3]


def test_aiter_break_disposes_the_stream() -> None:
    fake = FakeBackend()

    async def main() -> float:
        stream = prx.aiter(fake.stream("M:OUTTMP@p,1000"))
        asyncio.get_running_loop().call_soon(fake.emit, "M:OUTTMP@p,1000", 9.0)
        async for reading in stream:
            await stream.aclose()
            return reading.value
        raise AssertionError("no reading")

    assert asyncio.run(main()) == 9.0
    assert fake.subscription_count() == 0


def test_factory_of_a_missing_backend_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from pacsys_rx import factories

    monkeypatch.setitem(factories._BACKENDS, "dpm", ("pacsys_rx.backends.absent", "X", "DPM/HTTP"))
    with pytest.raises(NotImplementedError, match=r"DPM/HTTP backend \(dpm\)"):
        prx.dpm()


def test_typed_errors_for_bounded_buffers() -> None:
    with pytest.raises(ValueError, match="overflow"):
        prx.iterate(reactivex.empty(), overflow="grow")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        prx.iterate(reactivex.empty(), maxsize=0)


def test_missing_credentials_reach_on_error_before_anything_is_opened() -> None:
    class NeedsTicket(FakeBackend):
        def _check_read_auth(self) -> None:
            raise prx.AuthenticationError("no ticket")

        _check_write_auth = _check_read_auth

    backend = NeedsTicket()
    for observable in (backend.read("M:OUTTMP"), backend.stream("M:OUTTMP@p,1000"),
                       backend.write("Z:ACLTST", 1.0)):
        _items, errors, _done = collect(observable)
        assert isinstance(errors[0], prx.AuthenticationError) and "no ticket" in str(errors[0])
    assert backend.opened == [] and backend.writes == []


def test_acnet_status_checks_its_numbers_but_wire_values_never_raise() -> None:
    with pytest.raises(ValueError, match=r"facility 0\.\.255"):
        AcnetStatus(1, 1000)
    assert AcnetStatus(17, 239) is AcnetStatus(17, -17) is AcnetStatus.from_code(-4335)
    assert AcnetStatus.from_wire(17 + 256, 239).name == "DPM_PRIV"
