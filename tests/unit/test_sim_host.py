"""The simulator host with a test-double protocol server (a tiny line-based TCP echo of readings)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pacsys_rx.drf import parse_request
from pacsys_rx.sim import ServerDisabled, SimContext, SimServer, Simulator, SimulatorError
from pacsys_rx.sim.engine import Batch
from pacsys_rx.sim.server import load_server


class LineServer(SimServer):
    """Answers each line ``DRF`` with ``value`` of one ``@I`` reading; records the fault hooks it got."""

    name = "line"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.paused = False
        self.delay = 0.0
        self.thread_ids: set[int] = set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._context: SimContext | None = None

    async def start(self, context: SimContext) -> str:
        self.thread_ids.add(threading.get_ident())
        self._context = context
        self._server = await asyncio.start_server(self._serve, context.config.host, context.port(self.name))
        self.bound_port = self._server.sockets[0].getsockname()[1]
        return f"{context.config.host}:{self.bound_port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._context is not None
        self._writers.add(writer)
        engine = self._context.engine
        try:
            while line := await reader.readline():
                done: asyncio.Future[Batch] = asyncio.get_running_loop().create_future()
                engine.subscribe([parse_request(line.decode().strip())], done.set_result)
                batch = await done
                await asyncio.sleep(self.delay)
                if not self.paused:
                    writer.write(f"{batch[0][1].value}\n".encode())
        finally:
            self._writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        self.calls.append("stop")
        if self._server is not None:
            self._server.close()
            await self.drop_connections()
            await self._server.wait_closed()

    def counters(self) -> dict[str, int]:
        return {"connections": len(self._writers)}

    async def drop_connections(self) -> None:
        self.calls.append("drop")
        for writer in list(self._writers):
            writer.transport.abort()

    def pause(self) -> None:
        self.calls.append("pause")
        self.paused = True

    def resume(self) -> None:
        self.calls.append("resume")
        self.paused = False

    def corrupt_next_frame(self) -> None:
        self.calls.append("corrupt")

    def set_reply_delay(self, seconds: float) -> None:
        self.calls.append(f"delay {seconds}")
        self.delay = seconds


class Disabled(LineServer):
    async def start(self, context: SimContext) -> str:
        raise ServerDisabled("no broker configured")


def ask(endpoint: str, line: str) -> str:
    host, port = endpoint.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(line.encode() + b"\n")
        return conn.makefile().readline().strip()


def test_endpoints_readings_and_settings_through_a_server() -> None:
    server = LineServer()
    with Simulator(seed=1, servers={"line": server, "off": Disabled()}) as sim:
        assert sim.disabled == {"off": "no broker configured"}
        assert float(ask(sim.endpoints["line"], "G:AMANDA@I")) == 66.0
        identity = sim.permissions.identity("me@FNAL.GOV")
        assert sim.call(lambda: sim.model.apply_setting(parse_request("Z:ACLTST"), 3.5, identity)).is_ok
        assert float(ask(sim.endpoints["line"], "Z:ACLTST.SETTING@I")) == 3.5
        assert server.thread_ids == {sim.call(threading.get_ident)}
    assert not sim.running and "stop" in server.calls


def test_fault_hooks_delegate_to_the_named_server() -> None:
    server = LineServer()
    with Simulator(servers={"line": server}) as sim:
        sim.pause("line")
        sim.resume("line")
        sim.corrupt_next_frame("line")
        sim.set_reply_delay("line", 0.0)
        sim.drop_connections("line")
        assert sim.counters("line") == {"connections": 0}
        with pytest.raises(KeyError, match="running: line"):
            sim.pause("dpm")
    assert server.calls[:5] == ["pause", "resume", "corrupt", "delay 0.0", "drop"]


def test_restart_keeps_the_port() -> None:
    with Simulator(servers={"line": LineServer()}) as sim:
        before = sim.endpoints["line"]
        assert sim.restart("line") == before
        assert float(ask(before, "G:AMANDA@I")) == 66.0


def test_call_runs_coroutines_and_functions_on_the_loop() -> None:
    async def where() -> int:
        await asyncio.sleep(0)
        return threading.get_ident()

    with Simulator(servers={}) as sim:
        loop_thread = sim.call(where())
        assert loop_thread != threading.get_ident()
        assert sim.call(threading.get_ident) == loop_thread
        with pytest.raises(ZeroDivisionError):
            sim.call(lambda: 1 / 0)
    with pytest.raises(SimulatorError, match="not running"):
        sim.call(threading.get_ident)


def test_real_time_driver_delivers_periodic_readings() -> None:
    received: list[Any] = []
    with Simulator(servers={}) as sim:
        sim.call(lambda: sim.engine.subscribe([parse_request("M:OUTTMP@p,20")], received.extend))
        time.sleep(0.2)
    assert 5 <= len(received) <= 15
    assert all(sample.ok for _, sample in received)


def test_missing_server_modules_are_not_available() -> None:
    with Simulator(servers={"dpm": "pacsys_rx.sim.no_such_server"}) as sim:
        assert sim.disabled == {"dpm": "not available"} and sim.endpoints == {}


def test_a_server_module_with_a_missing_dependency_is_an_error_not_a_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sim_server_with_missing_dependency.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        load_server("x", "sim_server_with_missing_dependency", None)  # type: ignore[arg-type]


def test_start_failure_stops_everything() -> None:
    class Broken(LineServer):
        async def start(self, context: SimContext) -> str:
            raise OSError("address in use")

    sim = Simulator(servers={"line": LineServer(), "broken": Broken()})
    with pytest.raises(SimulatorError, match="broken server failed to start: address in use"):
        sim.start()
    assert not sim.running
