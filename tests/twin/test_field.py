from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from functools import cache

import pytest

from connectors.modbus.client import ModbusPoller
from connectors.opcua.client import OpcUaSubscriber
from models.contracts import Quality, SensorReading
from tests.conftest import free_port
from twin.field import FieldServers, modbus_data_valid, modbus_points, opcua_points
from twin.plant import Plant, load_plant
from twin.simulator import Simulator

START = 1_700_000_000.0


@cache
def demo() -> Plant:
    return load_plant()


def f32(x: float) -> float:
    """What a FLOAT32 register pair can hold of ``x``."""
    return float(struct.unpack(">f", struct.pack(">f", x))[0])


@pytest.fixture
async def field(no_leaks: None) -> AsyncIterator[FieldServers]:
    sim = Simulator(demo(), seed=42, start_s=START)
    servers = FieldServers(demo(), sim, modbus_port=free_port(), opcua_port=free_port())
    await servers.start(first_sample_s=START)  # the simulator's clock, not the wall clock
    try:
        yield servers
    finally:
        await servers.stop()


async def test_modbus_serves_the_simulated_values_of_every_tag(field: FieldServers) -> None:
    poller = ModbusPoller(field.host, field.modbus_port, modbus_points(demo()), timeout=1.0)
    try:
        for t in (START + 10, START + 11.5):
            produced = await field.step(t)
            polled = await poller.poll(now_ms=round(t * 1000))
            assert [r.tag for r in polled] == demo().tag_names
            for sim_r, bus_r in zip(produced, polled, strict=True):
                assert bus_r.quality is Quality.GOOD
                assert bus_r.value == f32(sim_r.value), sim_r.tag
        assert field.startup_s["opcua"] < 10  # measured, reported; asyncua init is ~1 s
    finally:
        await poller.close()


async def test_forced_excursion_shows_up_over_modbus(field: FieldServers) -> None:
    poller = ModbusPoller(field.host, field.modbus_port, modbus_points(demo()))
    try:
        sim = field.simulator
        # a quiet moment: no scheduled PT-101 upset at t, t + 20 or t + 90
        t = next(
            START + k
            for k in range(0, 3600, 5)
            if all(sim.scheduled_excursion("PT-101", START + k + d) is None for d in (0, 20, 90))
        )
        await field.step(t)
        before = {r.tag: r.value for r in await poller.poll()}
        assert before["PT-101"] < 1.6
        sim.trigger_excursion("PT-101", duration_s=60)  # "now" = last sampled time
        await field.step(t + 20)
        after = {r.tag: r for r in await poller.poll()}
        assert after["PT-101"].value > 1.75  # above hh
        assert after["TT-101"].value < 45  # other tags untouched
        await field.step(t + 90)
        assert {r.tag: r.value for r in await poller.poll()}["PT-101"] < 1.6
    finally:
        await poller.close()


async def test_opcua_subscriber_gets_simulator_values_and_timestamps(field: FieldServers) -> None:
    batches: list[list[SensorReading]] = []
    arrived = asyncio.Event()

    def on_readings(readings: list[SensorReading]) -> None:
        batches.append(readings)
        arrived.set()

    t = START + 30.25
    produced = {r.tag: r for r in await field.step(t)}
    sub = OpcUaSubscriber(field.opcua_url, opcua_points(demo()), on_readings, publishing_interval_ms=50)
    try:
        await sub.start()
        seen: dict[str, SensorReading] = {}
        async with asyncio.timeout(5):
            while len(seen) < len(produced):
                await arrived.wait()
                arrived.clear()
                seen.update({r.tag: r for batch in batches for r in batch})
        for tag, sim_r in produced.items():
            assert seen[tag].ts == sim_r.ts == 1_700_000_030_250
            assert seen[tag].value == sim_r.value  # Double: exact
            assert seen[tag].quality is Quality.GOOD and seen[tag].source == "opcua"
        assert len(batches) <= 2  # initial values come batched, not one call per tag
    finally:
        await sub.stop()


async def test_run_steps_on_the_wall_clock_grid(no_leaks: None) -> None:
    samples: list[list[SensorReading]] = []
    sim = Simulator(demo(), seed=1, start_s=START)
    servers = FieldServers(demo(), sim, modbus_port=free_port(), opcua_port=free_port(), on_sample=samples.append)
    await servers.start()
    try:
        stop = asyncio.Event()
        task = asyncio.create_task(servers.run(0.05, stop))
        async with asyncio.timeout(5):
            while len(samples) < 5:
                await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 1)
    finally:
        await servers.stop()
        await servers.stop()  # idempotent
    stamps = [batch[0].ts for batch in samples]
    assert all(ts % 50 == 0 for ts in stamps)
    assert stamps == sorted(set(stamps))
    assert all(len(batch) == len(demo().tags) for batch in samples)


# -- no reading the simulator did not produce ----------------------------------------------------


async def test_the_first_modbus_poll_reads_the_simulators_values_never_zeros(no_leaks: None) -> None:
    sim = Simulator(demo(), seed=42, start_s=START)
    first = START + 5.5
    servers = FieldServers(demo(), sim, modbus_port=free_port(), opcua_port=free_port())
    await servers.start(first_sample_s=first)
    poller = ModbusPoller(
        servers.host, servers.modbus_port, modbus_points(demo()), data_valid=modbus_data_valid(demo()), timeout=1.0
    )
    try:
        readings = await poller.poll()  # at once: no step() has run yet
        expected = {r.tag: f32(r.value) for r in sim.readings_at(first)}
        assert [r.tag for r in readings] == demo().tag_names
        assert {r.tag: r.value for r in readings} == expected
        assert all(r.quality is Quality.GOOD for r in readings)
        assert all(r.value != 0.0 for r in readings)
    finally:
        await poller.close()
        await servers.stop()


async def test_opcua_initial_notifications_are_the_first_sample_not_the_base_value(no_leaks: None) -> None:
    sim = Simulator(demo(), seed=42, start_s=START)
    first = START + 7.25
    first_ms = round(first * 1000)
    servers = FieldServers(demo(), sim, modbus_port=free_port(), opcua_port=free_port())
    batches: list[list[SensorReading]] = []
    sub = OpcUaSubscriber(servers.opcua_url, opcua_points(demo()), batches.append, publishing_interval_ms=50)
    await servers.start(first_sample_s=first)
    try:
        await sub.start()  # subscribed before the simulator's first step()
        async with asyncio.timeout(5):
            while len({r.tag for b in batches for r in b}) < len(demo().tags):
                await asyncio.sleep(0.02)
        await servers.step(first + 1)
        async with asyncio.timeout(5):
            while not any(r.ts == first_ms + 1000 for b in batches for r in b):
                await asyncio.sleep(0.02)
    finally:
        await sub.stop()
        await servers.stop()
    readings = [r for b in batches for r in b]
    produced = {r.tag: r.value for r in sim.readings_at(first)}
    base = {t.tag: t.sim.base for t in demo().tags}
    assert all(r.ts >= first_ms for r in readings)  # nothing stamped before the first write
    initial = [r for r in readings if r.ts == first_ms]
    assert len(initial) == len(demo().tags)
    assert all(r.value == produced[r.tag] and r.quality is Quality.GOOD for r in initial)
    assert not [r for r in readings if r.value == base[r.tag] and r.ts < first_ms]
    assert sub.dropped_before_first_sample == 0  # the server never showed a node without data


async def test_devices_serve_only_the_protocol_the_runtime_reads(no_leaks: None) -> None:
    """The runtime asks for its ingest protocol only; the other server is not started at all."""
    sim = Simulator(demo(), seed=42, start_s=START)
    servers = FieldServers(demo(), sim, modbus_port=free_port(), opcua_port=free_port(), protocols=("modbus",))
    await servers.start(first_sample_s=START)
    poller = ModbusPoller(servers.host, servers.modbus_port, modbus_points(demo()), timeout=1.0)
    try:
        produced = await servers.step(START + 1)
        polled = await poller.poll()
        assert [r.value for r in polled] == [f32(r.value) for r in produced]
        with pytest.raises(OSError):  # nothing listens on the OPC UA port
            _, writer = await asyncio.open_connection(servers.host, servers.opcua_port)
            writer.close()
    finally:
        await poller.close()
        await servers.stop()
    with pytest.raises(ValueError, match="protocols"):
        FieldServers(demo(), sim, modbus_port=free_port(), opcua_port=free_port(), protocols=("profibus",))
