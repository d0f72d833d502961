"""The distributed positioning and video flows (``api.flows:positioning`` / ``api.flows:video``) on real Kafka."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from bytewax.testing import run_main
from kafka import KafkaConsumer, KafkaProducer

from api import flows
from api.settings import Settings
from connectors.kafka.admin import ensure_topics
from connectors.store import open_store
from models.contracts import LocationPosition, decode_message, encode, now_ms

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "deepstream"


def _drain(brokers: list[str], topic: str) -> list[bytes]:
    consumer = KafkaConsumer(topic, bootstrap_servers=brokers, auto_offset_reset="earliest", consumer_timeout_ms=4000)
    values = [m.value for m in consumer]
    consumer.close()
    return values


def test_location_fix_topic_to_positions_alarms_and_store(kafka_brokers: list[str], tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = Settings(environment="test", data_dir=tmp_path, kafka_brokers=kafka_brokers, kafka_topic_prefix=prefix)
    topics = [f"{prefix}.{s}" for s in ("location.fix", "location.position", "alarm.event", "deadletter")]
    ensure_topics(kafka_brokers, dict.fromkeys(topics, 1))
    t0 = now_ms()
    producer = KafkaProducer(bootstrap_servers=kafka_brokers)
    for k, x in enumerate((40.0, 60.0)):  # the second fix is inside Z-CL2, which needs a permit
        fix = LocationPosition(person_id="W1", tag_id="T-W1", ts=t0 + 1000 * k, x=x, y=95.0)
        producer.send(f"{prefix}.location.fix", key=b"T-W1", value=encode(fix))
    producer.send(f"{prefix}.location.fix", value=b"{broken")
    producer.flush()
    producer.close()

    run_main(flows.positioning_flow(settings, tail=False))

    positions = [decode_message("location.position", v) for v in _drain(kafka_brokers, f"{prefix}.location.position")]
    assert [(p.x, p.zone_ids) for p in positions] == [(40.0, []), (60.0, ["Z-CL2"])]
    alarms = [decode_message("alarm.event", v) for v in _drain(kafka_brokers, f"{prefix}.alarm.event")]
    assert [(a.kind, a.source_kind, a.source_id) for a in alarms] == [("PERMIT_ZONE", "person", "W1")]
    assert len(_drain(kafka_brokers, f"{prefix}.deadletter")) == 1
    store = open_store("duckdb", duckdb_path=settings.resolved_duckdb_path)
    store.init_schema()
    assert len(store.latest_positions()) == 1  # type: ignore[attr-defined]
    store.close()


def test_deepstream_topic_to_detections(kafka_brokers: list[str], tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = Settings(environment="test", data_dir=tmp_path, kafka_brokers=kafka_brokers, kafka_topic_prefix=prefix)
    topics = [f"{prefix}.{s}" for s in ("video.deepstream", "video.detection", "alarm.event", "deadletter")]
    ensure_topics(kafka_brokers, dict.fromkeys(topics, 1))
    producer = KafkaProducer(bootstrap_servers=kafka_brokers)
    for name in ("full_person_no_helmet.json", "minimal_frame.json", "malformed_truncated.json"):
        producer.send(f"{prefix}.video.deepstream", value=(FIXTURES / name).read_bytes())
    producer.flush()
    producer.close()

    run_main(flows.video_flow(settings, tail=False))

    detections = [decode_message("video.detection", v) for v in _drain(kafka_brokers, f"{prefix}.video.detection")]
    assert len(detections) == 6
    assert {d.zone_id for d in detections if d.camera_id == "CAM-01"} == {"Z-LPG"}
    assert len(_drain(kafka_brokers, f"{prefix}.deadletter")) == 1
