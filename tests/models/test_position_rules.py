"""Position rules: geometry helpers against brute force, each rule's edge, muster list."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.contracts import AlarmState
from models.position_rules import (
    CROWD,
    FENCE,
    GUARDIAN_AWAY,
    LONE_WORKER,
    LOW_BATTERY,
    MAN_DOWN,
    OVERCROWD,
    PERMIT_ZONE,
    SOS,
    WRONG_POST,
    FixRows,
    OpenPermit,
    PositionRuleTable,
    RuleState,
    ZoneRule,
    evaluate,
    headcount,
    muster_list,
    neighbour_counts,
    points_in_polygon,
    zone_rule,
)

T0 = 1_900_000_000_000
SQUARE = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0))
ZONES = [
    zone_rule("Z-R", "反应区", "restricted", SQUARE),
    zone_rule("Z-F", "罐区", "flammable", ((20.0, 0.0), (40.0, 0.0), (40.0, 20.0), (20.0, 20.0))),
    ZoneRule("Z-X", "禁区", "forbidden", ((50.0, 0.0), (60.0, 0.0), (60.0, 10.0), (50.0, 10.0)), forbidden=True),
    zone_rule("Z-M", "集合点", "muster", ((80.0, 0.0), (90.0, 0.0), (90.0, 10.0), (80.0, 10.0))),
]
TABLE = PositionRuleTable()


def rows(
    people: dict[str, tuple[float, float]], ts: int, *, battery: float = 90.0, sos: frozenset[str] = frozenset()
) -> FixRows:
    ids = list(people)
    return FixRows(
        person=ids,
        ts=np.full(len(ids), ts, np.int64),
        xy=np.asarray([people[p] for p in ids], float).reshape(-1, 2),
        battery=np.full(len(ids), battery),
        sos=np.asarray([p in sos for p in ids], bool),
    )


def run(batches: list[FixRows], **kw: object) -> list:  # type: ignore[type-arg]
    state: RuleState | None = None
    events = []
    for b in batches:
        state, ev = evaluate(TABLE, ZONES, state, b, **kw)  # type: ignore[arg-type]
        events += ev
    return events


pts = st.lists(
    st.tuples(st.floats(-50, 150, allow_nan=False), st.floats(-50, 150, allow_nan=False)), min_size=0, max_size=60
)


@settings(max_examples=80, deadline=None)
@given(points=pts, r1=st.floats(0.5, 40), r2=st.floats(0.5, 40))
def test_neighbour_counts_equal_brute_force(points: list[tuple[float, float]], r1: float, r2: float) -> None:
    xy = np.asarray(points, float).reshape(-1, 2)
    a, b = neighbour_counts(xy, r1, r2)
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    for got, r in ((a, r1), (b, r2)):
        expected = (d <= r).sum(axis=1) - 1 if len(xy) else np.zeros(0)
        # Points at exactly the radius may round either way.
        close = np.abs(d - r) < 1e-9
        assert np.all(np.abs(got - expected) <= close.sum(axis=1))


@settings(max_examples=80, deadline=None)
@given(x=st.floats(-5, 15, allow_nan=False), y=st.floats(-5, 15, allow_nan=False))
def test_point_in_a_rectangle_matches_the_inequalities(x: float, y: float) -> None:
    inside = bool(points_in_polygon(np.array([[x, y]]), SQUARE)[0])
    if 1e-9 < x < 10 - 1e-9 and 1e-9 < y < 10 - 1e-9:
        assert inside
    elif x < 0 or x > 10 or y < 0 or y > 10:
        assert not inside


def test_permit_zone_alarms_without_a_permit_and_returns_on_leaving() -> None:
    batches = [rows({"A": (5, 5), "B": (5, 6)}, T0), rows({"A": (15, 5), "B": (5, 6)}, T0 + 1000)]
    permit = OpenPermit(permit_id="PMT-7", zone_id="Z-R", people=frozenset({"B"}))
    events = run(batches, permits=[permit])
    assert [(e.kind, e.source_id, e.state) for e in events] == [
        (PERMIT_ZONE, "A", AlarmState.ACTIVE),
        (PERMIT_ZONE, "A", AlarmState.RETURNED),
    ]


def test_forbidden_zone_alarms_for_everyone() -> None:
    events = run(
        [rows({"A": (55, 5)}, T0)], permits=[OpenPermit(permit_id="P", zone_id="Z-X", people=frozenset({"A"}))]
    )
    assert [(e.kind, e.source_id) for e in events] == [(FENCE, "A")]


def test_overcrowding_counts_people_in_the_zone() -> None:
    six = {f"P{i}": (21.0 + i, 5.0) for i in range(6)}
    assert not run([rows(six, T0)])
    seven = {**six, "P6": (30.0, 15.0)}
    events = run([rows(seven, T0)])
    assert [(e.kind, e.source_id, e.value) for e in events] == [(OVERCROWD, "Z-F", 7.0)]


def test_crowding_per_mem_guide_needs_more_than_a_minute() -> None:
    group = {f"P{i}": (100.0 + i, 100.0) for i in range(TABLE.crowd_min_people)}
    spread = {f"P{i}": (100.0 + 20 * i, 100.0) for i in range(TABLE.crowd_min_people)}
    assert not [e for e in run([rows(group, T0 + 1000 * s) for s in range(0, 61, 5)]) if e.kind == CROWD]
    events = run([rows(group, T0 + 1000 * s) for s in range(0, 66, 5)] + [rows(spread, T0 + 70_000)])
    crowd = [e for e in events if e.kind == CROWD]
    assert {e.source_id for e in crowd if e.state == AlarmState.ACTIVE} == set(group)
    assert {e.source_id for e in crowd if e.state == AlarmState.RETURNED} == set(group)


def test_motionless_for_the_configured_time_is_man_down() -> None:
    still = [rows({"A": (100.0 + 0.3 * (s % 3), 100.0)}, T0 + 1000 * s) for s in range(0, 121, 10)]
    events = run(still)
    assert [(e.kind, e.ts - T0) for e in events] == [(MAN_DOWN, 120_000)]
    assert not run(still[:-1])


def test_sos_and_low_battery() -> None:
    events = run([rows({"A": (100, 100)}, T0, battery=12.0, sos=frozenset({"A"}))])
    assert sorted(e.kind for e in events) == [LOW_BATTERY, SOS]
    assert next(e for e in events if e.kind == SOS).priority == "critical"


def test_lone_worker_in_a_hazardous_zone() -> None:
    alone = [rows({"A": (30, 10), "B": (120, 100)}, T0 + 60_000 * m) for m in range(11)]
    assert [(e.kind, e.source_id) for e in run(alone) if e.kind == LONE_WORKER] == [(LONE_WORKER, "A")]
    paired = [rows({"A": (30, 10), "B": (32, 10)}, T0 + 60_000 * m) for m in range(11)]
    assert not [e for e in run(paired) if e.kind == LONE_WORKER]


def test_wrong_post_after_the_grace_time() -> None:
    batches = [rows({"A": (30, 10), "B": (30, 12), "C": (31, 12)}, T0 + 60_000 * m) for m in range(6)]
    events = run(batches, posts={"A": frozenset({"Z-R"}), "B": frozenset({"Z-F"})})
    assert [(e.kind, e.source_id) for e in events if e.kind == WRONG_POST] == [(WRONG_POST, "A")]


def test_guardian_away_from_the_work_point() -> None:
    permit = OpenPermit(permit_id="PMT-9", zone_id="Z-R", people=frozenset({"W"}), guardian="G", work_point=(5, 5))
    near = run([rows({"W": (5, 5), "G": (8, 5)}, T0)], permits=[permit])
    assert not near
    far = run([rows({"W": (5, 5), "G": (60, 40)}, T0)], permits=[permit])
    assert [(e.kind, e.source_id) for e in far] == [(GUARDIAN_AWAY, "PMT-9")]


def test_a_late_fix_never_rewinds_a_person() -> None:
    state, _ = evaluate(TABLE, ZONES, None, rows({"A": (100, 100)}, T0 + 5000))
    state, events = evaluate(TABLE, ZONES, state, rows({"A": (5, 5)}, T0))
    assert not events
    assert state.people["A"].xy == (100.0, 100.0)


def test_headcount_and_muster_list() -> None:
    state, _ = evaluate(TABLE, ZONES, None, rows({"A": (5, 5), "B": (25, 5), "C": (85, 5)}, T0))
    counts = headcount(state, ZONES)
    assert counts["Z-R"] == 1 and counts["Z-F"] == 1 and counts["Z-M"] == 1 and counts["site"] == 3
    latest = {p: (s.ts, s.zones) for p, s in state.people.items()}
    latest["GONE"] = (T0 - 3_600_000, frozenset())
    assert muster_list(latest, ["Z-M"], T0) == ["A", "B"]


walks = st.lists(
    st.lists(
        st.tuples(st.sampled_from("ABCDEFG"), st.floats(0, 100, allow_nan=False), st.floats(0, 30, allow_nan=False)),
        min_size=1,
        max_size=7,
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(batches=walks, battery=st.floats(0, 100), step_s=st.integers(1, 90))
def test_alarm_events_alternate_per_alarm_and_match_the_state(
    batches: list[list[tuple[str, float, float]]], battery: float, step_s: int
) -> None:
    """Whatever people do: raised/returned alternate per alarm, and the state lists what is active."""
    state: RuleState | None = None
    last: dict[str, AlarmState] = {}
    for n, batch in enumerate(batches):
        people = {p: (x, y) for p, x, y in batch}
        state, events = evaluate(TABLE, ZONES, state, rows(people, T0 + n * step_s * 1000, battery=battery))
        for e in events:
            assert last.get(e.alarm_id, AlarmState.RETURNED) != e.state  # never twice in a row
            last[e.alarm_id] = e.state
        assert {a for a, s in last.items() if s == AlarmState.ACTIVE} == set(state.active)
