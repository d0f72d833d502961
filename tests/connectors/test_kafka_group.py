"""KafkaGroupIngestor against a real Kafka broker and a real DuckDB store.

Each test uses its own topic and consumer group, so runs never see each other's offsets.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from connectors.kafka.admin import ensure_topics, topic_for
from connectors.kafka.group import KafkaGroupIngestor
from connectors.store.duckdb import DuckDBStore
from models.contracts import SENSOR_READING, SensorReading, encode

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

T0 = 1_700_000_000_000
TAGS = ["TT-101", "PT-102", "LT-103", "FT-104", "AT-105"]
MALFORMED = [b"not json", b'{"tag": "", "ts": 1700000000000, "value": 1.0}', b'{"tag": "X", "ts": 5}']


def readings(n: int) -> list[SensorReading]:
    return [SensorReading(tag=TAGS[i % len(TAGS)], ts=T0 + i * 1000, value=float(i)) for i in range(n)]


@pytest.fixture
def topic(kafka_brokers: list[str]) -> str:
    name = topic_for(SENSOR_READING, prefix=f"test-group-{uuid.uuid4().hex[:10]}")
    ensure_topics(kafka_brokers, {name: 2})
    return name


@pytest.fixture
def store() -> Iterator[DuckDBStore]:
    s = DuckDBStore(":memory:")
    s.init_schema()
    yield s
    s.close()


def produce(brokers: list[str], topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=5)
    try:
        for key, value in values:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close()


def committed_total(brokers: list[str], topic: str, group: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=brokers, group_id=group, enable_auto_commit=False)
    try:
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in (0, 1))
    finally:
        consumer.close(autocommit=False)


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_crash_between_write_and_commit_replays_and_doubles_nothing(
    kafka_brokers: list[str], topic: str, store: DuckDBStore
) -> None:
    sent = readings(200)
    produce(kafka_brokers, topic, [(r.key.encode(), encode(r)) for r in sent])
    produce(kafka_brokers, topic, [(b"junk", v) for v in MALFORMED])
    total = len(sent) + len(MALFORMED)
    group = f"ingest-{uuid.uuid4().hex[:8]}"

    first = KafkaGroupIngestor(kafka_brokers, topic, group, store, max_poll_records=20)
    first.start()
    try:
        while first.stats.records < 60:  # a few committed batches
            first.poll_once()
        committed = first.stats.records
        crashed = first.poll_once(commit=False)  # written, then the process dies before the commit
        while crashed.records == 0:
            crashed = first.poll_once(commit=False)
    finally:
        first.close()  # leaves the group, commits nothing
    assert committed_total(kafka_brokers, topic, group) == committed
    stored_before_restart = store.count_readings()
    assert stored_before_restart >= committed - len(MALFORMED)

    second = KafkaGroupIngestor(kafka_brokers, topic, group, store, max_poll_records=20)
    second.start()
    try:
        wait_until(lambda: second.poll_once().records >= 0 and committed_total(kafka_brokers, topic, group) == total)
    finally:
        second.close()

    # the restart re-read exactly what was not committed, including the crashed batch ...
    assert second.stats.records == total - committed
    assert first.stats.records + second.stats.records == total + crashed.records
    # ... yet the store holds every reading once, and every malformed record once, with a reason
    assert store.count_readings() == len(sent)
    for tag in TAGS:
        assert store.count_readings(tag) == len(sent) // len(TAGS)
    dead = store.deadletters()
    assert sorted(d.raw for d in dead) == sorted(v.decode() for v in MALFORMED)
    assert all(d.stream == SENSOR_READING and f"{topic}[" in d.reason for d in dead)


def test_two_consumers_in_one_group_share_the_partitions(
    kafka_brokers: list[str], topic: str, store: DuckDBStore
) -> None:
    group = f"ingest-{uuid.uuid4().hex[:8]}"
    members = [KafkaGroupIngestor(kafka_brokers, topic, group, store, max_poll_records=25) for _ in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=m.run, args=(stop,), name=f"ingest-{i}") for i, m in enumerate(members)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: all(len(m.assignment) == 1 for m in members))
        assert members[0].assignment | members[1].assignment == {0, 1}
        sent = readings(300)
        produce(kafka_brokers, topic, [(r.key.encode(), encode(r)) for r in sent])
        wait_until(lambda: store.count_readings() == len(sent))
        wait_until(lambda: committed_total(kafka_brokers, topic, group) == len(sent))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert [len(m.stats.partitions_seen) for m in members] == [1, 1]
    assert members[0].stats.partitions_seen != members[1].stats.partitions_seen
    assert all(m.stats.readings > 0 for m in members)
    assert sum(m.stats.readings for m in members) == len(sent)  # no rebalance: nothing read twice
    assert store.count_readings() == len(sent)


def test_stream_is_checked() -> None:
    with pytest.raises(ValueError, match="stream must be"):
        KafkaGroupIngestor(["127.0.0.1:9092"], "t", "g", DuckDBStore(":memory:"), stream="video.detection")
