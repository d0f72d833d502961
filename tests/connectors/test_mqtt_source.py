"""MqttSource in real Bytewax flows against the real broker (``mqtt_url`` fixture)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, cluster_main, run_main

from connectors.mqtt.client import MqttError, MqttPublisher
from connectors.mqtt.source import MqttSource
from models.contracts import DeadLetter, SensorReading
from tests.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

T0 = 1_700_000_000_000


class Gateway(threading.Thread):
    """Publishes a numbered reading on each topic every few ms until stopped.

    The flow subscribes at some moment after the gateway started; the test then checks
    that from the first message it saw, nothing is missing, doubled or out of order.
    """

    def __init__(self, url: str, topics: list[str]) -> None:
        super().__init__(name="test-gateway", daemon=True)
        self.publisher = MqttPublisher(url)
        self.topics = topics
        self.stop_event = threading.Event()

    def run(self) -> None:
        seq = 0
        while not self.stop_event.is_set():
            for topic in self.topics:
                reading = SensorReading(tag=topic.rsplit("/", 1)[-1], ts=T0 + seq, value=float(seq))
                self.publisher.publish_message(topic, reading, qos=1)
            seq += 1
            time.sleep(0.005)


@pytest.fixture
def gateway_for(mqtt_url: str) -> Iterator[Any]:
    started: list[Gateway] = []

    def start(topics: list[str]) -> Gateway:
        gw = Gateway(mqtt_url, topics)
        gw.publisher.connect()
        gw.start()
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop_event.set()
        gw.join(5)
        gw.publisher.close()


def flow_of(source: MqttSource, out: list[Any]) -> Dataflow:
    flow = Dataflow("mqtt_source")
    items = op.input("in", flow, source)
    # items: SensorReading | DeadLetter
    op.output("out", items, TestingSink(out))
    return flow


def assert_gapless(readings: list[SensorReading]) -> None:
    seqs = [int(r.value) for r in readings]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


@pytest.mark.parametrize("workers", [1, 2])
def test_flow_receives_every_message_once_in_order(mqtt_url: str, gateway_for: Any, workers: int) -> None:
    base = f"safetwin/t{uuid.uuid4().hex[:8]}"
    topics = [f"{base}/a/PT-101", f"{base}/b/TT-101"]
    gateway_for(topics)
    source = MqttSource(mqtt_url, [f"{base}/a/#", f"{base}/b/#"], stop_after=40)
    out: list[Any] = []
    if workers == 1:
        run_main(flow_of(source, out))
    else:
        cluster_main(flow_of(source, out), [], 0, worker_count_per_proc=2)
    assert len(out) == 80 and all(isinstance(r, SensorReading) for r in out)
    for tag in ("PT-101", "TT-101"):
        assert_gapless([r for r in out if r.tag == tag])


def test_partition_never_blocks_and_dead_letters_bad_payloads(mqtt_url: str) -> None:
    topic = f"safetwin/t{uuid.uuid4().hex[:8]}/gw"
    source = MqttSource(mqtt_url, [topic])
    part = source.build_part("in", topic, None)
    publisher = MqttPublisher(mqtt_url)
    try:
        t0 = time.monotonic()
        assert part.next_batch() == []
        assert time.monotonic() - t0 < 0.05
        assert part.next_awake() is not None
        publisher.connect()
        good = SensorReading(tag="PT-101", ts=T0, value=0.85)
        publisher.publish(topic, b"{not json", qos=1)
        publisher.publish_batch(topic, [good, good], qos=1)
        got: list[Any] = []
        deadline = time.monotonic() + 5
        while len(got) < 3 and time.monotonic() < deadline:
            t0 = time.monotonic()
            got.extend(part.next_batch())
            assert time.monotonic() - t0 < 0.05
            time.sleep(0.01)
        assert part.snapshot() is None
    finally:
        publisher.close()
        part.close()
    assert isinstance(got[0], DeadLetter) and got[0].raw == "{not json" and got[0].reason
    assert got[1:] == [good, good]


def test_unreachable_broker_fails_the_partition_loudly() -> None:
    source = MqttSource(f"mqtt://127.0.0.1:{free_port()}", ["x/#"], connect_timeout_s=1)
    with pytest.raises(MqttError, match="cannot reach"):
        source.build_part("in", "x/#", None)
    with pytest.raises(ValueError, match="distinct topic filters"):
        MqttSource("mqtt://h", ["a", "a"])
