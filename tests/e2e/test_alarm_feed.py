"""Distributed mode: the flow's alarm topics reach the alarm register once, whatever the replicas.

Against a real Kafka broker and a real (SQLite) register: two API replicas' feeds share one
consumer group, so every event is recorded by exactly one of them; held (flood) events are
recorded without notifying; a register that cannot take a batch leaves its offsets
uncommitted and the batch is recorded once the register is back; and ``create_app`` in
distributed mode wires the feed, so an alarm produced to Kafka shows on the alarm page.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from api.alarm_feed import KafkaAlarmFeed, alarm_topics
from api.alarm_worker import AlarmWorker
from api.settings import Settings
from connectors.bus.memory import Bus
from connectors.kafka.admin import ensure_topics
from models.contracts import AlarmEvent, AlarmPriority, AlarmState, encode
from registers.alarms import service as alarms
from registers.db import make_engine, make_session_factory
from tests.db_fixtures import migrate_registers
from tests.e2e.conftest import distributed_client, kafka_prefix, wait_until
from twin.plant import load_plant

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _event(tag: str, ts: int, state: AlarmState = AlarmState.ACTIVE) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{tag}:H",
        source_kind="tag",
        source_id=tag,
        kind="H",
        priority=AlarmPriority.HIGH,
        state=state,
        ts=ts,
        value=2.0,
        limit=1.0,
        message=f"{tag} 高报",
    )


@pytest.fixture
def prefix(kafka_brokers: list[str]) -> str:
    return kafka_prefix(kafka_brokers, "feed", alarm_topics)


def _produce(producer: KafkaProducer, topic: str, events: list[AlarmEvent]) -> None:
    for e in events:
        producer.send(topic, key=e.alarm_id.encode(), value=encode(e)).get(timeout=10)


def _register(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'registers.db'}"
    migrate_registers(url)
    return url


def _active(url: str) -> dict[str, int]:
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        rows, _ = alarms.list_alarms(session=session, query=alarms.AlarmQuery(scope="all", size=500))
        return {r.source_id: len(r.transitions) for r in rows}


def test_two_replicas_record_every_event_exactly_once(
    kafka_brokers: list[str], prefix: str, producer: KafkaProducer, tmp_path: Path
) -> None:
    annunciated, held = list(alarm_topics(prefix))
    tags = [f"PT-{i:03d}" for i in range(20)]
    # Raised before any replica is up: the group starts at the earliest offset.
    _produce(producer, annunciated, [_event(t, 1_700_000_000_000 + i) for i, t in enumerate(tags)])
    _produce(producer, held, [_event("TT-999", 1_700_000_000_500)])

    url = _register(tmp_path)
    plant = load_plant()
    settings = Settings(environment="test", data_dir=tmp_path)
    workers = [
        AlarmWorker(Bus(), make_session_factory(make_engine(url)), plant, settings, housekeeping_s=3600)
        for _ in range(2)
    ]
    feeds = [KafkaAlarmFeed(w, kafka_brokers, prefix=prefix).start() for w in workers]
    try:
        wait_until(lambda: sum(w.recorded for w in workers) >= 21, 60, "21 events recorded")
        # Later events: each recorded by whichever replica owns its partition.
        _produce(producer, annunciated, [_event(t, 1_700_000_100_000, AlarmState.RETURNED) for t in tags[:5]])
        wait_until(lambda: sum(w.recorded for w in workers) >= 26, 60, "26 events recorded")
        time.sleep(1.0)  # a duplicate delivery would show up here
    finally:
        for f in feeds:
            f.stop()
    assert sum(w.recorded for w in workers) == 26
    assert all(w.errors == 0 for w in workers)
    journal = _active(url)
    assert set(journal) == {*tags, "TT-999"}
    assert all(journal[t] == 2 for t in tags[:5]) and all(journal[t] == 1 for t in tags[5:])


class _FlakyWorker:
    """The real worker behind a switch that makes the register refuse (as a locked or down database would)."""

    def __init__(self, worker: AlarmWorker) -> None:
        self.worker = worker
        self.refuse = True
        self.refused = 0

    @property
    def recorded(self) -> int:
        return self.worker.recorded

    def handle(self, events: list[AlarmEvent], *, notify: bool = True) -> None:
        if self.refuse:
            self.refused += 1
            return  # nothing recorded, as when every transaction of the batch failed
        self.worker.handle(events, notify=notify)


def test_a_batch_the_register_refused_is_recorded_once_it_is_back(
    kafka_brokers: list[str], prefix: str, producer: KafkaProducer, tmp_path: Path
) -> None:
    annunciated, _ = list(alarm_topics(prefix))
    url = _register(tmp_path)
    worker = AlarmWorker(
        Bus(), make_session_factory(make_engine(url)), load_plant(), Settings(environment="test", data_dir=tmp_path)
    )
    flaky = _FlakyWorker(worker)
    _produce(producer, annunciated, [_event("LT-301", 1_700_000_000_000)])
    feed = KafkaAlarmFeed(flaky, kafka_brokers, prefix=prefix).start()
    try:
        wait_until(lambda: flaky.refused >= 1, 60, "a refused batch")
        assert _active(url) == {}
        flaky.refuse = False
        wait_until(lambda: worker.recorded >= 1, 60, "the batch recorded after the register came back")
    finally:
        feed.stop()
    assert _active(url) == {"LT-301": 1}


def test_the_distributed_api_shows_an_alarm_from_kafka_on_the_alarm_page(
    kafka_brokers: list[str], prefix: str, producer: KafkaProducer, tmp_path: Path
) -> None:
    with distributed_client(tmp_path, kafka_brokers, prefix) as (client, headers):
        _produce(producer, list(alarm_topics(prefix))[0], [_event("PT-101", 1_700_000_000_000)])

        def shown() -> bool:
            page = client.get("/api/v1/alarm-records", headers=headers, params={"scope": "all"}).json()
            return any(item["tag"] == "PT-101" for item in page["items"])

        wait_until(shown, 60, "PT-101 on the alarm page")


def test_a_feed_started_before_its_topics_exist_records_once_they_are_created(
    kafka_brokers: list[str], producer: KafkaProducer, tmp_path: Path
) -> None:
    """An operator may start API replicas before `safetwin topics create`: alarms must not wait minutes."""
    late = f"late{uuid.uuid4().hex[:8]}"
    url = _register(tmp_path)
    worker = AlarmWorker(
        Bus(), make_session_factory(make_engine(url)), load_plant(), Settings(environment="test", data_dir=tmp_path)
    )
    feed = KafkaAlarmFeed(worker, kafka_brokers, prefix=late).start()
    try:
        time.sleep(2.0)  # subscribed, topics still missing
        ensure_topics(kafka_brokers, dict.fromkeys(alarm_topics(late), 2))
        _produce(producer, list(alarm_topics(late))[0], [_event("FT-201", 1_700_000_000_000)])
        wait_until(lambda: worker.recorded >= 1, 30, "the alarm recorded after its topic was created")
    finally:
        feed.stop()
    assert _active(url) == {"FT-201": 1}
