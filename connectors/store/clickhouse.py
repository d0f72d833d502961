"""Production time-series store on ClickHouse (a server over HTTP, or embedded chDB).

Design choices, and why:

* ``readings`` is a ``ReplacingMergeTree`` ordered by ``(tag, ts)``: that sorting key is the
  dedup key, so a Bytewax replay collapses on merge. Every read uses ``FINAL`` so a duplicate
  that is not merged yet never shows. ``ts`` is ``DateTime64(3, 'UTC')`` with DoubleDelta and
  ``value`` uses Gorilla (RECIPES.md section 4); partitions are monthly. No TTL.
* Rollups ``readings_1m`` / ``readings_1h`` are ``AggregatingMergeTree`` tables fed by
  materialized views on ``readings``. An MV fires per inserted block, so a replayed row is
  counted again (RECIPES.md section 4) even though ``readings FINAL`` hides it. Reads stay
  exact anyway: next to ``rows`` (sum of rows seen, duplicates included) every bucket keeps a
  ``groupBitmap`` of the millisecond offsets it has seen, whose cardinality is the number of
  *distinct* timestamps and is unchanged by replays. A bucket whose two counts differ is
  "dirty" and is recomputed from ``readings FINAL`` at read time (min, max, sum, count, last);
  clean buckets (all of them, unless something was replayed or rewritten) come straight from
  the rollup. So the MV gives the speed and the bitmap check is the reconciliation.
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
import msgspec
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client

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


_ROLLUP_TABLES: Final[dict[RollupInterval, str]] = {"1m": "readings_1m", "1h": "readings_1h"}


def _rollup_select(db: str, interval: RollupInterval, *, final: bool) -> str:
    """Rollup rows of ``readings``: the MV's query, and (with FINAL) the one-off backfill."""
    width = ROLLUP_MS[interval]
    return f"""SELECT tag, toDateTime(intDiv(toUnixTimestamp64Milli(ts), {width}) * {width // 1000}, 'UTC') AS bucket,
               toUInt64(count()) AS rows,
               groupBitmapState(toUInt32(toUnixTimestamp64Milli(ts) % {width})) AS offsets,
               min(value) AS min_v, max(value) AS max_v, sum(value) AS sum_v,
               argMaxState(value, ts) AS last_v, max(ts) AS last_ts
        FROM `{db}`.readings{" FINAL" if final else ""} GROUP BY tag, bucket"""


def _rollup_ddl(db: str, interval: RollupInterval) -> tuple[str, str]:
    table = _ROLLUP_TABLES[interval]
    return (
        f"""CREATE TABLE IF NOT EXISTS `{db}`.{table} (
            tag LowCardinality(String),
            bucket DateTime('UTC'),
            rows SimpleAggregateFunction(sum, UInt64),
            offsets AggregateFunction(groupBitmap, UInt32),
            min_v SimpleAggregateFunction(min, Float64),
            max_v SimpleAggregateFunction(max, Float64),
            sum_v SimpleAggregateFunction(sum, Float64),
            last_v AggregateFunction(argMax, Float64, DateTime64(3, 'UTC')),
            last_ts SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
        ) ENGINE = AggregatingMergeTree
        PARTITION BY toYYYYMM(bucket) ORDER BY (tag, bucket)""",
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS `{db}`.{table}_mv TO `{db}`.{table} AS "
        + _rollup_select(db, interval, final=False),
    )


# Partial aggregate of one history bucket: (min, max, sum, count, last_ts, last_value).
_Part = tuple[float, float, float, int, int, float]


def _combine(a: _Part | None, b: _Part) -> _Part:
    if a is None:
        return b
    last_ts, last_v = (a[4], a[5]) if a[4] >= b[4] else (b[4], b[5])
    return (min(a[0], b[0]), max(a[1], b[1]), a[2] + b[2], a[3] + b[3], last_ts, last_v)


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


# PdM (issue 10): features and predictions per (asset, window time); a replay collapses.
def _pdm_ddl(db: str) -> tuple[str, str]:
    return (
        f"""CREATE TABLE IF NOT EXISTS `{db}`.pdm_features (
            asset_id String, ts DateTime64(3, 'UTC'), features String
        ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (asset_id, ts)""",
        f"""CREATE TABLE IF NOT EXISTS `{db}`.pdm_predictions (
            asset_id String, ts DateTime64(3, 'UTC'), health Float64, anomaly_score Float64,
            rul_days Nullable(Float64), top_features String
        ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (asset_id, ts)""",
    )


# Risk scores (issue 10): ReplacingMergeTree on (hazard_source_id, ts); a replay collapses.
def _risk_ddl(db: str) -> str:
    return f"""CREATE TABLE IF NOT EXISTS `{db}`.risk_scores (
        hazard_source_id LowCardinality(String), ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
        level LowCardinality(String), score Float64, contributions String
    ) ENGINE = ReplacingMergeTree
    PARTITION BY toYYYYMM(ts) ORDER BY (hazard_source_id, ts)"""


_RISK_SCHEMA: Final = pa.schema(
    [
        ("hazard_source_id", pa.string()),
        ("ts", _TS),
        ("level", pa.string()),
        ("score", pa.float64()),
        ("contributions", pa.string()),
    ]
)
_RISK_COLUMNS: Final = "hazard_source_id, toUnixTimestamp64Milli(ts), level, score, contributions"


def _risk(row: Sequence[Any]) -> RiskScore:
    sid, ts, level, score, contributions = row
    return RiskScore(
        hazard_source_id=sid,
        ts=int(ts),
        level=RiskLevel(level),
        score=float(score),
        contributions=msgspec.json.decode(contributions, type=list[Contribution]),
    )


# Positions and video detections (issue 11): ReplacingMergeTree on their natural keys.
def _people_ddl(db: str) -> tuple[str, str]:
    return (
        f"""CREATE TABLE IF NOT EXISTS `{db}`.positions (
            person_id String, tag_id String, ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
            x Float64, y Float64, z Float64, floor Int32, zone_ids String, accuracy_m Nullable(Float64)
        ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (person_id, ts)""",
        f"""CREATE TABLE IF NOT EXISTS `{db}`.video_detections (
            camera_id LowCardinality(String), ts DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
            label LowCardinality(String), confidence Float64, x0 Int32, y0 Int32, x1 Int32, y1 Int32,
            track_id String, zone_id Nullable(String), snapshot_ref Nullable(String)
        ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (camera_id, ts, label, track_id, x0, y0)""",
    )


_POSITION_COLUMNS: Final = "person_id, tag_id, toUnixTimestamp64Milli(ts), x, y, z, floor, zone_ids, accuracy_m"
_DETECTION_COLUMNS: Final = (
    "camera_id, toUnixTimestamp64Milli(ts), label, confidence, x0, y0, x1, y1, track_id, zone_id, snapshot_ref"
)


def _position(row: Sequence[Any]) -> LocationPosition:
    person, tag, ts, x, y, z, floor, zones, acc = row
    return LocationPosition(
        person_id=person, tag_id=tag, ts=int(ts), x=float(x), y=float(y), z=float(z), floor=int(floor),
        zone_ids=[v for v in zones.split(",") if v], accuracy_m=None if acc is None else float(acc),
    )  # fmt: skip


def _detection(row: Sequence[Any]) -> VideoDetection:
    cam, ts, label, conf, x0, y0, x1, y1, track, zone, snap = row
    return VideoDetection(
        camera_id=cam, ts=int(ts), label=label, confidence=float(conf), bbox=(int(x0), int(y0), int(x1), int(y1)),
        track_id=track or None, zone_id=zone, snapshot_ref=snap,
    )  # fmt: skip


class ClickHouseStore(DerivedQueries):
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
        self.readings_written = 0
        """Batches of readings this object has written; a change voids the API's copy of the latest."""

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
            client.command(_risk_ddl(self._db))
            for ddl in _pdm_ddl(self._db):
                client.command(ddl)
            for ddl in _people_ddl(self._db):
                client.command(ddl)
            for interval in _ROLLUP_TABLES:
                table = _ROLLUP_TABLES[interval]
                exists = client.command(f"EXISTS TABLE `{self._db}`.{table}")
                for ddl in _rollup_ddl(self._db, interval):
                    client.command(ddl)
                if not int(str(exists)):
                    # A database from before the rollups: backfill once from the deduplicated rows.
                    client.command(
                        f"INSERT INTO `{self._db}`.{table} " + _rollup_select(self._db, interval, final=True)
                    )

    def write_readings(self, readings: Sequence[SensorReading]) -> int:
        """Insert readings; duplicates of ``(tag, ts)`` collapse (and are hidden by FINAL)."""
        if not readings:
            return 0
        self._insert("readings", _readings_table(readings))
        self._insert("latest_readings", _readings_table(_last_per_tag(readings)))
        self.readings_written += 1
        return len(readings)

    def write_readings_arrow(self, table: pa.Table) -> int:
        """Insert a judged batch in columnar form (``READINGS_SCHEMA``, ts in epoch ms)."""
        if table.num_rows == 0:
            return 0
        cols = table.select(["tag", "ts", "value", "quality", "source"])
        cast = pa.table(
            [cols["tag"], pc.cast(cols["ts"], pa.int64()).cast(_TS), cols["value"], cols["quality"], cols["source"]],
            schema=_READINGS_SCHEMA,
        )
        self._insert("readings", cast)
        newest = cast.sort_by([("tag", "ascending"), ("ts", "ascending")]).group_by("tag", use_threads=False)
        last = newest.aggregate([("ts", "last"), ("value", "last"), ("quality", "last"), ("source", "last")])
        latest = pa.table(
            [last["tag"], last["ts_last"], last["value_last"], last["quality_last"], last["source_last"]],
            schema=_READINGS_SCHEMA,
        )
        self._insert("latest_readings", latest)
        self.readings_written += 1
        return int(table.num_rows)

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

        See :meth:`history_rows` (the same buckets as plain tuples).

        Raises:
            ValueError: If ``points < 1`` or ``end_ms < start_ms``.
        """
        return [HistoryPoint(*row) for row in self.history_rows(tag, start_ms, end_ms, points)]

    def history_rows(self, tag: str, start_ms: int, end_ms: int, points: int = 1000) -> list[HistoryRow]:
        """Readings of one tag in ``[start, end)`` downsampled to at most ``points`` buckets.

        Same buckets as the DuckDB store (:func:`~connectors.store.base.plan_buckets`). Wide
        buckets come from the rollup; edges and dirty (replayed) buckets from ``readings FINAL``.

        Raises:
            ValueError: If ``points < 1`` or ``end_ms < start_ms``.
        """
        check_history_args(start_ms, end_ms, points)
        if end_ms == start_ms:
            return []
        plan = plan_buckets(start_ms, end_ms, points)
        params: dict[str, Any] = {
            "tag": tag,
            "start": start_ms,
            "end": end_ms,
            "origin": plan.origin,
            "width": plan.width,
            "a": start_ms,
            "b": start_ms,
            "dirty": [],
        }
        parts: dict[int, _Part] = {}
        if plan.unit is not None:
            unit = ROLLUP_MS[plan.unit]
            params["a"] = -(-start_ms // unit) * unit
            params["b"] = max(params["a"], end_ms - end_ms % unit)
            rows = self._query(
                f"""SELECT intDiv(b - {{origin:Int64}}, {{width:Int64}}) AS k,
                           min(mn), max(mx), sum(sm), sum(r), sum(n), argMax(lv, lt), max(lt)
                    FROM (SELECT toInt64(toUnixTimestamp(bucket)) * 1000 AS b, sum(rows) AS r,
                                 groupBitmapMerge(offsets) AS n, min(min_v) AS mn, max(max_v) AS mx, sum(sum_v) AS sm,
                                 argMaxMerge(last_v) AS lv, toUnixTimestamp64Milli(max(last_ts)) AS lt
                          FROM `{self._db}`.{_ROLLUP_TABLES[plan.unit]}
                          WHERE tag = {{tag:String}}
                            AND bucket >= toDateTime(intDiv({{a:Int64}}, 1000), 'UTC')
                            AND bucket < toDateTime(intDiv({{b:Int64}}, 1000), 'UTC')
                          GROUP BY bucket)
                    GROUP BY k""",
                params,
            )
            for k, lo, hi, total, seen, distinct, last_v, last_ts in rows:
                if int(seen) != int(distinct):
                    params["dirty"].append(int(k))  # replayed rows inside: recompute from FINAL
                else:
                    parts[int(k)] = (lo, hi, total, int(distinct), int(last_ts), last_v)
        # Raw readings: everything for narrow buckets, else the partial edges and dirty buckets.
        raw = self._query(
            f"""SELECT intDiv(t - {{origin:Int64}}, {{width:Int64}}) AS k, min(value), max(value), sum(value), count(),
                       toUnixTimestamp64Milli(max(ts)), argMax(value, ts)
                FROM (SELECT ts, value, toUnixTimestamp64Milli(ts) AS t FROM `{self._db}`.readings FINAL
                      WHERE tag = {{tag:String}}
                        AND ts >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                        AND ts < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC'))
                WHERE t < {{a:Int64}} OR t >= {{b:Int64}} OR has({{dirty:Array(Int64)}}, k)
                GROUP BY k""",
            params,
        )
        for k, lo, hi, total, n, last_ts, last_v in raw:
            parts[int(k)] = _combine(parts.get(int(k)), (lo, hi, total, int(n), int(last_ts), last_v))
        return plan.rows((k, p[0], p[1], p[2] / p[3], p[5], p[3]) for k, p in sorted(parts.items()))

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
        """Rollup buckets of one tag whose start lies in ``[start, end)``, oldest first.

        Dirty buckets (replayed rows seen by the MV) are recomputed from ``readings FINAL``.

        Raises:
            ValueError: If ``interval`` is not ``"1m"`` or ``"1h"``, or the bounds are reversed.
        """
        if interval not in _ROLLUP_TABLES:
            msg = f"interval must be one of {sorted(_ROLLUP_TABLES)}, got {interval!r}"
            raise ValueError(msg)
        check_history_args(start_ms, end_ms, 1)
        width = ROLLUP_MS[interval]
        first = -(-start_ms // width) * width
        rows = self._query(
            f"""SELECT toInt64(toUnixTimestamp(bucket)) * 1000 AS b, min(min_v), max(max_v), sum(sum_v), sum(rows),
                       groupBitmapMerge(offsets), argMaxMerge(last_v)
                FROM `{self._db}`.{_ROLLUP_TABLES[interval]}
                WHERE tag = {{tag:String}}
                  AND bucket >= toDateTime(intDiv({{first:Int64}}, 1000), 'UTC')
                  AND bucket < toDateTime(intDiv({{end:Int64}} + {width - 1}, 1000), 'UTC')
                GROUP BY bucket HAVING b < {{end:Int64}} ORDER BY bucket
                LIMIT {{limit:UInt64}} OFFSET {{offset:UInt64}}""",
            {"tag": tag, "first": first, "end": end_ms, "limit": 2**63 if limit is None else limit, "offset": offset},
        )
        out = {
            int(b): HistoryPoint(ts=int(b), min=lo, max=hi, avg=total / int(n), last=last, count=int(n))
            for b, lo, hi, total, seen, n, last in rows
        }
        dirty = [int(b) for b, _, _, _, seen, n, _ in rows if int(seen) != int(n)]
        if dirty:
            fixed = self._query(
                f"""SELECT intDiv(toUnixTimestamp64Milli(ts), {width}) * {width} AS b,
                           min(value), max(value), avg(value), argMax(value, ts), count()
                    FROM `{self._db}`.readings FINAL
                    WHERE tag = {{tag:String}}
                      AND ts >= fromUnixTimestamp64Milli({{lo:Int64}}, 'UTC')
                      AND ts < fromUnixTimestamp64Milli({{hi:Int64}}, 'UTC')
                      AND has({{dirty:Array(Int64)}}, b)
                    GROUP BY b""",
                {"tag": tag, "lo": min(dirty), "hi": max(dirty) + width, "dirty": dirty},
            )
            for b, lo, hi, avg, last, n in fixed:
                out[int(b)] = HistoryPoint(ts=int(b), min=lo, max=hi, avg=avg, last=last, count=int(n))
        return [out[b] for b in sorted(out)]

    def above_limit_ms(self, tag: str, limit: float, start_ms: int, end_ms: int, max_hold_ms: int | None) -> int:
        """Time in ``[start, end)`` the tag's held value was >= ``limit`` (as in the DuckDB store)."""
        hold = max_hold_ms if max_hold_ms is not None else 1 << 62
        lookback = max(0, start_ms - hold)
        src = f"`{self._db}`.readings FINAL WHERE tag = {{tag:String}}"
        rows = self._query(
            f"""SELECT toInt64(sum(greatest(0,
                           least(nxt, {{end:Int64}}, t + {{hold:Int64}}) - greatest(t, {{start:Int64}}))))
                FROM (SELECT t, v,
                             leadInFrame(t, 1, -1) OVER (ORDER BY t ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS nxt
                      FROM (SELECT toUnixTimestamp64Milli(ts) AS t, value AS v FROM {src}
                                AND ts >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                                AND ts < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
                            UNION ALL
                            SELECT * FROM (SELECT toUnixTimestamp64Milli(ts) AS t, value AS v FROM {src}
                                AND ts >= fromUnixTimestamp64Milli({{lookback:Int64}}, 'UTC')
                                AND ts < fromUnixTimestamp64Milli({{start:Int64}}, 'UTC') ORDER BY ts DESC LIMIT 1)
                            UNION ALL
                            SELECT * FROM (SELECT toUnixTimestamp64Milli(ts) AS t, value AS v FROM {src}
                                AND ts >= fromUnixTimestamp64Milli({{end:Int64}}, 'UTC') ORDER BY ts LIMIT 1)))
                WHERE v >= {{limit:Float64}} AND nxt >= 0""",
            {"tag": tag, "start": start_ms, "end": end_ms, "hold": hold, "lookback": lookback, "limit": limit},
        )
        return int(rows[0][0]) if rows else 0

    def tag_alarm_rows(self, tags: Sequence[str], end_ms: int) -> list[AlarmRow]:
        """Events of alarms on these tags before ``end_ms``: (tag, alarm_id, state, ts)."""
        rows = self._query(
            f"""SELECT source_id, alarm_id, state, toUnixTimestamp64Milli(ts) FROM `{self._db}`.alarm_events FINAL
                WHERE source_kind = 'tag' AND source_id IN {{tags:Array(String)}}
                  AND ts < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')""",
            {"tags": list(tags), "end": end_ms},
        )
        return [(str(t), str(a), str(st), int(ts)) for t, a, st, ts in rows]

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

    # -- risk scores (issue 10) ---------------------------------------------------------------

    def write_risk_scores(self, scores: Sequence[RiskScore]) -> int:
        """Insert risk scores; duplicates of ``(hazard_source_id, ts)`` collapse."""
        if not scores:
            return 0
        batch = pa.table(
            [
                pa.array([r.hazard_source_id for r in scores], pa.string()),
                _ts_array([r.ts for r in scores]),
                pa.array([str(r.level) for r in scores], pa.string()),
                pa.array([r.score for r in scores], pa.float64()),
                pa.array([msgspec.json.encode(r.contributions).decode() for r in scores], pa.string()),
            ],
            schema=_RISK_SCHEMA,
        )
        self._insert("risk_scores", batch)
        return len(scores)

    def latest_risk(self) -> dict[str, RiskScore]:
        """The newest score of every hazard source."""
        rows = self._query(
            f"""SELECT {_RISK_COLUMNS} FROM `{self._db}`.risk_scores FINAL
                ORDER BY hazard_source_id, ts DESC LIMIT 1 BY hazard_source_id"""
        )
        return {row[0]: _risk(row) for row in rows}

    def risk_history(
        self, hazard_source_id: str, start_ms: int | None = None, end_ms: int | None = None, limit: int = 1000
    ) -> list[RiskScore]:
        """Scores of one source with ``start <= ts < end`` (bounds optional), newest first."""
        where = ["hazard_source_id = {sid:String}"]
        params: dict[str, Any] = {"sid": hazard_source_id, "limit": limit}
        if start_ms is not None:
            where.append("ts >= fromUnixTimestamp64Milli({start:Int64}, 'UTC')")
            params["start"] = start_ms
        if end_ms is not None:
            where.append("ts < fromUnixTimestamp64Milli({end:Int64}, 'UTC')")
            params["end"] = end_ms
        rows = self._query(
            f"""SELECT {_RISK_COLUMNS} FROM `{self._db}`.risk_scores FINAL WHERE {" AND ".join(where)}
                ORDER BY ts DESC LIMIT {{limit:UInt64}}""",
            params,
        )
        return [_risk(row) for row in rows]

    # -- positions and video detections (issue 11) --------------------------------------------

    def write_positions(self, positions: Sequence[LocationPosition]) -> int:
        """Insert fixes; duplicates of ``(person_id, ts)`` collapse (and are hidden by FINAL)."""
        if not positions:
            return 0
        batch = pa.table(
            {
                "person_id": pa.array([p.person_id for p in positions], pa.string()),
                "tag_id": pa.array([p.tag_id for p in positions], pa.string()),
                "ts": _ts_array([p.ts for p in positions]),
                "x": pa.array([p.x for p in positions], pa.float64()),
                "y": pa.array([p.y for p in positions], pa.float64()),
                "z": pa.array([p.z for p in positions], pa.float64()),
                "floor": pa.array([p.floor for p in positions], pa.int32()),
                "zone_ids": pa.array([",".join(p.zone_ids) for p in positions], pa.string()),
                "accuracy_m": pa.array([p.accuracy_m for p in positions], pa.float64()),
            }
        )
        self._insert("positions", batch)
        return len(positions)

    def latest_positions(self, since_ms: int | None = None) -> list[LocationPosition]:
        """The newest fix of every person (seen at or after ``since_ms`` if given), by person."""
        where = "ts >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')" if since_ms is not None else "1"
        rows = self._query(
            f"""SELECT {_POSITION_COLUMNS} FROM `{self._db}`.positions FINAL WHERE {where}
                ORDER BY person_id, ts DESC LIMIT 1 BY person_id""",
            {"since": since_ms} if since_ms is not None else None,
        )
        return [_position(r) for r in rows]

    def positions_between(
        self, start_ms: int, end_ms: int, person_id: str | None = None, limit: int = 100_000
    ) -> list[LocationPosition]:
        """Fixes with ``start <= ts < end`` (one person or all), oldest first: tracks and replay."""
        params: dict[str, Any] = {"start": start_ms, "end": end_ms, "limit": limit}
        who = ""
        if person_id is not None:
            who = " AND person_id = {person:String}"
            params["person"] = person_id
        rows = self._query(
            f"""SELECT {_POSITION_COLUMNS} FROM `{self._db}`.positions FINAL
                WHERE ts >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                  AND ts < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC'){who}
                ORDER BY ts, person_id LIMIT {{limit:UInt64}}""",
            params,
        )
        return [_position(r) for r in rows]

    def position_heatmap(self, start_ms: int, end_ms: int, cell_m: float) -> list[tuple[int, int, int]]:
        """Fixes per ``cell_m`` square of the plan in a window: ``(ix, iy, count)``."""
        rows = self._query(
            f"""SELECT toInt64(floor(x / {{cell:Float64}})) AS ix, toInt64(floor(y / {{cell:Float64}})) AS iy, count()
                FROM `{self._db}`.positions FINAL
                WHERE ts >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                  AND ts < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC')
                GROUP BY ix, iy ORDER BY ix, iy""",
            {"start": start_ms, "end": end_ms, "cell": cell_m},
        )
        return [(int(a), int(b), int(c)) for a, b, c in rows]

    def write_detections(self, detections: Sequence[VideoDetection]) -> int:
        """Insert video detections; an exact repeat (a replayed Kafka record) collapses."""
        if not detections:
            return 0
        batch = pa.table(
            {
                "camera_id": pa.array([d.camera_id for d in detections], pa.string()),
                "ts": _ts_array([d.ts for d in detections]),
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
        self._insert("video_detections", batch)
        return len(detections)

    def detections_between(
        self, start_ms: int, end_ms: int, camera_id: str | None = None, limit: int = 1000
    ) -> list[VideoDetection]:
        """Detections with ``start <= ts < end`` (one camera or all), newest first."""
        params: dict[str, Any] = {"start": start_ms, "end": end_ms, "limit": limit}
        cam = ""
        if camera_id is not None:
            cam = " AND camera_id = {cam:String}"
            params["cam"] = camera_id
        rows = self._query(
            f"""SELECT {_DETECTION_COLUMNS} FROM `{self._db}`.video_detections FINAL
                WHERE ts >= fromUnixTimestamp64Milli({{start:Int64}}, 'UTC')
                  AND ts < fromUnixTimestamp64Milli({{end:Int64}}, 'UTC'){cam}
                ORDER BY ts DESC, camera_id LIMIT {{limit:UInt64}}""",
            params,
        )
        return [_detection(r) for r in rows]

    def write_pdm(self, features: Sequence[Any], predictions: Sequence[PdmPrediction]) -> int:
        """Insert feature rows (``asset_id, ts, features``) and predictions; duplicates collapse."""
        if features:
            self._insert(
                "pdm_features",
                pa.table(
                    {
                        "asset_id": pa.array([f.asset_id for f in features], pa.string()),
                        "ts": _ts_array([f.ts for f in features]),
                        "features": pa.array([msgspec.json.encode(f.features).decode() for f in features], pa.string()),
                    }
                ),
            )
        if predictions:
            self._insert(
                "pdm_predictions",
                pa.table(
                    {
                        "asset_id": pa.array([p.asset_id for p in predictions], pa.string()),
                        "ts": _ts_array([p.ts for p in predictions]),
                        "health": pa.array([p.health for p in predictions], pa.float64()),
                        "anomaly_score": pa.array([p.anomaly_score for p in predictions], pa.float64()),
                        "rul_days": pa.array([p.rul_days for p in predictions], pa.float64()),
                        "top_features": pa.array(
                            [msgspec.json.encode(p.top_features).decode() for p in predictions], pa.string()
                        ),
                    }
                ),
            )
        return len(features) + len(predictions)

    def latest_pdm_predictions(self) -> dict[str, PdmPrediction]:
        """The newest prediction of every asset."""
        rows = self._query(
            f"""SELECT asset_id, toUnixTimestamp64Milli(ts), health, anomaly_score, rul_days, top_features
                FROM `{self._db}`.pdm_predictions FINAL ORDER BY asset_id, ts DESC LIMIT 1 BY asset_id"""
        )
        return {
            r[0]: PdmPrediction(
                asset_id=r[0],
                ts=int(r[1]),
                health=float(r[2]),
                anomaly_score=float(r[3]),
                rul_days=None if r[4] is None else float(r[4]),
                top_features=msgspec.json.decode(r[5], type=list[str]),
            )
            for r in rows
        }

    def close(self) -> None:
        """Close the client if this store opened it; an injected client stays open."""
        if self._owns_client:
            with self._guard() as client:
                client.close()
