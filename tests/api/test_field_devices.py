"""``safetwin run`` launches the simulated devices before it loads the platform; the runtime adopts them.

Why: the devices take about 3 s to boot and the API about 5 s to import; one after the other
they made the first reading come 3 s after the API was up (bench/latency.py). Launched first,
they boot meanwhile, and the runtime only waits for the same child, never a second one.
"""

from __future__ import annotations

import socket
from pathlib import Path

import psutil

from api.field_devices import launch_devices
from api.settings import Settings
from tests.conftest import free_port


def _field_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children() if "twin.field_process" in " ".join(p.cmdline())]


async def test_launched_devices_are_waited_for_not_started_again(tmp_path: Path) -> None:
    settings = Settings(
        environment="test", data_dir=tmp_path, ingest="opcua", opcua_port=free_port(), modbus_port=free_port()
    )
    devices = launch_devices(settings)
    assert devices is not None
    try:
        launched = _field_children()
        assert len(launched) == 1, "launching does not wait for the devices, but starts them"
        await devices.start()  # what the runtime does once the platform is loaded
        assert [p.pid for p in _field_children()] == [launched[0].pid]
        with socket.create_connection(("127.0.0.1", settings.opcua_port), timeout=5):
            pass  # the OPC UA server accepts connections once start() returns
    finally:
        await devices.stop()
    assert _field_children() == []


def test_no_devices_are_launched_where_the_runtime_would_not_run_them(tmp_path: Path) -> None:
    assert launch_devices(Settings(environment="test", data_dir=tmp_path, simulate=False)) is None
    replica = Settings(environment="test", data_dir=tmp_path, kafka_brokers=["127.0.0.1:9092"])
    assert launch_devices(replica) is None, "a replica of the distributed mode reads a plant that runs elsewhere"
    assert _field_children() == []
