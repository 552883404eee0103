"""DevDB through the gRPC backend against the simulator: alarm info, alarm texts, described alarm events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import reactivex

import pacsys_rx as prx
from pacsys_rx import operators as ops
from pacsys_rx.backends.grpc.backend import GRPCBackend
from pacsys_rx.backends.grpc.devdb_alarms import texts_by_device
from pacsys_rx.sim import Simulator


@pytest.fixture(scope="module")
def grpc() -> Iterator[GRPCBackend]:
    with Simulator(servers=["grpc"]) as sim:
        options = sim.client_options("grpc")
        backend = prx.grpc(**options, devdb_host=options["host"], devdb_port=options["port"], devdb_tls=False)
        assert isinstance(backend, GRPCBackend)
        with backend:
            yield backend


def test_alarm_info_lists_each_alarm_block_with_its_text_id(grpc: GRPCBackend) -> None:
    infos = grpc.alarm_info(["Z:ACLTST", "M:OUTTMP", "Z:NOSUCH"])
    assert [(i.device, i.analog) for i in infos] == [("Z:ACLTST", True), ("Z:ACLTST", False)]
    assert all(i.text_id is not None and i.tries_needed >= 1 for i in infos)


def test_alarm_texts_answer_known_ids_only(grpc: GRPCBackend) -> None:
    texts = grpc.alarm_texts([1, 2, 999])
    assert sorted(texts) == [1, 2]
    assert texts[1].text == "Z:ACLTST outside its alarm limits" and texts[1].priority == 5


def test_alarm_events_get_devdb_text_and_priority(grpc: GRPCBackend) -> None:
    infos = grpc.alarm_info(["Z:ACLTST"])
    texts = texts_by_device(infos, grpc.alarm_texts(i.text_id for i in infos if i.text_id))
    reading = grpc.read("Z:ACLTST").run()
    described = reactivex.of(reading).pipe(ops.limits(-1.0, 1.0), ops.describe_alarms(texts)).run()
    assert described.text == "Z:ACLTST outside its alarm limits" and described.priority == 5


def test_device_info_carries_status_bits_and_control_commands(grpc: GRPCBackend) -> None:
    info = grpc.device_info("Z:ACLTST")
    assert [b.long_name for b in info.status_bits or ()] == ["OnOff", "Ready", "Polarity", "RampDC"]
    assert [(c.short_name, c.value) for c in info.control or ()][:3] == [("RESET", 3), ("ON", 1), ("OFF", 2)]
