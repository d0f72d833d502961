"""Distributed mode: ``api.flows:pdm`` (what ``safetwin flow --flow pdm`` runs) from Kafka to a work order.

A real Kafka broker, a model saved where ``safetwin pdm train`` saves it, a SQLite equipment
register with the demo equipment. A held-out pump's windows, produced to ``<prefix>.pdm.window``
keyed by asset as a gateway would, come out as predictions on ``<prefix>.pdm.prediction``, ONE
warning on ``<prefix>.pdm.warning`` and ONE open maintenance work order for ``P-401``.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec
import pytest
from bytewax.testing import run_main
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import select
from threadpoolctl import threadpool_limits

from api.flows import pdm_flow
from api.pdm_models import save
from api.pdm_runtime import model_dir
from api.settings import Settings
from connectors.kafka.admin import ensure_topics, topic_for
from models.contracts import DEADLETTER, PDM_PREDICTION
from models.pdm.model import stack_fleet, train
from models.pdm.stream import PDM_WARNING, PDM_WINDOW
from registers.db import make_engine, make_session_factory
from registers.equipment.demo import load_equipment_demo
from registers.equipment.models import WorkOrder
from tests.db_fixtures import migrate_registers
from tests.pipelines.pdm.test_pdm_flow import windows_of
from twin.degradation import FS, simulate_fleet
from twin.plant import load_plant

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def count(brokers: list[str], topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=brokers, enable_auto_commit=False, consumer_timeout_ms=3000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    n = sum(1 for _ in consumer)
    consumer.close()
    return n


def test_windows_on_kafka_become_predictions_one_warning_and_one_work_order(
    kafka_brokers: list[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'registers.db'}"
    migrate_registers(url)
    factory = make_session_factory(make_engine(url))
    with factory.begin() as session:
        load_equipment_demo(session=session, plant=load_plant(Path("twin/plants/demo.yaml")))
    prefix = f"pdm{uuid.uuid4().hex[:8]}"
    settings = Settings(
        environment="test",
        data_dir=tmp_path,
        kafka_brokers=kafka_brokers,
        kafka_topic_prefix=prefix,
        database_url=url,
        flow_writes_store=False,
    )
    with pytest.raises(ValueError, match="safetwin pdm train"):
        pdm_flow(settings)  # no model yet: refused with the way out
    with threadpool_limits(limits=1):
        model = train(stack_fleet(simulate_fleet(9, seed=31), FS), seed=0)
    save(model, model_dir(settings), {"train_seed": 31, "metrics": {}})
    ensure_topics(
        kafka_brokers, {topic_for(s, prefix): 1 for s in (PDM_WINDOW, PDM_PREDICTION, PDM_WARNING, DEADLETTER)}
    )
    (asset,) = simulate_fleet(1, seed=32)
    windows = [msgspec.structs.replace(w, asset_id="P-401") for w in windows_of(asset)]
    producer = KafkaProducer(bootstrap_servers=kafka_brokers, linger_ms=5)
    for i in range(0, len(windows), 50):  # a gateway's records: one JSON array of windows each
        producer.send(topic_for(PDM_WINDOW, prefix), key=b"P-401", value=msgspec.json.encode(windows[i : i + 50]))
    producer.flush(10)
    producer.close(5)

    run_main(pdm_flow(settings, tail=False))  # type: ignore[no-untyped-call] - bounded: ends at the topic's end

    assert count(kafka_brokers, topic_for(PDM_PREDICTION, prefix)) == len(windows)
    assert count(kafka_brokers, topic_for(PDM_WARNING, prefix)) == 1
    with factory() as session:
        orders = list(session.scalars(select(WorkOrder).where(WorkOrder.source == "pdm")))
    assert [(o.pdm_asset_id, o.state) for o in orders] == [("P-401", "open")]
