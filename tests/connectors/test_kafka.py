"""Kafka source/sink/admin against a real Apache Kafka broker (``kafka_brokers`` fixture).

Each test uses its own topics, so tests are independent of each other and of old runs.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main
from kafka import KafkaConsumer, KafkaProducer

from connectors.kafka.admin import ensure_topics, topic_for
from connectors.kafka.sink import KafkaSink
from connectors.kafka.source import KafkaSource, KafkaSourceError
from models.contracts import SENSOR_READING, DeadLetter, SensorReading, decode_message, encode

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

T0 = 1_700_000_000_000
TAGS = ["TT-101", "PT-102", "LT-103", "FT-104", "AT-105"]

MALFORMED: list[bytes] = [
    b"not json at all",
    b'{"tag": 1}',
    b'{"tag": "", "ts": 1700000000000, "value": 1.0}',
    b"\xff\xfe\x00garbage",
    b'{"tag": "TT-101", "ts": -5, "value": 2.0}',
]


def readings(n: int, *, start: int = 0) -> list[SensorReading]:
    return [SensorReading(tag=TAGS[i % len(TAGS)], ts=T0 + i * 1000, value=float(i)) for i in range(start, start + n)]


@pytest.fixture
def topic(kafka_brokers: list[str]) -> str:
    """A fresh 2-partition topic per test: partition handling is part of what is tested."""
    name = topic_for(SENSOR_READING, prefix=f"test-{uuid.uuid4().hex[:10]}")
    assert ensure_topics(kafka_brokers, {name: 2}) == [name]
    return name


def produce(
    brokers: list[str], topic: str, values: list[tuple[str | None, bytes | None]], *, partition: int | None = None
) -> None:
    producer = KafkaProducer(bootstrap_servers=brokers, acks="all", linger_ms=5)
    try:
        for key, value in values:
            producer.send(topic, key=key.encode() if key is not None else None, value=value, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close()


def produce_readings(brokers: list[str], topic: str, items: list[SensorReading]) -> None:
    produce(brokers, topic, [(r.key, encode(r)) for r in items])


def consume_all(brokers: list[str], topic: str, *, expected: int, timeout_s: float = 15) -> list[Any]:
    """Raw records of every partition, read until ``expected`` arrived (or the deadline)."""
    consumer = KafkaConsumer(
        topic, bootstrap_servers=brokers, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def read_flow(brokers: list[str], topic: str, out: list[Any], **kwargs: Any) -> Dataflow:
    flow = Dataflow("kafka_read")
    msgs = op.input("in", flow, KafkaSource(brokers, topic, SENSOR_READING, tail=False, **kwargs))
    # msgs: SensorReading | DeadLetter
    op.output("out", msgs, TestingSink(out))
    return flow


def split(items: list[Any]) -> tuple[list[SensorReading], list[DeadLetter]]:
    good = [x for x in items if isinstance(x, SensorReading)]
    bad = [x for x in items if isinstance(x, DeadLetter)]
    assert len(good) + len(bad) == len(items), items
    return good, bad


def causes(exc: BaseException) -> list[BaseException]:
    """The chain Bytewax wraps a Python error in (it re-raises each layer ``from`` the last)."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    return chain


def by_ts(items: list[SensorReading]) -> list[SensorReading]:
    return sorted(items, key=lambda r: r.ts)


def test_ensure_topics_is_idempotent(kafka_brokers: list[str], topic: str) -> None:
    assert ensure_topics(kafka_brokers, {topic: 2}) == []
    second = f"{topic}.other"
    assert ensure_topics(kafka_brokers, {topic: 2, second: 1}) == [second]


def test_topic_for_rejects_illegal_names() -> None:
    assert topic_for("sensor.reading") == "safetwin.sensor.reading"
    with pytest.raises(ValueError, match="illegal Kafka topic"):
        topic_for("sensor reading")


def test_missing_topic_is_a_clear_error(kafka_brokers: list[str]) -> None:
    out: list[Any] = []
    flow = read_flow(kafka_brokers, f"missing-{uuid.uuid4().hex}", out)
    with pytest.raises(Exception) as info:
        run_main(flow)
    [err] = [e for e in causes(info.value) if isinstance(e, KafkaSourceError)]
    assert "does not exist" in str(err)
    # Asking for it did not create it behind our back.
    with pytest.raises(KafkaSourceError):
        KafkaSource(kafka_brokers, f"missing-{uuid.uuid4().hex}", SENSOR_READING).list_parts()


@pytest.mark.parametrize("workers", [1, 2])
def test_source_types_good_records_and_dead_letters_bad_ones(
    kafka_brokers: list[str], topic: str, workers: int
) -> None:
    good_in = readings(60)
    produce_readings(kafka_brokers, topic, good_in[:30])
    produce(kafka_brokers, topic, [("junk", v) for v in MALFORMED] + [("tombstone", None)])
    produce_readings(kafka_brokers, topic, good_in[30:])

    out: list[Any] = []
    flow = read_flow(kafka_brokers, topic, out, batch_size=7)
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)

    good, bad = split(out)
    assert by_ts(good) == good_in
    assert len(bad) == len(MALFORMED) + 1
    assert all(d.stream == SENSOR_READING and d.reason for d in bad)
    raws = sorted(d.raw for d in bad)
    assert raws == sorted([v.decode("utf-8", errors="replace") for v in MALFORMED] + [""])
    reasons = {d.raw: d.reason for d in bad}
    assert "tag must not be empty" in reasons['{"tag": "", "ts": 1700000000000, "value": 1.0}']
    assert "tombstone" in reasons[""]


def test_sink_round_trip_keys_by_message_key(kafka_brokers: list[str], topic: str) -> None:
    items = readings(40)
    dead = DeadLetter(stream=SENSOR_READING, raw="x", reason="test", ts=T0)
    flow = Dataflow("kafka_write")
    msgs = op.input("in", flow, TestingSource([*items, dead], batch_size=8))
    # msgs: SensorReading | DeadLetter
    op.output("out", msgs, KafkaSink(kafka_brokers, topic))
    run_main(flow)

    records = consume_all(kafka_brokers, topic, expected=len(items) + 1)
    assert len(records) == len(items) + 1
    partitions_of_key: dict[bytes, set[int]] = {}
    for rec in records:
        partitions_of_key.setdefault(rec.key, set()).add(rec.partition)
    # Same key, same partition: per-tag order survives the trip.
    assert all(len(parts) == 1 for parts in partitions_of_key.values())
    assert set(partitions_of_key) == {t.encode() for t in TAGS} | {SENSOR_READING.encode()}

    decoded = [decode_message(SENSOR_READING, r.value) for r in records if r.key != SENSOR_READING.encode()]
    assert by_ts(decoded) == items
    dl = [r for r in records if r.key == SENSOR_READING.encode()]
    assert decode_message("deadletter", dl[0].value) == dead

    out: list[Any] = []
    run_main(read_flow(kafka_brokers, topic, out))
    good, bad = split(out)
    assert by_ts(good) == items
    assert len(bad) == 1  # the DeadLetter is not a SensorReading: it dead-letters again, with a reason


class Crash(RuntimeError):
    pass


def recovering_flow(brokers: list[str], topic: str, out: list[Any], *, crash_after: int | None) -> Dataflow:
    seen = 0

    def maybe_crash(msg: Any) -> Any:
        nonlocal seen
        seen += 1
        if crash_after is not None and seen > crash_after:
            msg = f"simulated crash after {crash_after} messages"
            raise Crash(msg)
        return msg

    flow = Dataflow("kafka_recover")
    msgs = op.input("in", flow, KafkaSource(brokers, topic, SENSOR_READING, tail=False, batch_size=5))
    # msgs: SensorReading | DeadLetter
    checked = op.map("crash", msgs, maybe_crash)
    # checked: same, until the simulated crash
    op.output("out", checked, TestingSink(out))
    return flow


def test_recovery_resumes_from_snapshot_offsets(kafka_brokers: list[str], topic: str, tmp_path: Path) -> None:
    db = tmp_path / "recovery"
    db.mkdir()
    init_db_dir(db, 1)
    recovery = RecoveryConfig(str(db), backup_interval=timedelta(0))
    # A short epoch makes snapshots frequent, so a crash usually lands after committed epochs.
    epoch = timedelta(milliseconds=5)

    def run(out: list[Any], crash_after: int | None = None) -> None:
        flow = recovering_flow(kafka_brokers, topic, out, crash_after=crash_after)
        run_main(flow, epoch_interval=epoch, recovery_config=recovery)

    # 1. A clean bounded run reads everything and snapshots the end offsets.
    first = readings(40)
    produce_readings(kafka_brokers, topic, first)
    out_first: list[Any] = []
    run(out_first)
    assert by_ts(out_first) == first

    # 2. New data, then a crash mid-way: it starts at the snapshot offsets (nothing of step 1).
    second = readings(60, start=40)
    produce_readings(kafka_brokers, topic, second)
    out_crashed: list[Any] = []
    with pytest.raises(Exception) as info:
        run(out_crashed, crash_after=30)
    assert any(isinstance(e, Crash) for e in causes(info.value))
    assert 0 < len(out_crashed) <= 30
    assert {r.ts for r in out_crashed} <= {r.ts for r in second}

    # 3. More data while "down"; the restarted flow loses nothing (at-least-once: the epoch that
    # crashed is replayed, so duplicates are allowed, gaps are not) and still skips step 1.
    third = readings(30, start=100)
    produce_readings(kafka_brokers, topic, third)
    out_resumed: list[Any] = []
    run(out_resumed)
    assert all(isinstance(r, SensorReading) for r in out_resumed)
    assert {r.ts for r in out_resumed} <= {r.ts for r in second + third}
    assert {r.ts for r in out_crashed + out_resumed} == {r.ts for r in second + third}

    # 4. The clean finish snapshotted the new end offsets: nothing is left to read.
    out_again: list[Any] = []
    run(out_again)
    assert out_again == []


def test_tailing_partition_never_blocks_and_snapshots_next_offset(kafka_brokers: list[str], topic: str) -> None:
    source = KafkaSource(kafka_brokers, topic, SENSOR_READING)  # tail=True: never ends on its own
    parts = source.list_parts()
    assert parts == [f"0-{topic}", f"1-{topic}"]
    items = [SensorReading(tag="TT-101", ts=T0 + i, value=float(i)) for i in range(12)]

    part = source.build_part("step", parts[1], resume_state=None)
    try:
        start = time.monotonic()
        assert part.next_batch() == []
        assert time.monotonic() - start < 0.2
        assert part.next_awake() is not None  # paced by Bytewax, not spinning or sleeping
        assert part.snapshot() == 0

        produce(kafka_brokers, topic, [(r.key, encode(r)) for r in items], partition=1)
        got: list[Any] = []
        deadline = time.monotonic() + 10
        while len(got) < len(items) and time.monotonic() < deadline:
            t = time.monotonic()
            got.extend(part.next_batch())
            assert time.monotonic() - t < 0.2
            time.sleep(0.01)
        assert got == items
        assert part.snapshot() == len(items)
    finally:
        part.close()

    # Resuming at a snapshot offset skips exactly what was already read.
    resumed = KafkaSource(kafka_brokers, topic, SENSOR_READING, tail=False).build_part("step", parts[1], resume_state=5)
    try:
        rest: list[Any] = []
        with pytest.raises(StopIteration):
            for _ in range(2000):
                rest.extend(resumed.next_batch())
                time.sleep(0.005)
        assert rest == items[5:]
        assert resumed.snapshot() == len(items)
    finally:
        resumed.close()
