"""Production time-series store on ClickHouse (a server over HTTP, or embedded chDB).

Design choices, and why:

* ``readings`` is a ``ReplacingMergeTree`` ordered by ``(tag, ts)``: that sorting key is the
  dedup key, so a Bytewax replay collapses on merge. Every read uses ``FINAL`` so a duplicate
  that is not merged yet never shows. ``ts`` is ``DateTime64(3, 'UTC')`` with DoubleDelta and
  ``value`` uses Gorilla (RECIPES.md section 4); partitions are monthly. No TTL and no
  materialized views yet: a rollup MV would double count replayed rows (RECIPES.md).
* Unlike DuckDB (first write wins), the *last* inserted duplicate survives a merge. Replays
  carry identical rows, so the two stores agree in practice.
* ``latest_readings`` holds the newest reading per tag (``ReplacingMergeTree(ts)`` ordered by
  tag, so the greatest ``ts`` wins whatever the insert order); each batch adds only its last
  reading per tag, so ``latest()`` reads O(tags) rows instead of aggregating the history.
* Every user value is bound server-side (``{tag:String}``); only the database name, checked
  against a strict identifier pattern at construction, is formatted into SQL.
* Threading: an HTTP client without a session is safe to share between threads
  (:meth:`ClickHouseStore.from_dsn` disables the auto-generated session id for that reason).
  Calls on an embedded chDB client are serialised by a lock, as chDB runs one engine per process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from connectors.contracts import AlarmEvent, AlarmPriority, AlarmState, DeadLetter, Quality, SensorReading
from connectors.store.base import HistoryPoint

_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_TS: Final = pa.timestamp("ms", tz="UTC")
_READING_COLUMNS: Final = "tag, toUnixTimestamp64Milli(ts) AS ts_ms, value, quality, source"
_ALARM_COLUMNS: Final = ", ".join(
    (
        "alarm_id, source_kind, source_id, kind, priority, state",
        "toUnixTimestamp64Milli(ts) AS ts_ms, value, `limit`, message",
    )
)

_READINGS_SCHEMA: Final = pa.schema(
    [("tag", pa.string()), ("ts", _TS), ("value", pa.float64()), ("quality", pa.string()), ("source", pa.string())]
)
_ALARMS_SCHEMA: Final = pa.schema(
    [
        ("alarm_id", pa.string()),
        ("source_kind", pa.string()),
        ("source_id", pa.string()),
        ("kind", pa.string()),
        ("priority", pa.string()),
        ("state", pa.string()),
        ("ts", _TS),
        ("value", pa.float64()),
        ("limit", pa.float64()),
        ("message", pa.string()),
    ]
)
_DEADLETTERS_SCHEMA: Final = pa.schema(
    [("stream", pa.string()), ("ts", _TS), ("raw", pa.string()), ("reason", pa.string())]
)


def _ddl(db: str) -> tuple[str, ...]:
    return (
        f"CREATE DATABASE IF NOT EXISTS `{db}`",
        f"""CREATE TABLE IF NOT EXISTS `{db}`.readings (
            tag LowCardinality(String),
            ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
            value Float64 CODEC(Gorilla, ZSTD(1)),
            quality LowCardinality(String),
            source LowCardinality(String)
        ) ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMM(ts) ORDER BY (tag, ts)""",
        f"""CREATE TABLE IF NOT EXISTS `{db}`.latest_readings (
            tag String, ts DateTime64(3, 'UTC'), value Float64,
            quality LowCardinality(String), source LowCardinality(String)
        ) ENGINE = ReplacingMergeTree(ts) ORDER BY tag""",
        f"""CREATE TABLE IF NOT EXISTS `{db}`.alarm_events (
            alarm_id String, source_kind LowCardinality(String), source_id String, kind LowCardinality(String),
            priority LowCardinality(String), state LowCardinality(String),
            ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
            value Nullable(Float64), `limit` Nullable(Float64), message String
        ) ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMM(ts) ORDER BY (alarm_id, ts, state)""",
        # Dedup on a hash of the raw text: keeps arbitrary-size payloads out of the sorting key.
        f"""CREATE TABLE IF NOT EXISTS `{db}`.deadletters (
            stream LowCardinality(String), ts DateTime64(3, 'UTC'), raw String, reason String
        ) ENGINE = ReplacingMergeTree
        PARTITION BY toYYYYMM(ts) ORDER BY (stream, ts, cityHash64(raw))""",
    )


def _ts_array(values: list[int]) -> pa.Array:
    return pa.array(values, pa.int64()).cast(_TS)


def _last_per_tag(readings: Sequence[SensorReading]) -> list[SensorReading]:
    last: dict[str, SensorReading] = {}
    for r in readings:
        cur = last.get(r.tag)
        if cur is None or r.ts > cur.ts:
            last[r.tag] = r
    return list(last.values())


def _readings_table(readings: Sequence[SensorReading]) -> pa.Table:
    return pa.table(
        [
            pa.array([r.tag for r in readings], pa.string()),
            _ts_array([r.ts for r in readings]),
            pa.array([r.value for r in readings], pa.float64()),
            pa.array([r.quality for r in readings], pa.string()),
            pa.array([r.source for r in readings], pa.string()),
        ],
        schema=_READINGS_SCHEMA,
    )


def _reading(row: Sequence[Any]) -> SensorReading:
    tag, ts, value, quality, source = row
    return SensorReading(tag=tag, ts=int(ts), value=float(value), quality=Quality(quality), source=source)


def _alarm(row: Sequence[Any]) -> AlarmEvent:
    alarm_id, source_kind, source_id, kind, priority, state, ts, value, limit, message = row
    return AlarmEvent(
        alarm_id=alarm_id,
        source_kind=source_kind,
        source_id=source_id,
        kind=kind,
        priority=AlarmPriority(priority),
        state=AlarmState(state),
        ts=int(ts),
        value=value,
        limit=limit,
        message=message,
    )


class ClickHouseStore:
    """:class:`~connectors.store.base.TimeSeriesStore` on ClickHouse via clickhouse-connect.

    Example:
        >>> store = ClickHouseStore.from_dsn("http://default:@clickhouse:8123")  # doctest: +SKIP
        >>> store.init_schema()  # doctest: +SKIP
    """

    def __init__(
        self,
        client: Client,
        *,
        database: str = "safetwin",
        owns_client: bool = False,
        serialize: bool | None = None,
    ) -> None:
        """Wrap a clickhouse-connect client; no query is sent until first use.

        Args:
            client: An HTTP or chDB client (``clickhouse_connect.get_client``).
            database: Database holding the tables; a plain identifier, created by ``init_schema``.
            owns_client: Close ``client`` in :meth:`close` (true when built by :meth:`from_dsn`).
            serialize: Serialise calls with a lock; ``None`` chooses it for chDB clients only.

        Raises:
            ValueError: If ``database`` is not a plain identifier.
        """
        if not _IDENTIFIER.fullmatch(database):
            msg = f"database must be a plain identifier, got {database!r}"
            raise ValueError(msg)
        self._client = client
        self._db = database
        self._owns_client = owns_client
        if serialize is None:
            serialize = type(client).__name__ == "ChdbClient"
        self._lock: threading.Lock | None = threading.Lock() if serialize else None

    @classmethod
    def from_dsn(cls, dsn: str, *, database: str = "safetwin") -> ClickHouseStore:
        """Open a store from ``http(s)://user:pass@host:port`` or ``chdb:///abs/path``.

        Args:
            dsn: Server URL, or a chDB data directory (one per process, see RECIPES.md).
            database: Database holding the tables.

        Returns:
            A store that owns (and closes) its client.
        """
        if dsn.startswith("chdb:"):
            client = clickhouse_connect.get_client(dsn=dsn)
        else:
            # No session: concurrent queries from API threads would clash inside one session.
            client = clickhouse_connect.get_client(dsn=dsn, autogenerate_session_id=False)
        return cls(client, database=database, owns_client=True)

    @contextmanager
    def _guard(self) -> Iterator[Client]:
        if self._lock is None:
            yield self._client
            return
        with self._lock:
            yield self._client

    def _query(self, sql: str, parameters: dict[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        with self._guard() as client:
            rows: Sequence[Sequence[Any]] = client.query(sql, parameters=parameters).result_rows
        return rows

    def _insert(self, table: str, batch: pa.Table) -> None:
        with self._guard() as client:
            client.insert_arrow(f"`{self._db}`.{table}", batch)

    # -- TimeSeriesStore ---------------------------------------------------------------------

    def init_schema(self) -> None:
        """Create the database and tables if missing; safe to call on every start-up."""
        with self._guard() as client:
            for ddl in _ddl(self._db):
                client.command(ddl)

    def write_readings(self, readings: Sequence[SensorReading]) -> int:
        """Insert readings; duplicates of ``(tag, ts)`` collapse (and are hidden by FINAL)."""
        if not readings:
            return 0
        self._insert("readings", _readings_table(readings))
        self._insert("latest_readings", _readings_table(_last_per_tag(readings)))
        return len(readings)

    def write_alarms(self, alarms: Sequence[AlarmEvent]) -> int:
        """Insert alarm events; duplicates of ``(alarm_id, ts, state)`` collapse."""
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
                _ts_array([a.ts for a in alarms]),
                pa.array([a.value for a in alarms], pa.float64()),
                pa.array([a.limit for a in alarms], pa.float64()),
                pa.array([a.message for a in alarms], pa.string()),
            ],
            schema=_ALARMS_SCHEMA,
        )
        self._insert("alarm_events", batch)
        return len(alarms)

    def write_deadletters(self, items: Sequence[DeadLetter]) -> int:
        """Keep unusable messages with their reason, once per ``(stream, ts, raw)``."""
        if not items:
            return 0
        batch = pa.table(
            [
                pa.array([d.stream for d in items], pa.string()),
                _ts_array([d.ts for d in items]),
                pa.array([d.raw for d in items], pa.string()),
                pa.array([d.reason for d in items], pa.string()),
            ],
            schema=_DEADLETTERS_SCHEMA,
        )
        self._insert("deadletters", batch)
        return len(items)

    def latest(self, tags: Sequence[str] | None = None) -> dict[str, SensorReading]:
        """Most recent reading per tag, from the one-row-per-tag ``latest_readings`` table."""
        sql = f"SELECT {_READING_COLUMNS} FROM `{self._db}`.latest_readings FINAL"
        if tags is None:
            rows = self._query(sql)
        else:
            rows = self._query(sql + " WHERE tag IN {tags:Array(String)}", {"tags": list(tags)})
        return {row[0]: _reading(row) for row in rows}

    def history(self, tag: str, start_ms: int, end_ms: int, points: int = 1000) -> list[HistoryPoint]:
        """Readings of one tag in ``[start, end)`` downsampled to at most ``points`` buckets.

        Same bucketing as the DuckDB store: ``width = ceil((end - start) / points)`` from
        ``start_ms``, empty buckets omitted, exact min and max.

        Raises:
            ValueError: If ``points < 1`` or ``end_ms < start_ms``.
        """
        if points < 1:
            msg = f"points must be >= 1, got {points}"
            raise ValueError(msg)
        if end_ms < start_ms:
            msg = f"end_ms ({end_ms}) is before start_ms ({start_ms})"
            raise ValueError(msg)
        if end_ms == start_ms:
            return []
        width = max(1, -(-(end_ms - start_ms) // points))
        rows = self._query(
            f"""SELECT intDiv(toUnixTimestamp64Milli(ts) - {{start:Int64}}, {{width:Int64}}) AS b,
                       min(value), max(value), avg(value), argMax(value, ts), count()
                FROM `{self._db}`.readings FINAL
                WHERE tag = {{tag:String}}
                  AND ts >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                  AND ts < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
                GROUP BY b ORDER BY b""",
            {"tag": tag, "start": start_ms, "end": end_ms, "width": width},
        )
        return [
            HistoryPoint(ts=start_ms + int(b) * width, min=lo, max=hi, avg=avg, last=last, count=int(n))
            for b, lo, hi, avg, last, n in rows
        ]

    def count_readings(self, tag: str | None = None) -> int:
        """Number of distinct stored readings (of one tag, or all)."""
        sql = f"SELECT count() FROM `{self._db}`.readings FINAL"
        if tag is None:
            rows = self._query(sql)
        else:
            rows = self._query(sql + " WHERE tag = {tag:String}", {"tag": tag})
        return int(rows[0][0])

    def active_alarms(self) -> list[AlarmEvent]:
        """Latest event of every alarm whose latest state is active, newest first.

        On a timestamp tie ``returned`` counts as the later event, as in the DuckDB store.
        """
        rows = self._query(
            f"""SELECT * FROM (
                    SELECT {_ALARM_COLUMNS} FROM `{self._db}`.alarm_events FINAL
                    ORDER BY alarm_id, ts DESC, state DESC LIMIT 1 BY alarm_id)
                WHERE state = {{active:String}} ORDER BY ts_ms DESC, alarm_id""",
            {"active": AlarmState.ACTIVE.value},
        )
        return [_alarm(row) for row in rows]

    def alarm_events(
        self, start_ms: int | None = None, end_ms: int | None = None, limit: int = 1000
    ) -> list[AlarmEvent]:
        """Alarm events with ``start <= ts < end`` (either bound optional), newest first."""
        where = []
        params: dict[str, Any] = {"limit": limit}
        if start_ms is not None:
            where.append("ts >= fromUnixTimestamp64Milli({start:Int64}, 'UTC')")
            params["start"] = start_ms
        if end_ms is not None:
            where.append("ts < fromUnixTimestamp64Milli({end:Int64}, 'UTC')")
            params["end"] = end_ms
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(
            f"""SELECT {_ALARM_COLUMNS} FROM `{self._db}`.alarm_events FINAL {clause}
                ORDER BY ts DESC, alarm_id, state LIMIT {{limit:UInt64}}""",
            params,
        )
        return [_alarm(row) for row in rows]

    def deadletters(self, limit: int = 100) -> list[DeadLetter]:
        """Most recent dead letters, newest first."""
        rows = self._query(
            f"""SELECT stream, raw, reason, toUnixTimestamp64Milli(ts) FROM `{self._db}`.deadletters FINAL
                ORDER BY ts DESC, stream LIMIT {{limit:UInt64}}""",
            {"limit": limit},
        )
        return [DeadLetter(stream=s, raw=raw, reason=reason, ts=int(ts)) for s, raw, reason, ts in rows]

    def close(self) -> None:
        """Close the client if this store opened it; an injected client stays open."""
        if self._owns_client:
            with self._guard() as client:
                client.close()
