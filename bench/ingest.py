"""Benchmark: readings/s through parse -> quality -> alarm engine -> store on ONE core, and p99 latency.

Workload: 10,000 tags x 1 Hz of seeded synthetic readings. Each tag has HH/H/L/LL limits with a
deadband; a quarter have an on-delay, a quarter an off-delay, a third a ROC alarm, a tenth a
deviation alarm. 0.5 % of the tags go through scheduled excursions above H and HH, a few
readings per 10,000 are bad, so alarms raise and return every second.

Measured (fast path): one JSON array of readings per second of plant time (the bus's batch
transport, ``decode_readings``) -> columns -> vectorised quality (range) -> the vectorised alarm
engine (``pipelines.sensors.batch.process_batch``, which runs ``models.alarm_engine.process``
only on the rows that could change an alarm) -> ``DuckDBStore.write_readings_arrow`` and
``write_alarms``.

Baseline, same run: the same readings as a plain Python loop: per reading ``decode_message`` of
its own JSON (msgspec), the range check, ``process``, and ``DuckDBStore.write_readings`` +
``write_alarms`` every 1,000 readings. The two must produce the same alarm events (checked).

The process is pinned to one CPU (all threads, DuckDB's included), so the figures are per core.

Latency: ``--quick`` feeds 10 s (full: 30 s) of one-second batches in real time; each batch is
one poll cycle of all 10,000 tags stamped with the wall-clock time of the scan (as a Modbus
poll group or an OPC UA publish does), then JSON-encoded by the "source". Latency of an alarm
= the time its event is produced by the engine - the reading's ts. The time until the batch
is also stored is printed as well.

Last line: JSON {"readings_per_s", "baseline_per_s", "ratio", "p99_latency_s"}.
Targets (issue 3): readings_per_s >= 100,000 per core, p99_latency_s <= 0.5.

Usage: .venv/bin/python bench/ingest.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.store.duckdb import READINGS_SCHEMA, DuckDBStore  # noqa: E402
from models.alarm_engine import USABLE_QUALITIES, LimitAlarm, TagAlarmConfig, TagAlarmState, process  # noqa: E402
from models.contracts import (  # noqa: E402
    SENSOR_READING,
    AlarmEvent,
    AlarmPriority,
    Quality,
    SensorReading,
    decode_message,
    encode,
    now_ms,
)
from pipelines.sensors.batch import (  # noqa: E402
    BatchState,
    CompiledConfigs,
    ReadingColumns,
    process_batch,
    quality_names,
    refine_quality,
)

N_TAGS = 10_000
T0 = 1_750_000_000_000
SEED = 20261128
STORE_BATCH = 1000


def make_configs(n: int) -> list[TagAlarmConfig]:
    """A plant-like mix of alarm configurations."""
    limits = (
        LimitAlarm("HH", 90.0, AlarmPriority.HIGH),
        LimitAlarm("H", 80.0, AlarmPriority.MEDIUM),
        LimitAlarm("L", 15.0, AlarmPriority.MEDIUM),
        LimitAlarm("LL", 5.0, AlarmPriority.HIGH),
    )
    return [
        TagAlarmConfig(
            tag=f"TT-{k:05d}",
            lo=0.0,
            hi=100.0,
            limits=limits,
            deadband=1.0,
            on_delay_ms=2000 if k % 4 == 1 else 0,
            off_delay_ms=2000 if k % 4 == 2 else 0,
            roc_limit_per_min=300.0 if k % 3 == 0 else None,
            deviation=(50.0, 32.0) if k % 10 == 0 else None,
            unit="°C",
        )
        for k in range(n)
    ]


@dataclass
class Plant:
    """Seeded synthetic values: a slow wave plus noise, with scheduled excursions."""

    n: int
    seed: int = SEED

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.phase = rng.random(self.n)
        self.upset = np.flatnonzero(rng.random(self.n) < 0.005)  # tags with excursions
        self.upset_phase = rng.integers(0, 20, self.upset.shape[0])
        self.upset_to = np.where(rng.random(self.upset.shape[0]) < 0.5, 85.0, 95.0)
        self.rng = rng

    def values(self, second: int) -> tuple[np.ndarray, np.ndarray]:
        """Values and quality names of every tag at ``second``."""
        v = 50.0 + 5.0 * np.sin(2 * np.pi * (second / 600.0 + self.phase)) + self.rng.normal(0, 0.3, self.n)
        in_upset = (second + self.upset_phase) % 20 < 4
        v[self.upset[in_upset]] = self.upset_to[in_upset] + self.rng.normal(0, 0.3, int(in_upset.sum()))
        quality = np.full(self.n, Quality.GOOD.value, dtype=object)
        quality[self.rng.random(self.n) < 0.0005] = Quality.BAD.value
        return np.round(v, 3), quality


def readings_at(tags: Sequence[str], ts: int, values: np.ndarray, quality: np.ndarray) -> list[SensorReading]:
    return [
        SensorReading(tag=t, ts=ts, value=v, quality=Quality(q), source="bench")
        for t, v, q in zip(tags, values.tolist(), quality.tolist(), strict=True)
    ]


class FastPipeline:
    """parse -> quality -> vectorised alarm engine -> store.

    ``run`` takes one batch up to the alarm events; ``flush`` writes what is pending to the
    store in one Arrow insert. In real time every batch is flushed at once; when a backlog
    exists (the throughput run) batches are coalesced into writes of ``coalesce_rows`` rows,
    as a sink draining a queue would.
    """

    def __init__(self, configs: Sequence[TagAlarmConfig], store: DuckDBStore, coalesce_rows: int = 0) -> None:
        self.compiled = CompiledConfigs.build(configs)
        self.state = BatchState.fresh(self.compiled)
        self.store = store
        self.coalesce_rows = coalesce_rows
        self.tag_names = pa.array(self.compiled.tags, pa.string())
        self.events: list[AlarmEvent] = []
        self._tables: list[pa.Table] = []
        self._alarms: list[AlarmEvent] = []
        self._rows = 0

    def run(self, payload: bytes) -> tuple[list[AlarmEvent], float]:
        """Process one batch; return its events and the time (perf_counter) they were produced."""
        cols = ReadingColumns.from_json(self.compiled, payload)  # parse
        quality = refine_quality(self.compiled, cols)  # quality
        cols = ReadingColumns(cols.tag, cols.ts, cols.value, quality)
        result = process_batch(self.state, cols, self.compiled)  # alarm engine
        produced = time.perf_counter()
        self.state = result.state
        assert result.unknown_rows.shape[0] == 0, "the bench only sends configured tags"
        n = len(cols)
        self._tables.append(
            pa.Table.from_arrays(
                [
                    self.tag_names.take(pa.array(cols.tag)),
                    pa.array(cols.ts),
                    pa.array(cols.value),
                    quality_names(quality),
                    pa.repeat("bench", n),
                ],
                schema=READINGS_SCHEMA,
            )
        )
        self._alarms.extend(result.events)
        self.events.extend(result.events)
        self._rows += n
        if self._rows >= self.coalesce_rows:
            self.flush()
        return result.events, produced

    def flush(self) -> None:
        """Write pending readings and alarms (store)."""
        if self._tables:
            self.store.write_readings_arrow(pa.concat_tables(self._tables))
        self.store.write_alarms(self._alarms)
        self._tables, self._alarms, self._rows = [], [], 0


def baseline(raw: Sequence[bytes], configs: Sequence[TagAlarmConfig], store: DuckDBStore) -> list[AlarmEvent]:
    """The same work as a plain Python loop, one reading at a time."""
    by_tag = {c.tag: c for c in configs}
    states: dict[str, TagAlarmState] = {}
    buf: list[SensorReading] = []
    pending: list[AlarmEvent] = []
    out: list[AlarmEvent] = []
    for item in raw:
        r = decode_message(SENSOR_READING, item)
        cfg = by_tag[r.tag]
        if r.quality in USABLE_QUALITIES and not cfg.lo <= r.value <= cfg.hi:
            r = SensorReading(tag=r.tag, ts=r.ts, value=r.value, quality=Quality.OUT_OF_RANGE, source=r.source)
        states[r.tag], events = process(states.get(r.tag), r, cfg)
        buf.append(r)
        pending.extend(events)
        if len(buf) == STORE_BATCH:
            store.write_readings(buf)
            store.write_alarms(pending)
            out.extend(pending)
            buf, pending = [], []
    if buf:
        store.write_readings(buf)
        store.write_alarms(pending)
        out.extend(pending)
    return out


def pin_to_one_core() -> int:
    """Pin every thread of this process to one CPU so the figures are per core."""
    cpu = min(os.sched_getaffinity(0))
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except OSError:  # a thread that just ended
            pass
    return cpu


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def throughput(args: argparse.Namespace, tmp: Path) -> tuple[float, float, int]:
    configs = make_configs(N_TAGS)
    tags = [c.tag for c in configs]
    plant = Plant(N_TAGS)
    seconds, base_seconds = (30, 6) if args.quick else (120, 20)
    batches: list[list[SensorReading]] = []
    for s in range(seconds):
        values, quality = plant.values(s)
        batches.append(readings_at(tags, T0 + s * 1000, values, quality))
    payloads = [encode(b) for b in batches]  # type: ignore[arg-type]  # msgspec encodes lists of structs
    singles = [encode(r) for b in batches[:base_seconds] for r in b]
    n_fast = seconds * N_TAGS

    runs: list[float] = []
    cpu_runs: list[float] = []
    events: list[AlarmEvent] = []
    for rep in range(args.repeats):
        store = DuckDBStore(tmp / f"fast{rep}.duckdb")
        store.init_schema()
        pipe = FastPipeline(configs, store, coalesce_rows=args.coalesce)
        t, c = time.perf_counter(), time.process_time()
        for p in payloads:
            pipe.run(p)
        pipe.flush()
        runs.append(time.perf_counter() - t)
        cpu_runs.append(time.process_time() - c)
        assert store.count_readings() == n_fast
        events = pipe.events
        store.close()
    fast_s = statistics.median(runs)

    store = DuckDBStore(tmp / "base.duckdb")
    store.init_schema()
    t, c = time.perf_counter(), time.process_time()
    base_events = baseline(singles, configs, store)
    base_s, base_cpu = time.perf_counter() - t, time.process_time() - c
    assert store.count_readings() == len(singles)
    store.close()

    prefix = [e for e in events if e.ts < T0 + base_seconds * 1000]
    assert prefix == base_events, "fast path and baseline disagree on alarm events"
    rate, base = n_fast / fast_s, len(singles) / base_s
    print(f"{N_TAGS:,} tags x {seconds} s = {n_fast:,} readings, {len(events):,} alarm events, one core")
    print(f"fast path (batched JSON -> columns -> vectorised engine -> Arrow store): {rate:,.0f} readings/s")
    print(f"  runs: {', '.join(f'{n_fast / r:,.0f}' for r in runs)} readings/s (median taken)")
    print(
        f"  per CPU-second (process CPU time; the wall figure includes waiting for a shared machine): "
        f"{n_fast / statistics.median(cpu_runs):,.0f} readings/s, baseline {len(singles) / base_cpu:,.0f}"
    )
    print(f"baseline (per-reading decode + process + store every 1,000), {len(singles):,} readings: {base:,.0f}/s")
    print(f"  same {len(base_events):,} alarm events from both on the common {base_seconds} s")
    return rate, base, len(events)


def latency(args: argparse.Namespace, tmp: Path) -> float:
    seconds = 10 if args.quick else 30
    configs = make_configs(N_TAGS)
    tags = [c.tag for c in configs]
    plant = Plant(N_TAGS, seed=SEED + 1)
    store = DuckDBStore(tmp / "live.duckdb")
    store.init_schema()
    pipe = FastPipeline(configs, store)
    alarm_lat: list[float] = []
    stored_lat: list[float] = []
    busy: list[float] = []
    # perf_counter is monotonic; anchor it to the wall clock once for ts <-> time conversion
    wall0, perf0 = now_ms(), time.perf_counter()
    next_tick = perf0
    for s in range(seconds):
        next_tick += 1.0
        scan_perf = time.perf_counter()
        ts = wall0 + round((scan_perf - perf0) * 1000)
        values, quality = plant.values(s)
        payload = encode(readings_at(tags, ts, values, quality))  # type: ignore[arg-type]
        events, produced = pipe.run(payload)
        done = time.perf_counter()
        alarm_lat += [(produced - perf0) - (e.ts - wall0) / 1000 for e in events]
        stored_lat.append((done - perf0) - (ts - wall0) / 1000)
        busy.append(done - scan_perf)
        time.sleep(max(0.0, next_tick - time.perf_counter()))
    store.close()
    p99 = pct(alarm_lat, 0.99) if alarm_lat else float("nan")
    print(
        f"real time {seconds} s at {N_TAGS:,} tags x 1 Hz: {len(alarm_lat)} alarm events, "
        f"p50 {pct(alarm_lat, 0.5):.3f} s, p99 {p99:.3f} s source-to-alarm"
    )
    print(
        f"  batch stored (all readings): p99 {pct(stored_lat, 0.99):.3f} s; "
        f"busy {statistics.median(busy) * 1000:.0f} ms per 1 s batch (median)"
    )
    return p99


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 s of plant data, 10 s real time (< 45 s)")
    ap.add_argument("--coalesce", type=int, default=50_000, help="rows per store write when a backlog exists")
    ap.add_argument("--repeats", type=int, default=None, help="fast-path runs (median); default 3, 1 in --quick")
    args = ap.parse_args()
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    cpu = pin_to_one_core()
    print(f"pinned to CPU {cpu}")
    with tempfile.TemporaryDirectory() as tmp:
        rate, base, _ = throughput(args, Path(tmp))
        p99 = latency(args, Path(tmp))
    print(
        json.dumps(
            {
                "readings_per_s": round(rate),
                "baseline_per_s": round(base),
                "ratio": round(rate / base, 2),
                "p99_latency_s": round(p99, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
