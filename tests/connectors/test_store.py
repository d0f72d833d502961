"""Contract tests of TimeSeriesStore, run against DuckDB (file) and ClickHouse (embedded chDB).

chDB allows one data path per process, so one session-scoped chDB directory is shared and each
test gets its own database in it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.latest_readings import LatestReadings, readings_written
from connectors.batches import readings_to_arrow
from connectors.store import TimeSeriesStore, open_store
from connectors.store.base import HistoryPoint, TagStatistics, alarm_intervals, merge_intervals, plan_buckets
from connectors.store.clickhouse import ClickHouseStore
from connectors.store.duckdb import DuckDBStore
from models.contracts import (
    AlarmEvent,
    AlarmPriority,
    AlarmState,
    DeadLetter,
    Quality,
    SensorReading,
    dead_letter,
)

T0 = 1_750_000_000_000  # 2025-06-15; no TTL on the tables, so fixed times are safe


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def chdb_client(chdb_path: Path) -> Iterator[Any]:
    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}")
    yield client
    client.close()


@pytest.fixture(params=["duckdb", "clickhouse"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimeSeriesStore]:
    if request.param == "duckdb":
        duck = DuckDBStore(tmp_path / "store.duckdb")
        duck.init_schema()
        yield duck
        duck.close()
        return
    client = request.getfixturevalue("chdb_client")
    db = f"t_{uuid.uuid4().hex}"
    ch = ClickHouseStore(client, database=db)
    ch.init_schema()
    yield ch
    ch.close()
    client.command(f"DROP DATABASE IF EXISTS {db}")


def reading(tag: str, i: int, value: float | None = None, **kw: Any) -> SensorReading:
    return SensorReading(tag=tag, ts=T0 + i * 1000, value=float(i) if value is None else value, **kw)


def test_reading_writes_are_counted_so_the_api_copy_of_the_latest_sees_them(store: TimeSeriesStore) -> None:
    """The API's copy of every tag's latest reading (api.latest_readings) is voided by this count."""
    latest = LatestReadings(store, max_age_s=60)
    assert readings_written(store) == 0
    store.write_readings([])  # nothing written, nothing counted
    store.write_alarms([alarm("A1", AlarmState.ACTIVE, T0)])
    assert readings_written(store) == 0
    store.write_readings([reading("TT-101", 1)])
    assert asyncio.run(latest.get("TT-101")) == reading("TT-101", 1)
    store.write_readings_arrow(readings_to_arrow([reading("TT-101", 2)]))
    assert readings_written(store) == 2  # noqa: PLR2004
    assert asyncio.run(latest.get("TT-101")) == reading("TT-101", 2)  # within the 60 s: the count voided it


def alarm(alarm_id: str, state: AlarmState, ts: int, **kw: Any) -> AlarmEvent:
    fields: dict[str, Any] = {"source_id": f"TT-{alarm_id}", **kw}
    return AlarmEvent(
        alarm_id=alarm_id, source_kind="tag", kind="high", priority=AlarmPriority.HIGH, state=state, ts=ts, **fields
    )


# -- readings ---------------------------------------------------------------------------------


def test_store_satisfies_protocol(store: TimeSeriesStore) -> None:
    assert isinstance(store, TimeSeriesStore)


def test_write_and_latest(store: TimeSeriesStore) -> None:
    batch = [reading("TT-101", i) for i in (3, 1, 2)]
    batch += [reading("PT-201", 5, 7.5, quality=Quality.UNCERTAIN, source="opcua")]
    batch += [reading('it\'s "odd"; DROP TABLE readings --', 1)]
    assert store.write_readings(batch) == 5
    assert store.write_readings([]) == 0

    latest = store.latest()
    assert set(latest) == {"TT-101", "PT-201", 'it\'s "odd"; DROP TABLE readings --'}
    assert latest["TT-101"] == reading("TT-101", 3)
    assert latest["PT-201"] == SensorReading(
        tag="PT-201", ts=T0 + 5000, value=7.5, quality=Quality.UNCERTAIN, source="opcua"
    )
    assert store.latest(["PT-201", "missing"]) == {"PT-201": latest["PT-201"]}
    assert store.latest([]) == {}
    odd = 'it\'s "odd"; DROP TABLE readings --'
    assert store.latest([odd]) == {odd: latest[odd]}  # one tag: its own query (by key)
    assert store.latest(["missing"]) == {}

    # An older batch arriving late never moves the live view backwards.
    store.write_readings([reading("TT-101", 0, 99.0)])
    assert store.latest(["TT-101"])["TT-101"] == reading("TT-101", 3)
    store.write_readings([reading("TT-101", 9)])
    assert store.latest(["TT-101"])["TT-101"].ts == T0 + 9000
    assert store.count_readings() == 7
    assert store.count_readings("TT-101") == 5
    assert store.count_readings("missing") == 0


def test_replay_is_idempotent(store: TimeSeriesStore) -> None:
    batch = [reading(tag, i) for tag in ("A", "B") for i in range(100)]
    store.write_readings(batch)
    assert store.count_readings() == 200

    assert store.write_readings(batch) == 200  # offered, not stored
    assert store.count_readings() == 200

    overlap = [reading(tag, i) for tag in ("A", "B") for i in range(50, 150)]
    store.write_readings(overlap)
    assert store.count_readings() == 300
    assert store.count_readings("A") == 150
    # Duplicates never leak into aggregates either.
    points = store.history("A", T0, T0 + 150_000, points=1)
    assert points == [HistoryPoint(ts=T0, min=0.0, max=149.0, avg=74.5, last=149.0, count=150)]


def test_history_buckets(store: TimeSeriesStore) -> None:
    values = [0.0] * 100
    values[37] = 1000.0  # a spike that must survive downsampling
    values[62] = -50.0
    store.write_readings([reading("FT-1", i, v) for i, v in enumerate(values)])
    store.write_readings([reading("other", i, 5000.0) for i in range(100)])

    pts = store.history("FT-1", T0, T0 + 100_000, points=7)
    width = -(-100_000 // 7)
    assert len(pts) == 7
    assert [p.ts for p in pts] == [T0 + k * width for k in range(7)]
    assert sum(p.count for p in pts) == 100
    assert max(p.max for p in pts) == 1000.0
    assert min(p.min for p in pts) == -50.0
    assert pts[-1].last == 0.0
    spike = next(p for p in pts if p.max == 1000.0)
    assert spike.ts <= T0 + 37_000 < spike.ts + width

    # [start, end): the end is exclusive; more points than readings gives one per reading.
    pts = store.history("FT-1", T0, T0 + 10_000, points=1000)
    assert [p.count for p in pts] == [1] * 10
    assert [p.last for p in pts] == values[:10]
    assert store.history("FT-1", T0, T0) == []
    assert store.history("missing", T0, T0 + 100_000) == []
    with pytest.raises(ValueError, match="points"):
        store.history("FT-1", T0, T0 + 1, points=0)


# -- alarms and dead letters ----------------------------------------------------------------------


def test_active_alarms(store: TimeSeriesStore) -> None:
    events = [
        alarm("A1", AlarmState.ACTIVE, T0, value=9.5, limit=9.0, message="high"),
        alarm("A2", AlarmState.ACTIVE, T0 + 1),
        alarm("A2", AlarmState.RETURNED, T0 + 5),
        alarm("A3", AlarmState.ACTIVE, T0 + 2),
        alarm("A3", AlarmState.RETURNED, T0 + 3),
        alarm("A3", AlarmState.ACTIVE, T0 + 4),
    ]
    assert store.write_alarms(events) == 6
    store.write_alarms(events[:3])  # replay
    assert store.write_alarms([]) == 0

    active = store.active_alarms()
    assert [a.alarm_id for a in active] == ["A3", "A1"]
    assert active[0] == events[5]
    assert active[1] == events[0]  # nullable fields round-trip

    history = store.alarm_events()
    assert len(history) == 6
    assert [e.ts for e in history] == sorted((e.ts for e in events), reverse=True)
    assert [e.ts for e in store.alarm_events(start_ms=T0 + 2, end_ms=T0 + 4)] == [T0 + 3, T0 + 2]
    assert len(store.alarm_events(limit=2)) == 2


def test_deadletters_kept_with_reason(store: TimeSeriesStore) -> None:
    items = [
        dead_letter("sensor.reading", b'{"tag": 1}', "Expected `str`, got `int` - at `$.tag`", ts=T0),
        dead_letter("sensor.reading", "x" * 100_000, "too big", ts=T0 + 1),
        DeadLetter(stream="alarm.event", raw="{", reason="truncated", ts=T0 + 2),
    ]
    assert store.write_deadletters(items) == 3
    store.write_deadletters(items)  # replay
    assert store.write_deadletters([]) == 0
    kept = store.deadletters()
    assert kept == items[::-1]
    assert store.deadletters(limit=1) == [items[2]]


# -- DuckDB specifics ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def property_store() -> Iterator[DuckDBStore]:
    s = DuckDBStore(":memory:")
    s.init_schema()
    yield s
    s.close()


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 50_000), st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=300,
        unique_by=lambda x: x[0],
    ),
    points=st.integers(1, 400),
    span=st.integers(1, 60_000),
)
def test_history_property_duckdb(
    property_store: DuckDBStore, data: list[tuple[int, float]], points: int, span: int
) -> None:
    store = property_store
    tag = uuid.uuid4().hex
    store.write_readings([SensorReading(tag=tag, ts=T0 + off, value=v) for off, v in data])
    start, end = T0, T0 + span
    inside = [(T0 + off, v) for off, v in data if start <= T0 + off < end]

    pts = store.history(tag, start, end, points)

    assert len(pts) <= points
    assert [p.ts for p in pts] == sorted({p.ts for p in pts})
    assert sum(p.count for p in pts) == len(inside)
    if inside:
        assert min(p.min for p in pts) == min(v for _, v in inside)
        assert max(p.max for p in pts) == max(v for _, v in inside)
        assert pts[-1].last == max(inside)[1]
    width = -(-span // points)
    for p in pts:
        bucket = [v for ts, v in inside if p.ts <= ts < p.ts + width]
        assert (p.min, p.max, p.count) == (min(bucket), max(bucket), len(bucket))


def test_duckdb_concurrent_writer_and_readers(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "concurrent.duckdb")
    store.init_schema()
    errors: list[BaseException] = []
    done = threading.Event()
    tags = [f"T{k}" for k in range(20)]

    def writer() -> None:
        try:
            for i in range(60):
                store.write_readings([reading(tag, i) for tag in tags])
                store.write_alarms([alarm(f"A{i % 5}", AlarmState.ACTIVE if i % 2 else AlarmState.RETURNED, T0 + i)])
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            done.set()

    def reader() -> None:
        try:
            while not done.is_set():
                store.latest()
                store.latest(tags[:3])
                store.history("T1", T0, T0 + 60_000, points=10)
                store.count_readings()
                store.active_alarms()
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert store.count_readings() == 60 * len(tags)
    assert all(r.ts == T0 + 59_000 for r in store.latest().values())
    store.close()
    store.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        store.latest()


def test_duckdb_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "var" / "reopen.duckdb"  # parent made on first use
    first = DuckDBStore(path)
    first.init_schema()
    first.write_readings([reading("TT-1", 1)])
    first.close()
    second = DuckDBStore(path)
    second.init_schema()  # idempotent DDL
    assert second.latest() == {"TT-1": reading("TT-1", 1)}
    second.close()


# -- factory ---------------------------------------------------------------------------------------


def test_open_store_duckdb(tmp_path: Path) -> None:
    s = open_store("duckdb", duckdb_path=tmp_path / "f.duckdb")
    assert isinstance(s, DuckDBStore)
    s.init_schema()
    s.write_readings([reading("X", 1)])
    assert s.count_readings() == 1
    s.close()


def test_open_store_clickhouse_chdb(chdb_path: Path, chdb_client: Any) -> None:
    # Same path as the session client: chDB allows one data path per process.
    s = open_store("clickhouse", clickhouse_dsn=f"chdb://{chdb_path}")
    assert isinstance(s, ClickHouseStore)
    s.init_schema()
    s.write_readings([reading("X", 1)])
    assert s.count_readings("X") == 1
    s.close()
    assert chdb_client.query("SELECT 1").result_rows == [(1,)]  # the shared engine survives


def test_open_store_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="duckdb_path"):
        open_store("duckdb")
    with pytest.raises(ValueError, match="clickhouse_dsn"):
        open_store("clickhouse")
    with pytest.raises(ValueError, match="unknown"):
        open_store("sqlite")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="identifier"):
        ClickHouseStore(object(), database="x; DROP")  # type: ignore[arg-type]


# -- rollups, comparison and statistics --------------------------------------------------------------


def direct(rows: list[tuple[int, float]]) -> tuple[float, float, float, float, int]:
    """min, max, avg, last, count computed in Python from (ts, value) pairs."""
    values = [v for _, v in rows]
    return min(values), max(values), sum(values) / len(values), max(rows)[1], len(rows)


def as_tuple(p: HistoryPoint) -> tuple[float, float, float, float, int]:
    return p.min, p.max, p.avg, p.last, p.count


def expected_buckets(rows: list[tuple[int, float]], start: int, end: int, points: int) -> dict[int, tuple[Any, ...]]:
    plan = plan_buckets(start, end, points)
    groups: dict[int, list[tuple[int, float]]] = {}
    for ts, v in rows:
        if start <= ts < end:
            groups.setdefault(plan.bucket_ts((ts - plan.origin) // plan.width), []).append((ts, v))
    return {ts: direct(g) for ts, g in sorted(groups.items())}


def assert_points(points: list[HistoryPoint], expected: dict[int, tuple[Any, ...]]) -> None:
    assert [p.ts for p in points] == list(expected)
    for p in points:
        lo, hi, avg, last, n = expected[p.ts]
        assert (p.min, p.max, p.last, p.count) == (lo, hi, last, n)
        assert p.avg == pytest.approx(avg, rel=1e-9)


def test_rollups_stay_exact_after_replays(store: TimeSeriesStore) -> None:
    # Two hours of 1 Hz data, written in batches that straddle minute boundaries.
    rows = [(T0 + i * 1000, float((i * 37) % 101)) for i in range(7200)]
    batches = [rows[i : i + 700] for i in range(0, len(rows), 700)]
    for b in batches:
        store.write_readings([SensorReading(tag="PT-101", ts=ts, value=v) for ts, v in b])
    # Bytewax recovery replays: whole batches again, and an overlapping window.
    for b in (batches[0], batches[3], batches[3], rows[1000:2500]):
        store.write_readings([SensorReading(tag="PT-101", ts=ts, value=v) for ts, v in b])

    for interval, width in (("1m", 60_000), ("1h", 3_600_000)):
        groups: dict[int, list[tuple[int, float]]] = {}
        for ts, v in rows:
            groups.setdefault(ts - ts % width, []).append((ts, v))
        got = store.rollups("PT-101", interval, 0, T0 * 2)  # type: ignore[arg-type]
        assert [p.ts for p in got] == sorted(groups)
        assert_points(got, {b: direct(g) for b, g in groups.items()})
    assert sum(p.count for p in store.rollups("PT-101", "1h", 0, T0 * 2)) == 7200

    page = store.rollups("PT-101", "1m", 0, T0 * 2, limit=3, offset=2)
    assert [p.ts for p in page] == sorted({ts - ts % 60_000 for ts, _ in rows})[2:5]
    first = T0 - T0 % 60_000 + 60_000
    assert store.rollups("PT-101", "1m", first, first + 120_000)[0].ts == first  # start inclusive
    assert len(store.rollups("PT-101", "1m", first, first + 120_000)) == 2  # end exclusive
    assert store.rollups("missing", "1h", 0, T0 * 2) == []
    with pytest.raises(ValueError, match="interval"):
        store.rollups("PT-101", "5m", 0, T0)  # type: ignore[arg-type]


def test_history_from_rollups_is_exact(store: TimeSeriesStore) -> None:
    # 3 days every 30 s: wide buckets use the 1 h rollup, medium ones the 1 min rollup.
    rows = [(T0 + i * 30_000, float((i * 7919) % 1000) - 500.0) for i in range(3 * 2880)]
    rows[1234] = (rows[1234][0], 9999.0)  # a spike inside a whole rollup bucket
    store.write_readings([SensorReading(tag="TT-201", ts=ts, value=v) for ts, v in rows])
    store.write_readings([SensorReading(tag="TT-201", ts=ts, value=v) for ts, v in rows[2000:4000]])  # replay

    start, end = T0 + 12_345, T0 + 3 * 86_400_000 - 54_321  # unaligned: edges come from raw rows
    for points, unit in ((5, "1h"), (200, "1m"), (5000, None)):
        assert plan_buckets(start, end, points).unit == unit
        got = store.history("TT-201", start, end, points)
        assert len(got) <= points
        assert_points(got, expected_buckets(rows, start, end, points))
    assert max(p.max for p in store.history("TT-201", start, end, 5)) == 9999.0


def test_compare_shares_one_axis(store: TimeSeriesStore) -> None:
    store.write_readings([reading("LT-101", i, float(i)) for i in range(60)])
    store.write_readings([reading("LT-102", i, 100.0 + i) for i in range(30, 60)])  # starts later

    cmp = store.compare(["LT-101", "LT-102", "GT-101"], T0, T0 + 60_000, points=6)
    assert cmp.ts == [T0 + k * 10_000 for k in range(6)]
    assert cmp.width == 10_000
    assert [p.count if p else None for p in cmp.values["LT-101"]] == [10] * 6
    assert [p.max if p else None for p in cmp.values["LT-102"]] == [None, None, None, 139.0, 149.0, 159.0]
    assert cmp.values["GT-101"] == [None] * 6
    assert store.compare(["LT-101"], T0, T0, 10).ts == []


def test_tag_and_area_statistics_hand_computed(store: TimeSeriesStore) -> None:
    # Readings 10 s apart; limit 5 -> held above it over [20,40) s and [60,70) s.
    values = [1.0, 2.0, 5.0, 8.0, 3.0, 4.0, 6.0, 0.0]
    store.write_readings([SensorReading(tag="PT-1", ts=T0 + 10_000 * i, value=v) for i, v in enumerate(values)])
    store.write_readings([SensorReading(tag="PT-2", ts=T0 + 10_000 * i, value=10.0) for i in range(8)])
    store.write_readings([SensorReading(tag="PT-1", ts=T0 - 5_000, value=9.0)])  # held into the period
    store.write_alarms(
        [
            alarm("PT-1.H", AlarmState.ACTIVE, T0 - 1_000, source_id="PT-1"),  # raised before the period
            alarm("PT-1.H", AlarmState.RETURNED, T0 + 15_000, source_id="PT-1"),
            alarm("PT-1.H", AlarmState.ACTIVE, T0 + 20_000, source_id="PT-1"),
            alarm("PT-1.H", AlarmState.RETURNED, T0 + 45_000, source_id="PT-1"),
            alarm("PT-1.HH", AlarmState.ACTIVE, T0 + 30_000, source_id="PT-1"),  # overlaps: union, not sum
            alarm("PT-1.HH", AlarmState.RETURNED, T0 + 35_000, source_id="PT-1"),
            alarm("PT-2.H", AlarmState.ACTIVE, T0 + 40_000, source_id="PT-2"),  # still active at the end
            alarm("PT-2.H", AlarmState.RETURNED, T0 + 90_000, source_id="PT-2"),  # after the period
        ]
    )
    start, end = T0, T0 + 60_000
    stats = store.tag_statistics(["PT-2", "PT-1", "PT-9"], start, end, limits={"PT-1": 5.0, "PT-2": 10.0})
    by_tag = {s.tag: s for s in stats}
    assert [s.tag for s in stats] == ["PT-1", "PT-2", "PT-9"]
    p1 = by_tag["PT-1"]
    assert (p1.count, p1.min, p1.max, p1.limit) == (6, 1.0, 8.0, 5.0)
    assert p1.avg == pytest.approx(23.0 / 6)
    # 9.0 held from T0-5s to T0 (outside), 5.0 over [20,30), 8.0 over [30,40): 20 s.
    assert p1.above_limit_ms == 20_000
    assert p1.in_alarm_ms == 15_000 + 25_000  # [0,15) and [20,45) with HH inside
    assert p1.alarm_count == 2  # H at 20 s and HH at 30 s; the one raised before start is not counted
    p2 = by_tag["PT-2"]
    assert (p2.above_limit_ms, p2.in_alarm_ms, p2.alarm_count) == (60_000, 20_000, 1)  # 50 s reading held to 60 s
    assert by_tag["PT-9"] == TagStatistics("PT-9", 0, None, None, None, None, None, 0, 0)
    # A hold limit caps how long one reading counts; the reading at 70 s closes nothing before it.
    capped = store.tag_statistics(["PT-1"], start, T0 + 80_000, limits={"PT-1": 5.0}, max_hold_ms=4_000)
    assert capped[0].above_limit_ms == 3 * 4_000  # 5.0 at 20 s, 8.0 at 30 s, 6.0 at 60 s

    areas = store.area_statistics({"PT-1": "tank-farm", "PT-2": "tank-farm", "PT-9": "unit"}, start, end)
    assert [a.area for a in areas] == ["tank-farm", "unit"]
    farm = areas[0]
    assert farm.tags == ("PT-1", "PT-2")
    assert (farm.count, farm.alarm_count, farm.above_limit_ms) == (12, 3, 0)  # no limits passed
    assert farm.in_alarm_ms == 15_000 + 40_000  # [0,15) and [20,60): union across tags
    with_limits = store.area_statistics({"PT-1": "a", "PT-2": "a"}, start, end, limits={"PT-1": 5.0, "PT-2": 10.0})
    assert with_limits[0].above_limit_ms == 80_000  # summed over tags


def test_rollups_backfilled_for_older_databases(store: TimeSeriesStore) -> None:
    rows = [reading("FT-1", i, float(i % 7)) for i in range(180)]
    store.write_readings(rows)
    if isinstance(store, DuckDBStore):
        with store._write() as cur:
            cur.execute("DROP VIEW readings_1h")
            cur.execute("DROP TABLE readings_1m")
    else:
        assert isinstance(store, ClickHouseStore)
        for stmt in ("DROP VIEW {db}.readings_1m_mv", "DROP TABLE {db}.readings_1m"):
            store._client.command(stmt.format(db=store._db))
    store.init_schema()
    assert sum(p.count for p in store.rollups("FT-1", "1m", 0, T0 * 2)) == 180
    assert sum(p.count for p in store.rollups("FT-1", "1h", 0, T0 * 2)) == 180
    store.write_readings(rows)  # replay after the upgrade
    assert sum(p.count for p in store.rollups("FT-1", "1m", 0, T0 * 2)) == 180


def test_alarm_intervals_rules() -> None:
    rows = [
        ("T", "a", "active", 10),
        ("T", "a", "active", 20),  # repeated active continues the same activation
        ("T", "a", "returned", 30),
        ("T", "a", "returned", 40),  # stray return is ignored
        ("T", "b", "returned", 50),  # tie: returned sorts after active
        ("T", "b", "active", 50),
        ("U", "c", "active", 95),
    ]
    got = alarm_intervals(rows, 0, 100)
    assert got["T"] == ([(10, 30), (50, 50)], 2)
    assert got["U"] == ([(95, 100)], 1)
    assert merge_intervals(got["T"][0]) == [(10, 30)]


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 4 * 3_600_000), st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=300,
        unique_by=lambda x: x[0],
    ),
    cuts=st.lists(st.integers(0, 300), max_size=4),
    replay=st.tuples(st.integers(0, 300), st.integers(0, 300)),
)
def test_rollup_property_duckdb(
    property_store: DuckDBStore, data: list[tuple[int, float]], cuts: list[int], replay: tuple[int, int]
) -> None:
    store = property_store
    tag = uuid.uuid4().hex
    readings = [SensorReading(tag=tag, ts=T0 + off, value=v) for off, v in data]
    bounds = sorted({0, len(readings), *(min(c, len(readings)) for c in cuts)})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        store.write_readings(readings[lo:hi])
    store.write_readings(readings[min(replay) : max(replay)])  # an at-least-once replay

    for interval, width in (("1m", 60_000), ("1h", 3_600_000)):
        groups: dict[int, list[float]] = {}
        for r in readings:
            groups.setdefault(r.ts - r.ts % width, []).append(r.value)
        got = store.rollups(tag, interval, 0, T0 * 2)  # type: ignore[arg-type]
        assert [(p.ts, p.min, p.max, p.count) for p in got] == [
            (b, min(vs), max(vs), len(vs)) for b, vs in sorted(groups.items())
        ]
    start, end = T0 + data[0][0] // 2, T0 + 4 * 3_600_000 + 1
    for points in (1, 3, 20):
        got_h = store.history(tag, start, end, points)
        exp = expected_buckets([(r.ts, r.value) for r in readings], start, end, points)
        assert [(p.ts, p.min, p.max, p.count) for p in got_h] == [(ts, e[0], e[1], e[4]) for ts, e in exp.items()]
