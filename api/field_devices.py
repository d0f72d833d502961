"""The simulated plant's devices as the embedded runtime runs them, launchable before the platform loads.

Kept light (settings and the children's launchers only) so that ``safetwin run`` can launch
the devices and their connector first, before the 5 s of importing the API: they boot while
it loads.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from api.connector_process import launch_child
from api.settings import Settings
from twin.field_process import FieldConfig, FieldProcess


def field_config(settings: Settings) -> FieldConfig:
    """What the devices' child process needs: the plant, the seed, the ports, the protocol read."""
    return FieldConfig(
        plant_file=settings.plant_file,
        seed=settings.seed,
        modbus_port=settings.modbus_port,
        opcua_port=settings.opcua_port,
        mqtt_url=settings.mqtt_url,
        interval_s=settings.sim_interval_s,
        protocols=(settings.ingest,),
    )


@dataclass(frozen=True)
class LaunchedDevices:
    """The simulated devices and their connector's child, launched before the platform loaded."""

    field: FieldProcess
    connector: subprocess.Popen[bytes]


def launch_devices(settings: Settings) -> LaunchedDevices | None:
    """Launch the simulated devices and the connector's child now, for the runtime to adopt.

    None where the runtime would not run them: no simulator, or an API replica of the
    distributed mode (Kafka brokers set), whose plant runs elsewhere.
    """
    if not settings.simulate or settings.kafka_brokers:
        return None
    return LaunchedDevices(FieldProcess(field_config(settings)).launch(), launch_child())
