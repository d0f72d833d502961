"""The distributed sensor flow against a real Kafka broker: raw topic in, store + topics out."""

from __future__ import annotations

import uuid

import pytest
from bytewax.testing import run_main
from kafka import KafkaConsumer, KafkaProducer

from api import flows
from api.settings import Settings
from connectors.kafka.admin import ensure_topics
from connectors.store import open_store
from models.contracts import SensorReading, decode_message, decode_readings, encode, now_ms

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_kafka_readings_reach_store_and_alarm_topic_and_bad_ones_deadletter(kafka_brokers, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = Settings(environment="test", data_dir=tmp_path, kafka_brokers=kafka_brokers, kafka_topic_prefix=prefix)
    ensure_topics(kafka_brokers, dict.fromkeys(flows.topics(settings).values(), 1))
    t0 = now_ms()
    producer = KafkaProducer(bootstrap_servers=kafka_brokers)
    good = [SensorReading(tag="TT-401", ts=t0 + i * 1000, value=v) for i, v in enumerate([70.0, 97.0, 70.0])]
    for r in good:
        producer.send(f"{prefix}.sensor.reading.raw", key=r.tag.encode(), value=encode(r))
    producer.send(f"{prefix}.sensor.reading.raw", value=b"\x00 not json")
    producer.send(f"{prefix}.sensor.reading.raw", value=encode(SensorReading(tag="NOPE-1", ts=t0, value=1.0)))
    producer.flush()
    producer.close()

    run_main(flows.sensors_flow(settings, tail=False))

    store = open_store("duckdb", duckdb_path=settings.resolved_duckdb_path)
    store.init_schema()
    assert store.count_readings("TT-401") == 3
    assert len(store.deadletters()) == 2
    events = sorted((a.ts, a.kind, a.state.value) for a in store.alarm_events())
    assert events == [
        (t0 + 1000, "H", "active"),
        (t0 + 1000, "HH", "active"),
        (t0 + 2000, "H", "returned"),
        (t0 + 2000, "HH", "returned"),
    ]
    store.close()

    consumer = KafkaConsumer(
        f"{prefix}.alarm.event", bootstrap_servers=kafka_brokers, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    alarms = [decode_message("alarm.event", m.value) for m in consumer]
    consumer.close()
    assert len(alarms) == 4 and all(a.source_id == "TT-401" for a in alarms)

    consumer = KafkaConsumer(
        f"{prefix}.sensor.reading",
        bootstrap_servers=kafka_brokers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    batches = [decode_readings(m.value) for m in consumer]
    consumer.close()
    assert sorted(r.ts for b in batches for r in b) == [r.ts for r in good]  # JSON arrays, one per batch
