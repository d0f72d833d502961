"""Live push of an API replica from the flow's Kafka output topics, against a real broker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaProducer

from api.kafka_live import KafkaLivePush, default_group_id, default_topics
from connectors.bus.memory import Bus, Subscription
from models.contracts import (
    ALARM_EVENT,
    SENSOR_READING,
    AlarmEvent,
    AlarmPriority,
    AlarmState,
    Quality,
    SensorReading,
    encode,
)
from tests.e2e.conftest import kafka_prefix, wait_until

STREAM = "live-test"
T0 = 1_700_000_000_000


def _collect(sub: Subscription, n: int, timeout_s: float = 20.0) -> list[Any]:
    items: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(items) < n and time.monotonic() < deadline:
        items += sub.get_batch(0.2)
    return items


@pytest.fixture
def topics(kafka_brokers: list[str]) -> dict[str, str]:
    return default_topics(kafka_prefix(kafka_brokers, "livetest", default_topics))


@pytest.fixture
def push(kafka_brokers: list[str], topics: dict[str, str]) -> Iterator[tuple[KafkaLivePush, Subscription]]:
    bus = Bus()
    sub = bus.subscribe(STREAM)
    live = KafkaLivePush(bus, kafka_brokers, stream=STREAM, topics=topics).start()
    try:
        wait_until(lambda: live.connected, 30, "partition assignment")
        yield live, sub
    finally:
        live.stop()


def _send(producer: KafkaProducer, topic: str, value: bytes, key: bytes = b"k") -> None:
    producer.send(topic, key=key, value=value).get(timeout=10)


def test_readings_array_and_alarm_reach_the_bus(
    push: tuple[KafkaLivePush, Subscription], topics: dict[str, str], producer: KafkaProducer
) -> None:
    live, sub = push
    readings_topic, alarms_topic = list(topics)
    assert live.last_error is None
    readings = [
        SensorReading(tag="PT-101", ts=T0, value=1.25, source="gw"),
        SensorReading(tag="PT-101", ts=T0 + 1000, value=1.5, quality=Quality.OUT_OF_RANGE),
        SensorReading(tag="TT-102", ts=T0, value=21.0),
    ]
    alarm = AlarmEvent(
        alarm_id="PT-101:H",
        source_kind="tag",
        source_id="PT-101",
        kind="H",
        priority=AlarmPriority.HIGH,
        state=AlarmState.ACTIVE,
        ts=T0 + 1000,
        value=1.5,
        limit=1.4,
        message="PT-101 high",
    )
    _send(producer, readings_topic, b"[" + b",".join(encode(r) for r in readings) + b"]")
    _send(producer, alarms_topic, encode(alarm), key=b"PT-101:H")
    # a single object on the readings topic and an array on the alarm topic are accepted too
    _send(producer, readings_topic, encode(readings[2]))
    _send(producer, alarms_topic, b"[" + encode(alarm) + b"]")
    items = _collect(sub, 6)
    assert sorted(items, key=repr) == sorted([*readings, alarm, readings[2], alarm], key=repr)
    assert [i for i in items if isinstance(i, SensorReading)][:3] == readings  # order kept per partition
    assert live.received == 6 and live.skipped == 0


def test_bad_messages_are_skipped_and_logged_once(
    push: tuple[KafkaLivePush, Subscription],
    topics: dict[str, str],
    producer: KafkaProducer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live, sub = push
    readings_topic, alarms_topic = list(topics)
    caplog.set_level(logging.WARNING, logger="api.kafka_live")
    garbage = [b"not json", b"", b'["\xff\xfe"]', b'{"tag": 1}', b"[1, 2]", b"[" * 200_000, b'{"alarm_id": "x"}']
    for value in garbage * 2:
        _send(producer, readings_topic, value)
    _send(producer, alarms_topic, b"\x00\x01")
    good = SensorReading(tag="LT-201", ts=T0, value=3.0)
    _send(producer, readings_topic, b"[" + encode(good) + b"]")
    assert _collect(sub, 1) == [good]
    assert live.alive and live.connected
    assert live.skipped == 2 * len(garbage) + 1
    skips = [r.getMessage() for r in caplog.records if "skips a bad" in r.getMessage()]
    assert len(skips) == len(set(skips)) and len(skips) <= len(garbage) + 1  # once per reason
    # the next good alarm arrives as well
    alarm = AlarmEvent(
        alarm_id="LT-201:L",
        source_kind="tag",
        source_id="LT-201",
        kind="L",
        priority=AlarmPriority.MEDIUM,
        state=AlarmState.RETURNED,
        ts=T0,
    )
    _send(producer, alarms_topic, encode(alarm))
    assert _collect(sub, 1) == [alarm]


def test_stop_is_quick_and_leaves_no_thread(kafka_brokers: list[str], topics: dict[str, str]) -> None:
    before = set(threading.enumerate())
    live = KafkaLivePush(Bus(), kafka_brokers, topics=topics).start()
    wait_until(lambda: live.connected, 30, "partition assignment")
    t0 = time.monotonic()
    live.stop()
    assert time.monotonic() - t0 < 2.0
    assert not live.alive and not live.connected
    wait_until(lambda: not (set(threading.enumerate()) - before), 2, "kafka client threads to end")


def test_unreachable_brokers_are_reported_and_stop_is_quick() -> None:
    live = KafkaLivePush(Bus(), ["127.0.0.1:9"], topics=default_topics("nowhere")).start()
    try:
        wait_until(lambda: live.last_error is not None, 10, "an error to report")
        assert not live.connected and live.alive
        assert "127.0.0.1:9" in (live.last_error or "")
    finally:
        t0 = time.monotonic()
        live.stop()
        assert time.monotonic() - t0 < 2.0 and not live.alive


def test_group_is_per_replica_and_streams_are_checked() -> None:
    assert default_group_id().startswith("safetwin-api-") and default_group_id().endswith(
        f"-{__import__('os').getpid()}"
    )
    assert default_topics() == {"safetwin.sensor.reading": SENSOR_READING, "safetwin.alarm.event": ALARM_EVENT}
    with pytest.raises(ValueError, match="unknown contract stream"):
        KafkaLivePush(Bus(), ["k:9092"], topics={"t": "no.such.stream"})
