r"""Dataflows of the distributed mode, composed from settings for ``python -m bytewax.run``.

Production runs the same sensor flow as the embedded mode, but reads raw readings from Kafka
(``safetwin.sensor.reading.raw``, published by the field gateways) and writes to the
configured store plus one Kafka topic per output stream (``safetwin.sensor.reading``,
``safetwin.alarm.event``, ``safetwin.deadletter``), which API replicas consume for live push.
Offsets live in Bytewax recovery state; the store is idempotent. Run::

    SAFETWIN_KAFKA_BROKERS='["kafka:9092"]' SAFETWIN_STORE=clickhouse SAFETWIN_CLICKHOUSE_DSN=http://ch:8123 \\
      python -m bytewax.run api.flows:sensors -r /shared/recovery -s 5 -b 0
"""

from __future__ import annotations

from bytewax.dataflow import Dataflow

from api.runtime import tag_limits
from api.settings import Settings
from connectors.kafka.admin import topic_for
from connectors.kafka.sink import KafkaSink
from connectors.kafka.source import KafkaSource
from connectors.store import open_store
from connectors.store.sink import StoreSink
from models.contracts import ALARM_EVENT, DEADLETTER, SENSOR_READING
from pipelines.sensors.flow import build_flow
from twin.plant import load_plant

RAW_READINGS_TOPIC = topic_for(SENSOR_READING) + ".raw"


def sensors_flow(settings: Settings, *, tail: bool = True) -> Dataflow:
    """Kafka raw readings -> quality and limits -> store + per-stream Kafka topics."""
    if not settings.kafka_brokers:
        msg = "the distributed sensor flow needs SAFETWIN_KAFKA_BROKERS"
        raise ValueError(msg)
    plant = load_plant(settings.plant_file)
    store = open_store(
        settings.store, duckdb_path=settings.resolved_duckdb_path, clickhouse_dsn=settings.clickhouse_dsn
    )
    store.init_schema()
    brokers = settings.kafka_brokers
    return build_flow(
        tag_limits(plant),
        KafkaSource(brokers, RAW_READINGS_TOPIC, SENSOR_READING, tail=tail),
        [StoreSink(store)],
        stream_sinks={s: KafkaSink(brokers, topic_for(s)) for s in (SENSOR_READING, ALARM_EVENT, DEADLETTER)},
        clock=None,  # event time only: a replay after recovery re-derives identical alarms
        flow_id="sensors_distributed",
    )


def sensors() -> Dataflow:
    """``python -m bytewax.run api.flows:sensors`` entry (settings from the environment)."""
    return sensors_flow(Settings())
