"""Bytewax source of readings that gateways push over MQTT.

One Bytewax partition per topic filter: a filter is subscribed by exactly one worker, so
with several workers every message still enters the flow once (overlapping filters, such as
``a/#`` and ``a/b``, would deliver a message twice: give disjoint filters). Payloads are
decoded by :func:`connectors.mqtt.payloads.decode_payload`: contract JSON (single or batch)
or Sparkplug-like JSON on ``spBv1.0/...``; unusable payloads arrive as
:class:`~models.contracts.DeadLetter` items with the reason.

paho's network thread receives the messages and appends them to a queue; ``next_batch``
only drains that queue, so it never blocks the worker, and an empty partition asks to be
woken after ``idle_pause`` instead of spinning.

Recovery: MQTT cannot replay what the broker already delivered, so the snapshot is ``None``
and a resumed flow continues with new messages (at-most-once across a crash; the next
publication of a tag supersedes what was lost). Where loss matters, gateways should publish
to Kafka, which :mod:`connectors.kafka.source` reads with offsets in the recovery state.

Example:
    >>> src = MqttSource("mqtt://127.0.0.1:1883", ["safetwin/demo/sensor/#", "spBv1.0/demo/+/gw-1/#"])
    >>> src.list_parts()  # nothing connects until a partition is built
    ['safetwin/demo/sensor/#', 'spBv1.0/demo/+/gw-1/#']
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from connectors.mqtt.client import MqttSubscriber
from models.contracts import DeadLetter, SensorReading


class _MqttPartition(StatefulSourcePartition[SensorReading | DeadLetter, None]):
    def __init__(
        self,
        subscriber: MqttSubscriber,
        inbox: collections.deque[SensorReading | DeadLetter],
        *,
        idle_pause: timedelta,
        max_batch: int,
        stop_after: int | None,
    ) -> None:
        self._subscriber = subscriber
        self._inbox = inbox
        self._idle_pause = idle_pause
        self._max_batch = max_batch
        self._left = stop_after
        self._awake: datetime | None = None

    def next_batch(self) -> list[SensorReading | DeadLetter]:
        """What paho's thread has received since the last call; never waits."""
        if self._left is not None and self._left <= 0:
            raise StopIteration
        limit = self._max_batch if self._left is None else min(self._max_batch, self._left)
        inbox = self._inbox
        batch: list[SensorReading | DeadLetter] = []
        while inbox and len(batch) < limit:
            batch.append(inbox.popleft())
        if self._left is not None:
            self._left -= len(batch)
        self._awake = None if batch else datetime.now(UTC) + self._idle_pause
        return batch

    def next_awake(self) -> datetime | None:
        """After an empty batch, come back after the idle pause instead of spinning."""
        return self._awake

    def snapshot(self) -> None:
        """Nothing to resume: the broker does not replay delivered messages."""
        return None

    def close(self) -> None:
        """Unsubscribe and stop paho's network thread."""
        self._subscriber.close()


class MqttSource(FixedPartitionedSource[SensorReading | DeadLetter, None]):
    """Readings (and dead letters) from MQTT topic filters, one partition per filter.

    Args:
        url: ``mqtt://host:port`` of the broker.
        topics: Disjoint topic filters, e.g. ``["safetwin/demo/sensor/#"]``.
        qos: Subscription QoS (1: the broker retries delivery while we are connected).
        idle_pause: How long an empty partition waits before Bytewax asks again; bounds the
            added latency (default 20 ms).
        max_batch: Most items handed over by one ``next_batch``.
        stop_after: End each partition after this many items (commissioning checks, tests);
            ``None`` reads until the flow stops.
        connect_timeout_s: How long building a partition waits for the broker.
    """

    def __init__(
        self,
        url: str,
        topics: Sequence[str],
        *,
        qos: int = 1,
        idle_pause: timedelta = timedelta(milliseconds=20),
        max_batch: int = 10_000,
        stop_after: int | None = None,
        connect_timeout_s: float = 10.0,
    ) -> None:
        if not topics or len(set(topics)) != len(topics):
            msg = f"give one or more distinct topic filters, got {list(topics)}"
            raise ValueError(msg)
        if max_batch < 1 or (stop_after is not None and stop_after < 1):
            msg = "max_batch and stop_after must be >= 1"
            raise ValueError(msg)
        self.url = url
        self.topics = list(topics)
        self.qos = qos
        self.idle_pause = idle_pause
        self.max_batch = max_batch
        self.stop_after = stop_after
        self.connect_timeout_s = connect_timeout_s

    def list_parts(self) -> list[str]:
        """One partition per topic filter."""
        return list(self.topics)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _MqttPartition:
        """Subscribe to one filter; returns once the broker has acknowledged the subscription.

        Raises:
            MqttError: The broker is unreachable or refused the subscription.
        """
        inbox: collections.deque[SensorReading | DeadLetter] = collections.deque()
        subscriber = MqttSubscriber(self.url, for_part, inbox.append, qos=self.qos)
        subscriber.connect(timeout=self.connect_timeout_s)
        return _MqttPartition(
            subscriber, inbox, idle_pause=self.idle_pause, max_batch=self.max_batch, stop_after=self.stop_after
        )
