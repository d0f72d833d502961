"""Bytewax sink that writes contract messages to one Kafka topic.

Key is ``message.key`` (so all readings of one tag, or all transitions of one alarm, land on
one partition in order) and value is :func:`models.contracts.encode`. Every
``write_batch`` ends with a ``flush`` and checks each delivery, so by the time Bytewax
snapshots the epoch that contained the batch, the broker has acknowledged it (``acks=all``).
A crash before the snapshot replays the batch: delivery is at-least-once, and consumers must
tolerate duplicates.

Example:
    >>> sink = KafkaSink(["127.0.0.1:9092"], "safetwin.alarm.event")
    >>> sink.topic  # the producer is only created when the flow builds the sink
    'safetwin.alarm.event'
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import msgspec
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from kafka import KafkaProducer
from kafka.errors import KafkaError

from connectors.batches import AlarmBatch, ReadingBatch
from models.contracts import encode


class KafkaSinkError(RuntimeError):
    """A batch could not be delivered; the flow stops so the epoch is replayed on restart."""


RECORD_ROWS: Final = 2_000
"""Most readings in one record of the ``sensor.reading`` output topic (about 150 kB of JSON)."""


def _records(items: list[Any], held: bool) -> Iterator[tuple[bytes, bytes]]:
    """Kafka (key, value) records of what the flow emitted: a reading batch is ONE record."""
    for item in items:
        if isinstance(item, ReadingBatch):
            # Chunks keep each record well under Kafka's default 1 MB message limit.
            for start in range(0, len(item), RECORD_ROWS):
                chunk = ReadingBatch(item.shard, item.table.slice(start, RECORD_ROWS))
                yield item.shard.encode(), chunk.to_json()
        elif isinstance(item, AlarmBatch):
            for event in item.held if held else item.annunciated:
                yield event.key.encode(), encode(event)
        else:
            yield item.key.encode(), encode(item)


class _KafkaSinkPartition(StatelessSinkPartition[Any]):
    def __init__(self, producer: KafkaProducer, topic: str, flush_timeout_s: float, held: bool) -> None:
        self._producer = producer
        self._topic = topic
        self._held = held
        self._flush_timeout_s = flush_timeout_s

    def write_batch(self, items: list[Any]) -> None:
        """Send the batch, wait for every acknowledgement, and fail loudly on any loss."""
        futures = []
        try:
            for key, value in _records(items, self._held):
                futures.append(self._producer.send(self._topic, key=key, value=value))
            self._producer.flush(timeout=self._flush_timeout_s)
            for future in futures:
                # Already resolved after flush; raises the delivery error if there was one.
                future.get(timeout=0)
        except KafkaError as err:
            msg = f"could not deliver {len(items)} message(s) to Kafka topic {self._topic!r}"
            raise KafkaSinkError(msg) from err

    def close(self) -> None:
        """Flush anything pending and release the connections."""
        self._producer.close(timeout=self._flush_timeout_s)


class KafkaSink(DynamicSink[msgspec.Struct]):
    """Contract messages to one Kafka topic, one producer per worker.

    Args:
        brokers: Bootstrap addresses, ``host:port``.
        topic: Kafka topic to write.
        linger_ms: How long the producer waits to fill a request; a few ms batches a burst of
            readings into one request without adding visible latency.
        flush_timeout_s: Upper bound on waiting for acknowledgements at the end of a batch.
        producer_config: Extra ``KafkaProducer`` keyword arguments (compression, security).
        held: Of alarm batches, write the events held back during a flood instead of the
            annunciated ones (the held-alarm topic).
    """

    def __init__(
        self,
        brokers: list[str],
        topic: str,
        *,
        linger_ms: int = 5,
        flush_timeout_s: float = 30.0,
        producer_config: dict[str, Any] | None = None,
        held: bool = False,
    ) -> None:
        self.held = held
        self.brokers = list(brokers)
        self.topic = topic
        self.linger_ms = linger_ms
        self.flush_timeout_s = flush_timeout_s
        self.producer_config = dict(producer_config or {})

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _KafkaSinkPartition:
        """Create this worker's producer (the only place the sink does I/O)."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.brokers,
            "client_id": f"safetwin-{step_id}-{worker_index}",
            "acks": "all",
            "linger_ms": self.linger_ms,
        }
        config.update(self.producer_config)
        try:
            producer = KafkaProducer(**config)
        except KafkaError as err:
            msg = f"cannot reach Kafka at {self.brokers}"
            raise KafkaSinkError(msg) from err
        return _KafkaSinkPartition(producer, self.topic, self.flush_timeout_s, self.held)
