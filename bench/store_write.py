"""Benchmark: readings/s written into DuckDBStore in 1,000-reading batches (the streaming sink shape).

Measured: ``DuckDBStore.write_readings`` (contract structs -> Arrow -> ``INSERT ... ON CONFLICT
DO NOTHING`` on PRIMARY KEY (tag, ts) + the ``latest`` upsert, one transaction per batch).
Baseline: the same structs -> the same Arrow conversion -> plain ``INSERT`` into a table with no
key and no latest table. Both use a file database. Also printed: the Arrow fast path and a full
replay (every row a duplicate).

Prints human lines, then as the LAST line one JSON object
{"readings_per_s", "baseline_per_s", "ratio"} with ratio = readings_per_s / baseline_per_s.

Usage: .venv/bin/python bench/store_write.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa

from connectors.store.duckdb import DuckDBStore, readings_to_arrow
from models.contracts import SensorReading

T0 = 1_750_000_000_000
BATCH = 1000


def make_batches(n_batches: int, tags: int) -> list[list[SensorReading]]:
    """Each batch: one scan of ``tags`` tags at one instant (1,000 tags x 1 Hz)."""
    names = [f"TAG-{k:05d}" for k in range(tags)]
    per_ts = BATCH // tags
    out = []
    for b in range(n_batches):
        out.append(
            [
                SensorReading(tag=name, ts=T0 + (b * per_ts + j) * 1000, value=float(b + k), source="bench")
                for j in range(per_ts)
                for k, name in enumerate(names)
            ]
        )
    return out


def timed(batches: Sequence[Sequence[SensorReading]], write: Callable[[Sequence[SensorReading]], object]) -> float:
    t = time.perf_counter()
    for batch in batches:
        write(batch)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200k readings instead of 1M")
    args = ap.parse_args()
    n_batches = 200 if args.quick else 1000
    batches = make_batches(n_batches, tags=1000)
    n = n_batches * BATCH

    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "store.duckdb")
        store.init_schema()
        store_s = timed(batches, store.write_readings)
        replay_s = timed(batches, store.write_readings)
        assert store.count_readings() == n, "replay must not add rows"
        store.close()

        arrow_batches = [readings_to_arrow(b) for b in batches]
        fast = DuckDBStore(Path(tmp) / "fast.duckdb")
        fast.init_schema()
        t = time.perf_counter()
        for tbl in arrow_batches:
            fast.write_readings_arrow(tbl)
        arrow_s = time.perf_counter() - t
        fast.close()

        con = duckdb.connect(str(Path(tmp) / "plain.duckdb"))
        con.execute("CREATE TABLE readings (tag VARCHAR, ts BIGINT, value DOUBLE, quality VARCHAR, source VARCHAR)")

        def plain(batch: Sequence[SensorReading]) -> None:
            tbl = readings_to_arrow(batch)
            con.register("_batch", tbl)
            con.execute("INSERT INTO readings SELECT * FROM _batch")
            con.unregister("_batch")

        base_s = timed(batches, plain)

        def plain_arrow(tbl: pa.Table) -> None:
            con.register("_batch", tbl)
            con.execute("INSERT INTO readings SELECT * FROM _batch")
            con.unregister("_batch")

        t = time.perf_counter()
        for tbl in arrow_batches:
            plain_arrow(tbl)
        base_arrow_s = time.perf_counter() - t
        con.close()

    rate, base = n / store_s, n / base_s
    print(f"{n:,} readings in {n_batches} batches of {BATCH} (1,000 tags per batch), DuckDB file")
    print(f"DuckDBStore.write_readings (structs, PK + ON CONFLICT + latest upsert): {rate:,.0f} readings/s")
    print(f"  replay of the same batches (all duplicates, nothing stored): {n / replay_s:,.0f} readings/s")
    print(f"  write_readings_arrow (Arrow in, same SQL): {n / arrow_s:,.0f} readings/s")
    print(f"baseline plain INSERT (structs -> Arrow, no key, no latest): {base:,.0f} readings/s")
    print(f"  plain INSERT from prebuilt Arrow: {n / base_arrow_s:,.0f} readings/s")
    print(f"ratio store / baseline: {rate / base:.2f}")
    print(json.dumps({"readings_per_s": round(rate), "baseline_per_s": round(base), "ratio": round(rate / base, 3)}))


if __name__ == "__main__":
    main()
