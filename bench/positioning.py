"""Personnel positioning: accuracy of the solver and speed of the production flow.

Part 1, accuracy (``models.positioning.solve``, the solver the flow runs): people of the
simulator (``twin.people``) walk their rounds on a site with anchors every 30 m; their tags
range with UWB noise (sigma 0.3 m) and BLE noise (sigma 3 m), both with 10 % NLOS ranges
(positive bias) and 5 % dropouts. Reported: p50/p95 horizontal error against the truth, and
the naive baseline in the same run (unweighted least squares, no outlier rejection,
``solve_naive``). Targets: p95 <= 1 m (UWB), <= 10 m (BLE). Throughput: fixes/s of one
vectorised call of 2,000 fixes per CPU second of this process, i.e. per core whatever else
the machine runs (target >= 10,000), beside the simple alternative of solving fix by fix
(the same solver on batches of one).

Part 2, the production flow (``pipelines.positioning.flow.build_flow``, the builder the
runtime uses, fed through the in-process bus as in embedded mode, writing DuckDB):

* ``flow_fixes_per_s``: 2,000 tags' rangings (JSON arrays as an engine pushes them)
  offered as fast as the flow takes them: parse, solve, smooth, rules, store.
* ``fence_p99_s``: 2,000 tags at 1 Hz in real time (the payloads are made beforehand so the
  bench's own simulation does not compete with the flow), some of them walking into the
  liquid chlorine store (a permit-required zone) without a permit; for every such alarm, the
  wall time from publishing the fix to the alarm reaching the sink. Target p99 <= 1 s.

``--quick`` shrinks the samples (under 45 s). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bytewax.outputs import DynamicSink, StatelessSinkPartition  # noqa: E402
from bytewax.testing import run_main  # noqa: E402

from api.runtime import positioning_plan  # noqa: E402
from api.settings import Settings  # noqa: E402
from connectors.batches import AlarmBatch  # noqa: E402
from connectors.bus.bytewax_io import BusSource  # noqa: E402
from connectors.bus.memory import Bus  # noqa: E402
from connectors.store.duckdb import DuckDBStore  # noqa: E402
from models.contracts import LocationRanging, Range, encode  # noqa: E402
from models.position_rules import PERMIT_ZONE  # noqa: E402
from models.positioning import SolverConfig, solve, solve_naive  # noqa: E402
from pipelines.positioning.flow import PositionStoreSink, build_flow  # noqa: E402
from pipelines.positioning.steps import PositionBatch  # noqa: E402
from twin.people import BLE, UWB, PeopleSim, RangeNoise, grid_anchors, with_grid_anchors  # noqa: E402
from twin.plant import load_plant  # noqa: E402

STREAM = "bench.location.fix"


def accuracy(noise: RangeNoise, people: int, steps: int, seed: int) -> dict[str, float]:
    """p50/p95 error of the solver and the naive baseline on simulated walks."""
    anchors = grid_anchors(0, 0, 240, 160, 30)
    stops = [(15, 15), (225, 15), (225, 145), (15, 145), (120, 80), (60, 120), (180, 40)]
    sim = PeopleSim(anchors, [str(i) for i in range(len(anchors))], stops, people, noise=noise, seed=seed)
    errs, base = [], []
    for _ in range(steps):
        sim.step(5.0)
        truth = sim.positions()[:, :2]
        a, r, m, _ = sim.measure()
        f = solve(a, r, m, config=SolverConfig(sigma_m=noise.sigma_m))
        errs.append(np.hypot(*(f.xyz[f.ok, :2] - truth[f.ok]).T))
        base.append(np.hypot(*(solve_naive(a, r, m) - truth).T))
    e, b = np.concatenate(errs), np.concatenate(base)
    return {
        "p50_m": round(float(np.percentile(e, 50)), 3),
        "p95_m": round(float(np.percentile(e, 95)), 3),
        "baseline_p95_m": round(float(np.percentile(b, 95)), 3),
        "fixes": len(e),
    }


def throughput(n: int, repeat: int) -> tuple[float, float]:
    """Fixes/s of one vectorised call, and of the same solver fix by fix."""
    anchors = grid_anchors(0, 0, 240, 160, 30)
    sim = PeopleSim(anchors, [str(i) for i in range(len(anchors))], [(15, 15), (225, 145), (120, 80)], n, seed=5)
    a, r, m, _ = sim.measure()
    solve(a, r, m)  # warm up
    t0 = time.process_time()  # CPU time of this process: "per core", whatever else runs
    for _ in range(repeat):
        solve(a, r, m)
    batch = n * repeat / (time.process_time() - t0)
    k = min(300, n)
    t0 = time.process_time()
    for i in range(k):
        solve(a[i : i + 1], r[i : i + 1], m[i : i + 1])
    single = k / (time.process_time() - t0)
    return batch, single


class _Capture(DynamicSink[Any]):
    """Records the wall time each batch reaches the end of the flow."""

    def __init__(self) -> None:
        self.positions = 0
        self.alarms: list[tuple[float, Any]] = []
        self.done = threading.Event()
        self.lock = threading.Lock()

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _CapturePart:
        return _CapturePart(self)


class _CapturePart(StatelessSinkPartition[Any]):
    def __init__(self, owner: _Capture) -> None:
        self.o = owner

    def write_batch(self, items: list[Any]) -> None:
        now = time.perf_counter()
        with self.o.lock:
            for m in items:
                if isinstance(m, PositionBatch):
                    self.o.positions += len(m)
                elif isinstance(m, AlarmBatch):
                    self.o.alarms.extend((now, e) for e in m.annunciated)


def _rangings(sim: PeopleSim, ts: int) -> bytes:
    return b"[" + b",".join(encode(r) for r in sim.ranging(ts)) + b"]"


def flow_figures(tags: int, seconds: int, flood_batches: int, seed: int) -> dict[str, float | int | None]:
    """Fixes/s of the production flow at full speed, and fix -> fence alarm latency at 1 Hz."""
    plant = with_grid_anchors(load_plant())
    plan = positioning_plan(plant, Settings(_env_file=None))  # type: ignore[call-arg]
    # 2,000 people spread over the site: stops on a 20 m grid (the plant's few areas would
    # pile them into a handful of crowds), anchors every 30 m.
    anchors = np.asarray([a.position for a in plant.anchors], np.float64)
    w, h = plant.plant.size
    stops = [(float(x), float(y)) for x in np.arange(10, w, 20) for y in np.arange(10, h, 20)]
    sim = PeopleSim(anchors, [a.id for a in plant.anchors], stops, tags, seed=seed)
    t0 = 1_900_000_000_000
    payloads = []
    for s in range(flood_batches):
        sim.step(1.0)
        payloads.append(_rangings(sim, t0 + 1000 * s))
    out: dict[str, float | int | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # (a) as fast as the flow goes: all batches queued, then the bus closed.
        store = DuckDBStore(Path(tmp) / "a.duckdb")
        store.init_schema()
        bus = Bus()
        cap = _Capture()
        flow = build_flow(plan, BusSource(bus, STREAM), [cap, PositionStoreSink(store)], clock=lambda: t0 + 10**7)
        th = threading.Thread(target=run_main, args=(flow,), daemon=True)
        th.start()
        time.sleep(0.5)
        start = time.perf_counter()
        for p in payloads:
            bus.publish(STREAM, p)
        while cap.positions < tags * flood_batches and time.perf_counter() - start < 120:
            time.sleep(0.01)
        out["flow_fixes_per_s"] = round(cap.positions / (time.perf_counter() - start))
        bus.close()
        th.join(10)
        store.close()
        # (b) real time, 1 Hz: 20 people walk into Z-CL2 without a permit.
        store = DuckDBStore(Path(tmp) / "b.duckdb")
        store.init_schema()
        bus = Bus()
        cap = _Capture()
        clock_base = time.time()
        flow = build_flow(
            plan, BusSource(bus, STREAM), [cap, PositionStoreSink(store)], clock=lambda: int(time.time() * 1000)
        )
        anchor_at = {a.id: np.asarray(a.position) for a in plant.anchors}
        rng = np.random.default_rng(seed)
        intruders = 20
        # The payloads are made before the clock starts: the bench's own simulation must not
        # take the flow's CPU (one interpreter) while it is being measured.
        first_ts = int(time.time() * 1000) + 60_000  # in the accepted window; latency is by wall clock
        timed_payloads: list[tuple[int, bytes]] = []
        for s in range(seconds):
            sim.step(1.0)
            ts = first_ts + 1000 * s
            msgs = sim.ranging(ts)
            # Intruder k steps into the store (x 48..72, y 88..102) at second 1 + k % (seconds - 1).
            for k in range(intruders):
                x = 40.0 + (16.0 if s >= 1 + k % max(seconds - 1, 1) else 0.0)
                where = np.array([x, 90.0 + 0.5 * k, 1.2])
                rs = [
                    Range(anchor_id=a, distance_m=float(np.linalg.norm(where - q) + rng.normal(0, 0.3)))
                    for a, q in anchor_at.items()
                    if np.linalg.norm(where - q) < 45
                ]
                msgs[k] = LocationRanging(tag_id=f"INTRUDER-{k:02d}", ts=ts, ranges=rs, battery=90.0)
            timed_payloads.append((ts, b"[" + b",".join(encode(m) for m in msgs) + b"]"))
        th = threading.Thread(target=run_main, args=(flow,), daemon=True)
        th.start()
        time.sleep(0.5)
        sent: dict[int, float] = {}
        t_start = time.perf_counter()
        for s, (ts, payload) in enumerate(timed_payloads):  # 1 Hz
            time.sleep(max(0.0, t_start + s - time.perf_counter()))
            sent[ts] = time.perf_counter()
            bus.publish(STREAM, payload)
        time.sleep(1.5)
        bus.close()
        th.join(10)
        store.close()
        lat = [arrived - sent[e.ts] for arrived, e in cap.alarms if e.kind == PERMIT_ZONE and e.ts in sent]
        out["fence_alarms"] = len(lat)
        out["fence_p50_s"] = round(float(np.percentile(lat, 50)), 4) if lat else None
        out["fence_p99_s"] = round(float(np.percentile(lat, 99)), 4) if lat else None
        out["realtime_fixes"] = cap.positions
        out["realtime_wall_s"] = round(time.time() - clock_base, 1)
    return out


def main() -> None:
    """Run both parts and print the JSON figures last."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller samples: under 45 s")
    ap.add_argument("--tags", type=int, default=2000, help="tags of the flow part (default 2000)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    people, steps = (1000, 4) if args.quick else (2000, 20)
    uwb = accuracy(UWB, people, steps, args.seed)
    ble = accuracy(BLE, people, steps, args.seed)
    per_s, single = throughput(2000, 3 if args.quick else 20)
    flow = flow_figures(args.tags, 8 if args.quick else 60, 5 if args.quick else 30, args.seed)
    result = {
        "uwb": {"p50_m": uwb["p50_m"], "p95_m": uwb["p95_m"]},
        "ble": {"p50_m": ble["p50_m"], "p95_m": ble["p95_m"]},
        "baseline": {"uwb_p95_m": uwb["baseline_p95_m"], "ble_p95_m": ble["baseline_p95_m"]},
        "fixes_per_s": round(per_s),
        "fix_by_fix_per_s": round(single),
        "tags": args.tags,
        **flow,
        "targets": {"uwb_p95_m": 1.0, "ble_p95_m": 10.0, "fixes_per_s": 10_000, "fence_p99_s": 1.0},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
