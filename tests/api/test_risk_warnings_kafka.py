"""Distributed mode: ``<prefix>.risk.score`` reaches the risk-warning register once, whatever the replicas.

Against a real Kafka broker and a real (SQLite) register: the demo plant's scripted scenario
(normal -> gas alarm -> hot work -> SIS bypass -> recovery), produced keyed by hazard source
as the distributed risk flow produces it, is consumed by two API replicas sharing one group;
each source gets exactly one warning, escalated and cleared in order; and ``create_app`` in
distributed mode wires the feed, so a score produced to Kafka shows as a warning on the API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from kafka import KafkaProducer

from api.risk_warnings import KafkaRiskWarningFeed, RiskWarningRecorder
from connectors.kafka.admin import topic_for
from models.contracts import RISK_SCORE, Contribution, RiskLevel, RiskScore, encode
from registers.db import make_engine, make_session_factory
from registers.notifications import service as notifications
from registers.risk_warnings.models import RiskWarning
from tests.db_fixtures import migrate_registers
from tests.e2e.conftest import distributed_client, kafka_prefix, kafka_producer, wait_until
from tests.registers.test_risk_warnings import T0, scenario_scores
from twin.plant import load_plant

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def prefix(kafka_brokers: list[str]) -> str:
    return kafka_prefix(kafka_brokers, "risk", lambda name: [topic_for(RISK_SCORE, name)])


@pytest.fixture
def producer(kafka_brokers: list[str]) -> Iterator[KafkaProducer]:
    with kafka_producer(kafka_brokers) as p:
        yield p


def _produce(producer: KafkaProducer, topic: str, scores: list[RiskScore]) -> None:
    for s in scores:
        producer.send(topic, key=s.hazard_source_id.encode(), value=encode(s)).get(timeout=10)


def test_two_replicas_record_each_episode_once(
    kafka_brokers: list[str], prefix: str, producer: KafkaProducer, tmp_path: Path
) -> None:
    topic = topic_for(RISK_SCORE, prefix)
    scores = scenario_scores()
    _produce(producer, topic, scores[:8])  # normal + gas alarm, before any replica is up
    url = f"sqlite:///{tmp_path / 'registers.db'}"
    migrate_registers(url)
    plant = load_plant()
    recorders = [
        RiskWarningRecorder(make_session_factory(make_engine(url)), plant, notifications.Notifier(channels={}))
        for _ in range(2)
    ]
    feeds = [KafkaRiskWarningFeed(r, kafka_brokers, prefix=prefix).start() for r in recorders]
    try:
        wait_until(lambda: sum(r.recorded for r in recorders) >= 8, 60, "8 scores recorded")
        _produce(producer, topic, scores[8:])
        wait_until(lambda: sum(r.recorded for r in recorders) >= len(scores), 60, f"{len(scores)} scores recorded")
        time.sleep(1.0)  # a duplicate delivery would show up here
    finally:
        for f in feeds:
            f.stop()
    assert sum(r.recorded for r in recorders) == len(scores)
    assert all(r.errors == 0 for r in recorders)
    with make_session_factory(make_engine(url))() as session:
        rows = {w.hazard_source_id: w for w in session.scalars(sa.select(RiskWarning))}
        assert sorted(rows) == ["MHS-01", "MHS-02", "MHS-03", "MHS-04"]
        assert {sid: (w.from_level, w.to_level, w.level) for sid, w in rows.items()} == {
            "MHS-01": ("orange", "red", "orange"),
            "MHS-02": ("blue", "red", "blue"),
            "MHS-03": ("orange", "red", "orange"),
            "MHS-04": ("yellow", "red", "yellow"),
        }
        assert [st.action for st in rows["MHS-04"].steps] == ["raise", "escalate", "clear"]


def test_create_app_in_distributed_mode_records_scores_from_kafka(
    kafka_brokers: list[str], prefix: str, producer: KafkaProducer, tmp_path: Path
) -> None:
    with distributed_client(tmp_path, kafka_brokers, prefix) as (client, headers):
        gas = [Contribution(factor="INH.GRADE", value=50.0), Contribution(factor="GAS.L2", value=0.0)]
        red = RiskScore(hazard_source_id="MHS-03", ts=T0, level=RiskLevel.RED, score=75.0, contributions=gas)
        _produce(producer, topic_for(RISK_SCORE, prefix), [red])

        def listed() -> int:
            return int(client.get("/api/v1/risk/warnings", headers=headers).json()["total"])

        wait_until(lambda: listed() == 1, 120, "the warning on the API")
        item = client.get("/api/v1/risk/warnings", headers=headers).json()["items"][0]
        assert (item["hazard_source_id"], item["to_level"], item["name"]) == ("MHS-03", "red", "液氯库")
        assert [c["rule"] for c in item["contributions"]] == ["INH.GRADE", "GAS.L2"]
