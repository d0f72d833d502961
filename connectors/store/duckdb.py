"""Embedded time-series store on DuckDB: the single-box mode of SafeTwin.

Design choices, and why:

* ``ts`` is stored as ``BIGINT`` epoch milliseconds, exactly as the contracts carry it. No
  conversion on write or read, and history buckets are plain integer division.
* Writes go in as one Arrow table per batch with ``INSERT ... ON CONFLICT DO NOTHING`` on the
  primary key, so a Bytewax replay (at-least-once) never doubles a row and no Python loop of
  ``execute`` calls sits on the hot path. The first stored version of a ``(tag, ts)`` wins.
* A small ``latest`` table (one row per tag) is upserted in the same transaction, so the
  live view (``latest()`` over all tags) costs O(tags) instead of a scan of the history.
* Rollups: ``readings_1m`` (min, max, sum, count, last per tag and minute) is a *table*,
  maintained incrementally in the same transaction: the insert into ``readings`` uses
  ``RETURNING`` to learn which rows were really new (a replayed ``(tag, ts)`` is not returned),
  and only those are merged into their minutes with ``ON CONFLICT DO UPDATE`` (count and sum
  add, min/max/last combine). So a replay never double counts and the cost is O(batch), not a
  re-aggregation of whole buckets. ``readings_1h`` is a *view* over ``readings_1m`` (60 rows an
  hour to combine): a second upserted table doubled the write cost for a read that is cheap
  anyway. A view over the raw table was rejected: 30 days would re-aggregate 2.6 M rows per
  query. :meth:`DuckDBStore.rebuild_rollups` recomputes the minutes from ``readings`` (used
  once to backfill a database written before the rollups existed).
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
import msgspec
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from connectors.batches import READINGS_SCHEMA as READINGS_SCHEMA
from connectors.batches import readings_to_arrow as readings_to_arrow
from connectors.store.base import (
    ROLLUP_MS,
    AlarmRow,
    DerivedQueries,
    HistoryPoint,
    HistoryRow,
    RollupInterval,
    check_history_args,
    plan_buckets,
)
from models.contracts import (
    AlarmEvent,
    AlarmPriority,
    AlarmState,
    Contribution,
    DeadLetter,
    LocationPosition,
    PdmPrediction,
    Quality,
    RiskLevel,
    RiskScore,
    SensorReading,
    VideoDetection,
)

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

_ROLLUP_TABLES: Final[dict[RollupInterval, str]] = {"1m": "readings_1m", "1h": "readings_1h"}
_ROLLUP_DDL: Final = """CREATE TABLE IF NOT EXISTS readings_1m (
    tag VARCHAR NOT NULL, bucket BIGINT NOT NULL, min_v DOUBLE NOT NULL, max_v DOUBLE NOT NULL,
    sum_v DOUBLE NOT NULL, cnt BIGINT NOT NULL, last_ts BIGINT NOT NULL, last_v DOUBLE NOT NULL,
    PRIMARY KEY (tag, bucket))"""
_HOURLY_VIEW: Final = """CREATE VIEW IF NOT EXISTS readings_1h AS
    SELECT tag, bucket - bucket % 3600000 AS bucket, min(min_v) AS min_v, max(max_v) AS max_v, sum(sum_v) AS sum_v,
           sum(cnt)::BIGINT AS cnt, max(last_ts) AS last_ts, arg_max(last_v, last_ts) AS last_v
    FROM readings_1m GROUP BY ALL"""
# Merge the aggregates of *new* rows (never replayed ones) into a rollup. SET expressions all
# read the old row, so last_v compares against the old last_ts.
_MERGE_ROLLUP: Final = """
    INSERT INTO {table}
    SELECT tag, ts - ts % {width} AS bucket, min(value), max(value), sum(value), count(*), max(ts), arg_max(value, ts)
    FROM {source} GROUP BY ALL
    ON CONFLICT (tag, bucket) DO UPDATE SET
        min_v = least({table}.min_v, excluded.min_v),
        max_v = greatest({table}.max_v, excluded.max_v),
        sum_v = {table}.sum_v + excluded.sum_v,
        cnt = {table}.cnt + excluded.cnt,
        last_v = CASE WHEN excluded.last_ts > {table}.last_ts THEN excluded.last_v ELSE {table}.last_v END,
        last_ts = greatest({table}.last_ts, excluded.last_ts)"""

_INSERT_READINGS: Final = (
    "INSERT INTO readings SELECT tag, ts, value, quality, source FROM _batch ON CONFLICT DO NOTHING"
    " RETURNING tag, ts, value"
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


# Risk scores (issue 10): one row per (hazard source, event time); contributions as JSON text.
# A replayed recomputation carries the same values, so the upsert only settles a same-ms tie.
_RISK_DDL: Final = """CREATE TABLE IF NOT EXISTS risk_scores (
    hazard_source_id VARCHAR NOT NULL, ts BIGINT NOT NULL, level VARCHAR NOT NULL, score DOUBLE NOT NULL,
    contributions VARCHAR NOT NULL, PRIMARY KEY (hazard_source_id, ts))"""
_INSERT_RISK: Final = """INSERT INTO risk_scores SELECT hazard_source_id, ts, level, score, contributions FROM _batch
    ON CONFLICT (hazard_source_id, ts) DO UPDATE SET level = excluded.level, score = excluded.score,
    contributions = excluded.contributions"""
_RISK_SCHEMA: Final = pa.schema(
    [
        ("hazard_source_id", pa.string()),
        ("ts", pa.int64()),
        ("level", pa.string()),
        ("score", pa.float64()),
        ("contributions", pa.string()),
    ]
)


# PdM (issue 10): features and predictions per (asset, window time); JSON text for the lists.
_PDM_DDL: Final = (
    """CREATE TABLE IF NOT EXISTS pdm_features (
        asset_id VARCHAR NOT NULL, ts BIGINT NOT NULL, features VARCHAR NOT NULL, PRIMARY KEY (asset_id, ts))""",
    """CREATE TABLE IF NOT EXISTS pdm_predictions (
        asset_id VARCHAR NOT NULL, ts BIGINT NOT NULL, health DOUBLE NOT NULL, anomaly_score DOUBLE NOT NULL,
        rul_days DOUBLE, top_features VARCHAR NOT NULL, PRIMARY KEY (asset_id, ts))""",
)


def _risk(row: tuple[Any, ...]) -> RiskScore:
    sid, ts, level, score, contributions = row
    return RiskScore(
        hazard_source_id=sid,
        ts=ts,
        level=RiskLevel(level),
        score=score,
        contributions=msgspec.json.decode(contributions, type=list[Contribution]),
    )


# Positions and video detections (issue 11): one row per (person, ts) / detection.
_PEOPLE_DDL: Final = (
    """CREATE TABLE IF NOT EXISTS positions (
        person_id VARCHAR NOT NULL, tag_id VARCHAR NOT NULL, ts BIGINT NOT NULL, x DOUBLE NOT NULL,
        y DOUBLE NOT NULL, z DOUBLE NOT NULL, floor INTEGER NOT NULL, zone_ids VARCHAR NOT NULL,
        accuracy_m DOUBLE, PRIMARY KEY (person_id, ts))""",
    """CREATE TABLE IF NOT EXISTS video_detections (
        camera_id VARCHAR NOT NULL, ts BIGINT NOT NULL, label VARCHAR NOT NULL, confidence DOUBLE NOT NULL,
        x0 INTEGER NOT NULL, y0 INTEGER NOT NULL, x1 INTEGER NOT NULL, y1 INTEGER NOT NULL,
        track_id VARCHAR NOT NULL, zone_id VARCHAR, snapshot_ref VARCHAR,
        PRIMARY KEY (camera_id, ts, label, track_id, x0, y0))""",
)
_POSITION_COLUMNS: Final = "person_id, tag_id, ts, x, y, z, floor, zone_ids, accuracy_m"
_DETECTION_COLUMNS: Final = "camera_id, ts, label, confidence, x0, y0, x1, y1, track_id, zone_id, snapshot_ref"


def _position(row: tuple[Any, ...]) -> LocationPosition:
    person, tag, ts, x, y, z, floor, zones, acc = row
    return LocationPosition(
        person_id=person, tag_id=tag, ts=ts, x=x, y=y, z=z, floor=floor,
        zone_ids=[z for z in zones.split(",") if z], accuracy_m=acc,
    )  # fmt: skip


def _detection(row: tuple[Any, ...]) -> VideoDetection:
    cam, ts, label, conf, x0, y0, x1, y1, track, zone, snap = row
    return VideoDetection(
        camera_id=cam, ts=ts, label=label, confidence=conf, bbox=(x0, y0, x1, y1),
        track_id=track or None, zone_id=zone, snapshot_ref=snap,
    )  # fmt: skip


class DuckDBStore(DerivedQueries):
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
        self.readings_written = 0
        """Batches of readings this object has written (after their commit); a change voids the
        API's copy of every tag's latest reading (``api.latest_readings``)."""

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
            existing = {row[0] for row in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
            for ddl in _DDL:
                cur.execute(ddl)
            cur.execute(_ROLLUP_DDL)
            cur.execute(_HOURLY_VIEW)
            cur.execute(_RISK_DDL)
            for ddl in _PDM_DDL:
                cur.execute(ddl)
            for ddl in _PEOPLE_DDL:
                cur.execute(ddl)
        if "readings" in existing and "readings_1m" not in existing:
            self.rebuild_rollups()  # a database from before the rollups: backfill once

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
        with self._write() as cur:
            cur.register("_batch", table.select(READINGS_SCHEMA.names))
            try:
                # Only rows really inserted come back, so replays never reach the rollups.
                new = cur.sql(_INSERT_READINGS).to_arrow_table()
                cur.execute(_UPSERT_LATEST)
            finally:
                cur.unregister("_batch")
            if new.num_rows:
                cur.register("_new", new)
                try:
                    cur.execute(_MERGE_ROLLUP.format(table="readings_1m", width=ROLLUP_MS["1m"], source="_new"))
                finally:
                    cur.unregister("_new")
        self.readings_written += 1  # after the commit: a reader that sees the change can read the rows
        return int(table.num_rows)

    def rebuild_rollups(self) -> None:
        """Recompute the rollups from ``readings`` (a reconciliation; exact, but a full scan)."""
        with self._write() as cur:
            cur.execute("DELETE FROM readings_1m")
            cur.execute(_MERGE_ROLLUP.format(table="readings_1m", width=ROLLUP_MS["1m"], source="readings"))

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
            elif len(tags) == 1:  # one tag's latest value (the API's): its key, ~0.08 ms less CPU
                rows = cur.execute(
                    "SELECT tag, ts, value, quality, source FROM latest WHERE tag = $tag", {"tag": tags[0]}
                ).fetchall()
            else:
                rows = cur.execute(
                    # list_contains, not IN (SELECT unnest(...)): no semi-join to plan, ~0.5 ms less CPU
                    "SELECT tag, ts, value, quality, source FROM latest WHERE list_contains($tags::VARCHAR[], tag)",
                    {"tags": list(tags)},
                ).fetchall()
        return {row[0]: _reading(row) for row in rows}

    def history(
        self, tag: str, start_ms: int, end_ms: int, points: int = 1000, *, use_rollups: bool = True
    ) -> list[HistoryPoint]:
        """Readings of one tag in ``[start, end)`` downsampled to at most ``points`` buckets.

        See :meth:`history_rows` (the same buckets as plain tuples).

        Raises:
            ValueError: If ``points < 1`` or ``end_ms < start_ms``.
        """
        return [HistoryPoint(*row) for row in self.history_rows(tag, start_ms, end_ms, points, use_rollups=use_rollups)]

    def readings_from(self, tag: str, start_ms: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Times and values of every reading of ``tag`` at or after ``start_ms``, oldest first.

        For the API's copy of a tag's recent readings (api/recent_history.py): read once, they
        answer every request for the tag's trend for a second from memory, where each request
        cost a bucket query (2.2 ms of CPU for a day of 10 s readings, 3.7 ms at 1 Hz).
        """
        with self._read() as cur:
            got = cur.execute(
                "SELECT ts, value FROM readings WHERE tag = $tag AND ts >= $start ORDER BY ts",
                {"tag": tag, "start": start_ms},
            ).fetchnumpy()
        return np.asarray(got["ts"], dtype=np.int64), np.asarray(got["value"], dtype=np.float64)

    def history_rows(
        self, tag: str, start_ms: int, end_ms: int, points: int = 1000, *, use_rollups: bool = True
    ) -> list[HistoryRow]:
        """Readings of one tag in ``[start, end)`` downsampled to at most ``points`` buckets.

        Buckets follow :func:`~connectors.store.base.plan_buckets`: narrow ones come from
        the raw readings (``width = ceil((end - start) / points)`` from ``start_ms``); wide
        ones from the 1-minute or 1-hour rollup, with the partial rollup buckets at either edge
        taken from the raw readings so the result is exact. Empty buckets are omitted. Min
        and max are exact, so spikes survive downsampling. ``use_rollups=False`` computes the
        same buckets from the raw readings only (for the benchmark and to check the rollups).

        Raises:
            ValueError: If ``points < 1`` or ``end_ms < start_ms``.
        """
        check_history_args(start_ms, end_ms, points)
        if end_ms == start_ms:
            return []
        plan = plan_buckets(start_ms, end_ms, points)
        params = {"tag": tag, "start": start_ms, "end": end_ms, "origin": plan.origin, "width": plan.width}
        if plan.unit is None or not use_rollups:
            sql = """SELECT (ts - $origin) // $width AS k,
                            min(value), max(value), avg(value), arg_max(value, ts), count(*)
                     FROM readings WHERE tag = $tag AND ts >= $start AND ts < $end
                     GROUP BY k ORDER BY k"""
        else:
            unit = ROLLUP_MS[plan.unit]
            params["a"] = -(-start_ms // unit) * unit  # first whole rollup bucket
            params["b"] = end_ms - end_ms % unit  # end of the last whole one
            sql = f"""WITH parts AS (
                    SELECT bucket AS t, min_v, max_v, sum_v, cnt, last_ts, last_v FROM {_ROLLUP_TABLES[plan.unit]}
                    WHERE tag = $tag AND bucket >= $a AND bucket < $b
                    UNION ALL
                    SELECT ts, value, value, value, 1, ts, value FROM readings
                    WHERE tag = $tag AND ts >= $start AND ts < least($a, $end)
                    UNION ALL
                    SELECT ts, value, value, value, 1, ts, value FROM readings
                    WHERE tag = $tag AND ts >= greatest($b, $a) AND ts < $end)
                SELECT (t - $origin) // $width AS k, min(min_v), max(max_v), sum(sum_v) / sum(cnt),
                       arg_max(last_v, last_ts), sum(cnt)::BIGINT
                FROM parts GROUP BY k ORDER BY k"""
        with self._read() as cur:
            rows = cur.execute(sql, params).fetchall()
        return plan.rows(rows)  # k and count come back as Python ints (BIGINT)

    def rollups(
        self,
        tag: str,
        interval: RollupInterval,
        start_ms: int,
        end_ms: int,
        *,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[HistoryPoint]:
        """Stored rollup buckets of one tag whose start lies in ``[start, end)``, oldest first.

        Each bucket covers its whole minute or hour (also readings outside the range).

        Raises:
            ValueError: If ``interval`` is not ``"1m"`` or ``"1h"``, or the bounds are reversed.
        """
        if interval not in _ROLLUP_TABLES:
            msg = f"interval must be one of {sorted(_ROLLUP_TABLES)}, got {interval!r}"
            raise ValueError(msg)
        check_history_args(start_ms, end_ms, 1)
        with self._read() as cur:
            rows = cur.execute(
                f"""SELECT bucket, min_v, max_v, sum_v / cnt, last_v, cnt FROM {_ROLLUP_TABLES[interval]}
                    WHERE tag = $tag AND bucket >= $start AND bucket < $end
                    ORDER BY bucket LIMIT $limit OFFSET $offset""",
                {"tag": tag, "start": start_ms, "end": end_ms, "limit": limit, "offset": offset},
            ).fetchall()
        return [HistoryPoint(ts=b, min=lo, max=hi, avg=avg, last=last, count=n) for b, lo, hi, avg, last, n in rows]

    def above_limit_ms(self, tag: str, limit: float, start_ms: int, end_ms: int, max_hold_ms: int | None) -> int:
        """Time in ``[start, end)`` the tag's held value was >= ``limit`` (see TagStatistics).

        The last reading before ``start`` holds into the period and the first one at or after
        ``end`` closes the last interval; the newest reading ever holds for nothing (its
        duration is unknown).
        """
        hold = max_hold_ms if max_hold_ms is not None else 1 << 62
        with self._read() as cur:
            row = cur.execute(
                """WITH r AS (
                        SELECT ts, value FROM readings WHERE tag = $tag AND ts >= $start AND ts < $end
                        UNION ALL (SELECT ts, value FROM readings
                                   WHERE tag = $tag AND ts < $start AND ts >= $start - $hold
                                   ORDER BY ts DESC LIMIT 1)
                        UNION ALL (SELECT ts, value FROM readings WHERE tag = $tag AND ts >= $end ORDER BY ts LIMIT 1)),
                    w AS (SELECT ts, value, lead(ts) OVER (ORDER BY ts) AS nxt FROM r)
                    SELECT coalesce(sum(greatest(0, least(nxt, $end, ts + $hold) - greatest(ts, $start))), 0)::BIGINT
                    FROM w WHERE value >= $limit AND nxt IS NOT NULL""",
                {"tag": tag, "start": start_ms, "end": end_ms, "hold": hold, "limit": limit},
            ).fetchone()
        return int(cast(tuple[int], row)[0])

    def tag_alarm_rows(self, tags: Sequence[str], end_ms: int) -> list[AlarmRow]:
        """Events of alarms on these tags before ``end_ms``: (tag, alarm_id, state, ts)."""
        with self._read() as cur:
            rows = cur.execute(
                """SELECT source_id, alarm_id, state, ts FROM alarm_events
                   WHERE source_kind = 'tag' AND source_id IN (SELECT unnest($tags::VARCHAR[])) AND ts < $end""",
                {"tags": list(tags), "end": end_ms},
            ).fetchall()
        return [(t, a, st, ts) for t, a, st, ts in rows]

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

    # -- risk scores (issue 10) ---------------------------------------------------------------

    def write_risk_scores(self, scores: Sequence[RiskScore]) -> int:
        """Upsert risk scores on ``(hazard_source_id, ts)`` (a replay writes the same row)."""
        if not scores:
            return 0
        batch = pa.table(
            [
                pa.array([r.hazard_source_id for r in scores], pa.string()),
                pa.array([r.ts for r in scores], pa.int64()),
                pa.array([str(r.level) for r in scores], pa.string()),
                pa.array([r.score for r in scores], pa.float64()),
                pa.array([msgspec.json.encode(r.contributions).decode() for r in scores], pa.string()),
            ],
            schema=_RISK_SCHEMA,
        )
        self._insert_batch((_INSERT_RISK,), batch)
        return len(scores)

    def latest_risk(self) -> dict[str, RiskScore]:
        """The newest score of every hazard source."""
        with self._read() as cur:
            rows = cur.execute(
                """SELECT hazard_source_id, max(ts), arg_max(level, ts), arg_max(score, ts),
                          arg_max(contributions, ts)
                   FROM risk_scores GROUP BY hazard_source_id ORDER BY hazard_source_id"""
            ).fetchall()
        return {row[0]: _risk(row) for row in rows}

    def risk_history(
        self, hazard_source_id: str, start_ms: int | None = None, end_ms: int | None = None, limit: int = 1000
    ) -> list[RiskScore]:
        """Scores of one source with ``start <= ts < end`` (bounds optional), newest first."""
        with self._read() as cur:
            rows = cur.execute(
                """SELECT hazard_source_id, ts, level, score, contributions FROM risk_scores
                   WHERE hazard_source_id = $sid AND ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
                   ORDER BY ts DESC LIMIT $limit""",
                {"sid": hazard_source_id, "start": start_ms, "end": end_ms, "limit": limit},
            ).fetchall()
        return [_risk(row) for row in rows]

    # -- positions and video detections (issue 11) --------------------------------------------

    def write_positions(self, positions: Sequence[LocationPosition]) -> int:
        """Insert fixes, ignoring a repeated ``(person_id, ts)`` (replays double nothing)."""
        if not positions:
            return 0
        batch = pa.table(
            {
                "person_id": pa.array([p.person_id for p in positions], pa.string()),
                "tag_id": pa.array([p.tag_id for p in positions], pa.string()),
                "ts": pa.array([p.ts for p in positions], pa.int64()),
                "x": pa.array([p.x for p in positions], pa.float64()),
                "y": pa.array([p.y for p in positions], pa.float64()),
                "z": pa.array([p.z for p in positions], pa.float64()),
                "floor": pa.array([p.floor for p in positions], pa.int32()),
                "zone_ids": pa.array([",".join(p.zone_ids) for p in positions], pa.string()),
                "accuracy_m": pa.array([p.accuracy_m for p in positions], pa.float64()),
            }
        )
        sql = f"INSERT INTO positions SELECT {_POSITION_COLUMNS} FROM _batch ON CONFLICT DO NOTHING"
        self._insert_batch((sql,), batch)
        return len(positions)

    def latest_positions(self, since_ms: int | None = None) -> list[LocationPosition]:
        """The newest fix of every person (seen at or after ``since_ms`` if given), by person."""
        with self._read() as cur:
            rows = cur.execute(
                f"""SELECT {_POSITION_COLUMNS} FROM positions WHERE $since IS NULL OR ts >= $since
                    QUALIFY row_number() OVER (PARTITION BY person_id ORDER BY ts DESC) = 1 ORDER BY person_id""",
                {"since": since_ms},
            ).fetchall()
        return [_position(r) for r in rows]

    def positions_between(
        self, start_ms: int, end_ms: int, person_id: str | None = None, limit: int = 100_000
    ) -> list[LocationPosition]:
        """Fixes with ``start <= ts < end`` (one person or all), oldest first: tracks and replay."""
        with self._read() as cur:
            rows = cur.execute(
                f"""SELECT {_POSITION_COLUMNS} FROM positions
                    WHERE ts >= $start AND ts < $end AND ($person IS NULL OR person_id = $person)
                    ORDER BY ts, person_id LIMIT $limit""",
                {"start": start_ms, "end": end_ms, "person": person_id, "limit": limit},
            ).fetchall()
        return [_position(r) for r in rows]

    def position_heatmap(self, start_ms: int, end_ms: int, cell_m: float) -> list[tuple[int, int, int]]:
        """Fixes per ``cell_m`` square of the plan in a window: ``(ix, iy, count)``."""
        with self._read() as cur:
            rows = cur.execute(
                """SELECT floor(x / $cell)::BIGINT AS ix, floor(y / $cell)::BIGINT AS iy, count(*) FROM positions
                   WHERE ts >= $start AND ts < $end GROUP BY ALL ORDER BY ix, iy""",
                {"start": start_ms, "end": end_ms, "cell": cell_m},
            ).fetchall()
        return [(int(a), int(b), int(c)) for a, b, c in rows]

    def write_detections(self, detections: Sequence[VideoDetection]) -> int:
        """Insert video detections, ignoring an exact repeat (a replayed Kafka record)."""
        if not detections:
            return 0
        batch = pa.table(
            {
                "camera_id": pa.array([d.camera_id for d in detections], pa.string()),
                "ts": pa.array([d.ts for d in detections], pa.int64()),
                "label": pa.array([d.label for d in detections], pa.string()),
                "confidence": pa.array([d.confidence for d in detections], pa.float64()),
                **{
                    name: pa.array([d.bbox[i] for d in detections], pa.int32())
                    for i, name in enumerate(("x0", "y0", "x1", "y1"))
                },
                "track_id": pa.array([d.track_id or "" for d in detections], pa.string()),
                "zone_id": pa.array([d.zone_id for d in detections], pa.string()),
                "snapshot_ref": pa.array([d.snapshot_ref for d in detections], pa.string()),
            }
        )
        sql = f"INSERT INTO video_detections SELECT {_DETECTION_COLUMNS} FROM _batch ON CONFLICT DO NOTHING"
        self._insert_batch((sql,), batch)
        return len(detections)

    def detections_between(
        self, start_ms: int, end_ms: int, camera_id: str | None = None, limit: int = 1000
    ) -> list[VideoDetection]:
        """Detections with ``start <= ts < end`` (one camera or all), newest first."""
        with self._read() as cur:
            rows = cur.execute(
                f"""SELECT {_DETECTION_COLUMNS} FROM video_detections
                    WHERE ts >= $start AND ts < $end AND ($cam IS NULL OR camera_id = $cam)
                    ORDER BY ts DESC, camera_id LIMIT $limit""",
                {"start": start_ms, "end": end_ms, "cam": camera_id, "limit": limit},
            ).fetchall()
        return [_detection(r) for r in rows]

    def write_pdm(self, features: Sequence[Any], predictions: Sequence[PdmPrediction]) -> int:
        """Insert feature rows (``asset_id, ts, features``) and predictions; replays are ignored."""
        with self._write() as cur:
            if features:
                cur.executemany(
                    "INSERT INTO pdm_features VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [(f.asset_id, f.ts, msgspec.json.encode(f.features).decode()) for f in features],
                )
            if predictions:
                cur.executemany(
                    "INSERT INTO pdm_predictions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [
                        (
                            p.asset_id,
                            p.ts,
                            p.health,
                            p.anomaly_score,
                            p.rul_days,
                            msgspec.json.encode(p.top_features).decode(),
                        )
                        for p in predictions
                    ],
                )
        return len(features) + len(predictions)

    def latest_pdm_predictions(self) -> dict[str, PdmPrediction]:
        """The newest prediction of every asset."""
        with self._read() as cur:
            rows = cur.execute(
                """SELECT asset_id, max(ts), arg_max(health, ts), arg_max(anomaly_score, ts), arg_max(rul_days, ts),
                          arg_max(top_features, ts) FROM pdm_predictions GROUP BY asset_id ORDER BY asset_id"""
            ).fetchall()
        return {
            r[0]: PdmPrediction(
                asset_id=r[0],
                ts=r[1],
                health=r[2],
                anomaly_score=r[3],
                rul_days=r[4],
                top_features=msgspec.json.decode(r[5], type=list[str]),
            )
            for r in rows
        }

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
