"""The one sensor flow, run in memory with Bytewax's testing source and sink."""

from __future__ import annotations

from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main

from connectors.batches import AlarmBatch, ReadingBatch
from models.contracts import AlarmEvent, DeadLetter, Quality, SensorReading, encode, now_ms
from models.limits import TagLimits
from pipelines.sensors.flow import build_flow
from pipelines.sensors.steps import FlowPlan, seed_state

SPECS = {
    "TT-401": TagLimits(tag="TT-401", lo=0, hi=200, h=85, hh=95),
    "PT-101": TagLimits(tag="PT-101", lo=0, hi=2.5, h=1.6, hh=1.75),
}
T0 = now_ms() - 60_000


def split(out: list) -> tuple[list[SensorReading], list[AlarmEvent], list[AlarmEvent], list[DeadLetter]]:
    readings, shown, held, dead = [], [], [], []
    for m in out:
        if isinstance(m, ReadingBatch):
            readings += m.readings()
            dead += m.dead
        elif isinstance(m, AlarmBatch):
            shown += m.annunciated
            held += m.held
    return readings, shown, held, dead


def run(items, specs=SPECS, **kw) -> list:
    out: list = []
    run_main(build_flow(FlowPlan.build(specs), TestingSource(items), [TestingSink(out)], **kw))
    return out


def test_flow_flags_alarms_and_deadletters_without_dying():
    items = [
        encode(SensorReading(tag="TT-401", ts=T0 + 1_000, value=70.0)),
        b"garbage",
        [
            SensorReading(tag="TT-401", ts=T0 + 2_000, value=96.0),
            SensorReading(tag="NOPE-1", ts=T0 + 2_000, value=1.0),
            SensorReading(tag="PT-101", ts=T0 + 2_000, value=3.0),
        ],
        SensorReading(tag="TT-401", ts=T0 + 3_000, value=70.0),
    ]
    readings, alarms, held, dead = split(run(items, clock=None))
    assert len(readings) == 4 and not held
    assert {r.quality for r in readings if r.tag == "PT-101"} == {Quality.OUT_OF_RANGE}
    bad = [(a.source_id, a.kind, a.state.value) for a in alarms if a.kind == "BAD"]
    assert bad == [("PT-101", "BAD", "active")]  # an out-of-range transmitter is itself an alarm
    assert [(a.kind, a.state.value) for a in alarms if a.source_id == "TT-401"] == [
        ("HH", "active"),
        ("H", "active"),
        ("HH", "returned"),
        ("H", "returned"),
    ]
    assert len(dead) == 2 and any("unknown tag 'NOPE-1'" in d.reason for d in dead)


def test_one_json_array_per_scan_is_one_batch():
    scan = encode([SensorReading(tag=t, ts=T0 + 1_000, value=1.0) for t in SPECS])  # type: ignore[arg-type]
    out = run([scan], clock=None)
    batches = [m for m in out if isinstance(m, ReadingBatch)]
    assert len(batches) == 1 and len(batches[0]) == 2


def test_a_flood_is_annunciated_as_one_summary_and_nothing_is_lost():
    # 15 gas detectors in one area all go high within a minute: more than 10 in 10 minutes
    specs = {f"GT-{i}": TagLimits(tag=f"GT-{i}", lo=0, hi=100, h=20, kind="flammable_gas") for i in range(15)}
    positions = dict.fromkeys(specs, "tank_farm")
    readings = [SensorReading(tag=f"GT-{i}", ts=T0 + i * 1_000, value=30.0) for i in range(15)]
    shown_out: list = []
    held_out: list = []
    flow = build_flow(
        FlowPlan.build(specs),
        TestingSource(readings),
        [TestingSink(shown_out)],
        clock=None,
        positions=positions,
        held_sinks=[TestingSink(held_out)],
    )
    run_main(flow)
    stored, shown, held, _ = split(shown_out)
    summaries = [a for a in shown if a.kind == "FLOOD"]
    assert len(summaries) == 1 and summaries[0].source_id == "tank_farm" and "tank_farm" in summaries[0].alarm_id
    tag_alarms = [a for a in shown if a.kind != "FLOOD"]
    assert len(tag_alarms) == 10 and len(held) == 5  # from the 11th (the flood) medium alarms are held back
    assert {a.source_id for a in tag_alarms + held} == set(specs)  # every alarm is still recorded somewhere
    assert [e for b in held_out for e in b.held] == held  # the held-alarm sink gets them too
    assert len(stored) == 15


def test_two_shards_on_two_workers_give_the_same_readings_and_alarms_as_one():
    specs = {f"LT-{i:03d}": TagLimits(tag=f"LT-{i:03d}", lo=0, hi=100, h=80, l=10) for i in range(50)}
    scans = [
        [SensorReading(tag=t, ts=T0 + s * 1000, value=float((i * 7 + s * 13) % 100)) for i, t in enumerate(specs)]
        for s in range(10)
    ]

    def outcome(out: list) -> tuple[list, list]:
        readings, shown, _, _ = split(out)
        return sorted((r.tag, r.ts, r.quality) for r in readings), sorted((a.alarm_id, a.ts, a.state) for a in shown)

    one: list = []
    run_main(build_flow(FlowPlan.build(specs), TestingSource(scans), [TestingSink(one)], clock=None))
    two: list = []
    flow = build_flow(FlowPlan.build(specs, shards=2), TestingSource(scans), [TestingSink(two)], clock=None)
    cluster_main(flow, [], 0, worker_count_per_proc=2)
    assert outcome(one) == outcome(two)
    assert len(outcome(one)[1]) > 20
    assert {m.shard for m in two if isinstance(m, ReadingBatch)} == {"0", "1"}


def test_a_seeded_engine_returns_an_alarm_active_before_a_restart_once_and_never_repeats_it():
    plan = FlowPlan.build(SPECS)
    first = split(run([SensorReading(tag="TT-401", ts=T0 + 1_000, value=90.0)], clock=None))[1]
    assert [(a.kind, a.state.value) for a in first] == [("H", "active")]
    seed = seed_state(plan, first)  # what the store says is active after a crash
    again: list = []
    items = [
        SensorReading(tag="TT-401", ts=T0 + 1_000, value=90.0),  # replayed: already judged
        SensorReading(tag="TT-401", ts=T0 + 2_000, value=91.0),  # condition still present
        SensorReading(tag="TT-401", ts=T0 + 3_000, value=20.0),  # clears
    ]
    run_main(build_flow(plan, TestingSource(items), [TestingSink(again)], clock=None, seed=seed))
    events = split(again)[1]
    assert [(a.kind, a.state.value, a.ts) for a in events] == [("H", "returned", T0 + 3_000)]
