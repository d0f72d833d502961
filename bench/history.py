"""Benchmark: DuckDBStore.history() of one tag over 30 days at 1 Hz, downsampled to 1,000 buckets.

Baseline (same run, same data): fetch every row of the range to Python and bucket it in numpy.
Prints human lines, then as the LAST line one JSON object:
{"p50_s", "p99_s", "baseline_p50_s", "ratio", "points", ...} where ratio = baseline_p50_s / p50_s
(how many times faster the in-database downsampling is; higher is better).

Usage: .venv/bin/python bench/history.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

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


def baseline(con: duckdb.DuckDBPyConnection, start: int, end: int, points: int) -> dict[str, np.ndarray]:
    """Fetch all rows to Python, then bucket with numpy (what a naive API would do)."""
    cols = con.execute(
        "SELECT ts, value FROM readings WHERE tag = $tag AND ts >= $start AND ts < $end ORDER BY ts",
        {"tag": TAG, "start": start, "end": end},
    ).fetchnumpy()
    ts = np.asarray(cols["ts"], dtype=np.int64)
    values = np.asarray(cols["value"], dtype=np.float64)
    width = max(1, -(-(end - start) // points))
    b = (ts - start) // width
    starts = np.concatenate(([0], np.flatnonzero(np.diff(b)) + 1))
    ends = np.concatenate((starts[1:], [ts.size]))
    counts = ends - starts
    return {
        "ts": start + b[starts] * width,
        "min": np.minimum.reduceat(values, starts),
        "max": np.maximum.reduceat(values, starts),
        "avg": np.add.reduceat(values, starts) / counts,
        "last": values[ends - 1],
        "count": counts,
    }


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
        print(f"loaded {n:,} readings ({days} days x 1 Hz, one tag) in {load_s:.2f} s ({n / load_s:,.0f} rows/s, PK)")
        start, end = T0, T0 + days * DAY_S * 1000

        result = store.history(TAG, start, end, args.points)  # warm-up
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            result = store.history(TAG, start, end, args.points)
            times.append(time.perf_counter() - t)

        con = duckdb.connect(str(path))  # same in-process database instance as the store
        ref = baseline(con, start, end, args.points)
        base_times = []
        for _ in range(base_runs):
            t = time.perf_counter()
            ref = baseline(con, start, end, args.points)
            base_times.append(time.perf_counter() - t)
        con.close()
        store.close()

    ok = (
        len(result) == ref["ts"].size
        and np.array_equal([p.min for p in result], ref["min"])
        and np.array_equal([p.max for p in result], ref["max"])
        and np.array_equal([p.count for p in result], ref["count"])
        and np.array_equal([p.last for p in result], ref["last"])
    )
    p50, p99 = (float(x) for x in np.percentile(times, [50, 99]))
    b50 = float(np.percentile(base_times, 50))
    print(f"history(points={args.points}) -> {len(result)} buckets over {n:,} rows")
    print(f"  p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms ({runs} runs)")
    print(f"baseline fetch-all + numpy bucketing: p50 {b50 * 1e3:.1f} ms ({base_runs} runs); results identical: {ok}")
    print(f"ratio (baseline / store, higher is better): {b50 / p50:.1f}x")
    print(
        json.dumps(
            {
                "p50_s": round(p50, 6),
                "p99_s": round(p99, 6),
                "baseline_p50_s": round(b50, 6),
                "ratio": round(b50 / p50, 2),
                "points": len(result),
                "rows": n,
                "days": days,
                "runs": runs,
                "identical": ok,
            }
        )
    )


if __name__ == "__main__":
    main()
