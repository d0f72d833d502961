"""Distributed mode: a bypass put in through the equipment register raises the score on ``<prefix>.risk.score``.

The production entry ``api.flows:risk`` (``risk_flow``) against a real Kafka broker and a real
SQLite register: the demo equipment (R-401's feed interlock ``SIS-401-01`` of MHS-04), a bypass
approved and started through the bypass workflow. The flow reads it from the registers
(:class:`api.risk_register_inputs.RegisterInputSource`) and the score it produces to Kafka names
``SIS.BYPASS``. The source's recovery state is what it last told the flow: a poller resumed
after the bypass was restored while it was down still reports the restoration.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from bytewax.testing import run_main
from kafka import KafkaConsumer, TopicPartition

from api.flows import risk_flow
from api.risk_register_inputs import RegisterInputSource
from api.settings import Settings
from connectors.kafka.admin import ensure_topics, topic_for
from models.contracts import ALARM_EVENT, DEADLETTER, RISK_SCORE, SENSOR_READING, RiskScore
from models.risk import RISK_INPUT, SisBypass
from registers.db import make_engine, make_session_factory
from registers.equipment import service as equipment
from registers.equipment.demo import load_equipment_demo
from registers.equipment.schemas import BypassCreate
from registers.equipment.workflow import BypassAction
from tests.db_fixtures import migrate_registers
from twin.plant import load_plant

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T0 = 1_780_000_000_000


def read_all(brokers: list[str], topic: str) -> list[bytes]:
    consumer = KafkaConsumer(bootstrap_servers=brokers, enable_auto_commit=False, consumer_timeout_ms=3000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    out = [r.value for r in consumer]
    consumer.close()
    return out


def test_a_started_bypass_reaches_the_distributed_risk_flow(kafka_brokers: list[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registers.db'}"
    migrate_registers(url)
    factory = make_session_factory(make_engine(url))
    now = datetime.now(UTC)
    with factory.begin() as session:
        load_equipment_demo(session=session, plant=load_plant(Path("twin/plants/demo.yaml")))
        bypass = equipment.bypasses.create(
            session=session,
            data=BypassCreate(
                interlock_code="SIS-401-01",
                reason="进料流量变送器更换",
                measures="专人监护",
                planned_start=now,
                planned_end=now + timedelta(hours=4),
            ),
            actor="孙明",
        )
        for action, actor in ((BypassAction.APPROVE, "李志华"), (BypassAction.START, "孙明")):
            equipment.transition_bypass(session=session, record_id=bypass.id, action=action, actor=actor, now=now)
    prefix = f"riskreg{uuid.uuid4().hex[:8]}"
    ensure_topics(
        kafka_brokers,
        {topic_for(s, prefix): 1 for s in (ALARM_EVENT, SENSOR_READING, RISK_INPUT, RISK_SCORE, DEADLETTER)},
    )
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        kafka_brokers=kafka_brokers,
        kafka_topic_prefix=prefix,
        database_url=url,
        flow_writes_store=False,
    )
    run_main(risk_flow(settings, tail=False))  # type: ignore[no-untyped-call] - bounded: ends at the topics' ends
    scores = [msgspec.json.decode(v, type=RiskScore) for v in read_all(kafka_brokers, topic_for(RISK_SCORE, prefix))]
    mhs04 = [s for s in scores if s.hazard_source_id == "MHS-04"]
    assert mhs04, scores
    assert "SIS.BYPASS" in {c.factor for c in mhs04[-1].contributions}
    assert {s.hazard_source_id for s in scores} == {"MHS-04"}  # nothing else had an input


def test_a_resumed_poller_reports_what_ended_while_it_was_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registers.db'}"
    migrate_registers(url)
    factory = make_session_factory(make_engine(url))
    with factory.begin() as session:
        load_equipment_demo(session=session, plant=load_plant(Path("twin/plants/demo.yaml")))
    told = SisBypass(interlock_id="SIS-401-01", hazard_source_id="MHS-04", bypassed=True, ts=T0)
    source = RegisterInputSource(factory, tail=False, clock=lambda: T0 + 1)
    assert source.list_parts() == ["registers"]
    resumed = source.build_part("registers_in", "registers", msgspec.json.encode([told]))
    (ended,) = resumed.next_batch()  # the demo's bypass was restored long ago: nothing in force now
    assert ended == msgspec.structs.replace(told, bypassed=False, ts=T0 + 1)
    assert msgspec.json.decode(resumed.snapshot()) == []
    with pytest.raises(StopIteration):
        resumed.next_batch()
    fresh = source.build_part("registers_in", "registers", None)
    assert fresh.next_batch() == []  # a first start with nothing in force says nothing
