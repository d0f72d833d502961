"""Buckets cut from readings in memory (``bucket_readings``) against the store's own SQL, on real DuckDB.

The API answers a hot tag's history from a copy of its raw readings (api/recent_history.py),
so the buckets it cuts must be the ones ``history_rows`` computes from the same readings:
the same bucket starts, minimum, maximum, last value and count, and the mean to within
rounding (DuckDB sums in its own order).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.store.base import HistoryRow, bucket_readings, plan_buckets
from connectors.store.duckdb import DuckDBStore
from models.contracts import SensorReading

TAG = "PT-101"


def assert_same_buckets(got: list[HistoryRow], want: list[HistoryRow]) -> None:
    """Equal rows, the mean to within rounding."""
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in got] == [(r[0], r[1], r[2], r[4], r[5]) for r in want]
    for g, w in zip(got, want, strict=True):
        assert math.isclose(g[3], w[3], rel_tol=1e-12, abs_tol=1e-9), (g, w)


@settings(max_examples=60, deadline=None)
@given(
    readings=st.dictionaries(
        st.integers(0, 20_000), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), max_size=300
    ),
    start=st.integers(-1_000, 21_000),
    length=st.integers(0, 22_000),
    points=st.integers(1, 400),
    copy_from=st.integers(-5_000, 0),
)
def test_buckets_from_memory_are_the_stores(
    readings: dict[int, float], start: int, length: int, points: int, copy_from: int
) -> None:
    """Any readings, any range whose buckets come from raw readings, any copy that covers it."""
    start = max(start, 0)
    end = start + length
    plan = plan_buckets(start, end, points) if end > start else None
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "ts.duckdb")
        store.init_schema()
        try:
            # written in two batches, newer first: the copy must come back in time order
            items = sorted(readings.items(), reverse=True)
            for part in (items[: len(items) // 2], items[len(items) // 2 :]):
                store.write_readings([SensorReading(tag=TAG, ts=ts, value=v) for ts, v in part])
            store.write_readings([SensorReading(tag="TT-101", ts=ts, value=-v) for ts, v in items[:50]])
            ts, values = store.readings_from(TAG, max(start + copy_from, 0))
            assert ts.tolist() == sorted(t for t in readings if t >= max(start + copy_from, 0))
            assert values.tolist() == [readings[t] for t in ts.tolist()]
            if plan is None or plan.unit is not None:
                return
            want = store.history_rows(TAG, start, end, points, use_rollups=False)
        finally:
            store.close()
    assert_same_buckets(bucket_readings(ts, values, plan), want)


def test_a_day_of_readings_at_1_hz(tmp_path: Path) -> None:
    """The trend chart's case: 24 h in 500 buckets, the window not on a bucket edge."""
    store = DuckDBStore(tmp_path / "ts.duckdb")
    store.init_schema()
    day = 86_400_000
    rng = np.random.default_rng(3)
    ts = np.arange(10 * day, 11 * day, 1_000, dtype=np.int64)
    store.write_readings(
        [SensorReading(tag=TAG, ts=int(t), value=float(v)) for t, v in zip(ts, rng.normal(50, 3, ts.size), strict=True)]
    )
    try:
        start, end = 10 * day + 12_345, 11 * day - 6_789
        copy = store.readings_from(TAG, 10 * day)
        got = bucket_readings(*copy, plan_buckets(start, end, 500))
        assert len(got) == 500
        assert_same_buckets(got, store.history_rows(TAG, start, end, 500))
    finally:
        store.close()


def test_a_plan_on_a_rollup_is_refused() -> None:
    plan = plan_buckets(0, 30 * 86_400_000, 1000)
    assert plan.unit == "1m"
    with pytest.raises(ValueError, match="raw readings"):
        bucket_readings(np.array([1], np.int64), np.array([1.0]), plan)
