"""Bytewax source that reads one Kafka topic and yields typed contract messages.

Offsets live in Bytewax's recovery state, not in a Kafka consumer group: each Bytewax
partition (one per Kafka partition) snapshots the offset of the next record it will read, and
``build_part`` seeks there on resume. A restart from a recovery snapshot therefore replays
exactly the records after the last consistent epoch, and nothing is committed to Kafka.

Every record value goes through :func:`models.contracts.decode_message`, so a malformed
record becomes a :class:`~models.contracts.DeadLetter` carrying the reason and the flow
keeps running.

Example:
    >>> from models.contracts import SENSOR_READING
    >>> src = KafkaSource(["127.0.0.1:9092"], "safetwin.sensor.reading", SENSOR_READING)
    >>> src.topic, src.tail  # no I/O happens until the flow lists and builds partitions
    ('safetwin.sensor.reading', True)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from connectors.batches import RawRecord
from models.contracts import dead_letter, decode_message

logger = logging.getLogger(__name__)

# How long an idle partition sleeps before polling again: short enough for sub-second latency,
# long enough that an idle flow does not spin a core (Bytewax's own default pause is 1 ms).
IDLE_PAUSE = timedelta(milliseconds=20)


class KafkaSourceError(RuntimeError):
    """The topic cannot be read at all (missing topic, unreachable cluster)."""


def _part_name(partition: int, topic: str) -> str:
    return f"{partition}-{topic}"


def _part_index(name: str) -> int:
    return int(name.split("-", 1)[0])


class _KafkaPartition(StatefulSourcePartition[Any, int]):
    """One Kafka partition: a consumer pinned to it with ``assign`` (no group, no commits)."""

    def __init__(
        self,
        consumer: KafkaConsumer,
        tp: TopicPartition,
        stream: str,
        *,
        next_offset: int,
        end_offset: int | None,
        batch_size: int,
        poll_timeout_ms: int,
        raw: bool = False,
    ) -> None:
        self._raw = raw
        self._consumer = consumer
        self._tp = tp
        self._stream = stream
        self._offset = next_offset
        self._end = end_offset
        self._batch_size = batch_size
        self._poll_timeout_ms = poll_timeout_ms
        self._awake: datetime | None = None

    def next_batch(self) -> list[Any]:
        """Decode what the consumer already fetched; never waits longer than the poll timeout."""
        if self._end is not None and self._offset >= self._end:
            raise StopIteration
        records = self._consumer.poll(timeout_ms=self._poll_timeout_ms, max_records=self._batch_size).get(self._tp, [])
        if not records:
            if self._end is not None:
                # Transaction markers and compaction leave offsets without records: trust the
                # consumer's position so a bounded read still ends.
                self._offset = max(self._offset, self._consumer.position(self._tp))
                if self._offset >= self._end:
                    raise StopIteration
            # Pace the next attempt instead of sleeping: Bytewax keeps the worker free meanwhile.
            self._awake = datetime.now(UTC) + IDLE_PAUSE
            return []
        self._awake = None
        batch: list[Any] = []
        values: list[RawRecord | bytes] = []
        for record in records:
            if self._end is not None and record.offset >= self._end:
                break
            received = record.timestamp if record.timestamp and record.timestamp > 0 else None
            if record.value is None:
                batch.append(
                    dead_letter(self._stream, b"", f"null value (tombstone) at offset {record.offset}", ts=received)
                )
            elif self._raw:
                values.append(RawRecord(record.value, received) if received else record.value)
            else:
                batch.append(decode_message(self._stream, record.value, received_ts=received))
            self._offset = record.offset + 1
        if values:
            batch.append(values)  # raw mode: the whole fetch is ONE item, parsed as a batch downstream
        return batch

    def next_awake(self) -> datetime | None:
        """When an empty poll asked to be woken up again (``None``: as soon as possible)."""
        return self._awake

    def snapshot(self) -> int:
        """The offset of the next record to read: exactly where a resumed flow restarts."""
        return self._offset

    def close(self) -> None:
        """Close the consumer without committing anything (offsets live in recovery state)."""
        self._consumer.close(autocommit=False)


class KafkaSource(FixedPartitionedSource[Any, int]):
    """Typed messages of one stream from one Kafka topic, one Bytewax partition per Kafka partition.

    Items are contract messages (e.g. :class:`~models.contracts.SensorReading`) or
    :class:`~models.contracts.DeadLetter` records for values that failed to decode.

    Args:
        brokers: Bootstrap addresses, ``host:port``.
        topic: Kafka topic to read.
        stream: Contract stream name used to decode values (e.g. ``"sensor.reading"``).
        tail: Keep waiting for new records (``True``), or end each partition at the end
            offset it had when the flow started (``False``: tests and batch back-fills).
        batch_size: Most records returned by one ``next_batch`` call per partition.
        poll_timeout_ms: How long one poll may wait for data. Keep it 0 or tiny: a blocking
            poll stalls every other step on the worker.
        consumer_config: Extra ``KafkaConsumer`` keyword arguments (security, timeouts).
        raw: Emit each fetch as ONE item, the list of record values undecoded (the sensor
            flow parses a whole batch at once); tombstones still become dead letters.
    """

    def __init__(
        self,
        brokers: list[str],
        topic: str,
        stream: str,
        *,
        tail: bool = True,
        batch_size: int = 1000,
        poll_timeout_ms: int = 0,
        consumer_config: dict[str, Any] | None = None,
        raw: bool = False,
    ) -> None:
        self.raw = raw
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise ValueError(msg)
        if poll_timeout_ms < 0:
            msg = f"poll_timeout_ms must be >= 0, got {poll_timeout_ms}"
            raise ValueError(msg)
        self.brokers = list(brokers)
        self.topic = topic
        self.stream = stream
        self.tail = tail
        self.batch_size = batch_size
        self.poll_timeout_ms = poll_timeout_ms
        self.consumer_config = dict(consumer_config or {})

    def _consumer(self, client_id: str) -> KafkaConsumer:
        config: dict[str, Any] = {
            "bootstrap_servers": self.brokers,
            "client_id": client_id,
            "group_id": None,
            "enable_auto_commit": False,
            # A resumed offset that retention already deleted restarts at the oldest record.
            "auto_offset_reset": "earliest",
            # A source must not create the topic by asking for it: a typo would go unnoticed.
            "allow_auto_create_topics": False,
            "max_poll_records": self.batch_size,
        }
        config.update(self.consumer_config)
        return KafkaConsumer(**config)

    def list_parts(self) -> list[str]:
        """Every partition of the topic; any worker can read any of them."""
        try:
            consumer = self._consumer("safetwin-list-parts")
        except KafkaError as err:
            msg = f"cannot reach Kafka at {self.brokers}"
            raise KafkaSourceError(msg) from err
        try:
            partitions = consumer.partitions_for_topic(self.topic)
        finally:
            consumer.close(autocommit=False)
        if not partitions:
            msg = f"Kafka topic {self.topic!r} does not exist or has no partitions (brokers {self.brokers})"
            raise KafkaSourceError(msg)
        return [_part_name(p, self.topic) for p in sorted(partitions)]

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _KafkaPartition:
        """Pin a consumer to one partition and seek to the resumed offset (or the beginning)."""
        tp = TopicPartition(self.topic, _part_index(for_part))
        consumer = self._consumer(f"safetwin-{step_id}-{for_part}")
        try:
            consumer.assign([tp])
            if resume_state is None:
                next_offset = consumer.beginning_offsets([tp])[tp]
            else:
                next_offset = resume_state
            consumer.seek(tp, next_offset)
            end_offset = None if self.tail else consumer.end_offsets([tp])[tp]
        except KafkaError as err:
            consumer.close(autocommit=False)
            msg = f"cannot open Kafka partition {for_part!r} at {self.brokers}"
            raise KafkaSourceError(msg) from err
        logger.debug("kafka partition %s starts at offset %s (end %s)", for_part, next_offset, end_offset)
        return _KafkaPartition(
            consumer,
            tp,
            self.stream,
            next_offset=next_offset,
            end_offset=end_offset,
            batch_size=self.batch_size,
            raw=self.raw,
            poll_timeout_ms=self.poll_timeout_ms,
        )
