"""Contract tests of TimeSeriesStore, run against DuckDB (file) and ClickHouse (embedded chDB).

chDB allows one data path per process, so one session-scoped chDB directory is shared and each
test gets its own database in it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.contracts import (
    AlarmEvent,
    AlarmPriority,
    AlarmState,
    DeadLetter,
    Quality,
    SensorReading,
    dead_letter,
)
from connectors.store import TimeSeriesStore, open_store
from connectors.store.base import HistoryPoint
from connectors.store.clickhouse import ClickHouseStore
from connectors.store.duckdb import DuckDBStore

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


def alarm(alarm_id: str, state: AlarmState, ts: int, **kw: Any) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=alarm_id,
        source_kind="tag",
        source_id=f"TT-{alarm_id}",
        kind="high",
        priority=AlarmPriority.HIGH,
        state=state,
        ts=ts,
        **kw,
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
