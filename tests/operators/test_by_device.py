from typing import Any

from reactivex import operators as rx_ops
from reactivex.testing import TestScheduler

from pacsys_rx import operators as ops

from .support import (
    check_completion_passes,
    check_disposal_releases,
    check_error_passes,
    on_completed,
    on_next,
    outputs,
    rd,
)


def test_by_device_groups_readings_by_device() -> None:
    scheduler = TestScheduler()
    a1, b1, a2 = rd("A", 1.0), rd("B", 2.0), rd("A", 3.0)
    source = scheduler.create_hot_observable(on_next(210, a1), on_next(220, b1), on_next(230, a2),
                                             on_completed(240))

    def grouped() -> Any:
        return source.pipe(
            ops.by_device(),
            rx_ops.flat_map(lambda g: g.pipe(rx_ops.to_list(), rx_ops.map(lambda xs: (g.key, xs)))),
        )

    results = scheduler.start(grouped)
    assert sorted(outputs(results.messages)) == [("A", [a1, a2]), ("B", [b1])]
    assert results.messages[-1] == on_completed(240)


def test_by_device_error_propagates() -> None:
    check_error_passes(lambda _: ops.by_device(), rd("A", 1.0))


def test_by_device_completion_propagates() -> None:
    check_completion_passes(lambda _: ops.by_device(), rd("A", 1.0))


def test_by_device_disposal_unsubscribes() -> None:
    check_disposal_releases(lambda _: ops.by_device(), rd("A", 1.0))
