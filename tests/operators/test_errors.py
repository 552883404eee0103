from dataclasses import replace

from reactivex.testing.marbles import marbles_testing

from pacsys_rx import operators as ops
from pacsys_rx.model import AcnetStatus

from .support import check_completion_passes, check_disposal_releases, check_error_passes, err, rd


def test_errors_keeps_only_error_readings() -> None:
    warning = replace(rd("A", 1.0), status=AcnetStatus(17, 1))
    lookup = {"a": rd("A", 1.0), "w": warning, "e": err("A"), "f": err("B")}
    with marbles_testing() as (start, _cold, hot, exp):
        source = hot("-a-e-w-f-|", lookup, None)
        assert start(source.pipe(ops.errors())) == exp("---e---f-|", lookup, None)


def test_errors_error_propagates() -> None:
    check_error_passes(lambda _: ops.errors(), err("A"))


def test_errors_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.errors(), err("A"))


def test_errors_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.errors(), err("A"))
