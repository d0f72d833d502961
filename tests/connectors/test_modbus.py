from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from connectors.modbus.client import (
    MAX_BITS_PER_READ,
    MAX_REGISTERS_PER_READ,
    ModbusPoller,
    RegisterPoint,
    decode_point,
    decode_raw,
    encode_point,
    encode_raw,
    plan_blocks,
)
from models.contracts import Quality
from tests.conftest import free_port

HOST = "127.0.0.1"
TS = 1_700_000_000_000


LEAK_GRACE_S = 1.0  # the no_leaks fixture (tests/conftest.py): Modbus stops at once


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
        # never heard from: nothing to judge, so no readings (not BAD ones holding 0.0)
        assert await poller.poll(now_ms=TS) == []
        assert poller.waiting_devices == {1}
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for _ in range(20):  # in back-off: no connect attempt, so these are instant
            assert await poller.poll() == []
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


# -- byte order ---------------------------------------------------------------------------------

BYTE_ORDER_LAYOUTS = {  # 21.5 as FLOAT32 is 0x41AC0000: bytes A=41 B=AC C=00 D=00
    "ABCD": [0x41AC, 0x0000],
    "CDAB": [0x0000, 0x41AC],
    "BADC": [0xAC41, 0x0000],
    "DCBA": [0x0000, 0xAC41],
}


@pytest.mark.parametrize(("order", "registers"), BYTE_ORDER_LAYOUTS.items())
def test_byte_orders_lay_out_a_float_as_devices_do(order: str, registers: list[int]) -> None:
    point = RegisterPoint(tag="TT-101", address=0, byte_order=order)  # type: ignore[arg-type]
    assert encode_point(point, 21.5) == registers
    assert decode_point(point, registers) == 21.5


def test_byte_order_applies_to_16_and_64_bit_values() -> None:
    assert encode_raw(RegisterPoint(tag="A", address=0, datatype="uint16", byte_order="BADC"), 0x1234) == [0x3412]
    assert encode_raw(RegisterPoint(tag="A", address=0, datatype="uint16", byte_order="CDAB"), 0x1234) == [0x1234]
    f64 = RegisterPoint(tag="A", address=0, datatype="float64", byte_order="DCBA")
    assert encode_raw(f64, 1.0) == [0x0000, 0x0000, 0x0000, 0xF03F]  # 0x3FF0000000000000 fully reversed
    # word_order stays as it was; byte_order supersedes it, and contradictions are refused
    assert RegisterPoint(tag="A", address=0, word_order="little").swaps == (True, False)
    assert RegisterPoint(tag="A", address=0, word_order="little", byte_order="DCBA").swaps == (True, True)
    with pytest.raises(ValueError, match="contradicts"):
        RegisterPoint(tag="A", address=0, word_order="little", byte_order="ABCD")
    with pytest.raises(ValueError, match="byte_order must be"):
        RegisterPoint(tag="A", address=0, byte_order="ACBD")  # type: ignore[arg-type]


INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
}


@given(
    datatype=st.sampled_from(["float32", "float64", *INT_RANGES]),
    order=st.sampled_from(list(BYTE_ORDER_LAYOUTS)),
    data=st.data(),
)
def test_every_byte_order_round_trips_every_datatype(datatype: str, order: str, data: st.DataObject) -> None:
    point = RegisterPoint(tag="X", address=0, datatype=datatype, byte_order=order)  # type: ignore[arg-type]
    if datatype in INT_RANGES:
        lo, hi = INT_RANGES[datatype]
        raw: float = data.draw(st.integers(min_value=lo, max_value=hi))
    else:
        width = 32 if datatype == "float32" else 64
        raw = data.draw(st.floats(allow_nan=False, allow_infinity=False, width=width))
    registers = encode_raw(point, raw)
    assert len(registers) == point.width and all(0 <= r <= 0xFFFF for r in registers)
    assert decode_raw(point, registers) == raw


async def test_poller_reads_all_four_byte_orders_from_a_device(no_leaks: None) -> None:
    port = free_port()
    server = await start_server(port)
    points = [
        RegisterPoint(tag=f"TT-{order}", address=2 * i, byte_order=order)  # type: ignore[arg-type]
        for i, order in enumerate(BYTE_ORDER_LAYOUTS)
    ]
    poller = ModbusPoller(HOST, port, points, timeout=0.5)
    try:
        for point, registers in zip(points, BYTE_ORDER_LAYOUTS.values(), strict=True):
            await server.async_setValues(1, 16, point.address, registers)
        readings = await poller.poll(now_ms=TS)
        assert [(r.tag, r.value, r.quality) for r in readings] == [(p.tag, 21.5, Quality.GOOD) for p in points]
    finally:
        await poller.close()
        await server.shutdown()


# -- 4-20 mA spans ------------------------------------------------------------------------------

# An S7 analog input card: 4..20 mA -> 0..27648; the transmitter ranges 0..2.5 MPa.
PT_SPAN = {"raw_lo": 0.0, "raw_hi": 27648.0, "eng_lo": 0.0, "eng_hi": 2.5}


def test_linear_span_converts_raw_counts_to_engineering_units() -> None:
    pt = RegisterPoint(tag="PT-101", address=0, datatype="int16", **PT_SPAN)
    assert decode_point(pt, [0]) == 0.0
    assert decode_point(pt, [13824]) == 1.25
    assert decode_point(pt, [27648]) == 2.5
    # raw in mA*1000 (4000..20000) on a level transmitter 0..16 m
    lt = RegisterPoint(tag="LT-101", address=0, datatype="uint16", raw_lo=4000, raw_hi=20000, eng_lo=0, eng_hi=16)
    assert decode_point(lt, [12000]) == 8.0
    assert encode_point(lt, 4.0) == [8000]
    # a reverse-acting span (eng_lo > eng_hi) is a straight line too
    rev = RegisterPoint(tag="X", address=0, datatype="uint16", raw_lo=4000, raw_hi=20000, eng_lo=100, eng_hi=0)
    assert decode_point(rev, [8000]) == 75.0
    with pytest.raises(ValueError, match="needs all of"):
        RegisterPoint(tag="X", address=0, raw_lo=0, raw_hi=1)
    with pytest.raises(ValueError, match="must be finite and differ"):
        RegisterPoint(tag="X", address=0, raw_lo=1, raw_hi=1, eng_lo=0, eng_hi=1)
    with pytest.raises(ValueError, match="not both"):
        RegisterPoint(tag="X", address=0, scale=2.0, **PT_SPAN)


@given(
    raw_lo=st.floats(-1e6, 1e6),
    width=st.floats(1e-3, 1e6),
    eng_lo=st.floats(-1e6, 1e6),
    eng_width=st.floats(1e-3, 1e6) | st.floats(-1e6, -1e-3),
    fraction=st.floats(-0.5, 1.5),
)
def test_span_is_linear_and_invertible(
    raw_lo: float, width: float, eng_lo: float, eng_width: float, fraction: float
) -> None:
    p = RegisterPoint(
        tag="X", address=0, raw_lo=raw_lo, raw_hi=raw_lo + width, eng_lo=eng_lo, eng_hi=eng_lo + eng_width
    )
    raw = raw_lo + fraction * width
    eng = p.to_engineering(raw)
    assert eng == pytest.approx(eng_lo + fraction * eng_width, rel=1e-6, abs=1e-6 * (1 + abs(eng_width)))
    assert p.to_raw(eng) == pytest.approx(raw, rel=1e-6, abs=1e-6 * (1 + width + abs(raw_lo)))
    assert p.raw_in_span(raw) == (raw_lo <= raw <= raw_lo + width)


async def test_out_of_span_raw_values_are_out_of_range_not_good(no_leaks: None) -> None:
    port = free_port()
    server = await start_server(port)
    pt = RegisterPoint(tag="PT-101", address=0, datatype="int16", **PT_SPAN)
    poller = ModbusPoller(HOST, port, [pt], timeout=0.5)
    try:
        await server.async_setValues(1, 16, 0, [20736])  # 75 % of span
        ok = (await poller.poll(now_ms=TS))[0]
        assert (ok.value, ok.quality) == (1.875, Quality.GOOD)
        await server.async_setValues(1, 16, 0, [32767])  # card's overflow code: wire break / over range
        over = (await poller.poll(now_ms=TS))[0]
        assert over.quality is Quality.OUT_OF_RANGE and over.value > 2.5
        await server.async_setValues(1, 16, 0, encode_raw(pt, -4864))  # under range (< 4 mA)
        under = (await poller.poll(now_ms=TS))[0]
        assert under.quality is Quality.OUT_OF_RANGE and under.value < 0
        await server.shutdown()
        await asyncio.sleep(0.05)
        down = (await poller.poll(now_ms=TS))[0]
        assert (down.quality, down.value) == (Quality.BAD, 1.875)  # holds the last GOOD value only
    finally:
        await poller.close()
        await server.shutdown()


# -- input registers, coils, discrete inputs ----------------------------------------------------


async def start_four_table_server(port: int) -> ModbusTcpServer:
    """A device with separate coil, discrete-input, holding and input-register tables."""
    device = SimDevice(
        id=1,
        simdata=(
            [SimData(address=0, count=64, values=False, datatype=DataType.BITS)],
            [SimData(address=0, count=64, values=False, datatype=DataType.BITS)],
            [SimData(address=0, count=32, values=0, datatype=DataType.REGISTERS)],
            [SimData(address=0, count=32, values=0, datatype=DataType.REGISTERS)],
        ),
    )
    server = ModbusTcpServer(context=device, address=(HOST, port))
    await server.serve_forever(background=True)
    return server


async def test_input_registers_coils_and_discrete_inputs(no_leaks: None) -> None:
    port = free_port()
    server = await start_four_table_server(port)
    points = [
        RegisterPoint(tag="PT-101", address=0, table="holding"),
        RegisterPoint(tag="TT-101", address=0, table="input", datatype="int16", scale=0.1),
        RegisterPoint(tag="P-101.RUN", address=3, table="coil", datatype="bool"),
        RegisterPoint(tag="XV-101.ZSO", address=4, table="coil", datatype="bool"),
        RegisterPoint(tag="LSHH-101", address=40, table="discrete", datatype="bool"),
    ]
    poller = ModbusPoller(HOST, port, points, timeout=0.5)
    try:
        await server.async_setValues(1, 16, 0, encode_point(points[0], 0.85))
        await server.async_setValues(1, 4, 0, encode_point(points[1], -12.5))  # input registers
        await server.async_setValues(1, 15, 3, [True, False])  # coils 3, 4
        await server.async_setValues(1, 2, 40, [True])  # discrete input 40
        readings = await poller.poll(now_ms=TS)
        assert {b.table for b in poller.blocks} == {"holding", "input", "coil", "discrete"}
        values = {r.tag: r.value for r in readings}
        assert values == {
            "PT-101": pytest.approx(0.85),
            "TT-101": pytest.approx(-12.5),
            "P-101.RUN": 1.0,
            "XV-101.ZSO": 0.0,
            "LSHH-101": 1.0,
        }
        assert all(r.quality is Quality.GOOD for r in readings)
        # the same address in another table is another value
        await server.async_setValues(1, 15, 3, [False])
        assert (await poller.poll(now_ms=TS))[2].value == 0.0
    finally:
        await poller.close()
        await server.shutdown()


def test_bit_tables_need_bool_points_and_plan_larger_blocks() -> None:
    with pytest.raises(ValueError, match="single bits"):
        RegisterPoint(tag="X", address=0, table="coil")
    coils = [RegisterPoint(tag=f"C{i}", address=i * 10, table="coil", datatype="bool") for i in range(300)]
    blocks = plan_blocks(coils)
    assert [(b.table, b.address, b.count) for b in blocks] == [("coil", 0, 1991), ("coil", 2000, 991)]
    assert all(b.count <= MAX_BITS_PER_READ for b in blocks)
    mixed = plan_blocks([RegisterPoint(tag="H", address=0), RegisterPoint(tag="I", address=0, table="input")])
    assert [(b.table, b.address, b.count) for b in mixed] == [("holding", 0, 2), ("input", 0, 2)]


# -- first valid sample -------------------------------------------------------------------------


async def test_a_device_yields_nothing_until_its_data_valid_point_says_so(no_leaks: None) -> None:
    port = free_port()
    server = await start_server(port, registers=20)
    pt = RegisterPoint(tag="PT-101", address=0)
    lt = RegisterPoint(tag="LT-101", address=2, device_id=1)
    flag = RegisterPoint(tag="_valid", address=10, datatype="uint16")
    poller = ModbusPoller(HOST, port, [pt, lt], timeout=0.5, data_valid={1: flag})
    try:
        # zero-filled registers of a device that has not written its values: not readings
        assert await poller.poll(now_ms=TS) == []
        await write(server, pt, 0.75)
        assert await poller.poll(now_ms=TS) == []  # a value, but the device has not said "valid"
        assert poller.waiting_devices == {1}
        await write(server, lt, 6.5)
        await server.async_setValues(1, 16, flag.address, [1])
        first = await poller.poll(now_ms=TS)
        assert [(r.tag, r.value, r.quality) for r in first] == [
            ("PT-101", 0.75, Quality.GOOD),
            ("LT-101", 6.5, Quality.GOOD),
        ]
        assert poller.waiting_devices == frozenset()
        # the device withdraws validity (e.g. lost its field bus): BAD, holding the last value
        await server.async_setValues(1, 16, flag.address, [0])
        held = await poller.poll(now_ms=TS)
        assert [(r.tag, r.value, r.quality) for r in held] == [
            ("PT-101", 0.75, Quality.BAD),
            ("LT-101", 6.5, Quality.BAD),
        ]
    finally:
        await poller.close()
        await server.shutdown()
    with pytest.raises(ValueError, match="duplicate tags"):
        ModbusPoller(HOST, port, [pt], data_valid={1: RegisterPoint(tag="PT-101", address=10)})
    with pytest.raises(ValueError, match="is on device 1, not 2"):
        ModbusPoller(HOST, port, [pt], data_valid={2: flag})


async def test_without_a_data_valid_point_the_first_successful_read_counts(no_leaks: None) -> None:
    port = free_port()
    server = await start_server(port, registers=20)
    on_1 = RegisterPoint(tag="PT-101", address=0)
    on_7 = RegisterPoint(tag="TT-701", address=0, device_id=7)  # no such unit on this server
    poller = ModbusPoller(HOST, port, [on_1, on_7], timeout=0.5)
    try:
        await write(server, on_1, 1.25)
        readings = await poller.poll(now_ms=TS)
        # unit 1 answered; unit 7 answers with an exception and was never valid: nothing of it
        assert [(r.tag, r.value, r.quality) for r in readings] == [("PT-101", 1.25, Quality.GOOD)]
        assert poller.waiting_devices == {7}
    finally:
        await poller.close()
        await server.shutdown()


async def test_a_large_device_is_handed_over_in_chunks_stamped_when_read(no_leaks: None) -> None:
    """1,000 FLOAT32 tags (17 block reads): chunks arrive as blocks are read, each stamped at its first request.

    The data-valid point sits after the last tag, in the last block of the address map, yet it
    is read first: the first chunk is already judged valid, and once the PLC drops the flag to
    0 every chunk of the next poll is BAD, the early ones included.
    """
    port = free_port()
    points = [RegisterPoint(tag=f"TT-{i:04d}", address=2 * i) for i in range(1000)]
    flag = RegisterPoint(tag="_valid", address=2000, datatype="uint16")
    server = await start_server(port, registers=2010)
    poller = ModbusPoller(HOST, port, points, timeout=2.0, data_valid={1: flag})
    try:
        for p in points:
            await write(server, p, p.address / 2 + 0.5)
        await server.async_setValues(1, 16, flag.address, [1])
        assert poller.blocks[0].address + poller.blocks[0].count > flag.address  # the flag's block first

        chunks, handed = [], []
        async for chunk in poller.poll_chunks(chunk_points=250):
            handed.append(time.time() * 1000)
            chunks.append(chunk)
        assert len(chunks) >= 3
        readings = [r for c in chunks for r in c]
        assert sorted(r.tag for r in readings) == sorted(p.tag for p in points)  # each tag once
        assert all(r.quality is Quality.GOOD and r.value == int(r.tag[3:]) + 0.5 for r in readings)
        stamps = [c[0].ts for c in chunks]
        assert all(len({r.ts for r in c}) == 1 for c in chunks)  # one sample time per chunk
        assert stamps == sorted(stamps)
        assert all(ts <= at for ts, at in zip(stamps, handed, strict=True))
        # The chunks together are the same poll as poll(): same tags, same values.
        whole = await poller.poll()
        assert [r.tag for r in whole] == [p.tag for p in points]

        await server.async_setValues(1, 16, flag.address, [0])
        bad = [c async for c in poller.poll_chunks(chunk_points=250)]
        assert len(bad) >= 3 and all(r.quality is Quality.BAD for c in bad for r in c)
    finally:
        await poller.close()
        await server.shutdown()


async def test_a_connection_lost_mid_poll_makes_the_rest_of_the_poll_bad(no_leaks: None) -> None:
    port = free_port()
    points = [RegisterPoint(tag=f"FT-{i:04d}", address=2 * i) for i in range(600)]
    server = await start_server(port, registers=1210)
    poller = ModbusPoller(HOST, port, points, timeout=0.5, initial_backoff_s=0.05)
    try:
        for p in points:
            await write(server, p, 1.0)
        assert all(r.quality is Quality.GOOD for r in await poller.poll())
        chunks = []
        async for chunk in poller.poll_chunks(chunk_points=100):
            chunks.append(chunk)
            if len(chunks) == 1:
                await server.shutdown()  # the device goes away after the first chunk
        readings = [r for c in chunks for r in c]
        assert sorted(r.tag for r in readings) == sorted(p.tag for p in points)
        assert all(r.quality is Quality.GOOD for r in chunks[0])
        assert readings[-1].quality is Quality.BAD and readings[-1].value == 1.0  # last good value held
        assert not poller.connected
    finally:
        await poller.close()
