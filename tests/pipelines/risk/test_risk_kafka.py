"""The distributed risk entry (``api.flows:risk``) against a real Kafka broker.

Alarm events and readings on the sensor flow's output topics and a register event on
``<prefix>.risk.input`` in; scores on ``<prefix>.risk.score`` and in the store out.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from bytewax.testing import run_main
from kafka import KafkaConsumer, KafkaProducer

from api import flows
from api.settings import Settings
from connectors.kafka.admin import ensure_topics, topic_for
from connectors.store import open_store
from models.contracts import AlarmEvent, AlarmPriority, AlarmState, RiskLevel, SensorReading, decode_message, encode
from models.risk import RISK_INPUT, SpecialWork

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_kafka_inputs_give_scores_on_the_topic_and_in_the_store(kafka_brokers: list[str], tmp_path: Path) -> None:
    prefix = f"r{uuid.uuid4().hex[:8]}"
    settings = Settings(environment="test", data_dir=tmp_path, kafka_brokers=kafka_brokers, kafka_topic_prefix=prefix)
    streams = ("alarm.event", "sensor.reading", RISK_INPUT, "risk.score", "deadletter")
    ensure_topics(kafka_brokers, {topic_for(s, prefix): 1 for s in streams})
    t0 = 1_780_000_000_000
    alarm = AlarmEvent(
        alarm_id="GT-201:H", source_kind="tag", source_id="GT-201", kind="H",
        priority=AlarmPriority.HIGH, state=AlarmState.ACTIVE, ts=t0,
    )  # fmt: skip
    work = SpecialWork(work_id="DH-1", work_type="hot_work", grade="1", area="tank_farm", active=True, ts=t0 + 10)
    producer = KafkaProducer(bootstrap_servers=kafka_brokers)
    producer.send(topic_for("alarm.event", prefix), key=b"GT-201:H", value=encode(alarm))
    producer.send(
        topic_for("sensor.reading", prefix), value=b"[" + encode(SensorReading(tag="GT-101", ts=t0, value=15.0)) + b"]"
    )
    producer.send(topic_for(RISK_INPUT, prefix), value=encode(work))
    producer.send(topic_for(RISK_INPUT, prefix), value=b'{"type": "sis_bypass"}')  # unusable: dead letter
    producer.flush()
    producer.close()

    run_main(flows.risk_flow(settings, tail=False))

    consumer = KafkaConsumer(
        topic_for("risk.score", prefix), bootstrap_servers=kafka_brokers, auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )  # fmt: skip
    scores = [decode_message("risk.score", m.value) for m in consumer]
    consumer.close()
    last = {s.hazard_source_id: s for s in scores}
    assert last["MHS-02"].level == RiskLevel.ORANGE  # gas L1 + grade-1 hot work on a blue source
    store = open_store("duckdb", duckdb_path=settings.resolved_duckdb_path)
    try:
        assert store.latest_risk()["MHS-02"].level == RiskLevel.ORANGE
        assert any(d.stream == RISK_INPUT for d in store.deadletters())
    finally:
        store.close()
