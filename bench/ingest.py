"""Benchmark: the live sensor flow that ``safetwin run`` runs, 10,000 tags x 1 Hz, on ONE core.

Measured (production path, entered the way ``safetwin run`` enters it): a generated plant of
10,000 tags (``twin.generate``), the embedded :class:`api.runtime.Runtime` with its own
``start_flow`` (the one builder, ``pipelines.sensors.flow.build_flow``, with the production
sinks: DuckDB ``StoreSink``, bus sinks for alarms and live push, flood detection and the source
watchdog), fed through ``Runtime.publish_readings`` one scan (a list of 10,000 readings, as the
OPC UA subscriber and the Modbus poller deliver them) per second of plant time.

Baseline, same run: today's per-reading flow before issue 7 (one Bytewax item per reading:
parse -> key by tag -> ``models.limits.quality_of`` + ``models.alarm_engine.process`` in a
``stateful_flat_map`` -> the same ``StoreSink``), fed by the same bus source with the same
scans, so store writes are sized the same (one write per source batch) in both arms. The two
must store the same readings with the same quality and the same alarm events (checked).

Throughput: all scans queued at once; readings/s = readings / time until the store holds them.
Latency (real time, one scan per second stamped with the scan's wall-clock time):
``p99_latency_s`` = reading ts -> its alarm event delivered on the bus (what the alarm worker
and the WebSocket get); ``p99_store_s`` = scan ts -> the scan committed in DuckDB.

The process is pinned to one CPU (all threads, DuckDB's included): the figures are per core.
Last line: JSON {"readings_per_s", "baseline_per_s", "ratio", "p99_latency_s", "p99_store_s"}.
Targets (issue 7): readings_per_s >= 100,000, p99_latency_s <= 0.5.

Usage: .venv/bin/python bench/ingest.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bytewax.operators as op  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.testing import run_main  # noqa: E402

from api.runtime import INGEST_STREAM, Runtime, tag_limits  # noqa: E402
from api.settings import Settings  # noqa: E402
from connectors.bus.bytewax_io import BusSource  # noqa: E402
from connectors.bus.memory import Bus  # noqa: E402
from connectors.store.duckdb import DuckDBStore  # noqa: E402
from connectors.store.sink import StoreSink  # noqa: E402
from models.alarm_engine import TagAlarmConfig, process  # noqa: E402
from models.contracts import ALARM_EVENT, AlarmEvent, Quality, SensorReading, now_ms  # noqa: E402
from models.limits import TagLimits, TagState, quality_of  # noqa: E402
from twin.generate import generate_plant  # noqa: E402
from twin.plant import Plant  # noqa: E402

N_TAGS = 10_000
SEED = 20261202


class Values:
    """Seeded values per tag: mid-range wave + noise; 0.5 % of tags make excursions past H/HH."""

    def __init__(self, plant: Plant, seed: int = SEED) -> None:
        rng = np.random.default_rng(seed)
        lo = np.array([t.range[0] for t in plant.tags])
        hi = np.array([t.range[1] for t in plant.tags])
        low = np.array([t.limits.l if t.limits.l is not None else lo_ for t, lo_ in zip(plant.tags, lo, strict=True)])
        high = np.array([t.limits.h if t.limits.h is not None else hi_ for t, hi_ in zip(plant.tags, hi, strict=True)])
        hh = np.array([t.limits.hh if t.limits.hh is not None else hi_ for t, hi_ in zip(plant.tags, hi, strict=True)])
        self.tags = [t.tag for t in plant.tags]
        self.mid = (low + high) / 2
        self.amp = (high - low) / 8
        self.noise = (hi - lo) / 2000
        self.phase = rng.random(len(self.tags))
        self.upset = np.flatnonzero(rng.random(len(self.tags)) < 0.005)
        self.upset_phase = rng.integers(0, 12, self.upset.shape[0])
        u = self.upset
        to_h = (high[u] + hh[u]) / 2  # between H and HH
        to_hh = (hh[u] + hi[u]) / 2  # past HH, inside the range
        self.upset_to = np.where(rng.random(u.shape[0]) < 0.5, to_h, to_hh)
        self.rng = rng

    def scan(self, second: int, ts: int) -> list[SensorReading]:
        """One scan of every tag at ``ts``: what a subscriber hands ``publish_readings``."""
        v = self.mid + self.amp * np.sin(2 * np.pi * (second / 300.0 + self.phase))
        v += self.rng.normal(0, 1, len(self.tags)) * self.noise
        on = (second + self.upset_phase) % 12 < 3
        v[self.upset[on]] = self.upset_to[on]
        q = np.where(self.rng.random(len(self.tags)) < 0.0005, Quality.BAD.value, Quality.GOOD.value)
        return [
            SensorReading(tag=t, ts=ts, value=x, quality=Quality(qq), source="opcua")
            for t, x, qq in zip(self.tags, np.round(v, 3).tolist(), q.tolist(), strict=True)
        ]


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
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def runtime_for(plant: Plant, data_dir: Path) -> Runtime:
    settings = Settings(
        environment="test", data_dir=data_dir, simulate=False, ingest_queue_batches=1_000, source_timeout_s=3_600
    )
    rt = Runtime(settings=settings, plant=plant)
    rt.store = rt.open_store()
    return rt


def wait_until(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.001)


def _stored_up_to(rt: Runtime, ts: int) -> bool:
    return (rt.newest_stored_ts or 0) >= ts


# -- baseline: the per-reading flow of main before issue 7 ----------------------------------------


def _per_reading_judge(
    specs: dict[str, TagLimits], configs: dict[str, TagAlarmConfig], state: Any, r: SensorReading
) -> tuple[tuple[TagState, Any], list[Any]]:
    q, alarms = state or (TagState(), None)
    if q.last_ts and r.ts <= q.last_ts:
        flagged = r if r.ts == q.last_ts else SensorReading(tag=r.tag, ts=r.ts, value=r.value, quality=Quality.STALE)
        return (q, alarms), [flagged]
    verdict = quality_of(q, r, specs[r.tag], now_ms())
    flagged = r if verdict == r.quality else SensorReading(tag=r.tag, ts=r.ts, value=r.value, quality=verdict)
    repeats = q.repeats + 1 if q.last_value == r.value else 0
    alarms, events = process(alarms, flagged, configs[r.tag])
    return (TagState(last_ts=r.ts, last_value=r.value, repeats=repeats), alarms), [flagged, *events]


def baseline_flow(specs: dict[str, TagLimits], bus: Bus, store: DuckDBStore) -> Dataflow:
    configs = {t: TagAlarmConfig.from_tag_limits(s) for t, s in specs.items()}
    flow = Dataflow("per_reading")
    scans = op.input("in", flow, BusSource(bus, INGEST_STREAM, maxsize=1_000))
    readings = op.flat_map("explode", scans, lambda scan: scan)  # one item per reading, as before
    known = op.filter("known_tag", readings, lambda r: r.tag in specs)
    keyed = op.key_on("by_tag", known, lambda r: r.tag)
    judged = op.stateful_flat_map("quality_limits", keyed, partial(_per_reading_judge, specs, configs))
    op.output("store", op.key_rm("unkey", judged), StoreSink(store))
    return flow


def run_baseline(plant: Plant, scans: Iterable[list[SensorReading]], tmp: Path) -> tuple[float, DuckDBStore]:
    bus = Bus()
    store = DuckDBStore(tmp / "baseline.duckdb")
    store.init_schema()
    flow = baseline_flow(tag_limits(plant), bus, store)
    thread = threading.Thread(target=run_main, args=(flow,), daemon=True)
    thread.start()
    time.sleep(0.2)  # subscribed
    scans = list(scans)
    n = sum(len(s) for s in scans)
    t = time.perf_counter()
    for s in scans:
        bus.publish(INGEST_STREAM, s)
    wait_until(lambda: store.count_readings() >= n, 600, "baseline never stored every reading")
    elapsed = time.perf_counter() - t
    bus.close()
    thread.join(30)
    return n / elapsed, store


# -- the production arm --------------------------------------------------------------------


def run_production(plant: Plant, scans: list[list[SensorReading]], data_dir: Path) -> tuple[float, Runtime]:
    rt = runtime_for(plant, data_dir)
    rt.start_flow()
    time.sleep(0.2)
    n = sum(len(s) for s in scans)
    t = time.perf_counter()
    for s in scans:
        rt.publish_readings(s)
    wait_until(lambda: rt.stored_readings >= n, 600, "the flow never stored every reading")
    elapsed = time.perf_counter() - t
    assert rt.dropped_batches == 0
    return n / elapsed, rt


def stop(rt: Runtime) -> None:
    rt.bus.close()
    if rt._flow_thread is not None:
        rt._flow_thread.join(30)


def stored(store: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with store._read() as cur:
        readings = cur.execute("SELECT tag, ts, value, quality FROM readings ORDER BY tag, ts").fetchall()
        alarms = cur.execute(
            "SELECT alarm_id, ts, state, message FROM alarm_events WHERE kind NOT IN ('FLOOD', 'COMM') ORDER BY ALL"
        ).fetchall()
    return readings, alarms


def throughput(args: argparse.Namespace, plant: Plant, tmp: Path) -> tuple[float, float]:
    values = Values(plant)
    seconds, base_seconds = (20, 3) if args.quick else (60, 6)
    t0 = now_ms() - 10_000
    scans = [values.scan(s, t0 + s * 1000) for s in range(seconds)]
    runs: list[float] = []
    for rep in range(args.repeats):
        rate, rt = run_production(plant, scans, tmp / f"prod{rep}")
        if rep == 0:
            prefix = tmp / "prefix"
            rate_p, rt_p = run_production(plant, scans[:base_seconds], prefix)
            stop(rt_p)
            prod_readings, prod_alarms = stored(rt_p.store)
            rt_p.store.close()  # type: ignore[union-attr]
        runs.append(rate)
        stop(rt)
        rt.store.close()  # type: ignore[union-attr]
    base_rate, base_store = run_baseline(plant, scans[:base_seconds], tmp)
    base_readings, base_alarms = stored(base_store)
    base_store.close()
    assert prod_readings == base_readings, "batched flow and per-reading flow stored different readings"
    assert prod_alarms == base_alarms, "batched flow and per-reading flow raised different alarms"
    rate = statistics.median(runs)
    print(f"{N_TAGS:,} tags x {seconds} s = {N_TAGS * seconds:,} readings through Runtime.start_flow, one core")
    print(f"  production flow: {rate:,.0f} readings/s (runs: {', '.join(f'{r:,.0f}' for r in runs)}; median)")
    print(f"  baseline per-reading flow, first {base_seconds} s: {base_rate:,.0f} readings/s")
    print(f"  same {len(base_readings):,} stored readings and {len(base_alarms)} alarm events from both arms")
    return rate, base_rate


def latency(args: argparse.Namespace, plant: Plant, tmp: Path) -> tuple[float, float, int]:
    seconds = 10 if args.quick else 30
    values = Values(plant, seed=SEED + 1)
    rt = runtime_for(plant, tmp / "live")
    alarm_lat: list[float] = []
    sub = rt.bus.subscribe(ALARM_EVENT)
    stop_evt = threading.Event()

    def listen() -> None:
        while not stop_evt.is_set():
            for e in sub.get_batch(0.05):
                if isinstance(e, AlarmEvent) and e.source_kind == "tag":
                    alarm_lat.append(time.time() - e.ts / 1000)

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    rt.start_flow()
    time.sleep(0.2)
    store_lat: list[float] = []
    busy: list[float] = []
    next_tick = time.monotonic()
    for s in range(seconds):
        next_tick += 1.0
        scan_wall = time.time()
        ts = round(scan_wall * 1000)
        scan = values.scan(s, ts)
        rt.publish_readings(scan)
        wait_until(partial(_stored_up_to, rt, ts), 10, "scan never stored")
        store_lat.append(time.time() - ts / 1000)
        busy.append(time.time() - scan_wall)
        time.sleep(max(0.0, next_tick - time.monotonic()))
    time.sleep(0.3)
    stop_evt.set()
    listener.join(2)
    stop(rt)
    rt.store.close()  # type: ignore[union-attr]
    p99, p99_store = pct(alarm_lat, 0.99), pct(store_lat, 0.99)
    print(
        f"real time {seconds} s at {N_TAGS:,} tags x 1 Hz: {len(alarm_lat)} alarm events, "
        f"reading -> alarm event p50 {pct(alarm_lat, 0.5):.3f} s, p99 {p99:.3f} s"
    )
    print(f"  scan -> stored in DuckDB: p50 {pct(store_lat, 0.5):.3f} s, p99 {p99_store:.3f} s")
    return p99, p99_store, len(alarm_lat)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 s of plant data, 10 s real time (< 45 s)")
    ap.add_argument("--repeats", type=int, default=None, help="production runs (median); default 3, 1 in --quick")
    args = ap.parse_args()
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    cpu = pin_to_one_core()
    print(f"pinned to CPU {cpu}")
    plant = generate_plant(N_TAGS)
    with tempfile.TemporaryDirectory() as tmp:
        rate, base = throughput(args, plant, Path(tmp))
        p99, p99_store, n_alarms = latency(args, plant, Path(tmp))
    assert n_alarms > 0, "the latency run raised no alarm"
    print(
        json.dumps(
            {
                "readings_per_s": round(rate),
                "baseline_per_s": round(base),
                "ratio": round(rate / base, 2),
                "p99_latency_s": round(p99, 3),
                "p99_store_s": round(p99_store, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
