"""``safetwin run`` launches the simulated devices and their connector before it loads the platform.

Why: the devices take about 3 s to boot, the connector's child about 1 s to load, and the API
about 5 s to import; one after the other they made the first reading come 3 s after the API
was up (bench/latency.py). Launched first, they boot meanwhile, and the runtime adopts the
same children, never starting second ones.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import psutil

from api.connector_process import ConnectorConfig, ConnectorProcess
from api.field_devices import launch_devices
from api.settings import Settings
from models.contracts import SensorReading
from tests.conftest import free_port


def _children(module: str) -> list[int]:
    return [p.pid for p in psutil.Process().children() if module in " ".join(p.cmdline())]


async def test_launched_devices_and_connector_are_adopted_not_started_again(tmp_path: Path) -> None:
    settings = Settings(
        environment="test", data_dir=tmp_path, ingest="opcua", opcua_port=free_port(), modbus_port=free_port()
    )
    launched = launch_devices(settings)
    assert launched is not None
    field_pids, connector_pids = _children("twin.field_process"), _children("api.connector_process")
    assert len(field_pids) == 1 and len(connector_pids) == 1, "launching starts both, waiting for neither"
    scans: list[list[SensorReading]] = []
    config = ConnectorConfig(kind="opcua", plant_file=str(settings.plant_file), port=settings.opcua_port)
    connector = ConnectorProcess(config, scans.append, child=launched.connector)
    try:
        await launched.field.start()  # what the runtime does once the platform is loaded
        await connector.start()
        deadline = asyncio.get_running_loop().time() + 20
        while not scans and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        assert scans, "no reading came through the adopted connector"
        assert _children("twin.field_process") == field_pids
        assert _children("api.connector_process") == connector_pids
    finally:
        await connector.stop()
        await launched.field.stop()
    assert _children("twin.field_process") == _children("api.connector_process") == []


def test_no_devices_are_launched_where_the_runtime_would_not_run_them(tmp_path: Path) -> None:
    assert launch_devices(Settings(environment="test", data_dir=tmp_path, simulate=False)) is None
    replica = Settings(environment="test", data_dir=tmp_path, kafka_brokers=["127.0.0.1:9092"])
    assert launch_devices(replica) is None, "a replica of the distributed mode reads a plant that runs elsewhere"
    assert _children("twin.field_process") == _children("api.connector_process") == []
