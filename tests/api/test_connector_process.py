"""The connector in its own process: scans arrive whole, failures are reported, nothing is left running.

Real parts: the simulated devices (twin.field_process) serve Modbus TCP / OPC UA on free
ports and ``python -m api.connector_process`` reads them as the runtime does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from api.connector_process import ConnectorConfig, ConnectorProcess, ConnectorProcessError
from api.settings import Settings
from models.contracts import Quality, SensorReading
from tests.conftest import free_port
from twin.field_process import FieldConfig, FieldProcess
from twin.generate import generate_plant, write_plant
from twin.plant import load_plant

PLANT_FILE = Settings().plant_file


@pytest.fixture
async def devices(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, int]]:
    kind: str = request.param
    async with _devices(kind, PLANT_FILE) as port:
        yield kind, port


@contextlib.asynccontextmanager
async def _devices(kind: str, plant_file: Path) -> AsyncIterator[int]:
    port = free_port()
    other = free_port()
    field = FieldProcess(
        FieldConfig(
            plant_file=plant_file,
            seed=7,
            modbus_port=port if kind == "modbus" else other,
            opcua_port=port if kind == "opcua" else other,
            mqtt_url=None,
            interval_s=0.25,
            protocols=(kind,),
        )
    )
    await field.start()
    try:
        yield port
    finally:
        await field.stop()


async def _until(pred: object, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("timed out")
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("devices", ["modbus", "opcua"], indirect=True)
async def test_every_tag_of_the_plant_arrives_from_the_connector_process(devices: tuple[str, int]) -> None:
    kind, port = devices
    scans: list[list[SensorReading]] = []
    connector = ConnectorProcess(
        ConnectorConfig(kind=kind, plant_file=str(PLANT_FILE), port=port, interval_s=0.25),  # type: ignore[arg-type]
        scans.append,
    )
    await connector.start()
    tags = set(load_plant(PLANT_FILE).tag_names)
    try:
        await _until(lambda: tags <= {r.tag for scan in scans for r in scan}, 20)
    finally:
        await connector.stop()
    readings = [r for scan in scans for r in scan]
    assert all(isinstance(r, SensorReading) for r in readings)
    assert {r.source for r in readings} == {kind}
    assert any(r.quality == Quality.GOOD for r in readings)
    assert not connector.alive and connector.error is None  # a stop asked for is not an error


async def test_a_connector_that_cannot_reach_its_devices_says_why() -> None:
    connector = ConnectorProcess(
        ConnectorConfig(kind="opcua", plant_file=str(PLANT_FILE), port=free_port(), timeout_s=1.0), lambda _: None
    )
    with pytest.raises(ConnectorProcessError, match="failed to start"):
        await connector.start(timeout_s=60)
    assert not connector.alive


@pytest.mark.parametrize("devices", ["modbus"], indirect=True)
async def test_a_connector_process_that_dies_is_reported(devices: tuple[str, int]) -> None:
    _, port = devices
    connector = ConnectorProcess(
        ConnectorConfig(kind="modbus", plant_file=str(PLANT_FILE), port=port, interval_s=0.25), lambda _: None
    )
    await connector.start()
    try:
        assert connector._proc is not None
        os.kill(connector._proc.pid, signal.SIGKILL)
        await _until(lambda: connector.error is not None, 10)
        assert "exited" in (connector.error or "")
    finally:
        await connector.stop()


@pytest.mark.slow
async def test_a_large_subscription_hands_over_the_scans_that_come_before_it_is_ready(tmp_path: Path) -> None:
    """3,000 tags are subscribed in three requests; the first ones notify while the rest are created."""
    plant_file = write_plant(generate_plant(3_000, seed=3), tmp_path / "plant.json")
    tags = set(load_plant(plant_file).tag_names)
    scans: list[list[SensorReading]] = []
    async with _devices("opcua", plant_file) as port:
        connector = ConnectorProcess(
            ConnectorConfig(kind="opcua", plant_file=str(plant_file), port=port, interval_s=1.0), scans.append
        )
        await connector.start(timeout_s=120)
        try:
            await _until(lambda: tags <= {r.tag for scan in scans for r in scan}, 60)
        finally:
            await connector.stop()
    assert connector.error is None


_FRAME_AFTER_STDIN_CLOSES = """
import sys
from api.connector_process import _LENGTH, Status, _encode
sys.stdin.buffer.read()
payload = _encode(Status("ready"))
sys.stdout.buffer.write(_LENGTH.pack(len(payload)) + payload)
sys.stdout.buffer.flush()
"""


async def test_a_frame_that_arrives_while_the_connector_stops_does_not_break_the_stop() -> None:
    """CI once failed here: the child's last frame arrived after ``stop`` had let go of the process.

    The child below answers the closing of its stdin with one more frame, so the reader
    resumes after ``stop`` began, every time (the real connectors do it sometimes).
    """
    connector = ConnectorProcess(ConnectorConfig(kind="modbus", plant_file=str(PLANT_FILE), port=1), lambda _: None)
    connector._proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _FRAME_AFTER_STDIN_CLOSES, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    connector._reader = asyncio.create_task(connector._read_scans())
    await asyncio.sleep(0.2)
    await connector.stop()
    assert not connector.alive and connector.error is None
