from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator

import pytest

from connectors.contracts import SENSOR_READING, DeadLetter, SensorReading
from connectors.mqtt.client import (
    BrokerAddress,
    MqttError,
    MqttPublisher,
    MqttSubscriber,
    parse_mqtt_url,
    sensor_topic,
)
from tests.conftest import free_port
from twin.field import FieldServers
from twin.plant import load_plant
from twin.simulator import Simulator

START = 1_700_000_000.0


@pytest.fixture
async def no_leaks() -> AsyncIterator[None]:
    """Fail a test that leaves asyncio tasks or threads (paho's network loop) behind."""
    tasks = asyncio.all_tasks()
    threads = set(threading.enumerate())
    yield
    for _ in range(100):
        leaked = [t for t in asyncio.all_tasks() - tasks if t is not asyncio.current_task() and not t.done()]
        extra = [t for t in set(threading.enumerate()) - threads if not t.name.startswith("asyncio_")]
        if not leaked and not extra:
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"leaked tasks {leaked} / threads {extra}")


class Inbox:
    """Collects what paho's thread hands over; the test polls it from the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[SensorReading | DeadLetter] = []

    def __call__(self, item: SensorReading | DeadLetter) -> None:
        with self._lock:
            self.items.append(item)

    async def wait_for(self, n: int, timeout: float = 5.0) -> list[SensorReading | DeadLetter]:
        async with asyncio.timeout(timeout):
            while True:
                with self._lock:
                    if len(self.items) >= n:
                        return list(self.items)
                await asyncio.sleep(0.01)


def test_urls_are_parsed() -> None:
    assert parse_mqtt_url("mqtt://broker.local:1884") == BrokerAddress("broker.local", 1884)
    assert parse_mqtt_url("mqtt://u%40x:p%3Aw@10.0.0.5") == BrokerAddress("10.0.0.5", 1883, "u@x", "p:w")
    assert parse_mqtt_url("tcp://h:1") == BrokerAddress("h", 1)
    with pytest.raises(ValueError, match="unsupported MQTT URL scheme"):
        parse_mqtt_url("http://h:1883")
    with pytest.raises(ValueError, match="has no host"):
        parse_mqtt_url("mqtt://:1883")
    assert sensor_topic("demo", "PT-101") == "safetwin/demo/sensor/PT-101"


async def test_unreachable_broker_raises_mqtt_error(no_leaks: None) -> None:
    publisher = MqttPublisher(f"mqtt://127.0.0.1:{free_port()}")
    with pytest.raises(MqttError, match="cannot reach MQTT broker"):
        await asyncio.to_thread(publisher.connect)
    publisher.close()
    with pytest.raises(MqttError, match="before connect"):
        publisher.publish("x", b"y")


@pytest.mark.integration
async def test_field_servers_publish_every_reading(mqtt_url: str, no_leaks: None) -> None:
    # a plant id of its own so parallel runs on one broker do not see each other's readings
    base = load_plant()
    plant = base.model_copy(update={"plant": base.plant.model_copy(update={"id": f"t{uuid.uuid4().hex[:8]}"})})
    inbox = Inbox()
    subscriber = MqttSubscriber(mqtt_url, f"safetwin/{plant.plant.id}/sensor/#", inbox)
    await asyncio.to_thread(subscriber.connect)
    servers = FieldServers(
        plant, Simulator(plant, 3, START), modbus_port=free_port(), opcua_port=free_port(), mqtt_url=mqtt_url
    )
    try:
        await servers.start()
        produced = await servers.step(START + 5)
        received = await inbox.wait_for(len(produced))
    finally:
        await servers.stop()
        await asyncio.to_thread(subscriber.close)
    assert sorted(received, key=lambda r: getattr(r, "tag", "")) == sorted(produced, key=lambda r: r.tag)


@pytest.mark.integration
async def test_malformed_payloads_become_dead_letters(mqtt_url: str, no_leaks: None) -> None:
    topic = f"safetwin/t{uuid.uuid4().hex[:8]}/sensor/PT-101"
    inbox = Inbox()
    subscriber = MqttSubscriber(mqtt_url, topic, inbox)
    publisher = MqttPublisher(mqtt_url)
    good = SensorReading(tag="PT-101", ts=1_700_000_000_000, value=0.85, source="gateway")
    try:
        await asyncio.to_thread(subscriber.connect)
        await asyncio.to_thread(publisher.connect)
        assert publisher.connected and subscriber.connected
        publisher.publish(topic, b"{not json")
        publisher.publish(topic, b'{"tag": "", "ts": 1700000000000, "value": 1.0}')
        publisher.publish(topic, b'{"tag": "PT-101", "ts": 1700000000000, "value": "high"}')
        publisher.publish_message(topic, good)
        received = await inbox.wait_for(4)
    finally:
        await asyncio.to_thread(publisher.close)
        await asyncio.to_thread(subscriber.close)
    bad, empty_tag, wrong_type, ok = received  # one publisher, QoS 0, one topic: order is kept
    for dl in (bad, empty_tag, wrong_type):
        assert isinstance(dl, DeadLetter) and dl.stream == SENSOR_READING and dl.reason
    assert isinstance(bad, DeadLetter) and bad.raw == "{not json"
    assert isinstance(empty_tag, DeadLetter) and "tag must not be empty" in empty_tag.reason
    assert isinstance(wrong_type, DeadLetter) and "float" in wrong_type.reason
    assert ok == good


@pytest.mark.integration
async def test_a_failing_callback_does_not_stop_the_subscriber(mqtt_url: str, no_leaks: None) -> None:
    topic = f"safetwin/t{uuid.uuid4().hex[:8]}/sensor/X"
    inbox = Inbox()

    def flaky(item: SensorReading | DeadLetter) -> None:
        inbox(item)
        if len(inbox.items) == 1:
            msg = "consumer bug"
            raise RuntimeError(msg)

    subscriber = MqttSubscriber(mqtt_url, topic, flaky)
    publisher = MqttPublisher(mqtt_url)
    try:
        await asyncio.to_thread(subscriber.connect)
        await asyncio.to_thread(publisher.connect)
        for value in (1.0, 2.0):
            publisher.publish_message(topic, SensorReading(tag="X", ts=1_700_000_000_000, value=value))
        received = await inbox.wait_for(2)
    finally:
        await asyncio.to_thread(publisher.close)
        await asyncio.to_thread(subscriber.close)
    assert [getattr(r, "value", None) for r in received] == [1.0, 2.0]
