"""Connection health (pacsys_rx.backends.health) and its feed from the gap bookkeeping (``Outage``)."""

from __future__ import annotations

from pacsys_rx.backends._gaps import CONNECTION_LOST, Outage, gap_reading
from pacsys_rx.backends.health import ConnectionHealth, HealthBoard, HealthState, ReportsHealth


def watch(board: HealthBoard) -> list[ConnectionHealth]:
    seen: list[ConnectionHealth] = []
    board.observe().subscribe(seen.append)
    return seen


def names(seen: list[ConnectionHealth]) -> list[tuple[str, str, str | None]]:
    return [(h.server, h.state.name, h.reason) for h in seen]


def test_one_connection_goes_through_every_state_once_per_outage() -> None:
    board = HealthBoard("dpm")
    seen = watch(board)
    outage = Outage(board.link("h:1"))
    outage.end()
    outage.end()
    assert outage.begin("connection reset") and not outage.begin("still down")
    outage.end()
    assert names(seen) == [("h:1", "CONNECTING", None), ("h:1", "UP", None),
                           ("h:1", "DOWN", "connection reset"), ("h:1", "RECOVERED", None)]
    assert all(h.backend == "dpm" for h in seen) and seen[-1].up and not seen[2].up


def test_a_server_is_down_while_any_of_its_connections_is() -> None:
    board = HealthBoard("grpc")
    first, second, other = board.link("a:1"), board.link("a:1"), board.link("b:2")
    seen = watch(board)
    for link in (first, second, other):
        link.up()
    first.lost("dropped")
    second.lost("dropped")
    first.up()
    assert board.current()[0].state is HealthState.DOWN
    second.up()
    assert names(seen) == [("a:1", "CONNECTING", None), ("b:2", "CONNECTING", None), ("a:1", "UP", None),
                           ("b:2", "UP", None), ("a:1", "DOWN", "dropped"), ("a:1", "RECOVERED", None)]


def test_a_new_connection_to_a_working_server_changes_nothing_and_closed_ones_stop_counting() -> None:
    board = HealthBoard("dmq")
    first = board.link("broker")
    first.up()
    seen = watch(board)
    second = board.link("broker")
    second.lost("never connected")
    second.close()
    second.up()
    assert names(seen) == [("broker", "UP", None), ("broker", "DOWN", "never connected"),
                           ("broker", "RECOVERED", None)]
    first.close()
    assert board.current() == []
    assert names(watch(board)) == []


def test_disposed_subscribers_hear_nothing_more() -> None:
    board = HealthBoard("dpm")
    seen: list[ConnectionHealth] = []
    subscription = board.observe().subscribe(seen.append)
    link = board.link("h:1")
    subscription.dispose()
    link.up()
    assert names(seen) == [("h:1", "CONNECTING", None)]


def test_streaming_backends_share_one_board_each() -> None:
    class Streaming(ReportsHealth):
        name = "fake"

    backend = Streaming()
    assert backend.health_board is backend.health_board
    assert backend.health_board.backend == "fake"
    seen: list[ConnectionHealth] = []
    backend.health().subscribe(seen.append)
    backend.health_board.link("x").up()
    assert [h.state for h in seen] == [HealthState.CONNECTING, HealthState.UP]


def test_gap_readings_are_gap_readings() -> None:
    reading = gap_reading("M:OUTTMP.READING@p,1000", "M:OUTTMP", "dpm", "reset", units="degF")
    assert reading.is_gap and reading.status == CONNECTION_LOST and reading.value is None
    assert reading.message == "connection lost, resubscribing: reset" and reading.units == "degF"


def test_a_subscriber_that_raises_is_unsubscribed_and_the_others_go_on() -> None:
    board = HealthBoard("dmq")
    calls: list[ConnectionHealth] = []

    def bad(health: ConnectionHealth) -> None:
        calls.append(health)
        raise RuntimeError("subscriber bug")

    board.observe().subscribe(bad)
    seen = watch(board)
    link = board.link("h:1")
    link.up()
    link.lost("reset")
    assert len(calls) == 1
    assert names(seen) == [("h:1", "CONNECTING", None), ("h:1", "UP", None), ("h:1", "DOWN", "reset")]


def test_close_completes_every_subscriber_and_later_ones_at_once() -> None:
    board = HealthBoard("dpm")
    board.link("h:1")
    completed: list[str] = []
    board.observe().subscribe(on_completed=lambda: completed.append("first"))
    board.close()
    board.observe().subscribe(on_completed=lambda: completed.append("late"))
    assert completed == ["first", "late"]
