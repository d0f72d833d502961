"""ModbusSource in real Bytewax flows against real pymodbus servers.

The servers run on an event loop in a background thread, because ``run_main`` blocks the
test's thread the way a real worker does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, cluster_main, run_main
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from connectors.modbus.client import RegisterPoint, encode_point
from connectors.modbus.scheduler import ModbusPollingGroup
from connectors.modbus.source import ModbusSource
from models.contracts import Quality, SensorReading
from tests.conftest import free_port

HOST = "127.0.0.1"
T = TypeVar("T")


class ServerThread:
    """pymodbus servers on their own event loop, so a blocking flow can poll them."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="modbus-test-servers", daemon=True)
        self.servers: dict[int, ModbusTcpServer] = {}

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start_device(self) -> int:
        port = free_port()

        async def start() -> ModbusTcpServer:
            device = SimDevice(id=1, simdata=[SimData(address=0, count=50, values=0, datatype=DataType.REGISTERS)])
            server = ModbusTcpServer(context=device, address=(HOST, port))
            await server.serve_forever(background=True)
            return server

        self.servers[port] = self.call(start())
        return port

    def write(self, port: int, point: RegisterPoint, value: float) -> None:
        self.call(self.servers[port].async_setValues(1, 16, point.address, encode_point(point, value)))

    def stop(self) -> None:
        for server in self.servers.values():
            self.call(server.shutdown())  # type: ignore[no-untyped-call]
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def devices() -> Iterator[ServerThread]:
    st = ServerThread()
    st.thread.start()
    yield st
    st.stop()


PT = RegisterPoint(tag="PT-101", address=0)
TT = RegisterPoint(tag="TT-101", address=2, datatype="int16", scale=0.1)
LT = RegisterPoint(tag="LT-101", address=0, byte_order="CDAB")


def flow_of(source: ModbusSource, out: list[Any]) -> Dataflow:
    flow = Dataflow("modbus_source")
    readings = op.input("in", flow, source)
    # readings: SensorReading, one per point per poll
    op.output("out", readings, TestingSink(out))
    return flow


@pytest.mark.parametrize("workers", [1, 2])
def test_groups_are_polled_once_per_tick_across_workers(devices: ServerThread, workers: int) -> None:
    plc1, plc2 = devices.start_device(), devices.start_device()
    devices.write(plc1, PT, 0.85)
    devices.write(plc1, TT, 21.5)
    devices.write(plc2, LT, 6.25)
    source = ModbusSource(
        [
            ModbusPollingGroup("plc1-fast", 0.05, HOST, plc1, (PT, TT)),
            ModbusPollingGroup("plc2-slow", 0.1, HOST, plc2, (LT,)),
        ],
        polls=3,
    )
    out: list[Any] = []
    if workers == 1:
        run_main(flow_of(source, out))
    else:
        cluster_main(flow_of(source, out), [], 0, worker_count_per_proc=2)
    assert all(isinstance(r, SensorReading) and r.quality is Quality.GOOD for r in out)
    counts = {tag: sum(r.tag == tag for r in out) for tag in ("PT-101", "TT-101", "LT-101")}
    assert counts == {"PT-101": 3, "TT-101": 3, "LT-101": 3}  # every tag once per poll, never twice
    assert {r.tag: r.value for r in out} == {"PT-101": pytest.approx(0.85), "TT-101": 21.5, "LT-101": 6.25}


def test_a_dead_device_never_blocks_next_batch(devices: ServerThread) -> None:
    live = devices.start_device()
    devices.write(live, PT, 1.5)
    dead = free_port()  # nothing listens: connect is refused, then backed off
    source = ModbusSource(
        [
            ModbusPollingGroup("live", 0.05, HOST, live, (PT,)),
            ModbusPollingGroup("dead", 0.05, HOST, dead, (RegisterPoint(tag="AT-901", address=0),), timeout_s=1.0),
        ]
    )
    parts = {name: source.build_part("in", name, None) for name in source.list_parts()}
    got: dict[str, list[SensorReading]] = {"live": [], "dead": []}
    try:
        deadline = time.monotonic() + 5
        while (len(got["live"]) < 5 or not got["dead"]) and time.monotonic() < deadline:
            for name, part in parts.items():
                t0 = time.monotonic()
                got[name].extend(part.next_batch())
                assert time.monotonic() - t0 < 0.05  # drains a queue, never does I/O
                awake = part.next_awake()
                assert awake is None or awake.tzinfo is not None
            time.sleep(0.01)
        assert parts["live"].snapshot() is None
    finally:
        for part in parts.values():
            part.close()
    assert len(got["live"]) >= 5 and all(r.quality is Quality.GOOD and r.value == 1.5 for r in got["live"])
    assert got["dead"] and all(r.quality is Quality.BAD for r in got["dead"])


def test_empty_partition_asks_to_be_woken_later(devices: ServerThread) -> None:
    port = devices.start_device()
    source = ModbusSource([ModbusPollingGroup("slow", 10.0, HOST, port, (PT,))], idle_pause=timedelta(seconds=0.2))
    part = source.build_part("in", "slow", None)
    try:
        assert part.next_batch() == []
        awake = part.next_awake()
        assert awake is not None
    finally:
        part.close()
    with pytest.raises(ValueError, match="duplicate polling group"):
        ModbusSource([ModbusPollingGroup("a", 1, HOST, port, (PT,))] * 2)
