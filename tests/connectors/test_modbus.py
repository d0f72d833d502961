from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from connectors.contracts import Quality
from connectors.modbus.client import (
    MAX_REGISTERS_PER_READ,
    ModbusPoller,
    RegisterPoint,
    decode_point,
    encode_point,
    plan_blocks,
)
from tests.conftest import free_port

HOST = "127.0.0.1"
TS = 1_700_000_000_000


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks or threads behind."""
    tasks = asyncio.all_tasks()
    threads = set(threading.enumerate())
    yield
    for _ in range(50):
        leaked = [t for t in asyncio.all_tasks() - tasks if t is not asyncio.current_task() and not t.done()]
        extra = [t for t in set(threading.enumerate()) - threads if not t.name.startswith("asyncio_")]
        if not leaked and not extra:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"leaked tasks {leaked} / threads {extra}")


async def start_server(port: int, registers: int = 100) -> ModbusTcpServer:
    device = SimDevice(id=1, simdata=[SimData(address=0, count=registers, values=0, datatype=DataType.REGISTERS)])
    server = ModbusTcpServer(context=device, address=(HOST, port))
    await server.serve_forever(background=True)
    return server


async def write(server: ModbusTcpServer, point: RegisterPoint, value: float) -> None:
    await server.async_setValues(point.device_id, 16, point.address, encode_point(point, value))


POINTS_AND_VALUES = [
    (RegisterPoint(tag="F32-BIG", address=0), 21.5),
    (RegisterPoint(tag="F32-LITTLE", address=2, word_order="little"), -1.5),
    (RegisterPoint(tag="F64-BIG", address=4, datatype="float64"), 1234.5678),
    (RegisterPoint(tag="F64-LITTLE", address=8, datatype="float64", word_order="little"), -0.000125),
    (RegisterPoint(tag="I16", address=12, datatype="int16"), -1234),
    (RegisterPoint(tag="U16-SCALED", address=13, datatype="uint16", scale=0.1, offset=-40.0), 21.3),
    (RegisterPoint(tag="I32-LITTLE", address=14, datatype="int32", word_order="little"), -70000),
    (RegisterPoint(tag="U32-SCALED", address=16, datatype="uint32", scale=0.01), 123456.78),
    # far away: a separate block read
    (RegisterPoint(tag="FAR", address=90, scale=2.0, offset=1.0), 7.0),
]


async def test_word_orders_datatypes_and_scaling(no_leaks: None) -> None:
    port = free_port()
    server = await start_server(port)
    poller = ModbusPoller(HOST, port, [p for p, _ in POINTS_AND_VALUES], timeout=0.5)
    try:
        for point, value in POINTS_AND_VALUES:
            await write(server, point, value)
        readings = await poller.poll(now_ms=TS)
        assert len(poller.blocks) == 2
        assert [r.tag for r in readings] == [p.tag for p, _ in POINTS_AND_VALUES]
        for (point, value), reading in zip(POINTS_AND_VALUES, readings, strict=True):
            assert reading.quality is Quality.GOOD, point.tag
            assert reading.ts == TS and reading.source == "modbus"
            rel = 1e-6 if point.datatype == "float32" else 1e-9
            assert reading.value == pytest.approx(value, rel=rel, abs=1e-9), point.tag
    finally:
        await poller.close()
        await server.shutdown()


async def test_little_word_order_really_swaps_words() -> None:
    big = RegisterPoint(tag="A", address=0)
    little = RegisterPoint(tag="A", address=0, word_order="little")
    assert encode_point(big, 21.5) == [16812, 0]
    assert encode_point(little, 21.5) == [0, 16812]
    assert decode_point(little, [0, 16812]) == 21.5


async def test_device_exception_marks_only_its_block_bad(no_leaks: None) -> None:
    port = free_port()
    server = await start_server(port, registers=20)
    good = RegisterPoint(tag="GOOD", address=0)
    missing = RegisterPoint(tag="MISSING", address=500)  # outside the device's registers
    poller = ModbusPoller(HOST, port, [missing, good], timeout=0.5)
    try:
        await write(server, good, 3.25)
        readings = await poller.poll(now_ms=TS)
        assert [(r.tag, r.quality) for r in readings] == [("MISSING", Quality.BAD), ("GOOD", Quality.GOOD)]
        assert readings[0].value == 0.0  # no good value seen yet; contract needs a finite value
        assert readings[1].value == 3.25
        assert poller.connected  # a device error is not a connection problem
    finally:
        await poller.close()
        await server.shutdown()


async def test_lost_server_gives_bad_then_recovers_after_restart(no_leaks: None) -> None:
    port = free_port()
    point = RegisterPoint(tag="PT-101", address=0)
    server = await start_server(port)
    poller = ModbusPoller(HOST, port, [point], timeout=0.5, initial_backoff_s=0.05, max_backoff_s=0.2)
    try:
        await write(server, point, 0.75)
        assert (await poller.poll())[0].quality is Quality.GOOD
        await server.shutdown()
        await asyncio.sleep(0.05)

        down = await poller.poll()
        assert down[0].quality is Quality.BAD
        assert down[0].value == 0.75  # hold the last good value
        assert not poller.connected
        assert (await poller.poll())[0].quality is Quality.BAD

        server = await start_server(port)
        await write(server, point, 1.25)
        for _ in range(50):
            reading = (await poller.poll())[0]
            if reading.quality is Quality.GOOD:
                break
            await asyncio.sleep(0.02)
        assert reading.quality is Quality.GOOD
        assert reading.value == 1.25
    finally:
        await poller.close()
        await server.shutdown()


async def test_unreachable_device_never_raises_and_backs_off(no_leaks: None) -> None:
    port = free_port()  # nothing listens here
    poller = ModbusPoller(HOST, port, [RegisterPoint(tag="X", address=0)], timeout=0.2, initial_backoff_s=60)
    try:
        first = await poller.poll(now_ms=TS)
        assert [(r.tag, r.quality, r.ts) for r in first] == [("X", Quality.BAD, TS)]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for _ in range(20):  # in back-off: no connect attempt, so these are instant
            assert (await poller.poll())[0].quality is Quality.BAD
        assert loop.time() - t0 < 0.1
        assert not await poller.connect()
    finally:
        await poller.close()


def test_points_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown datatype"):
        RegisterPoint(tag="X", address=0, datatype="float16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not fit"):
        RegisterPoint(tag="X", address=65535)
    with pytest.raises(ValueError, match="duplicate tags"):
        ModbusPoller(HOST, 502, [RegisterPoint(tag="X", address=0), RegisterPoint(tag="X", address=2)])


point_lists = st.lists(
    st.builds(
        RegisterPoint,
        tag=st.uuids().map(str),
        address=st.integers(min_value=0, max_value=2000),
        datatype=st.sampled_from(["float32", "int16", "uint16", "int32", "uint32", "float64"]),
        device_id=st.integers(min_value=1, max_value=3),
    ),
    max_size=300,
)


@given(points=point_lists, max_gap=st.integers(min_value=0, max_value=40))
def test_block_plan_covers_every_point_within_protocol_limits(points: list[RegisterPoint], max_gap: int) -> None:
    blocks = plan_blocks(points, max_gap=max_gap)
    covered = [p for b in blocks for p in b.points]
    assert sorted(covered, key=id) == sorted(points, key=id)
    for b in blocks:
        assert 1 <= b.count <= MAX_REGISTERS_PER_READ
        for p in b.points:
            assert p.device_id == b.device_id
            assert b.address <= p.address and p.address + p.width <= b.address + b.count


def test_block_plan_merges_neighbours_and_splits_at_125() -> None:
    points = [RegisterPoint(tag=f"T{i}", address=2 * i) for i in range(100)]  # 200 registers
    blocks = plan_blocks(points)
    assert [(b.address, b.count) for b in blocks] == [(0, 124), (124, 76)]
