"""Benchmark: DuckDBStore.history() of one tag over 30 days at 1 Hz, downsampled to 1,000 buckets.

Two store paths on the same buckets: the default one (1,000 buckets of 44 min are built from
the 1-minute rollup plus raw edges) and ``use_rollups=False`` (aggregating the 2.6 M raw rows).
Baseline (same run, same data): fetch every row of the range to Python and bucket it in numpy.
All three results must be identical. Prints human lines, then as the LAST line one JSON object:
{"p50_s", "p99_s" (default path = rollups), "raw_p50_s", "raw_p99_s", "baseline_p50_s",
"ratio" (= baseline_p50_s / p50_s, higher is better), "raw_ratio", "points", ...}.

Usage: .venv/bin/python bench/history.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from connectors.store.base import BucketPlan, HistoryPoint, plan_buckets
from connectors.store.duckdb import READINGS_SCHEMA, DuckDBStore

T0 = 1_750_000_000_000
DAY_S = 86_400
TAG = "TT-101"


def load(store: DuckDBStore, days: int, rng: np.random.Generator) -> int:
    for d in range(days):
        secs = np.arange(d * DAY_S, (d + 1) * DAY_S, dtype=np.int64)
        values = 50 + 10 * np.sin(secs / 3600.0) + rng.normal(0, 0.5, secs.size)
        spikes = rng.integers(0, secs.size, 5)
        values[spikes] += rng.choice([-40.0, 40.0], spikes.size)
        batch = pa.table(
            [
                pa.array([TAG] * secs.size, pa.string()),
                pa.array(T0 + secs * 1000),
                pa.array(values),
                pa.array(["good"] * secs.size, pa.string()),
                pa.array(["bench"] * secs.size, pa.string()),
            ],
            schema=READINGS_SCHEMA,
        )
        store.write_readings_arrow(batch)
    return days * DAY_S


def baseline(con: duckdb.DuckDBPyConnection, plan: BucketPlan) -> dict[str, np.ndarray]:
    """Fetch all rows to Python, then bucket with numpy (what a naive API would do)."""
    cols = con.execute(
        "SELECT ts, value FROM readings WHERE tag = $tag AND ts >= $start AND ts < $end ORDER BY ts",
        {"tag": TAG, "start": plan.start, "end": plan.end},
    ).fetchnumpy()
    ts = np.asarray(cols["ts"], dtype=np.int64)
    values = np.asarray(cols["value"], dtype=np.float64)
    width = plan.width
    b = (ts - plan.origin) // width
    starts = np.concatenate(([0], np.flatnonzero(np.diff(b)) + 1))
    ends = np.concatenate((starts[1:], [ts.size]))
    counts = ends - starts
    return {
        "ts": np.maximum(plan.start, plan.origin + b[starts] * width),
        "min": np.minimum.reduceat(values, starts),
        "max": np.maximum.reduceat(values, starts),
        "avg": np.add.reduceat(values, starts) / counts,
        "last": values[ends - 1],
        "count": counts,
    }


def timed(fn: Callable[[], list[HistoryPoint]], runs: int) -> tuple[list[HistoryPoint], list[float]]:
    result = fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return result, times


def same(result: list[HistoryPoint], ref: dict[str, np.ndarray]) -> bool:
    return (
        len(result) == ref["ts"].size
        and np.array_equal([p.ts for p in result], ref["ts"])
        and np.array_equal([p.min for p in result], ref["min"])
        and np.array_equal([p.max for p in result], ref["max"])
        and np.array_equal([p.count for p in result], ref["count"])
        and np.array_equal([p.last for p in result], ref["last"])
        and np.allclose([p.avg for p in result], ref["avg"], rtol=1e-9)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="7 days instead of 30, fewer runs")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--points", type=int, default=1000)
    args = ap.parse_args()
    days = 7 if args.quick else 30
    runs = args.runs or (30 if args.quick else 100)
    base_runs = max(3, runs // 5)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.duckdb"
        store = DuckDBStore(path)
        store.init_schema()
        t = time.perf_counter()
        n = load(store, days, np.random.default_rng(7))
        load_s = time.perf_counter() - t
        print(
            f"loaded {n:,} readings ({days} days x 1 Hz, one tag) in {load_s:.2f} s "
            f"({n / load_s:,.0f} rows/s, PK + rollups)"
        )
        # Unaligned bounds, as a user's "last 30 days" would be: edges come from raw rows.
        start, end = T0 + 1_234, T0 + days * DAY_S * 1000 - 5_678
        plan = plan_buckets(start, end, args.points)

        result, times = timed(lambda: store.history(TAG, start, end, args.points), runs)
        raw, raw_times = timed(
            lambda: store.history(TAG, start, end, args.points, use_rollups=False), max(3, runs // 2)
        )

        con = duckdb.connect(str(path))  # same in-process database instance as the store
        ref = baseline(con, plan)
        base_times = []
        for _ in range(base_runs):
            t = time.perf_counter()
            ref = baseline(con, plan)
            base_times.append(time.perf_counter() - t)
        con.close()
        store.close()

    ok = same(result, ref) and same(raw, ref)
    p50, p99 = (float(x) for x in np.percentile(times, [50, 99]))
    r50, r99 = (float(x) for x in np.percentile(raw_times, [50, 99]))
    b50 = float(np.percentile(base_times, 50))
    print(f"history(points={args.points}) -> {len(result)} buckets of {plan.width / 60_000:.0f} min over {n:,} rows")
    print(f"  from the {plan.unit} rollup: p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms ({runs} runs)")
    print(f"  from raw readings:   p50 {r50 * 1e3:.1f} ms, p99 {r99 * 1e3:.1f} ms ({len(raw_times)} runs)")
    print(f"baseline fetch-all + numpy bucketing: p50 {b50 * 1e3:.1f} ms ({base_runs} runs); results identical: {ok}")
    print(f"ratio (baseline / store, higher is better): rollups {b50 / p50:.1f}x, raw {b50 / r50:.1f}x")
    print(
        json.dumps(
            {
                "p50_s": round(p50, 6),
                "p99_s": round(p99, 6),
                "raw_p50_s": round(r50, 6),
                "raw_p99_s": round(r99, 6),
                "baseline_p50_s": round(b50, 6),
                "ratio": round(b50 / p50, 2),
                "raw_ratio": round(b50 / r50, 2),
                "rollup": plan.unit,
                "points": len(result),
                "rows": n,
                "days": days,
                "runs": runs,
                "load_s": round(load_s, 3),
                "identical": ok,
            }
        )
    )


if __name__ == "__main__":
    main()
