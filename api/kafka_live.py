"""Live push of an API replica in distributed mode, fed from the flow's Kafka output topics.

In embedded mode the flow publishes flagged readings and alarm events straight onto the
in-process bus. In distributed mode the flow runs in other processes and writes
``safetwin.sensor.reading`` (JSON arrays of readings, one per processed batch) and
``safetwin.alarm.event`` (one JSON alarm per message); every API replica runs one
:class:`KafkaLivePush` that tails those topics and republishes the decoded contract structs on
its own bus, where ``/ws/live`` picks them up as it does in embedded mode.

Each replica is its own consumer group (``safetwin-api-<host>-<pid>``) starting at the latest
offsets: live push shows what happens from now on; history comes from the store. No offsets
are committed, so a replica that restarts does not replay what it missed.

Example:
    >>> from connectors.bus.memory import Bus
    >>> push = KafkaLivePush(Bus(), ["kafka:9092"])
    >>> push.connected, push.last_error
    (False, None)
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Any, cast

import msgspec
from kafka import KafkaConsumer
from kafka.errors import KafkaError

from api.background import BackgroundLoop
from connectors.bus.memory import Bus
from connectors.kafka.admin import topic_for
from models.contracts import ALARM_EVENT, SENSOR_READING, STREAM_TYPES, DeadLetter, decode_message, decode_readings

logger = logging.getLogger(__name__)

LIVE_STREAM_NAME = "live"
"""Default bus stream the WebSocket push reads (``api.runtime.LIVE_STREAM``)."""
_MAX_REASONS = 100  # distinct skip reasons logged; past that, bad messages are only counted
_HEALTH_EVERY_S = 1.0


def default_topics(prefix: str = "safetwin") -> dict[str, str]:
    """Output topic -> contract stream of the messages on it."""
    return {topic_for(SENSOR_READING, prefix): SENSOR_READING, topic_for(ALARM_EVENT, prefix): ALARM_EVENT}


def default_group_id() -> str:
    """A consumer group of this replica alone: every replica must see every message."""
    return f"safetwin-api-{socket.gethostname()}-{os.getpid()}"


class KafkaLivePush:
    """Tails the flow's output topics in a daemon thread and republishes them on a bus.

    Never dies on bad input: a message that does not decode is skipped, its reason logged once.
    A broker that goes away is retried until :meth:`stop`; ``connected`` and ``last_error``
    say how it goes (for ``/health``).

    Args:
        bus: The replica's in-process bus.
        brokers: Kafka bootstrap addresses, ``host:port``.
        stream: Bus stream to publish on (the one ``/ws/live`` subscribes to).
        topics: Topic -> contract stream name (default: flagged readings and alarm events).
        group_id: Consumer group (default: one per replica, see :func:`default_group_id`).
        consumer_config: Extra ``KafkaConsumer`` keyword arguments (security, timeouts).
        poll_timeout_s: Longest wait in one poll; bounds how long :meth:`stop` takes.
    """

    def __init__(
        self,
        bus: Bus,
        brokers: list[str],
        *,
        stream: str = LIVE_STREAM_NAME,
        topics: Mapping[str, str] | None = None,
        group_id: str | None = None,
        consumer_config: Mapping[str, Any] | None = None,
        poll_timeout_s: float = 0.5,
    ) -> None:
        self.bus = bus
        self.brokers = list(brokers)
        self.stream = stream
        self.topics = dict(topics) if topics is not None else default_topics()
        for name in self.topics.values():
            if name not in STREAM_TYPES:
                msg = f"unknown contract stream {name!r}"
                raise ValueError(msg)
        self.group_id = group_id or default_group_id()
        self.consumer_config = dict(consumer_config or {})
        self.poll_timeout_s = poll_timeout_s
        self.last_error: str | None = None
        self.received = 0  # items published on the bus
        self.skipped = 0  # messages that did not decode
        self._assigned = False
        self._poll_ok = False
        self._loop = BackgroundLoop("safetwin-kafka-live", self._run)
        self._reasons: set[str] = set()
        self._list_decoders = {
            name: msgspec.json.Decoder(cast(Any, list)[STREAM_TYPES[name]]) for name in set(self.topics.values())
        }

    @property
    def connected(self) -> bool:
        """Partitions assigned and the last poll reached the cluster."""
        return self._assigned and self._poll_ok

    @property
    def alive(self) -> bool:
        """Whether the consuming thread runs."""
        return self._loop.is_alive

    def start(self) -> KafkaLivePush:
        """Start consuming in a daemon thread (no I/O before this)."""
        self._loop.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the thread and close the consumer, waiting at most ``timeout_s``."""
        self._loop.stop(timeout_s)
        if self._loop.is_alive:
            logger.warning("kafka live push did not stop within %.1f s", timeout_s)
        self._assigned = self._poll_ok = False

    # -- consuming thread ------------------------------------------------------------------

    def _run(self) -> None:
        backoff_s = 0.5
        while not self._loop.stopping:
            consumer: KafkaConsumer | None = None
            try:
                consumer = self._consumer()
                self._await_topic_metadata(consumer)
                consumer.subscribe(list(self.topics))
                backoff_s = 0.5
                self._consume(consumer)
            except Exception as err:  # noqa: BLE001 - the thread must outlive any client failure
                self._failed(err)
            finally:
                self._assigned = self._poll_ok = False
                if consumer is not None:
                    try:
                        consumer.close(autocommit=False, timeout_ms=500)
                    except Exception as err:  # noqa: BLE001 - closing is best effort
                        logger.debug("closing the kafka live consumer failed: %s", err)
            if self._loop.wait(backoff_s):
                break
            backoff_s = min(backoff_s * 2, 10.0)

    def _await_topic_metadata(self, consumer: KafkaConsumer, timeout_s: float = 5.0) -> None:
        """Wait, at most ``timeout_s``, until the cluster's metadata lists every topic.

        A group joined before the metadata of a just-created topic arrived is assigned no
        partition; the rebalance kafka-python 3.0 starts once the topic shows up was seen to
        stall for minutes (tests/api/test_risk_warnings_kafka.py, one run in three). Topics
        that do not exist yet (an API started before ``safetwin topics create``) only cost
        the wait, then the metadata refresh assigns them.
        """
        deadline = time.monotonic() + timeout_s
        while not self._loop.stopping and time.monotonic() < deadline:
            if all(consumer.partitions_for_topic(topic) for topic in self.topics):
                return
            self._loop.wait(0.2)

    def _consumer(self) -> KafkaConsumer:
        config: dict[str, Any] = {
            "bootstrap_servers": self.brokers,
            "group_id": self.group_id,
            "client_id": self.group_id,
            "auto_offset_reset": "latest",
            "enable_auto_commit": False,
            "max_poll_records": 500,
            # The broker answers a fetch as soon as one byte is there (fetch_min_bytes 1), so
            # this long-poll wait adds no latency to new data; it only sets how often an idle
            # consumer asks. kafka-python is pure Python: one idle consumer polled every 0.2 s
            # with 500 ms fetches cost 10 ms of CPU a second, with 0.5 s polls (the default
            # poll_timeout_s) and 5 s fetches 3.3 (three per API replica, all of it taken from
            # requests under load); delivery latency the same, 5.2 ms median with a producer
            # at 2.7/s. It stays below request_timeout_ms (30 s), as Kafka requires.
            "fetch_max_wait_ms": 5_000,
            "session_timeout_ms": 10_000,
            "heartbeat_interval_ms": 2_000,
            # The constructor blocks until bootstrapped; keep that short so stop() stays quick
            # (an unreachable cluster is retried with back-off by _run).
            "bootstrap_timeout_ms": 1_000,
            "reconnect_backoff_max_ms": 2_000,
            # A topic created after this consumer subscribed (an operator who starts the API
            # before `safetwin topics create`, or a first metadata answer that raced topic
            # creation) would otherwise stay unassigned for kafka-python's default 5 minutes.
            "metadata_max_age_ms": 5_000,
        }
        config.update(self.consumer_config)
        return KafkaConsumer(**config)

    def _consume(self, consumer: KafkaConsumer) -> None:
        timeout_ms = max(1, int(self.poll_timeout_s * 1000))
        next_health = 0.0
        while not self._loop.stopping:
            batch = consumer.poll(timeout_ms=timeout_ms)
            items: list[Any] = []
            for tp, records in batch.items():
                name = self.topics.get(tp.topic)
                if name is None:
                    continue
                for record in records:
                    items.extend(self._decode(name, record.value))
            if items:
                self.bus.publish_many(self.stream, items)
                self.received += len(items)
            now = time.monotonic()
            if now >= next_health:
                next_health = now + _HEALTH_EVERY_S
                self._assigned = bool(consumer.assignment())
                self._poll_ok = _has_connection(consumer)
                if not self._poll_ok:
                    self.last_error = f"no connection to Kafka at {', '.join(self.brokers)}"
                elif not self._assigned:
                    self.last_error = f"no partitions assigned yet of {', '.join(self.topics)}"
                else:
                    self.last_error = None

    def _decode(self, name: str, raw: bytes | None) -> list[Any]:
        if not raw:
            self._skip(name, "empty message")
            return []
        if raw.lstrip()[:1] == b"[":
            try:
                if name == SENSOR_READING:
                    return list(decode_readings(raw))
                return list(self._list_decoders[name].decode(raw))
            except (msgspec.DecodeError, msgspec.ValidationError) as err:
                self._skip(name, str(err))
                return []
        message = decode_message(name, raw)
        if isinstance(message, DeadLetter) and name != "deadletter":
            self._skip(name, message.reason)
            return []
        return [message]

    def _skip(self, name: str, reason: str) -> None:
        self.skipped += 1
        key = f"{name}: {reason}"[:200]
        if key in self._reasons or len(self._reasons) >= _MAX_REASONS:
            return
        self._reasons.add(key)
        logger.warning("kafka live push skips a bad %s message (logged once per reason): %s", name, reason)

    def _failed(self, err: Exception) -> None:
        text = str(err)
        error = text if text.startswith(type(err).__name__) else f"{type(err).__name__}: {text}"
        if error == self.last_error:  # retries of the same failure are not logged again
            return
        self.last_error = error
        if isinstance(err, KafkaError):
            logger.warning("kafka live push has no consumer, retrying: %s", error)
        else:
            logger.exception("kafka live push failed, retrying")


def _has_connection(consumer: KafkaConsumer) -> bool:
    """Whether the consumer holds an open connection to a broker (kafka-python's metrics)."""
    try:
        metrics = consumer.metrics()
    except Exception:  # noqa: BLE001 - metrics disabled or unavailable: trust the assignment
        return True
    count = (metrics or {}).get("consumer-metrics", {}).get("connection-count")
    return True if count is None else count > 0
