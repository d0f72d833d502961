"""Consumer-group ingestion into the time-series store with manual commits after the write.

Outside a Bytewax flow (a plain ingestion service, several replicas sharing the load), Kafka
consumer groups spread a topic's partitions over the consumers and remember where each group
got to. The order of the two side effects decides what a crash costs:

1. poll a batch (at most ``max_poll_records``);
2. decode it: malformed records become dead letters, which are *stored* too, with the reason;
3. write the batch to the store;
4. only then commit the offsets of that batch.

A crash before 4 replays the batch after the restart (at-least-once). The store is
idempotent on the message key and event time, so the replay doubles nothing: the effect is
exactly once. Committing before writing would instead lose the batch on a crash.

A rebalance between 3 and 4 (another consumer joined and took the partition) makes the
commit fail; that is logged, and the new owner replays the batch into the same idempotent
store.

Example:
    >>> from connectors.store.duckdb import DuckDBStore
    >>> ingest = KafkaGroupIngestor(["127.0.0.1:9092"], "safetwin.sensor.reading", "ingest", DuckDBStore(":memory:"))
    >>> ingest.group_id, ingest.stream  # nothing connects until start()
    ('ingest', 'sensor.reading')
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from connectors.store.base import TimeSeriesStore
from models.contracts import (
    ALARM_EVENT,
    SENSOR_READING,
    AlarmEvent,
    DeadLetter,
    SensorReading,
    dead_letter,
    decode_message,
)

logger = logging.getLogger(__name__)


class KafkaGroupError(RuntimeError):
    """The consumer could not join the group or read the topic."""


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """What one poll did."""

    records: int
    readings: int
    alarms: int
    deadletters: int
    committed: dict[int, int]
    """Partition -> next offset committed for it (empty when nothing was committed)."""


@dataclass(slots=True)
class IngestStats:
    """Running totals of one ingestor (records counts every delivery, replays included)."""

    records: int = 0
    readings: int = 0
    alarms: int = 0
    deadletters: int = 0
    commits: int = 0
    failed_commits: int = 0
    partitions_seen: set[int] = field(default_factory=set)


class KafkaGroupIngestor:
    """Reads one topic as a member of a consumer group and writes it to the store.

    Args:
        brokers: Bootstrap addresses, ``host:port``.
        topic: Kafka topic to read.
        group_id: Consumer group; replicas with the same id share the partitions.
        store: Idempotent time-series store (the exactly-once effect depends on it).
        stream: Contract stream of the topic: ``"sensor.reading"`` or ``"alarm.event"``.
        max_poll_records: Most records per poll, i.e. per store write and commit.
        poll_timeout_ms: How long one poll waits for records.
        consumer_config: Extra ``KafkaConsumer`` keyword arguments (security, timeouts).
    """

    def __init__(
        self,
        brokers: Sequence[str],
        topic: str,
        group_id: str,
        store: TimeSeriesStore,
        stream: str = SENSOR_READING,
        *,
        max_poll_records: int = 500,
        poll_timeout_ms: int = 200,
        consumer_config: dict[str, Any] | None = None,
    ) -> None:
        if stream not in (SENSOR_READING, ALARM_EVENT):
            msg = f"stream must be {SENSOR_READING!r} or {ALARM_EVENT!r}, got {stream!r}"
            raise ValueError(msg)
        if max_poll_records < 1 or poll_timeout_ms < 0:
            msg = "max_poll_records must be >= 1 and poll_timeout_ms >= 0"
            raise ValueError(msg)
        self.brokers = list(brokers)
        self.topic = topic
        self.group_id = group_id
        self.store = store
        self.stream = stream
        self.max_poll_records = max_poll_records
        self.poll_timeout_ms = poll_timeout_ms
        self.consumer_config = dict(consumer_config or {})
        self.stats = IngestStats()
        self._consumer: KafkaConsumer | None = None

    @property
    def assignment(self) -> set[int]:
        """Partitions this member owns right now."""
        if self._consumer is None:
            return set()
        return {tp.partition for tp in self._consumer.assignment() if tp.topic == self.topic}

    def start(self) -> None:
        """Connect and subscribe (idempotent); the group assigns partitions on the first polls.

        Raises:
            KafkaGroupError: The cluster is unreachable.
        """
        if self._consumer is not None:
            return
        config: dict[str, Any] = {
            "bootstrap_servers": self.brokers,
            "group_id": self.group_id,
            "client_id": f"safetwin-ingest-{self.group_id}",
            "enable_auto_commit": False,  # we commit, after the store write
            "auto_offset_reset": "earliest",  # a new group reads the whole topic
            "max_poll_records": self.max_poll_records,
            "allow_auto_create_topics": False,
        }
        config.update(self.consumer_config)
        try:
            consumer = KafkaConsumer(**config)
            consumer.subscribe([self.topic])
        except KafkaError as err:
            msg = f"cannot join consumer group {self.group_id!r} at {self.brokers}"
            raise KafkaGroupError(msg) from err
        self._consumer = consumer

    def poll_once(self, *, commit: bool = True) -> IngestBatch:
        """Poll, decode, write to the store and (unless ``commit=False``) commit one batch.

        Args:
            commit: ``False`` leaves the batch uncommitted: what a crash between the store
                write and the commit leaves behind (used to test exactly that).
        """
        if self._consumer is None:
            self.start()
        assert self._consumer is not None
        polled = self._consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.max_poll_records)
        records = [r for batch in polled.values() for r in batch]
        if not records:
            return IngestBatch(0, 0, 0, 0, {})
        readings: list[SensorReading] = []
        alarms: list[AlarmEvent] = []
        dead: list[DeadLetter] = []
        next_offsets: dict[TopicPartition, int] = {}
        for tp, batch in polled.items():
            for record in batch:
                item = self._decode(record)
                if isinstance(item, SensorReading):
                    readings.append(item)
                elif isinstance(item, AlarmEvent):
                    alarms.append(item)
                else:
                    dead.append(item)
            next_offsets[tp] = batch[-1].offset + 1
        # Write first: the commit below is the promise that these records are stored.
        if readings:
            self.store.write_readings(readings)
        if alarms:
            self.store.write_alarms(alarms)
        if dead:
            self.store.write_deadletters(dead)
        committed = self._commit(next_offsets) if commit else {}
        st = self.stats
        st.records += len(records)
        st.readings += len(readings)
        st.alarms += len(alarms)
        st.deadletters += len(dead)
        st.partitions_seen.update(tp.partition for tp in polled)
        return IngestBatch(len(records), len(readings), len(alarms), len(dead), committed)

    def run(self, stop: threading.Event) -> None:
        """Poll, write and commit until ``stop`` is set, then leave the group without committing more."""
        self.start()
        try:
            while not stop.is_set():
                self.poll_once()
        finally:
            self.close()

    def close(self) -> None:
        """Leave the group. Nothing is committed here: every stored batch was committed after its write."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.close(autocommit=False)

    # -- internals ----------------------------------------------------------------------------

    def _decode(self, record: Any) -> SensorReading | AlarmEvent | DeadLetter:
        received = record.timestamp if record.timestamp and record.timestamp > 0 else None
        where = f"{self.topic}[{record.partition}]@{record.offset}"
        if record.value is None:
            return dead_letter(self.stream, b"", f"null value (tombstone) at {where}", ts=received)
        item = decode_message(self.stream, record.value, received_ts=received)
        if isinstance(item, DeadLetter):
            return dead_letter(self.stream, record.value, f"{item.reason} (at {where})", ts=item.ts)
        assert isinstance(item, SensorReading | AlarmEvent)
        return item

    def _commit(self, next_offsets: dict[TopicPartition, int]) -> dict[int, int]:
        assert self._consumer is not None
        offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in next_offsets.items()}
        try:
            self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as err:
            # Partitions moved to another member; it replays the batch into the idempotent store.
            self.stats.failed_commits += 1
            logger.warning("commit of %s failed for group %s: %s", dict(next_offsets), self.group_id, err)
            return {}
        self.stats.commits += 1
        return {tp.partition: offset for tp, offset in next_offsets.items()}
