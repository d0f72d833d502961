"""Scenario tests of the positioning flow, through the production builder and a real DuckDB."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from bytewax.testing import TestingSink, TestingSource, run_main

from connectors.batches import AlarmBatch
from connectors.store.duckdb import DuckDBStore
from models.contracts import AlarmState, LocationPosition, LocationRanging, Range, encode
from models.position_rules import CROWD, MAN_DOWN, OVERCROWD, PERMIT_ZONE, SOS, OpenPermit, muster_list
from pipelines.positioning.flow import PositionStoreSink, build_flow
from pipelines.positioning.steps import PermitsUpdate, PositionBatch, PositioningPlan
from tests.pipelines.positioning.conftest import demo_plan
from twin.plant import load_plant

T0 = 1_900_000_000_000
NOW = lambda: T0 + 3_600_000  # noqa: E731 - the flow's wall clock, after every fix


def _fix(person: str, ts: int, x: float, y: float) -> bytes:
    return encode(LocationPosition(person_id=person, tag_id=f"T-{person}", ts=ts, x=x, y=y))


def _run(plan: PositioningPlan, items: list[object], **kw: object) -> list[object]:
    out: list[object] = []
    run_main(build_flow(plan, TestingSource(items), [TestingSink(out)], clock=NOW, **kw))  # type: ignore[arg-type]
    return out


def _events(out: list[object]) -> list:  # type: ignore[type-arg]
    return [e for m in out if isinstance(m, AlarmBatch) for e in m.annunciated]


def test_entering_a_permit_zone_without_a_permit_alarms_on_that_fix(plan: PositioningPlan) -> None:
    """Z-CL2 (液氯库) needs a permit: W1 has none and alarms on the first fix inside; W2 has one."""
    permit = OpenPermit(permit_id="PMT-1", zone_id="Z-CL2", people=frozenset({"W2"}))
    walk = [(T0 + 1000 * k, 40.0 + 2.0 * k, 95.0) for k in range(10)]  # enters x >= 48 at k = 4
    items: list[object] = [PermitsUpdate((permit,))]
    items += [[_fix("W1", ts, x, y), _fix("W2", ts, x, y)] for ts, x, y in walk]
    started = time.monotonic()
    events = _events(_run(plan, items))
    elapsed = time.monotonic() - started
    permit_alarms = [e for e in events if e.kind == PERMIT_ZONE]
    assert [(e.source_id, e.state) for e in permit_alarms] == [("W1", AlarmState.ACTIVE)]
    first_inside = next(ts for ts, x, _ in walk if x > 48)
    assert permit_alarms[0].ts - first_inside <= 2_000  # the fix's own time: no smoothing lag
    assert "液氯库" in permit_alarms[0].message
    assert elapsed < 10  # the whole walk (flow start included) well within seconds


def test_seven_people_in_a_flammable_zone_raise_a_crowd_alarm(plan: PositioningPlan) -> None:
    six = [_fix(f"P{i}", T0, 20.0 + i, 130.0) for i in range(6)]
    seventh = [_fix("P6", T0 + 1000, 30.0, 125.0)]
    events = _events(_run(plan, [six, seventh]))
    assert [(e.kind, e.source_id, e.state, e.value) for e in events] == [(OVERCROWD, "Z-LPG", AlarmState.ACTIVE, 7.0)]


def test_mem_crowding_needs_a_minute_within_15_m() -> None:
    plan = demo_plan()
    group = lambda ts: [_fix(f"C{i}", ts, 100.0 + i, 60.0) for i in range(10)]  # noqa: E731
    early = _events(_run(plan, [group(T0 + 1000 * s) for s in range(0, 60, 5)]))
    assert not [e for e in early if e.kind == CROWD]
    late = _events(_run(plan, [group(T0 + 1000 * s) for s in range(0, 70, 5)]))
    assert {e.source_id for e in late if e.kind == CROWD} == {f"C{i}" for i in range(10)}


def test_a_motionless_tag_raises_man_down_and_a_walking_one_does_not(plan: PositioningPlan) -> None:
    """Raw ranges through the solver: the still tag's fixes jitter, yet it is still."""
    plant = load_plant()
    anchors = {a.id: np.array(a.position) for a in plant.anchors}
    rng = np.random.default_rng(7)

    def ranging(tag: str, ts: int, x: float, y: float) -> LocationRanging:
        p = np.array([x, y, 1.2])
        ranges = [
            Range(anchor_id=a, distance_m=float(np.linalg.norm(p - q) + rng.normal(0, 0.3)))
            for a, q in anchors.items()
            if np.linalg.norm(p - q) < 80
        ]
        return LocationRanging(tag_id=tag, ts=ts, ranges=ranges, battery=80.0)

    items = [
        [ranging("STILL", T0 + 1000 * s, 60.0, 110.0), ranging("WALK", T0 + 1000 * s, 30.0 + 0.8 * (s % 40), 100.0)]
        for s in range(0, 130, 2)
    ]
    events = _events(_run(plan, items))
    down = [e for e in events if e.kind == MAN_DOWN]
    assert [(e.source_id, e.state) for e in down] == [("STILL", AlarmState.ACTIVE)]
    assert down[0].ts - T0 >= plan.table.motionless_s * 1000


def test_sos_alarms_at_once(plan: PositioningPlan) -> None:
    msg = LocationRanging(tag_id="T9", ts=T0, ranges=[Range(anchor_id="A-01", distance_m=5.0)], sos=True)
    out = _run(plan, [encode(msg)])
    assert [e.kind for e in _events(out)] == []  # no position ever known: nothing to place it at
    seen = _fix("T9", T0, 50.0, 50.0)
    out = _run(plan, [seen, encode(LocationRanging(tag_id="T9", ts=T0 + 1000, ranges=[], sos=True))])
    assert [(e.kind, e.source_id) for e in _events(out)] == [(SOS, "T9")]


def test_muster_after_an_evacuation_order_lists_exactly_those_still_inside(
    tmp_path: Path, plan: PositioningPlan
) -> None:
    store = DuckDBStore(tmp_path / "p.duckdb")
    store.init_schema()
    muster = (95.0, 20.0)
    inside = {"M1": (60.0, 95.0), "M2": (170.0, 110.0)}
    arriving = {"M3": (30.0, 40.0), "M4": (150.0, 50.0)}
    items = [
        [_fix(p, T0, *xy) for p, xy in {**inside, **arriving}.items()],
        [_fix(p, T0 + 60_000, *muster) for p in arriving] + [_fix(p, T0 + 60_000, *xy) for p, xy in inside.items()],
    ]
    run_main(build_flow(plan, TestingSource(items), [PositionStoreSink(store)], clock=NOW))
    latest = {p.person_id: (p.ts, frozenset(p.zone_ids)) for p in store.latest_positions()}
    assert muster_list(latest, plan.muster_zones, T0 + 30_000) == ["M1", "M2"]
    assert len(store.positions_between(T0, T0 + 120_000, "M3")) == 2
    store.close()


def test_bad_input_is_dead_lettered_with_a_reason(plan: PositioningPlan) -> None:
    items = [
        b"{not json",
        b'{"foo": 1}',
        encode(LocationRanging(tag_id="T1", ts=T0, ranges=[Range(anchor_id="NOPE", distance_m=3.0)])),
        b'{"tag_id": "T1", "ts": 5, "x": 1, "y": 2}',
        b'{"tag_id": "T1", "ts": 1900000000000, "ranges": "x"}',
    ]
    out = _run(plan, [items])
    dead = [d for m in out if isinstance(m, PositionBatch) for d in m.dead]
    reasons = " | ".join(d.reason for d in dead)
    assert len(dead) == 5
    for fragment in ("malformed JSON", "neither ranges", "0 usable range", "before 2000", "Expected `array`"):
        assert fragment in reasons
