from reactivex.testing.marbles import marbles_testing

from pacsys_rx import operators as ops

from .support import check_completion_passes, check_disposal_releases, check_error_passes, rd


def test_for_device_keeps_the_named_devices() -> None:
    lookup = {"a": rd("A", 1.0), "b": rd("B", 2.0), "c": rd("C", 3.0)}
    with marbles_testing() as (start, _cold, hot, exp):
        source = hot("-a-b-c-a-|", lookup, None)
        assert start(source.pipe(ops.for_device("A", "C"))) == exp("-a---c-a-|", lookup, None)


def test_for_device_without_names_keeps_nothing() -> None:
    with marbles_testing() as (start, _cold, hot, exp):
        source = hot("-a-|", {"a": rd("A", 1.0)}, None)
        assert start(source.pipe(ops.for_device())) == exp("---|", None, None)


def test_for_device_error_propagates() -> None:
    check_error_passes(lambda _: ops.for_device("A"), rd("A", 1.0))


def test_for_device_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.for_device("A"), rd("A", 1.0))


def test_for_device_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.for_device("A"), rd("A", 1.0))
