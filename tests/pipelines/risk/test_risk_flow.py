"""The risk flow end to end in memory: the scripted scenario, batching, dead letters, the store."""

from __future__ import annotations

from pathlib import Path

import msgspec
from bytewax.testing import TestingSink, TestingSource, cluster_main, run_main

from api.runtime import hazard_contexts
from connectors.batches import RawRecord
from connectors.store.duckdb import DuckDBStore
from models.contracts import AlarmEvent, AlarmPriority, AlarmState, DeadLetter, RiskLevel, RiskScore, SensorReading
from models.risk import RISK_INPUT, Recompute, SisBypass, SpecialWork
from pipelines.risk.flow import StoreScoreSink, build_flow
from pipelines.risk.steps import RiskBatch, RiskPlan, parse, recompute, route
from tests.models.test_risk_scenario import EXPECTED, SCENARIO, T0
from twin.plant import load_plant

PLAN = RiskPlan.build(hazard_contexts(load_plant()))


def run(batches: list[object], *, workers: int = 1) -> list[object]:
    out: list[object] = []
    flow = build_flow(PLAN, [TestingSource(batches)], [TestingSink(out)], clock=lambda: T0)
    if workers == 1:
        run_main(flow)
    else:
        cluster_main(flow, [], 0, worker_count_per_proc=workers)
    return out


def last_by_source(out: list[object]) -> dict[str, RiskScore]:
    last: dict[str, RiskScore] = {}
    for m in out:
        if isinstance(m, RiskScore):
            last[m.hazard_source_id] = m
    return last


def test_scenario_through_the_flow_gives_the_expected_colours() -> None:
    # one delivered batch per step, then a marker batch we can cut the output on
    for n_steps in range(1, len(SCENARIO) + 1):
        batches = [list(items) for _, items in SCENARIO[:n_steps]]
        last = last_by_source(run(batches))
        step = SCENARIO[n_steps - 1][0]
        for sid, (level, contributions) in EXPECTED[step].items():
            assert last[sid].level == level, f"{step}: {sid}"
            assert {c.factor: c.value for c in last[sid].contributions} == contributions


def test_scenario_with_two_workers_matches() -> None:
    batches = [list(items) for _, items in SCENARIO[:4]]
    last = last_by_source(run(batches, workers=2))
    assert {sid: s.level for sid, s in last.items()} == {sid: lv for sid, (lv, _) in EXPECTED["SIS bypass"].items()}


def test_unchanged_score_is_not_re_emitted() -> None:
    reading = SensorReading(tag="LT-101", ts=T0 + 1, value=60.0)  # of MHS-01, changes nothing
    out = run([[Recompute(ts=T0)], [reading], [reading]])
    assert sorted(m.hazard_source_id for m in out if isinstance(m, RiskScore)) == [
        "MHS-01",
        "MHS-02",
        "MHS-03",
        "MHS-04",
    ]


def test_bad_input_becomes_a_dead_letter_and_the_flow_goes_on() -> None:
    bad_json = RawRecord(b'{"type": "sis_bypass", "interlock_id": 1}', T0)
    unknown = SisBypass(interlock_id="I", hazard_source_id="MHS-99", bypassed=True, ts=T0)
    good = SisBypass(interlock_id="I", hazard_source_id="MHS-02", bypassed=True, ts=T0 + 5)
    out = run([[bad_json, unknown, b"\xff\xfe", 42], [good]])
    dead = [m for m in out if isinstance(m, DeadLetter)]
    assert len(dead) == 4 and all(d.stream == RISK_INPUT and d.reason for d in dead)
    assert any("MHS-99" in d.raw for d in dead)
    assert last_by_source(out)["MHS-02"].level == RiskLevel.YELLOW


def test_json_inputs_from_kafka_topics_are_understood() -> None:
    alarm = AlarmEvent(
        alarm_id="GT-201:H", source_kind="tag", source_id="GT-201", kind="H",
        priority=AlarmPriority.HIGH, state=AlarmState.ACTIVE, ts=T0,
    )  # fmt: skip
    work = SpecialWork(work_id="w", work_type="hot_work", grade="1", area="tank_farm", active=True, ts=T0 + 1)
    readings = [SensorReading(tag="GT-101", ts=T0, value=15.0)]
    batch = parse(
        [RawRecord(msgspec.json.encode(alarm), T0), msgspec.json.encode(work), msgspec.json.encode(readings)], T0
    )
    assert isinstance(batch, RiskBatch) and not batch.dead and len(batch.items) == 3
    routed = dict(route(PLAN, batch))
    assert set(routed) == {"MHS-01", "MHS-02", "MHS-03"}  # work in tank farm: all three sources there
    _, score = recompute(PLAN, "MHS-02", None, routed["MHS-02"])
    assert score is not None and score.level == RiskLevel.ORANGE  # gas L1 + grade-1 hot work on a blue source
    _, near = recompute(PLAN, "MHS-01", None, routed["MHS-01"])
    assert near is not None and "GAS.NEAR" in {c.factor for c in near.contributions}


def test_scores_are_stored_and_replays_double_nothing(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "risk.duckdb")
    store.init_schema()
    try:
        batches = [list(items) for _, items in SCENARIO]
        for _ in range(2):  # the second run is a replay of the same inputs
            run_main(build_flow(PLAN, [TestingSource(batches)], [StoreScoreSink(store)]))
        latest = store.latest_risk()
        assert {sid: s.level for sid, s in latest.items()} == {sid: lv for sid, (lv, _) in EXPECTED["recovery"].items()}
        history = store.risk_history("MHS-02")
        assert [s.level for s in reversed(history)] == [
            RiskLevel.BLUE, RiskLevel.YELLOW, RiskLevel.ORANGE, RiskLevel.RED, RiskLevel.BLUE,
        ]  # fmt: skip
        assert history[1].contributions  # reasons survive the round trip
    finally:
        store.close()


def test_a_late_input_scores_after_the_score_it_changes() -> None:
    alarm = AlarmEvent(
        alarm_id="GT-201:H", source_kind="tag", source_id="GT-201", kind="H",
        priority=AlarmPriority.HIGH, state=AlarmState.ACTIVE, ts=T0,
    )  # fmt: skip
    work = SpecialWork(work_id="w", work_type="hot_work", grade="1", area="tank_farm", active=True, ts=T0 + 10)
    out = [m for m in run([[work], [alarm]]) if isinstance(m, RiskScore) and m.hazard_source_id == "MHS-02"]
    assert [m.level for m in out] == [RiskLevel.YELLOW, RiskLevel.ORANGE]
    assert out[1].ts > out[0].ts  # the newest score is the latest by time too (store, history)
