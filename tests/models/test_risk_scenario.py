"""The demo plant's hazard sources through the scripted scenario, written from DOMAIN.md §3.3.

normal -> gas alarm -> hot work started nearby -> SIS bypass -> recovery. The expected colours
and reasons come from the rules as DOMAIN.md states them, source by source:

* MHS-01 LPG spheres, R = 72 -> 二级 -> orange. A first-level gas alarm adds one level (red);
  grade-1 hot work only raises sources whose inherent level is yellow or below; a bypass
  during an alarm is red anyway.
* MHS-02 methanol tanks, R = 9.6 -> 四级 -> blue: each step adds one level up to red.
* MHS-03 liquid chlorine, R = 72 -> orange (Cl2 β = 4 < 5: no toxic raise).
* MHS-04 chlorination unit, R = 7.3 -> 四级 blue, raised to yellow by the key supervised
  process (氯化工艺); no gas detector, so the gas step leaves it alone; the bypass without an
  alarm is one level, not red.
"""

from __future__ import annotations

import pytest

from api.runtime import hazard_contexts
from models.contracts import AlarmEvent, AlarmPriority, AlarmState, RiskLevel, RiskScore
from models.risk import HazardContext, Recompute, RiskItem, SisBypass, SourceState, SpecialWork, apply, evaluate
from models.risk_rules import default_table
from twin.plant import load_plant

T0 = 1_780_000_000_000
MIN = 60_000
RED, ORANGE, YELLOW, BLUE = RiskLevel.RED, RiskLevel.ORANGE, RiskLevel.YELLOW, RiskLevel.BLUE
GAS_TAGS = ("GT-101", "GT-201", "AT-301")


def gas(tag: str, state: AlarmState, ts: int) -> AlarmEvent:
    return AlarmEvent(
        alarm_id=f"{tag}:H", source_kind="tag", source_id=tag, kind="H", priority=AlarmPriority.HIGH, state=state, ts=ts
    )


def hot_work(area: str, active: bool, ts: int) -> SpecialWork:
    return SpecialWork(work_id=f"DH-{area}", work_type="hot_work", grade="1", area=area, active=active, ts=ts)


def bypass(source: str, on: bool, ts: int) -> SisBypass:
    return SisBypass(interlock_id=f"SIS-{source}", hazard_source_id=source, bypassed=on, ts=ts)


SOURCES = ("MHS-01", "MHS-02", "MHS-03", "MHS-04")
AREAS = ("tank_farm", "reaction_unit")

SCENARIO: list[tuple[str, list[RiskItem]]] = [
    ("normal", [Recompute(ts=T0)]),
    ("gas alarm", [gas(t, AlarmState.ACTIVE, T0 + MIN) for t in GAS_TAGS]),
    ("hot work started nearby", [hot_work(a, True, T0 + 2 * MIN) for a in AREAS]),
    ("SIS bypass", [bypass(s, True, T0 + 3 * MIN) for s in SOURCES]),
    (
        "recovery",
        [gas(t, AlarmState.RETURNED, T0 + 4 * MIN) for t in GAS_TAGS]
        + [hot_work(a, False, T0 + 4 * MIN) for a in AREAS]
        + [bypass(s, False, T0 + 4 * MIN) for s in SOURCES],
    ),
]

# step -> source -> (colour, the contributions listed, as rule id -> points)
EXPECTED: dict[str, dict[str, tuple[RiskLevel, dict[str, float]]]] = {
    "normal": {
        "MHS-01": (ORANGE, {"INH.GRADE": 50}),
        "MHS-02": (BLUE, {"INH.GRADE": 0}),
        "MHS-03": (ORANGE, {"INH.GRADE": 50}),
        "MHS-04": (YELLOW, {"INH.GRADE": 0, "INH.PROCESS": 25}),
    },
    "gas alarm": {
        "MHS-01": (RED, {"INH.GRADE": 50, "GAS.L1": 25}),
        "MHS-02": (YELLOW, {"INH.GRADE": 0, "GAS.L1": 25}),
        "MHS-03": (RED, {"INH.GRADE": 50, "GAS.L1": 25}),
        "MHS-04": (YELLOW, {"INH.GRADE": 0, "INH.PROCESS": 25}),
    },
    "hot work started nearby": {
        "MHS-01": (RED, {"INH.GRADE": 50, "GAS.L1": 25}),
        "MHS-02": (ORANGE, {"INH.GRADE": 0, "GAS.L1": 25, "WORK.GRADE1": 25}),
        "MHS-03": (RED, {"INH.GRADE": 50, "GAS.L1": 25}),
        "MHS-04": (ORANGE, {"INH.GRADE": 0, "INH.PROCESS": 25, "WORK.GRADE1": 25}),
    },
    "SIS bypass": {
        "MHS-01": (RED, {"INH.GRADE": 50, "GAS.L1": 25, "SIS.BYPASS": 0, "SIS.BYPASS_ALARM": 0}),
        "MHS-02": (RED, {"INH.GRADE": 0, "GAS.L1": 25, "WORK.GRADE1": 25, "SIS.BYPASS": 25, "SIS.BYPASS_ALARM": 0}),
        "MHS-03": (RED, {"INH.GRADE": 50, "GAS.L1": 25, "SIS.BYPASS": 0, "SIS.BYPASS_ALARM": 0}),
        "MHS-04": (RED, {"INH.GRADE": 0, "INH.PROCESS": 25, "WORK.GRADE1": 25, "SIS.BYPASS": 25}),
    },
    "recovery": {
        "MHS-01": (ORANGE, {"INH.GRADE": 50}),
        "MHS-02": (BLUE, {"INH.GRADE": 0}),
        "MHS-03": (ORANGE, {"INH.GRADE": 50}),
        "MHS-04": (YELLOW, {"INH.GRADE": 0, "INH.PROCESS": 25}),
    },
}


def route_demo(ctx: HazardContext, item: RiskItem) -> bool:
    """Whether ``item`` concerns ``ctx`` (the same routing the flow does, spelled out here)."""
    if isinstance(item, AlarmEvent):
        return item.source_id in ctx.tags
    if isinstance(item, SpecialWork):
        return item.area == ctx.area
    if isinstance(item, SisBypass):
        return item.hazard_source_id == ctx.id
    return True


def test_demo_inherent_grades_follow_gb18218() -> None:
    grades = {c.id: c.grade for c in hazard_contexts(load_plant())}
    assert grades == {"MHS-01": 2, "MHS-02": 4, "MHS-03": 2, "MHS-04": 4}


def run_scenario() -> dict[str, dict[str, RiskScore]]:
    table = default_table()
    contexts = {c.id: c for c in hazard_contexts(load_plant())}
    states = {sid: SourceState() for sid in contexts}
    out: dict[str, dict[str, RiskScore]] = {}
    for step, items in SCENARIO:
        for sid, ctx in contexts.items():
            for item in items:
                if route_demo(ctx, item):
                    apply(ctx, states[sid], item)
        out[step] = {sid: evaluate(ctx, states[sid], table) for sid, ctx in contexts.items()}
    return out


@pytest.mark.parametrize("step", [s for s, _ in SCENARIO])
def test_scripted_scenario_colours_and_reasons(step: str) -> None:
    scores = run_scenario()[step]
    for sid, (level, contributions) in EXPECTED[step].items():
        got = scores[sid]
        assert got.level == level, f"{step}: {sid} is {got.level}, expected {level}"
        assert {c.factor: c.value for c in got.contributions} == contributions, f"{step}: {sid}"
        assert got.score == sum(contributions.values())
