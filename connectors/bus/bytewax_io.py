"""Bytewax source and sink over the in-process :class:`~connectors.bus.memory.Bus`.

The source never blocks ``next_batch``: it drains what is queued and asks to be woken a few
milliseconds later (``next_awake``), which keeps latency low without spinning a core.
It subscribes in ``build`` (not the constructor) so nothing happens until the flow starts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bytewax.inputs import DynamicSource, StatelessSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors.batches import AlarmBatch, ReadingBatch
from connectors.bus.memory import Bus, Subscription
from models.contracts import ALARM_EVENT, DEADLETTER, SENSOR_READING, stream_of


class _BusPartition(StatelessSourcePartition[Any]):
    def __init__(self, bus: Bus, sub: Subscription, poll: timedelta, max_batch: int) -> None:
        self._bus = bus
        self._sub = sub
        self._poll = poll
        self._max = max_batch
        self._awake: datetime | None = None

    def next_batch(self) -> list[Any]:
        items = self._sub.drain(self._max)
        if items:
            self._awake = None
            return items
        if self._sub.closed:
            raise StopIteration
        self._awake = datetime.now(UTC) + self._poll
        return []

    def next_awake(self) -> datetime | None:
        return self._awake

    def close(self) -> None:
        self._bus.unsubscribe(self._sub)


class BusSource(DynamicSource[Any]):
    """Messages published on one bus stream; ends when the bus is closed."""

    def __init__(
        self,
        bus: Bus,
        stream: str,
        *,
        poll: timedelta = timedelta(milliseconds=5),
        max_batch: int = 10_000,
        maxsize: int = 100_000,
    ):
        self.bus = bus
        self.stream = stream
        self.poll = poll
        self.max_batch = max_batch
        self.maxsize = maxsize

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _BusPartition:
        """Subscribe when the flow starts (worker 0 only: the bus is one process)."""
        sub = self.bus.subscribe(self.stream, maxsize=self.maxsize)
        if worker_index != 0:
            sub.close()
        return _BusPartition(self.bus, sub, self.poll, self.max_batch)


class _BusSinkPartition(StatelessSinkPartition[Any]):
    def __init__(self, bus: Bus, stream: str | None, held_stream: str | None) -> None:
        self._bus = bus
        self._stream = stream
        self._held_stream = held_stream

    def write_batch(self, items: list[Any]) -> None:
        by_stream: dict[str, list[Any]] = {}
        held: list[Any] = []
        for item in items:
            if isinstance(item, ReadingBatch):
                target = self._stream or SENSOR_READING
                if len(item) and self._bus.has_subscribers(target):  # no Python object per reading for nobody
                    by_stream.setdefault(target, []).extend(item.readings())
                if item.dead:
                    by_stream.setdefault(self._stream or DEADLETTER, []).extend(item.dead)
            elif isinstance(item, AlarmBatch):
                by_stream.setdefault(self._stream or ALARM_EVENT, []).extend(item.annunciated)
                held.extend(item.held)
            else:
                by_stream.setdefault(self._stream or stream_of(item), []).append(item)
        for stream, batch in by_stream.items():
            self._bus.publish_many(stream, batch)
        if held and self._held_stream is not None:
            self._bus.publish_many(self._held_stream, held)


class BusSink(DynamicSink[Any]):
    """Publishes what the flow emits on the bus: on one stream, or (``stream=None``) by contract stream.

    Reading batches are expanded into contract structs (only when someone subscribes), alarm
    batches into their annunciated events; held-back events go to ``held_stream`` if given.
    """

    def __init__(self, bus: Bus, stream: str | None = None, *, held_stream: str | None = None) -> None:
        self.bus = bus
        self.stream = stream
        self.held_stream = held_stream

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _BusSinkPartition:
        """One partition per worker, all publishing to the same bus."""
        return _BusSinkPartition(self.bus, self.stream, self.held_stream)
