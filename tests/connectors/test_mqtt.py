from __future__ import annotations

import asyncio
import threading
import uuid

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.mqtt.client import (
    BrokerAddress,
    MqttError,
    MqttPublisher,
    MqttSubscriber,
    encode_batch,
    parse_mqtt_url,
    sensor_topic,
)
from connectors.mqtt.payloads import (
    SparkplugTopic,
    decode_payload,
    encode_sparkplug_json,
    parse_sparkplug_topic,
    sparkplug_topic,
)
from models.contracts import SENSOR_READING, DeadLetter, Quality, SensorReading, encode
from tests.conftest import free_port
from twin.field import FieldServers
from twin.plant import load_plant
from twin.simulator import Simulator

START = 1_700_000_000.0


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


@pytest.mark.integration
async def test_no_payload_stops_the_subscription(mqtt_url: str, no_leaks: None) -> None:
    """Invalid UTF-8 in a string, 200,000 nested brackets and 10 MB: dead letters, then the next good reading."""
    topic = f"safetwin/t{uuid.uuid4().hex[:8]}/sensor/PT-101"
    inbox = Inbox()
    subscriber = MqttSubscriber(mqtt_url, topic, inbox)
    publisher = MqttPublisher(mqtt_url)
    good = SensorReading(tag="PT-101", ts=1_700_000_000_000, value=0.85, source="gateway")
    huge = b'{"tag": "PT-101", "ts": 1700000000000, "value": 1.0, "pad": "' + b"x" * 10_000_000 + b'"}'
    try:
        await asyncio.to_thread(subscriber.connect)
        await asyncio.to_thread(publisher.connect)
        publisher.publish(topic, b'{"tag": "PT-\xff\xfe101", "ts": 1700000000000, "value": 1.0}')
        publisher.publish(topic, b"[" * 200_000)
        publisher.publish(topic, b'{"a":' * 200_000)
        publisher.publish(topic, huge)
        publisher.publish_message(topic, good)
        received = await inbox.wait_for(5, timeout=15)
        assert subscriber.connected
    finally:
        await asyncio.to_thread(publisher.close)
        await asyncio.to_thread(subscriber.close)
    utf8, brackets, objects, too_big, ok = received  # one publisher, QoS 0, one topic: order is kept
    assert isinstance(utf8, DeadLetter) and "not valid UTF-8" in utf8.reason and "byte 12" in utf8.reason
    assert utf8.stream == SENSOR_READING and "PT-" in utf8.raw
    for deep in (brackets, objects):
        assert isinstance(deep, DeadLetter) and "nested too deeply" in deep.reason
    assert isinstance(too_big, DeadLetter)
    assert f"{len(huge)} bytes exceeds the 1048576-byte limit" in too_big.reason
    assert too_big.raw.startswith('{"tag": "PT-101"') and f"first 1024 of {len(huge)} bytes" in too_big.raw
    assert len(too_big.raw) < 1100  # the first KiB and a note, never the 10 MB
    assert ok == good


@pytest.mark.integration
async def test_the_payload_limit_is_configurable(
    mqtt_url: str, no_leaks: None, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"safetwin/t{uuid.uuid4().hex[:8]}/sensor/PT-101"
    inbox = Inbox()
    subscriber = MqttSubscriber(mqtt_url, topic, inbox, max_payload_bytes=100)
    publisher = MqttPublisher(mqtt_url)
    small = SensorReading(tag="PT-101", ts=1_700_000_000_000, value=0.85)
    try:
        await asyncio.to_thread(subscriber.connect)
        await asyncio.to_thread(publisher.connect)
        publisher.publish_batch(topic, [small] * 3)  # ~230 bytes: over 100, one reading is 77
        publisher.publish_message(topic, small)
        too_big, ok = await inbox.wait_for(2)
    finally:
        await asyncio.to_thread(publisher.close)
        await asyncio.to_thread(subscriber.close)
    assert isinstance(too_big, DeadLetter) and "exceeds the 100-byte limit" in too_big.reason
    assert ok == small
    assert any("dead-lettered" in r.getMessage() and "100-byte limit" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="max_payload_bytes must be positive"):
        MqttSubscriber(mqtt_url, topic, inbox, max_payload_bytes=0)


def test_undecodable_payloads_become_dead_letters_with_a_reason() -> None:
    for topic in ("safetwin/demo/sensor/X", SP_TOPIC):
        (utf8,) = decode_payload(topic, b'{"tag": "A\xc3(", "ts": 1, "value": 1}', received_ts=RECEIVED)
        assert isinstance(utf8, DeadLetter) and "not valid UTF-8" in utf8.reason
        for deep in (b"[" * 200_000, b'{"m":' * 200_000, b"[" * 100_000 + b"]" * 100_000):
            (dl,) = decode_payload(topic, deep, received_ts=RECEIVED)
            assert isinstance(dl, DeadLetter) and "nested too deeply" in dl.reason, dl.reason
    (sp_utf8,) = decode_payload(SP_TOPIC, b"\x08\xe8\x07\x12\xff", received_ts=RECEIVED)
    assert isinstance(sp_utf8, DeadLetter) and "protobuf" in sp_utf8.reason
    (big,) = decode_payload("a/b", "é" * 600, received_ts=RECEIVED, max_bytes=1000)  # 1,200 bytes as UTF-8
    assert isinstance(big, DeadLetter) and "1200 bytes exceeds the 1000-byte limit" in big.reason


# -- payload formats (pure) -----------------------------------------------------------------------

TS = 1_700_000_000_000
RECEIVED = 1_700_000_009_000
SP_TOPIC = "spBv1.0/plant1/DDATA/gw-1/plc-3"


def test_a_batch_keeps_its_good_readings_and_dead_letters_each_bad_one() -> None:
    good = [SensorReading(tag="PT-101", ts=TS, value=0.85), SensorReading(tag="TT-101", ts=TS, value=21.5)]
    payload = b"[" + encode(good[0]) + b', {"tag": "", "ts": 1, "value": 1}, ' + encode(good[1]) + b', "x"]'
    out = decode_payload("safetwin/demo/batch", payload, received_ts=RECEIVED)
    assert out[0] == good[0] and out[2] == good[1]
    assert isinstance(out[1], DeadLetter) and out[1].reason == "batch element 1: tag must not be empty"
    assert out[1].raw == '{"tag":"","ts":1,"value":1}' and out[1].ts == RECEIVED
    assert isinstance(out[3], DeadLetter) and out[3].reason.startswith("batch element 3: Expected `object`")
    assert decode_payload("t", encode_batch(good)) == good
    [empty] = decode_payload("t", b"[]", received_ts=RECEIVED)
    assert isinstance(empty, DeadLetter) and "empty batch" in empty.reason
    [broken] = decode_payload("t", b'[{"tag": "PT-101"', received_ts=RECEIVED)
    assert isinstance(broken, DeadLetter) and "malformed JSON batch" in broken.reason


def test_sparkplug_topics_are_built_and_parsed() -> None:
    assert sparkplug_topic("plant1", "NDATA", "gw-1") == "spBv1.0/plant1/NDATA/gw-1"
    assert parse_sparkplug_topic(SP_TOPIC) == SparkplugTopic("plant1", "DDATA", "gw-1", "plc-3")
    assert parse_sparkplug_topic("safetwin/demo/sensor/PT-101") is None
    with pytest.raises(ValueError, match="not a Sparkplug B topic"):
        parse_sparkplug_topic("spBv1.0/plant1/DATA/gw-1")
    with pytest.raises(ValueError, match="unknown Sparkplug message type"):
        sparkplug_topic("plant1", "XDATA", "gw-1")
    with pytest.raises(ValueError, match="must be non-empty"):
        sparkplug_topic("plant/1", "DDATA", "gw-1")


def test_sparkplug_metrics_become_readings_with_their_own_time_and_quality() -> None:
    body = {
        "timestamp": TS,
        "seq": 7,
        "metrics": [
            {"name": "PT-101", "timestamp": TS + 500, "dataType": "Double", "value": 0.85},
            {"name": "TT-101", "value": 21.5, "quality": 64},  # OPC DA uncertain; payload time
            {"name": "LSHH-101", "value": True, "properties": {"Quality": {"type": "Int32", "value": 0}}},
            {"name": "AT-901", "value": 12, "quality": "stale"},
            {"alias": 12, "value": 3.0},
            {"name": "FT-101", "value": None, "is_null": True},
            {"name": "FT-102", "value": "high"},
            {"name": "FT-103", "value": 1.0, "quality": "excellent"},
        ],
    }
    out = decode_payload(SP_TOPIC, msgspec.json.encode(body), received_ts=RECEIVED)
    src = "sparkplug/plant1/gw-1/plc-3"
    assert out[:4] == [
        SensorReading(tag="PT-101", ts=TS + 500, value=0.85, quality=Quality.GOOD, source=src),
        SensorReading(tag="TT-101", ts=TS, value=21.5, quality=Quality.UNCERTAIN, source=src),
        SensorReading(tag="LSHH-101", ts=TS, value=1.0, quality=Quality.BAD, source=src),
        SensorReading(tag="AT-901", ts=TS, value=12.0, quality=Quality.STALE, source=src),
    ]
    dead = out[4:]
    assert all(isinstance(d, DeadLetter) and d.stream == SENSOR_READING for d in dead)
    reasons = [d.reason for d in dead if isinstance(d, DeadLetter)]
    assert "aliases are not resolved" in reasons[0]
    assert "FT-101: metric has no value" in reasons[1]
    assert "FT-102: value must be a finite number" in reasons[2]
    assert "FT-103: unknown quality 'excellent'" in reasons[3]
    assert all(r.startswith("Sparkplug DDATA from plant1/gw-1/plc-3: metric ") for r in reasons)


def test_sparkplug_messages_without_values_and_malformed_ones() -> None:
    # death certificates and commands carry no readings: nothing, and nothing dead-lettered
    assert decode_payload("spBv1.0/plant1/NDEATH/gw-1", b'{"metrics": []}') == []
    assert decode_payload("spBv1.0/plant1/DCMD/gw-1/plc-3", b"\x08\x01") == []
    # birth certificates carry full values
    [r] = decode_payload("spBv1.0/plant1/NBIRTH/gw-1", b'{"timestamp": 5, "metrics": [{"name": "X", "value": 1}]}')
    assert (r.tag, r.ts, r.source) == ("X", 5, "sparkplug/plant1/gw-1")
    protobuf = b"\x08\xe8\x07\x12\x0b\n\x06PT-101 \n"  # a real Sparkplug B protobuf payload
    [dl] = decode_payload(SP_TOPIC, protobuf, received_ts=RECEIVED)
    assert isinstance(dl, DeadLetter) and "protobuf Sparkplug B is not supported" in dl.reason
    [dl] = decode_payload(SP_TOPIC, b'{"timestamp": 1}', received_ts=RECEIVED)
    assert isinstance(dl, DeadLetter) and "'metrics' list" in dl.reason
    [dl] = decode_payload("spBv1.0/plant1/DDATA", b"{}", received_ts=RECEIVED)
    assert isinstance(dl, DeadLetter) and "not a Sparkplug B topic" in dl.reason


readings_strategy = st.lists(
    st.builds(
        SensorReading,
        tag=st.text(min_size=1, max_size=20),
        ts=st.integers(min_value=1, max_value=2**53),
        value=st.floats(allow_nan=False, allow_infinity=False),
        quality=st.sampled_from(list(Quality)),
        source=st.just("sparkplug/g/e/d"),
    ),
    max_size=20,
)


@given(readings=readings_strategy)
def test_sparkplug_and_batch_encodings_round_trip(readings: list[SensorReading]) -> None:
    assert decode_payload("spBv1.0/g/DDATA/e/d", encode_sparkplug_json(readings, timestamp=TS)) == readings
    if readings:
        assert decode_payload("safetwin/x", encode_batch(readings)) == readings


@given(
    topic=st.sampled_from(["safetwin/demo/sensor/X", SP_TOPIC, "spBv1.0/g/NDATA/e", "spBv1.0/bad"]),
    payload=st.binary(max_size=200)
    | st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["name", "value", "metrics", "tag", "ts", "timestamp", "quality", "alias"]),
                inner,
                max_size=5,
            )
        ),
        max_leaves=20,
    ).map(lambda v: msgspec.json.encode(v) if not isinstance(v, float) or v == v else b"0"),
)
def test_no_payload_ever_raises_and_nothing_is_dropped_silently(topic: str, payload: bytes) -> None:
    out = decode_payload(topic, payload, received_ts=RECEIVED)
    assert all(isinstance(x, SensorReading | DeadLetter) for x in out)
    assert all(x.reason for x in out if isinstance(x, DeadLetter))
    if not topic.startswith("spBv1.0/g/NDATA") and not topic.startswith("spBv1.0/plant1"):
        assert out  # contract JSON and malformed topics always yield at least one item


# -- batches and Sparkplug over the real broker ---------------------------------------------------


@pytest.mark.integration
async def test_batches_and_sparkplug_payloads_over_the_broker(mqtt_url: str, no_leaks: None) -> None:
    group = f"t{uuid.uuid4().hex[:8]}"
    inbox = Inbox()
    batches = MqttSubscriber(mqtt_url, f"safetwin/{group}/batch", inbox)
    sparkplug = MqttSubscriber(mqtt_url, f"spBv1.0/{group}/+/gw-1/#", inbox)
    publisher = MqttPublisher(mqtt_url)
    scan = [SensorReading(tag=f"TT-{i}", ts=TS + i, value=20.0 + i, source="gw") for i in range(5)]
    try:
        for session in (batches, sparkplug, publisher):
            await asyncio.to_thread(session.connect)
        publisher.publish_batch(f"safetwin/{group}/batch", scan)
        received = await inbox.wait_for(5)
        assert received == scan  # one message, five readings, in order
        publisher.publish_sparkplug(group, "gw-1", "plc-3", scan[:2])
        publisher.publish_sparkplug(group, "gw-1", None, [], message_type="NDEATH")  # no readings
        publisher.publish(sparkplug_topic(group, "DDATA", "gw-1", "plc-3"), b"\x08\xe8\x07\x12")  # protobuf
        received = await inbox.wait_for(8)
    finally:
        for session in (publisher, batches, sparkplug):
            await asyncio.to_thread(session.close)
    src = f"sparkplug/{group}/gw-1/plc-3"
    assert received[5:7] == [SensorReading(tag=r.tag, ts=r.ts, value=r.value, source=src) for r in scan[:2]]
    dl = received[7]
    assert isinstance(dl, DeadLetter) and "protobuf" in dl.reason
