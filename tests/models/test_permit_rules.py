"""GB 30871-2022 rules table: every timing and threshold row, computed by hand from DOMAIN.md §1.

Each row says where its expected value comes from; the property tests check the shapes that
must hold for any input (monotone thresholds, grades by height and mass).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from models.permit_rules import (
    HEIGHT_GRADES,
    PLANT_TZ,
    RULES,
    ApproverRole,
    GasKind,
    GasReading,
    SimopsJob,
    WorkType,
    approver_roles,
    check_gas,
    flammable_limit_vol_pct,
    height_grade,
    lifting_grade,
    managed_grade,
    simops_conflicts,
    simops_scope,
)

T = WorkType


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """Plant-local wall clock, December 2026 by default (2 Dec is a Wednesday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=PLANT_TZ)


# --- validity (DOMAIN.md §1.2, §1.4) -----------------------------------------------------------

VALIDITY = [
    (T.HOT, "特级", 8),  # §1.2: 特级 ≤ 8 h
    (T.HOT, "一级", 8),  # §1.2: 一级 ≤ 8 h
    (T.HOT, "二级", 72),  # §1.2: 二级 ≤ 72 h
    (T.CONFINED, "", 24),  # §1.4: ≤ 24 h
    (T.HEIGHT, "Ⅳ", 168),  # §1.4: ≤ 7 days = 7 × 24
    (T.TEMP_POWER, "", 360),  # §1.4: ≤ 15 d = 15 × 24
]


@pytest.mark.parametrize(("work_type", "grade", "hours"), VALIDITY)
def test_validity_periods(work_type: WorkType, grade: str, hours: int) -> None:
    assert RULES.validity_h(work_type, grade) == hours


# --- 升级管理 (§1.2: holidays, rest days, night, wind ≥ 5 → one grade higher) ----------------------

UPGRADES = [
    ("二级", at(2, 9), at(2, 15), None, "二级"),  # Wednesday, daytime, calm: unchanged
    ("二级", at(5, 9), at(5, 15), None, "一级"),  # Saturday: rest day → one grade up
    ("二级", at(2, 21), at(2, 23), None, "一级"),  # 21:00 is inside the 20:00–06:00 night
    ("二级", at(2, 17), at(2, 20, 30), None, "一级"),  # runs into the night
    ("二级", at(2, 6), at(2, 19, 59), None, "二级"),  # 06:00–19:59 is all day
    ("一级", at(1, 9, month=10), at(1, 12, month=10), None, "特级"),  # 1 Oct (a Thursday): 国庆
    ("特级", at(5, 9), at(5, 12), None, "特级"),  # nothing above 特级
    ("二级", at(2, 9), at(2, 12), 5, "一级"),  # wind level 5 → up
    ("二级", at(2, 9), at(2, 12), 4, "二级"),  # level 4 is below the limit
    ("二级", at(5, 21), at(5, 23), 6, "一级"),  # several reasons still raise one grade only
]


@pytest.mark.parametrize(("grade", "start", "end", "wind", "expected"), UPGRADES)
def test_managed_grade(grade: str, start: datetime, end: datetime, wind: int | None, expected: str) -> None:
    managed, reasons = managed_grade(RULES, grade=grade, start=start, end=end, wind_level=wind)
    assert managed == expected
    if grade != "特级":
        assert bool(reasons) is (managed != grade)  # a raised grade always says why, an unchanged one has no reason


def test_upgrade_is_judged_in_plant_time_not_utc() -> None:
    # 13:30 UTC is 21:30 in Shanghai: night, although the UTC clock says afternoon
    start = datetime(2026, 12, 2, 13, 30, tzinfo=UTC)
    assert managed_grade(RULES, grade="二级", start=start, end=start + timedelta(hours=1))[0] == "一级"


# --- gas analysis acceptance (§1.3, §8) ----------------------------------------------------------

FLAMMABLE_LIMIT = [
    (5.0, 0.5),  # methane: LEL 5 % ≥ 4 % → ≤ 0.5 % (v/v)
    (4.0, 0.5),  # hydrogen: LEL exactly 4 % is in the ≥ 4 % branch
    (3.99, 0.2),  # just below 4 % → ≤ 0.2 %
    (2.1, 0.2),  # propane
    (1.2, 0.2),  # benzene
]


@pytest.mark.parametrize(("lel", "limit"), FLAMMABLE_LIMIT)
def test_flammable_limit_by_lel(lel: float, limit: float) -> None:
    assert flammable_limit_vol_pct(lel) == limit


def flam(substance: str, value: float, unit: str = "%VOL") -> GasReading:
    return GasReading(GasKind.FLAMMABLE, substance, value, unit)


def o2(value: float) -> GasReading:
    return GasReading(GasKind.OXYGEN, "氧气", value, "%VOL")


def tox(substance: str, value: float) -> GasReading:
    return GasReading(GasKind.TOXIC, substance, value, "mg/m3")


HOT_WORK_GAS = [
    ([flam("甲烷", 0.5)], True),  # 0.5 ≤ 0.5 (LEL 5 %)
    ([flam("甲烷", 0.51)], False),
    ([flam("丙烷", 0.2)], True),  # LEL 2.1 % → 0.2
    ([flam("丙烷", 0.21)], False),
    ([flam("甲烷", 10, "%LEL")], True),  # 10 % of LEL 5 % = 0.5 % (v/v)
    ([flam("甲烷", 11, "%LEL")], False),  # 0.55 % (v/v)
    ([flam("未知气体", 0.0)], False),  # no LEL known: a verdict that cannot be computed is no pass
    ([], False),  # hot work needs a flammable reading
]


@pytest.mark.parametrize(("readings", "passed"), HOT_WORK_GAS)
def test_hot_work_gas_criterion(readings: list[GasReading], passed: bool) -> None:
    assert check_gas(RULES, work_type=T.HOT, readings=readings).passed is passed


CONFINED_GAS = [
    ([o2(19.5), flam("甲烷", 0.1)], False, True),  # 19.5 is the lower edge of 19.5–21
    ([o2(19.4), flam("甲烷", 0.1)], False, False),  # oxygen-deficient
    ([o2(21.0), flam("甲烷", 0.1)], False, True),
    ([o2(21.1), flam("甲烷", 0.1)], False, False),  # above 21 % in a normal space
    ([o2(23.5), flam("甲烷", 0.1)], True, True),  # oxygen-enriched space: ≤ 23.5
    ([o2(23.6), flam("甲烷", 0.1)], True, False),
    ([o2(20.9)], False, False),  # flammables must be measured too
    ([flam("甲烷", 0.1)], False, False),  # oxygen must be measured
    ([o2(20.9), flam("甲烷", 0.1), tox("硫化氢", 9.9)], False, True),  # H2S MAC 10 mg/m³
    ([o2(20.9), flam("甲烷", 0.1), tox("硫化氢", 10.0)], False, False),  # must be below the OEL
    ([o2(20.9), flam("甲烷", 0.1), tox("一氧化碳", 19.0)], False, True),  # CO PC-TWA 20
    ([o2(20.9), flam("甲烷", 0.1), tox("一氧化碳", 25.0)], False, False),  # above PC-TWA, below STEL
]


@pytest.mark.parametrize(("readings", "enriched", "passed"), CONFINED_GAS)
def test_confined_space_gas_criteria(readings: list[GasReading], enriched: bool, passed: bool) -> None:
    verdict = check_gas(RULES, work_type=T.CONFINED, readings=readings, oxygen_enriched=enriched)
    assert verdict.passed is passed
    assert bool(verdict.reasons) is not passed


def test_the_process_registers_lel_wins_over_the_builtin_table() -> None:
    # the register says this methanol-rich mixture has LEL 3 %: 0.3 % (v/v) now fails (limit 0.2)
    reading = [flam("甲醇", 0.3)]
    assert check_gas(RULES, work_type=T.HOT, readings=reading).passed  # built-in LEL 6 % → 0.5
    assert not check_gas(RULES, work_type=T.HOT, readings=reading, lel_vol_pct={"甲醇": 3.0}).passed


@given(st.floats(0.5, 20.0), st.floats(0, 2), st.floats(0, 2))
def test_flammable_verdict_is_monotone(lel: float, low: float, high: float) -> None:
    low, high = sorted((low, high))
    judge = {"X": lel}
    high_passes = check_gas(RULES, work_type=T.HOT, readings=[flam("X", high)], lel_vol_pct=judge).passed
    low_passes = check_gas(RULES, work_type=T.HOT, readings=[flam("X", low)], lel_vol_pct=judge).passed
    assert not high_passes or low_passes


# --- gas timing (§1.3, §1.8) ----------------------------------------------------------------------

INTERRUPTIONS = [
    (T.HOT, "特级", 30),  # §1.3: 特级/一级 interrupted > 30 min → re-analysis
    (T.HOT, "一级", 30),
    (T.HOT, "二级", 60),  # 二级 > 60 min
    (T.CONFINED, "", 60),  # 2022 text: 60 min
]


@pytest.mark.parametrize(("work_type", "grade", "minutes"), INTERRUPTIONS)
def test_interruption_limits(work_type: WorkType, grade: str, minutes: int) -> None:
    assert RULES.max_interruption_min(work_type, grade) == minutes


FRESHNESS = [
    (T.HOT, "二级", at(2, 9), False, at(2, 9, 30)),  # sample valid 30 min before the start
    (T.CONFINED, "", at(2, 9), False, at(2, 9, 30)),  # confined: analyse within 30 min before entry
    (T.CONFINED, "", at(2, 9), True, at(2, 11)),  # during entry: at least every 2 h
    (T.HOT, "二级", at(2, 9), True, at(3, 0)),  # hot work: a new test for every day's work
    (T.HOT, "二级", at(2, 23, 50), True, at(3, 0)),  # ... even 10 min before midnight
    (T.CONFINED, "", at(2, 23), True, at(3, 1)),  # 2 h crosses midnight: the interval rules
]


@pytest.mark.parametrize(("work_type", "grade", "sampled", "started", "until"), FRESHNESS)
def test_analysis_freshness(work_type: WorkType, grade: str, sampled: datetime, started: bool, until: datetime) -> None:
    assert RULES.analysis_fresh_until(work_type=work_type, grade=grade, sampled_at=sampled, started=started) == until


@pytest.mark.parametrize(
    ("work_type", "hazardous", "needed"),
    [
        (T.HOT, False, True),
        (T.CONFINED, False, True),
        (T.TEMP_POWER, False, False),  # §1.1: only in a fire/explosion hazard area
        (T.TEMP_POWER, True, True),
        (T.HEIGHT, True, False),
        (T.BLIND, True, False),  # not a ticket field (gas test is part of process disposal)
    ],
)
def test_which_tickets_need_gas_analysis(work_type: WorkType, hazardous: bool, needed: bool) -> None:
    assert RULES.needs_gas(work_type, hazardous_area=hazardous) is needed


# --- grades by height and mass (§1.4) -----------------------------------------------------------

HEIGHTS = [(2.0, "Ⅰ"), (5.0, "Ⅰ"), (5.01, "Ⅱ"), (15.0, "Ⅱ"), (15.5, "Ⅲ"), (30.0, "Ⅲ"), (30.1, "Ⅳ")]


@pytest.mark.parametrize(("height", "grade"), HEIGHTS)
def test_height_grades(height: float, grade: str) -> None:
    assert height_grade(height) == grade


def test_below_two_metres_is_not_work_at_height() -> None:
    with pytest.raises(ValueError, match="2 m"):
        height_grade(1.9)


@given(st.floats(2, 500), st.floats(2, 500))
def test_a_higher_job_never_gets_a_lower_grade(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert HEIGHT_GRADES.index(height_grade(low)) <= HEIGHT_GRADES.index(height_grade(high))


@pytest.mark.parametrize(("mass", "grade"), [(100.1, "一级"), (100.0, "二级"), (40.0, "二级"), (39.9, "三级")])
def test_lifting_grades(mass: float, grade: str) -> None:
    assert lifting_grade(mass) == grade


# --- approval templates and approver roles (§1.2) -------------------------------------------------


def test_hot_work_approval_chains() -> None:
    def last_roles(grade: str) -> tuple[ApproverRole, ...]:
        return RULES.approval_template(T.HOT, grade)[-1].roles

    assert len(RULES.approval_template(T.HOT, "特级")) == 3
    assert last_roles("特级") == (ApproverRole.PRINCIPAL,)  # 特级: 主要负责人
    assert last_roles("一级") == (ApproverRole.SAFETY_DEPT,)  # 一级: 安全管理部门
    assert last_roles("二级") == (ApproverRole.UNIT_HEAD,)  # 二级: 所在单位


def test_every_type_and_grade_has_a_template_and_a_validity() -> None:
    for work_type in WorkType:
        for grade in RULES.grades(work_type):
            assert RULES.approval_template(work_type, grade)
            assert RULES.validity_h(work_type, grade) > 0


def test_approver_roles_come_from_the_people_register() -> None:
    assert approver_roles(principal=True, full_time_safety=False, position="总经理") == {ApproverRole.PRINCIPAL}
    assert approver_roles(principal=False, full_time_safety=True, position=None) == {ApproverRole.SAFETY_DEPT}
    assert approver_roles(principal=False, full_time_safety=False, position="储运车间主任") == {ApproverRole.UNIT_HEAD}
    assert approver_roles(principal=False, full_time_safety=False, position="焊工") == frozenset()


# --- SIMOPS (§1.4: blind plates; §1.2: 15 m / 30 m) -------------------------------------------------


def job(pid: int, work_type: WorkType, **kw: object) -> SimopsJob:
    base: dict[str, object] = {"area": "tank_farm", "start": at(2, 9), "end": at(2, 17)}
    base.update(kw)
    return SimopsJob(permit_id=pid, work_type=work_type, **base)  # type: ignore[arg-type]


def test_two_blind_plate_jobs_on_one_pipeline_are_refused() -> None:
    found = simops_conflicts(RULES, job(1, T.BLIND, pipeline="P-101"), [job(2, T.BLIND, pipeline="P-101")])
    assert [c.refuse for c in found] == [True]
    later = job(2, T.BLIND, pipeline="P-101", start=at(2, 17), end=at(2, 20))  # no overlap
    assert simops_conflicts(RULES, job(1, T.BLIND, pipeline="P-101"), [later]) == []
    other_line = job(2, T.BLIND, pipeline="P-102")
    assert all(not c.refuse for c in simops_conflicts(RULES, job(1, T.BLIND, pipeline="P-101"), [other_line]))


@pytest.mark.parametrize(
    ("phase", "distance", "refused"),
    [("气", 29.0, True), ("气", 31.0, False), ("液", 14.0, True), ("液", 16.0, False)],  # 30 m gas, 15 m liquid
)
def test_hot_work_near_an_open_flammable_line(phase: str, distance: float, refused: bool) -> None:
    line = job(2, T.BLIND, line_open=True, medium_flammable=True, medium_phase=phase, x=0.0, y=0.0, pipeline="P")
    hot = job(1, T.HOT, x=distance, y=0.0)
    assert any(c.refuse for c in simops_conflicts(RULES, hot, [line])) is refused


# The service queries only the jobs in a job's SIMOPS scope; nothing outside it may ever conflict.
@st.composite
def simops_jobs(draw: st.DrawFn) -> SimopsJob:
    """Jobs crowded into a few areas, lines, hours and metres, so that every rule fires often."""
    start = at(2, 0) + timedelta(hours=draw(st.integers(0, 12)))
    return SimopsJob(
        permit_id=draw(st.integers(1, 10**6)),
        work_type=draw(st.sampled_from([T.HOT, T.BLIND, T.BLIND, T.CONFINED, T.HEIGHT])),
        area=draw(st.sampled_from([None, "", "tank_farm", "reactor"])),
        start=start,
        end=start + timedelta(hours=draw(st.integers(1, 12))),
        pipeline=draw(st.sampled_from([None, "", "P-101", "P-102"])),
        line_open=draw(st.booleans()),
        medium_phase=draw(st.sampled_from([None, "气", "液"])),
        medium_flammable=draw(st.booleans()),
        x=draw(st.one_of(st.none(), st.floats(-25, 25))),
        y=draw(st.one_of(st.none(), st.floats(-25, 25))),
    )


@settings(max_examples=400, deadline=None)
@given(simops_jobs(), st.lists(simops_jobs(), max_size=12))
@example(  # an open flammable line and hot work 10 m away, across an area border, either way round
    job(1, T.BLIND, area="reactor", line_open=True, medium_flammable=True, x=0.0, y=0.0),
    [job(2, T.HOT, x=10.0, y=0.0)],
)
@example(
    job(1, T.HOT, area="reactor", x=10.0, y=0.0),
    [job(2, T.BLIND, line_open=True, medium_flammable=True, x=0.0, y=0.0)],
)
def test_the_simops_scope_holds_every_job_that_can_conflict(job: SimopsJob, others: list[SimopsJob]) -> None:
    scope = simops_scope(job)
    in_scope = [o for o in others if scope.may_conflict(o)]
    assert simops_conflicts(RULES, job, others) == simops_conflicts(RULES, job, in_scope)


def test_the_simops_scope_of_each_kind_of_job() -> None:
    hot = simops_scope(job(1, T.HOT))
    assert (hot.area, hot.work_types, hot.pipeline) == ("tank_farm", {T.BLIND}, None)
    blind = simops_scope(job(1, T.BLIND, area=None, pipeline="P-101"))
    assert (blind.area, blind.work_types, blind.pipeline) == (None, {T.HOT}, "P-101")
    assert blind.may_conflict(job(2, T.BLIND, area="reactor", pipeline="P-101"))
    assert not blind.may_conflict(job(2, T.BLIND, area="reactor", pipeline="P-102"))
    assert not blind.may_conflict(job(2, T.HOT, start=at(2, 17), end=at(2, 20)))  # windows only touch
    height = simops_scope(job(1, T.HEIGHT, area=""))
    assert not height.may_conflict(job(2, T.HOT, area=""))  # no area: nothing can cross it
