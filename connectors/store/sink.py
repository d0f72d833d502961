"""Bytewax sink that writes contract messages into a :class:`TimeSeriesStore`.

One ``write_batch`` turns into at most three batched store writes (readings, alarms, dead
letters): per-row inserts would cost far more than the store itself. The store's writes are
idempotent, so the at-least-once replay after a recovery doubles nothing.
"""

from __future__ import annotations

from typing import Any

from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors.store.base import TimeSeriesStore
from models.contracts import AlarmEvent, DeadLetter, SensorReading


class _StorePartition(StatelessSinkPartition[Any]):
    def __init__(self, store: TimeSeriesStore) -> None:
        self._store = store

    def write_batch(self, items: list[Any]) -> None:
        readings = [m for m in items if isinstance(m, SensorReading)]
        alarms = [m for m in items if isinstance(m, AlarmEvent)]
        dead = [m for m in items if isinstance(m, DeadLetter)]
        if readings:
            self._store.write_readings(readings)
        if alarms:
            self._store.write_alarms(alarms)
        if dead:
            self._store.write_deadletters(dead)


class StoreSink(DynamicSink[Any]):
    """Writes readings, alarm events and dead letters; ignores other messages."""

    def __init__(self, store: TimeSeriesStore) -> None:
        self.store = store

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _StorePartition:
        """Every worker writes through the same (thread-safe) store."""
        return _StorePartition(self.store)
