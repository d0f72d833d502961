"""Risk recomputation latency and throughput through the production risk flow builder.

Builds the very dataflow the embedded runtime runs (:func:`pipelines.risk.flow.build_flow`
with :class:`~connectors.bus.bytewax_io.BusSource` / ``BusSink`` on the in-process bus) for a
synthetic plant of 500 hazard sources × 50 inputs each (45 process tags, 5 gas detectors,
ten sources per area), in a thread, and measures:

* **latency** (acceptance: p99 ≤ 1 s): while a background load of alarm events streams in
  (``--load``, default 2,500 inputs/s: each of the 25,000 inputs changing every 10 s),
  probes (an interlock bypassed / restored on a probe source, each changing its score) are
  published one at a time; latency = wall time from publishing the probe to receiving that
  source's new :class:`~models.contracts.RiskScore` on the output stream;
* **throughput**: every one of the 500 × 50 inputs raises an alarm, delivered in batches of
  ``--batch`` inputs; ``recomputations_per_s`` counts (source, batch) evaluations per second,
  ``inputs_per_s`` the inputs folded per second, end to end through the flow.

Baseline, same batches in the same run: the best simple alternative without a dataflow, a
loop that recomputes a source after every single input (apply + evaluate per event), which is
what a naive "on change, rescore" handler does; ``speedup`` = flow inputs/s ÷ baseline inputs/s.

Last line: one JSON object with ``p99_s``, ``p50_s``, ``recomputations_per_s``, ``inputs_per_s``,
``baseline_inputs_per_s``, ``speedup``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bytewax.testing import run_main  # noqa: E402

from connectors.bus.bytewax_io import BusSink, BusSource  # noqa: E402
from connectors.bus.memory import Bus  # noqa: E402
from models.contracts import RISK_SCORE, AlarmEvent, AlarmPriority, AlarmState, RiskScore  # noqa: E402
from models.risk import RISK_INPUT, HazardContext, RiskItem, SisBypass, SourceState, apply, evaluate  # noqa: E402
from pipelines.risk.flow import build_flow  # noqa: E402
from pipelines.risk.steps import RiskPlan, parse, route  # noqa: E402

TARGET_P99_S = 1.0
SOURCES = 500
INPUTS = 50
GAS_PER_SOURCE = 5
PROBES = 20  # sources 0..19 take the probes; the load goes to the others


def synthetic_plan() -> RiskPlan:
    """500 sources × 50 tags, grades cycling 1..4, ten sources per area."""
    contexts = []
    for i in range(SOURCES):
        tags = {f"S{i:03d}-T{j:02d}": ("flammable_gas" if j < GAS_PER_SOURCE else "pressure") for j in range(INPUTS)}
        gas = {t: 20.0 for t, k in tags.items() if k == "flammable_gas"}
        contexts.append(
            HazardContext(id=f"S{i:03d}", name=f"源{i}", area=f"A{i // 10}", grade=1 + i % 4, tags=tags, gas_limits=gas)
        )
    return RiskPlan.build(contexts)


def alarm(tag: str, ts: int, active: bool) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{tag}:H",
        source_kind="tag",
        source_id=tag,
        kind="H",
        priority=AlarmPriority.HIGH,
        state=AlarmState.ACTIVE if active else AlarmState.RETURNED,
        ts=ts,
    )


def load_batches(t0: int, batch: int, active: bool) -> list[list[RiskItem]]:
    """Every input of every non-probe source once, in batches of ``batch``."""
    items: list[RiskItem] = [
        alarm(f"S{i:03d}-T{j:02d}", t0 + j, active) for j in range(INPUTS) for i in range(PROBES, SOURCES)
    ]
    return [items[k : k + batch] for k in range(0, len(items), batch)]


class Harness:
    """The production flow on a bus, in a thread, with a subscriber on ``risk.score``."""

    def __init__(self, plan: RiskPlan) -> None:
        self.bus = Bus()
        self.out = self.bus.subscribe(RISK_SCORE, maxsize=10_000_000)
        flow = build_flow(plan, [BusSource(self.bus, RISK_INPUT, max_batch=100_000)], [BusSink(self.bus)])
        self.thread = threading.Thread(target=run_main, args=(flow,), daemon=True)
        self.thread.start()
        while not self.bus.has_subscribers(RISK_INPUT):
            time.sleep(0.005)
        self.scores = 0

    def wait_for(self, sid: str, ts: int, timeout: float = 30) -> float:
        """Wall time at which the score of ``sid`` stamped ``ts`` arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for s in self.out.get_batch(0.05):
                self.scores += 1
                if isinstance(s, RiskScore) and s.hazard_source_id == sid and s.ts == ts:
                    return time.perf_counter()
        msg = f"no score for {sid}@{ts} within {timeout} s"
        raise TimeoutError(msg)

    def close(self) -> None:
        self.bus.close()
        self.thread.join(10)


def measure_throughput(h: Harness, plan: RiskPlan, batches: list[list[RiskItem]], marker_ts: int) -> dict[str, float]:
    recomputations = sum(len([k for k, _ in route(plan, parse(b, 0)) if k]) for b in batches)
    n_inputs = sum(len(b) for b in batches)
    start = time.perf_counter()
    for b in batches:
        h.bus.publish(RISK_INPUT, b)
    # restores the warm-up's bypass: S000's score changes, so it is emitted after every load batch
    marker = SisBypass(interlock_id="W", hazard_source_id="S000", bypassed=False, ts=marker_ts)
    h.bus.publish(RISK_INPUT, [marker])
    end = h.wait_for("S000", marker_ts, timeout=120)
    elapsed = end - start
    return {"recomputations_per_s": recomputations / elapsed, "inputs_per_s": n_inputs / elapsed}


def baseline(plan: RiskPlan, batches: list[list[RiskItem]]) -> float:
    """Inputs/s of the per-event rescoring loop over the same batches."""
    states = {sid: SourceState() for sid in plan.sources}
    n = 0
    start = time.perf_counter()
    for b in batches:
        for item in b:
            for sid in plan.by_tag.get(getattr(item, "source_id", ""), ()):
                ctx = plan.sources[sid]
                apply(ctx, states[sid], item)
                evaluate(ctx, states[sid], plan.table)
            n += 1
    return n / (time.perf_counter() - start)


def measure_latency(h: Harness, probes: int, t0: int, batch: int, load_per_s: float) -> list[float]:
    """Probe latencies under a background load of ``load_per_s`` inputs a second, in batches."""
    background = load_batches(t0, batch, True) + load_batches(t0 + 100, batch, False)
    stop = threading.Event()

    def feed() -> None:
        k = 0
        while not stop.is_set():
            h.bus.publish(RISK_INPUT, background[k % len(background)])
            k += 1
            time.sleep(batch / load_per_s)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    out = []
    try:
        for p in range(probes):
            sid = f"S{p % PROBES:03d}"
            ts = t0 + 1_000 + p
            probe = SisBypass(interlock_id="P", hazard_source_id=sid, bypassed=(p // PROBES) % 2 == 0, ts=ts)
            sent = time.perf_counter()
            h.bus.publish(RISK_INPUT, [probe])
            out.append(h.wait_for(sid, ts) - sent)
            time.sleep(0.01)
    finally:
        stop.set()
        feeder.join()
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and print the JSON summary as the last line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer probes (CI; under 45 s)")
    parser.add_argument("--batch", type=int, default=1000, help="inputs per delivered batch (both arms)")
    parser.add_argument(
        "--load", type=float, default=2500.0, help="background inputs/s during the probes (every input every 10 s)"
    )
    args = parser.parse_args(argv)
    probes = 100 if args.quick else 1000
    plan = synthetic_plan()
    t0 = 1_780_000_000_000
    h = Harness(plan)
    try:
        h.bus.publish(RISK_INPUT, [SisBypass(interlock_id="W", hazard_source_id="S000", bypassed=True, ts=t0)])
        h.wait_for("S000", t0)  # warm
        batches = load_batches(t0 + 10, args.batch, True)
        thr = measure_throughput(h, plan, batches, t0 + 500)
        lat = sorted(measure_latency(h, probes, t0 + 10_000, args.batch, args.load))
    finally:
        h.close()
    base = baseline(synthetic_plan(), load_batches(t0 + 10, args.batch, True))
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    result = {
        "bench": "risk_latency",
        "hazard_sources": SOURCES,
        "inputs_per_source": INPUTS,
        "batch": args.batch,
        "probes": len(lat),
        "background_inputs_per_s": args.load,
        "p50_s": round(statistics.median(lat), 4),
        "p99_s": round(p99, 4),
        "max_s": round(lat[-1], 4),
        "target_p99_s": TARGET_P99_S,
        "meets_target": p99 <= TARGET_P99_S,
        "recomputations_per_s": round(thr["recomputations_per_s"], 1),
        "inputs_per_s": round(thr["inputs_per_s"], 1),
        "baseline_inputs_per_s": round(base, 1),
        "speedup": round(thr["inputs_per_s"] / base, 2),
    }
    print(json.dumps(result, ensure_ascii=False))  # noqa: T201 - the bench's report
    return result


if __name__ == "__main__":
    main()
