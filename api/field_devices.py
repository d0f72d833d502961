"""The simulated plant's devices as the embedded runtime runs them, launchable before the platform loads.

Kept light (settings and the child's launcher only) so that ``safetwin run`` can launch the
devices first, before the 5 s of importing the API: the devices then boot while it loads.
"""

from __future__ import annotations

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


def launch_devices(settings: Settings) -> FieldProcess | None:
    """Launch the simulated devices now, for the runtime to adopt (``Runtime(devices=...)``).

    None where the runtime would not run them: no simulator, or an API replica of the
    distributed mode (Kafka brokers set), whose plant runs elsewhere.
    """
    if not settings.simulate or settings.kafka_brokers:
        return None
    return FieldProcess(field_config(settings)).launch()
