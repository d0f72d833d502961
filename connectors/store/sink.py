"""Bytewax sink that writes the sensor flow's batches into a :class:`TimeSeriesStore`.

One ``write_batch`` turns into at most three store writes (readings, alarms, dead letters)
whatever it holds: judged :class:`~connectors.batches.ReadingBatch` tables are concatenated
into one Arrow insert. The store's writes are idempotent, so the at-least-once replay after a
recovery doubles nothing. ``on_written`` is told, after the store committed, how many
readings and alarm events a write held and the newest reading time (``/health`` shows the
store's lag; the ingest benchmark measures reading-to-stored latency with it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from bytewax.outputs import DynamicSink, StatelessSinkPartition

from connectors.batches import READINGS_SCHEMA, AlarmBatch, ReadingBatch, readings_to_arrow
from connectors.store.base import TimeSeriesStore
from models.contracts import AlarmEvent, DeadLetter, SensorReading

WriteCallback = Callable[[int, int, int | None], None]
"""``on_written(readings, alarm_events, newest_reading_ts_or_None)``."""


class _StorePartition(StatelessSinkPartition[Any]):
    def __init__(self, store: TimeSeriesStore, on_written: WriteCallback | None, owner: StoreSink) -> None:
        self._store = store
        self._on_written = on_written
        self._owner = owner

    def close(self) -> None:
        self._owner.release()

    def write_batch(self, items: list[Any]) -> None:
        tables: list[pa.Table] = []
        singles: list[SensorReading] = []
        alarms: list[AlarmEvent] = []
        dead: list[DeadLetter] = []
        for m in items:
            if isinstance(m, ReadingBatch):
                if m.table.num_rows:
                    tables.append(m.table)
                dead.extend(m.dead)
            elif isinstance(m, AlarmBatch):
                alarms.extend(m.annunciated)
                alarms.extend(m.held)
            elif isinstance(m, SensorReading):
                singles.append(m)
            elif isinstance(m, AlarmEvent):
                alarms.append(m)
            elif isinstance(m, DeadLetter):
                dead.append(m)
        if singles:
            tables.append(readings_to_arrow(singles))
        newest: int | None = None
        n_readings = 0
        if tables:
            table = (
                tables[0] if len(tables) == 1 else pa.concat_tables([t.select(READINGS_SCHEMA.names) for t in tables])
            )
            self._store.write_readings_arrow(table)
            n_readings = int(table.num_rows)
            newest = pc.max(table["ts"]).as_py()
        if alarms:
            self._store.write_alarms(alarms)
        if dead:
            self._store.write_deadletters(dead)
        if self._on_written is not None and (n_readings or alarms):
            self._on_written(n_readings, len(alarms), newest)


class StoreSink(DynamicSink[Any]):
    """Writes reading batches, alarm batches and dead letters; ignores other messages.

    With ``owns_store`` the store is closed when the last worker's partition closes (a flow
    running alone in its process: DuckDB then checkpoints its WAL and releases the file).
    """

    def __init__(
        self, store: TimeSeriesStore, *, on_written: WriteCallback | None = None, owns_store: bool = False
    ) -> None:
        self.store = store
        self.on_written = on_written
        self.owns_store = owns_store
        self._lock = threading.Lock()
        self._open = 0

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _StorePartition:
        """Every worker writes through the same (thread-safe) store."""
        with self._lock:
            self._open += 1
        return _StorePartition(self.store, self.on_written, self)

    def release(self) -> None:
        """A partition closed; the last one closes an owned store."""
        with self._lock:
            self._open -= 1
            last = self._open == 0
        if last and self.owns_store:
            self.store.close()
