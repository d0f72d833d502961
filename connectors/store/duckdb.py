"""Embedded time-series store on DuckDB: the single-box mode of SafeTwin.

Design choices, and why:

* ``ts`` is stored as ``BIGINT`` epoch milliseconds, exactly as the contracts carry it. No
  conversion on write or read, and history buckets are plain integer division.
* Writes go in as one Arrow table per batch with ``INSERT ... ON CONFLICT DO NOTHING`` on the
  primary key, so a Bytewax replay (at-least-once) never doubles a row and no Python loop of
  ``execute`` calls sits on the hot path. The first stored version of a ``(tag, ts)`` wins.
* A small ``latest`` table (one row per tag) is upserted in the same transaction, so the
  live view (``latest()`` over all tags) costs O(tags) instead of a scan of the history.
* Threading: one process owns the DuckDB file (DuckDB allows one writing process). Inside it,
  writes are serialised by a lock on one dedicated writer cursor, while every read opens its own
  short-lived ``cursor()`` (a separate DuckDB connection to the same database). DuckDB's MVCC
  then gives each read a consistent snapshot while the pipeline thread keeps writing, and API
  threads never share a connection object (which DuckDB does not allow concurrently).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, cast

import duckdb
import pyarrow as pa

from connectors.contracts import AlarmEvent, AlarmPriority, AlarmState, DeadLetter, Quality, SensorReading
from connectors.store.base import HistoryPoint

READINGS_SCHEMA: Final = pa.schema(
    [
        ("tag", pa.string()),
        ("ts", pa.int64()),
        ("value", pa.float64()),
        ("quality", pa.string()),
        ("source", pa.string()),
    ]
)
"""Arrow schema accepted by :meth:`DuckDBStore.write_readings_arrow` (ts in epoch ms)."""

_DDL: Final = (
    """CREATE TABLE IF NOT EXISTS readings (
        tag VARCHAR NOT NULL, ts BIGINT NOT NULL, value DOUBLE NOT NULL,
        quality VARCHAR NOT NULL, source VARCHAR NOT NULL,
        PRIMARY KEY (tag, ts))""",
    """CREATE TABLE IF NOT EXISTS latest (
        tag VARCHAR PRIMARY KEY, ts BIGINT NOT NULL, value DOUBLE NOT NULL,
        quality VARCHAR NOT NULL, source VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS alarm_events (
        alarm_id VARCHAR NOT NULL, source_kind VARCHAR NOT NULL, source_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL, priority VARCHAR NOT NULL, state VARCHAR NOT NULL, ts BIGINT NOT NULL,
        value DOUBLE, "limit" DOUBLE, message VARCHAR NOT NULL,
        PRIMARY KEY (alarm_id, ts, state))""",
    """CREATE TABLE IF NOT EXISTS deadletters (
        stream VARCHAR NOT NULL, ts BIGINT NOT NULL, raw VARCHAR NOT NULL, reason VARCHAR NOT NULL,
        PRIMARY KEY (stream, ts, raw))""",
)

_INSERT_READINGS: Final = (
    "INSERT INTO readings SELECT tag, ts, value, quality, source FROM _batch ON CONFLICT DO NOTHING"
)
# Only a strictly newer reading replaces a tag's latest row, so a late or replayed batch
# never moves the live view backwards.
_UPSERT_LATEST: Final = """
    INSERT INTO latest
    SELECT tag, max(ts), arg_max(value, ts), arg_max(quality, ts), arg_max(source, ts) FROM _batch GROUP BY tag
    ON CONFLICT (tag) DO UPDATE SET
        ts = excluded.ts, value = excluded.value, quality = excluded.quality, source = excluded.source
    WHERE excluded.ts > latest.ts"""
_INSERT_ALARMS: Final = (
    'INSERT INTO alarm_events SELECT alarm_id, source_kind, source_id, kind, priority, state, ts, value, "limit", '
    "message FROM _batch ON CONFLICT DO NOTHING"
)
_INSERT_DEADLETTERS: Final = "INSERT INTO deadletters SELECT stream, ts, raw, reason FROM _batch ON CONFLICT DO NOTHING"
_ALARM_COLUMNS: Final = 'alarm_id, source_kind, source_id, kind, priority, state, ts, value, "limit", message'

_ALARMS_SCHEMA: Final = pa.schema(
    [
        ("alarm_id", pa.string()),
        ("source_kind", pa.string()),
        ("source_id", pa.string()),
        ("kind", pa.string()),
        ("priority", pa.string()),
        ("state", pa.string()),
        ("ts", pa.int64()),
        ("value", pa.float64()),
        ("limit", pa.float64()),
        ("message", pa.string()),
    ]
)
_DEADLETTERS_SCHEMA: Final = pa.schema(
    [("stream", pa.string()), ("ts", pa.int64()), ("raw", pa.string()), ("reason", pa.string())]
)


def readings_to_arrow(readings: Sequence[SensorReading]) -> pa.Table:
    """Columnar form of a batch of readings (one pass per column, no per-row SQL).

    Args:
        readings: The batch as contract structs.

    Returns:
        A table with :data:`READINGS_SCHEMA`.
    """
    return pa.table(
        [
            pa.array([r.tag for r in readings], pa.string()),
            pa.array([r.ts for r in readings], pa.int64()),
            pa.array([r.value for r in readings], pa.float64()),
            pa.array([r.quality for r in readings], pa.string()),
            pa.array([r.source for r in readings], pa.string()),
        ],
        schema=READINGS_SCHEMA,
    )


def bucket_width(start_ms: int, end_ms: int, points: int) -> int:
    """Width of a history bucket so that ``[start, end)`` yields at most ``points`` buckets.

    Args:
        start_ms: Inclusive start, epoch ms.
        end_ms: Exclusive end, epoch ms (greater than ``start_ms``).
        points: Maximum number of buckets (at least 1).

    Returns:
        ``ceil((end - start) / points)``, at least 1 ms.
    """
    return max(1, -(-(end_ms - start_ms) // points))


def _check_history_args(start_ms: int, end_ms: int, points: int) -> None:
    if points < 1:
        msg = f"points must be >= 1, got {points}"
        raise ValueError(msg)
    if end_ms < start_ms:
        msg = f"end_ms ({end_ms}) is before start_ms ({start_ms})"
        raise ValueError(msg)


def _reading(row: tuple[Any, ...]) -> SensorReading:
    tag, ts, value, quality, source = row
    return SensorReading(tag=tag, ts=ts, value=value, quality=Quality(quality), source=source)


def _alarm(row: tuple[Any, ...]) -> AlarmEvent:
    alarm_id, source_kind, source_id, kind, priority, state, ts, value, limit, message = row
    return AlarmEvent(
        alarm_id=alarm_id,
        source_kind=source_kind,
        source_id=source_id,
        kind=kind,
        priority=AlarmPriority(priority),
        state=AlarmState(state),
        ts=ts,
        value=value,
        limit=limit,
        message=message,
    )


class DuckDBStore:
    """:class:`~connectors.store.base.TimeSeriesStore` on an embedded DuckDB file.

    Example:
        >>> store = DuckDBStore(":memory:")
        >>> store.init_schema()
        >>> store.write_readings([SensorReading(tag="TT-101", ts=1_000, value=21.5)])
        1
        >>> store.latest()["TT-101"].value
        21.5
        >>> store.close()
    """

    def __init__(self, path: str | Path) -> None:
        """Remember where the database lives; nothing is opened until first use.

        Args:
            path: Database file, or ``":memory:"`` for a private in-memory database.
        """
        self._path = str(path)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._writer: duckdb.DuckDBPyConnection | None = None
        self._open_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False

    # -- connections -------------------------------------------------------------------------

    def _connection(self) -> duckdb.DuckDBPyConnection:
        with self._open_lock:
            if self._closed:
                msg = "DuckDBStore is closed"
                raise RuntimeError(msg)
            if self._con is None:
                if self._path != ":memory:":
                    Path(self._path).parent.mkdir(parents=True, exist_ok=True)
                self._con = duckdb.connect(self._path)
            return self._con

    @contextmanager
    def _read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A private cursor for one read, so concurrent API threads never share a connection."""
        con = self._connection()
        with self._open_lock:
            cur = con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    @contextmanager
    def _write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The single writer cursor inside one transaction; writes are serialised by a lock."""
        with self._write_lock:
            if self._writer is None:
                con = self._connection()
                with self._open_lock:
                    self._writer = con.cursor()
            cur = self._writer
            cur.begin()
            try:
                yield cur
            except BaseException:
                cur.rollback()
                raise
            cur.commit()

    def _insert_batch(self, statements: Sequence[str], batch: pa.Table) -> None:
        with self._write() as cur:
            cur.register("_batch", batch)
            try:
                for sql in statements:
                    cur.execute(sql)
            finally:
                cur.unregister("_batch")

    # -- TimeSeriesStore ---------------------------------------------------------------------

    def init_schema(self) -> None:
        """Create the tables if missing; safe to call on every start-up."""
        with self._write() as cur:
            for ddl in _DDL:
                cur.execute(ddl)

    def write_readings(self, readings: Sequence[SensorReading]) -> int:
        """Insert readings, ignoring any ``(tag, ts)`` already stored; returns rows offered."""
        if not readings:
            return 0
        return self.write_readings_arrow(readings_to_arrow(readings))

    def write_readings_arrow(self, table: pa.Table) -> int:
        """Insert a batch already in columnar form (the fast path for bulk loads and pipelines).

        Args:
            table: Columns ``tag, ts, value, quality, source`` as in :data:`READINGS_SCHEMA`.

        Returns:
            Number of rows offered (duplicates included).
        """
        if table.num_rows == 0:
            return 0
        self._insert_batch((_INSERT_READINGS, _UPSERT_LATEST), table.select(READINGS_SCHEMA.names))
        return int(table.num_rows)

    def write_alarms(self, alarms: Sequence[AlarmEvent]) -> int:
        """Insert alarm events, ignoring duplicates of ``(alarm_id, ts, state)``."""
        if not alarms:
            return 0
        batch = pa.table(
            [
                pa.array([a.alarm_id for a in alarms], pa.string()),
                pa.array([a.source_kind for a in alarms], pa.string()),
                pa.array([a.source_id for a in alarms], pa.string()),
                pa.array([a.kind for a in alarms], pa.string()),
                pa.array([a.priority for a in alarms], pa.string()),
                pa.array([a.state for a in alarms], pa.string()),
                pa.array([a.ts for a in alarms], pa.int64()),
                pa.array([a.value for a in alarms], pa.float64()),
                pa.array([a.limit for a in alarms], pa.float64()),
                pa.array([a.message for a in alarms], pa.string()),
            ],
            schema=_ALARMS_SCHEMA,
        )
        self._insert_batch((_INSERT_ALARMS,), batch)
        return len(alarms)

    def write_deadletters(self, items: Sequence[DeadLetter]) -> int:
        """Keep unusable messages with their reason, once per ``(stream, ts, raw)``."""
        if not items:
            return 0
        batch = pa.table(
            [
                pa.array([d.stream for d in items], pa.string()),
                pa.array([d.ts for d in items], pa.int64()),
                pa.array([d.raw for d in items], pa.string()),
                pa.array([d.reason for d in items], pa.string()),
            ],
            schema=_DEADLETTERS_SCHEMA,
        )
        self._insert_batch((_INSERT_DEADLETTERS,), batch)
        return len(items)

    def latest(self, tags: Sequence[str] | None = None) -> dict[str, SensorReading]:
        """Most recent reading per tag, read from the one-row-per-tag ``latest`` table."""
        with self._read() as cur:
            if tags is None:
                rows = cur.execute("SELECT tag, ts, value, quality, source FROM latest").fetchall()
            else:
                rows = cur.execute(
                    "SELECT tag, ts, value, quality, source FROM latest WHERE tag IN (SELECT unnest($tags::VARCHAR[]))",
                    {"tags": list(tags)},
                ).fetchall()
        return {row[0]: _reading(row) for row in rows}

    def history(self, tag: str, start_ms: int, end_ms: int, points: int = 1000) -> list[HistoryPoint]:
        """Readings of one tag in ``[start, end)`` downsampled to at most ``points`` buckets.

        Buckets are ``width = ceil((end - start) / points)`` wide and start at ``start_ms``;
        empty buckets are omitted. Min and max are exact, so spikes survive downsampling.

        Raises:
            ValueError: If ``points < 1`` or ``end_ms < start_ms``.
        """
        _check_history_args(start_ms, end_ms, points)
        if end_ms == start_ms:
            return []
        width = bucket_width(start_ms, end_ms, points)
        with self._read() as cur:
            rows = cur.execute(
                """SELECT (ts - $start) // $width AS b, min(value), max(value), avg(value), arg_max(value, ts), count(*)
                   FROM readings WHERE tag = $tag AND ts >= $start AND ts < $end
                   GROUP BY b ORDER BY b""",
                {"tag": tag, "start": start_ms, "end": end_ms, "width": width},
            ).fetchall()
        return [
            HistoryPoint(ts=start_ms + b * width, min=lo, max=hi, avg=avg, last=last, count=n)
            for b, lo, hi, avg, last, n in rows
        ]

    def count_readings(self, tag: str | None = None) -> int:
        """Number of distinct stored readings (of one tag, or all)."""
        with self._read() as cur:
            if tag is None:
                row = cur.execute("SELECT count(*) FROM readings").fetchone()
            else:
                row = cur.execute("SELECT count(*) FROM readings WHERE tag = $tag", {"tag": tag}).fetchone()
        return int(cast(tuple[int], row)[0])

    def active_alarms(self) -> list[AlarmEvent]:
        """Latest event of every alarm whose latest state is active, newest first.

        When two events of one alarm share a timestamp, ``returned`` sorts after ``active`` and
        so counts as the later one: a tie never leaves a cleared alarm showing.
        """
        with self._read() as cur:
            rows = cur.execute(
                f"""SELECT {_ALARM_COLUMNS} FROM (
                        SELECT *, row_number() OVER (PARTITION BY alarm_id ORDER BY ts DESC, state DESC) AS rn
                        FROM alarm_events)
                    WHERE rn = 1 AND state = $active ORDER BY ts DESC, alarm_id""",
                {"active": AlarmState.ACTIVE.value},
            ).fetchall()
        return [_alarm(row) for row in rows]

    def alarm_events(
        self, start_ms: int | None = None, end_ms: int | None = None, limit: int = 1000
    ) -> list[AlarmEvent]:
        """Alarm events with ``start <= ts < end`` (either bound optional), newest first."""
        with self._read() as cur:
            rows = cur.execute(
                f"""SELECT {_ALARM_COLUMNS} FROM alarm_events
                    WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
                    ORDER BY ts DESC, alarm_id, state LIMIT $limit""",
                {"start": start_ms, "end": end_ms, "limit": limit},
            ).fetchall()
        return [_alarm(row) for row in rows]

    def deadletters(self, limit: int = 100) -> list[DeadLetter]:
        """Most recent dead letters, newest first."""
        with self._read() as cur:
            rows = cur.execute(
                "SELECT stream, raw, reason, ts FROM deadletters ORDER BY ts DESC, stream LIMIT $limit",
                {"limit": limit},
            ).fetchall()
        return [DeadLetter(stream=s, raw=raw, reason=reason, ts=ts) for s, raw, reason, ts in rows]

    def close(self) -> None:
        """Release the database; stop writer and reader threads first. Idempotent."""
        with self._write_lock, self._open_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            if self._con is not None:
                self._con.close()
                self._con = None
            self._closed = True
