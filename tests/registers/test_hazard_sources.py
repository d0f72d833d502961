"""The major hazard source register: derived GB 18218 grading, history, 包保 duties and their assessment."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy.orm import Session

from registers.db import utcnow
from registers.framework.importing import ImportFailed, import_file
from registers.framework.service import DuplicateValue, InvalidInput
from registers.hazard_sources import service as hazard_sources
from registers.hazard_sources.scheduled import (
    DEFAULT_DUTY_RULES,
    DutyDone,
    DutyRule,
    DutyState,
    Period,
    SourceRef,
    assess,
    bounds,
    periods,
)
from registers.hazard_sources.schemas import DutyCreate, DutyRole, HazardSourceCreate, HazardSourceUpdate

CHLORINE = {"name": "氯", "cas": "7782-50-5", "quantity_t": 60}


def make_source(session: Session, code: str = "MHS-03", **overrides: object) -> int:
    values: dict[str, object] = {
        "code": code,
        "name": "液氯库",
        "area": "tank_farm",
        "unit_kind": "storage",
        "chemicals": [CHLORINE],
        "alpha": 1.5,
        "principal_person": "王建国",
        "technical_person": "李志华",
        "operational_person": "赵强",
    }
    values.update(overrides)
    record = hazard_sources.register.create(
        session=session, data=HazardSourceCreate.model_validate(values), actor="safety.li"
    )
    return record.id


def duty(session: Session, code: str, role: DutyRole, day: date) -> None:
    hazard_sources.duties.create(
        session=session,
        data=DutyCreate(hazard_source_code=code, role=role, person="张三", performed_on=day, content="检查"),
        actor="zhang.san",
    )


# --- identification stored and recomputed ----------------------------------------------------


def test_create_derives_s_r_and_grade_from_the_tables(session: Session) -> None:
    record = hazard_sources.register.get(session=session, record_id=make_source(session))
    # 氯: Q = 5 t (Table 1), β = 4 (Table 3); R = 1.5 × 4 × 60/5 = 72 → 二级
    assert (record.s_value, record.r_value, record.grade, record.is_major) == (12.0, 72.0, 2, True)
    assert record.chemicals == [
        {"name": "氯", "cas": "7782-50-5", "quantity_t": 60.0, "critical_t": 5.0, "beta": 4.0, "categories": []}
    ]


def test_changing_a_quantity_regrades_and_is_kept_in_history(session: Session) -> None:
    record_id = make_source(session)
    # 100 t: R = 1.5 × 4 × 100/5 = 120 → 一级
    updated = hazard_sources.register.update(
        session=session,
        record_id=record_id,
        data=HazardSourceUpdate(chemicals=[{**CHLORINE, "quantity_t": 100}]),  # type: ignore[list-item]
        actor="safety.li",
        expected_version=1,
    )
    assert (updated.r_value, updated.grade, updated.version) == (120.0, 1, 2)
    # fewer people around: 20 people → α = 1.0; R = 1.0 × 4 × 20 = 80 → 二级
    updated = hazard_sources.register.update(
        session=session, record_id=record_id, data=HazardSourceUpdate(exposed_population=20), actor="safety.li"
    )
    assert (updated.alpha, updated.r_value, updated.grade) == (1.0, 80.0, 2)
    history = hazard_sources.register.history(session=session, record_id=record_id)
    assert [h.action for h in history] == ["create", "update", "update"]
    assert history[1].changes["r_value"] == [72.0, 120.0]
    assert history[1].changes["grade"] == [2, 1]
    assert history[2].changes["alpha"] == [1.5, 1.0]


def test_below_one_is_kept_but_not_graded(session: Session) -> None:
    record_id = make_source(session, chemicals=[{**CHLORINE, "quantity_t": 2}])
    record = hazard_sources.register.get(session=session, record_id=record_id)
    assert (record.s_value, record.is_major, record.grade) == (0.4, False, None)


def test_bad_chemicals_are_refused_with_the_reason() -> None:
    base = {"code": "X-1", "name": "x", "unit_kind": "storage", "alpha": 1.0}
    with pytest.raises(ValidationError, match="不在 GB 18218-2018 表1 中"):
        HazardSourceCreate.model_validate(
            {**base, "chemicals": [{"name": "某溶剂", "cas": "1330-20-7", "quantity_t": 1}]}
        )
    with pytest.raises(ValidationError, match="W9"):
        HazardSourceCreate.model_validate({**base, "chemicals": [{"name": "x", "quantity_t": 1, "categories": ["W9"]}]})
    with pytest.raises(ValidationError, match="alpha"):
        HazardSourceCreate.model_validate({**base, "alpha": None, "chemicals": [CHLORINE]})
    with pytest.raises(ValidationError, match="quantity_t"):
        HazardSourceCreate.model_validate({**base, "chemicals": [{**CHLORINE, "quantity_t": -1}]})
    # Excel cells hold text: a JSON list is accepted
    parsed = HazardSourceCreate.model_validate(
        {**base, "chemicals": '[{"name": "氯", "cas": "7782-50-5", "quantity_t": 6}]'}
    )
    assert parsed.chemicals[0].beta == 4


def test_codes_are_unique_among_live_sources(session: Session) -> None:
    record_id = make_source(session)
    with pytest.raises(DuplicateValue):
        make_source(session)
    hazard_sources.register.soft_delete(session=session, record_id=record_id, actor="safety.li")
    make_source(session)  # a deleted source frees its code


def test_list_filters_by_grade_and_sorts_by_r(session: Session) -> None:
    make_source(session, "MHS-03")
    make_source(
        session,
        "MHS-01",
        name="液化石油气球罐区",
        chemicals=[{"name": "液化石油气", "cas": "68476-85-7", "quantity_t": 1600}],
    )
    make_source(
        session, "MHS-02", name="甲醇储罐组", chemicals=[{"name": "甲醇", "cas": "67-56-1", "quantity_t": 3200}]
    )
    page = hazard_sources.register.list(session=session, filters={"grade": 2}, sort="code")
    assert [s.code for s in page.items] == ["MHS-01", "MHS-03"]
    page = hazard_sources.register.list(session=session, sort="r_value")
    assert [round(s.r_value, 2) for s in page.items] == [9.6, 72.0, 72.0]
    assert hazard_sources.register.list(session=session, q="甲醇").total == 1


# --- duties and their assessment -------------------------------------------------------------


def test_a_duty_needs_a_live_source(session: Session) -> None:
    with pytest.raises(InvalidInput, match="MHS-99"):
        duty(session, "MHS-99", DutyRole.OPERATIONAL, date(2026, 11, 2))


def test_an_imported_duty_needs_a_live_source_too(session: Session) -> None:
    """The Excel import applies the same check as the form (it used to store duties of unknown sources)."""
    make_source(session, "MHS-03")
    make_source(session, "MHS-04")
    hazard_sources.register.soft_delete(session=session, record_id=make_source(session, "MHS-05"), actor="a")
    header = ["重大危险源编号", "包保角色", "履职人", "履职日期", "履职内容"]
    rows = [
        ["MHS-03", "operational", "赵强", "2026-11-02", "巡检"],
        ["MHS-99", "operational", "赵强", "2026-11-02", "巡检"],
        ["MHS-05", "technical", "李志华", "2026-11-02", "检查"],
    ]
    content = "\n".join(",".join(row) for row in [header, *rows]).encode("utf-8-sig")
    with pytest.raises(ImportFailed) as failed:
        import_file(hazard_sources.duties, session=session, content=content, filename="履职.csv", actor="a")
    errors = failed.value.report.errors
    assert [(e.row, e.column) for e in errors] == [(3, "重大危险源编号"), (4, "重大危险源编号")]
    assert "MHS-99" in errors[0].message
    assert hazard_sources.duties.list(session=session).total == 0


def test_overdue_duties_are_listed(session: Session) -> None:
    make_source(session)
    today = utcnow().date()
    week, _ = bounds(Period.WEEK, today)
    # this week's operational check is done; the next weeks are not
    duty(session, "MHS-03", DutyRole.OPERATIONAL, today)
    duty(session, "MHS-03", DutyRole.TECHNICAL, today)
    duty(session, "MHS-03", DutyRole.PRINCIPAL, today)
    as_of = week + timedelta(days=7 * 3 + 1)  # Tuesday three weeks on
    overdue = hazard_sources.overdue_duties(session=session, first=week, as_of=as_of)
    weeks = [(c.rule.role, c.start) for c in overdue if c.rule.role is DutyRole.OPERATIONAL]
    assert weeks == [
        (DutyRole.OPERATIONAL, week + timedelta(days=7)),
        (DutyRole.OPERATIONAL, week + timedelta(days=14)),
    ]
    assert all(c.source.person(c.rule.role) == "赵强" for c in overdue if c.rule.role is DutyRole.OPERATIONAL)
    # a deleted source is no longer assessed
    hazard_sources.register.soft_delete(session=session, record_id=overdue[0].source.id, actor="x")
    assert hazard_sources.overdue_duties(session=session, first=week, as_of=as_of) == []


def test_periodic_report_and_excel_export(session: Session) -> None:
    make_source(session)
    # October 2026: technical monthly done; operational weekly in 3 of the 5 weeks touching October
    duty(session, "MHS-03", DutyRole.TECHNICAL, date(2026, 10, 15))
    for day in (date(2026, 10, 1), date(2026, 10, 8), date(2026, 10, 29)):
        duty(session, "MHS-03", DutyRole.OPERATIONAL, day)
    report = hazard_sources.assessment_report(session=session, first=date(2026, 10, 1), last=date(2026, 11, 1))
    (row,) = report.rows
    roles = {r.role: r for r in row.roles}
    assert (row.code, row.grade_label) == ("MHS-03", "二级")
    assert (roles[DutyRole.TECHNICAL].required, roles[DutyRole.TECHNICAL].done) == (1, 1)
    # weeks from Mon 09-28, 10-05, 10-12, 10-19 and 10-26 have all ended by Sun 11-01; 3 have a record
    assert (roles[DutyRole.OPERATIONAL].required, roles[DutyRole.OPERATIONAL].done) == (5, 3)
    assert roles[DutyRole.OPERATIONAL].overdue == 2
    assert roles[DutyRole.PRINCIPAL].required == 0  # Q4 has not ended
    assert [c.start for c in report.overdue] == [date(2026, 10, 12), date(2026, 10, 19)]

    workbook = load_workbook(io.BytesIO(hazard_sources.report_xlsx(report)))
    assert workbook.sheetnames == ["考核汇总", "逾期未履职"]
    summary = list(workbook["考核汇总"].values)
    assert summary[2][:3] == ("MHS-03", "液氯库", "二级")
    overdue_rows = list(workbook["逾期未履职"].values)[1:]
    assert [(r[0], r[2], r[3], r[4]) for r in overdue_rows] == [("MHS-03", "操作负责人", "赵强", "每周")] * 2


def test_rules_are_configurable(session: Session) -> None:
    make_source(session)
    duty(session, "MHS-03", DutyRole.OPERATIONAL, date(2026, 10, 5))
    stricter = (DutyRule(DutyRole.OPERATIONAL, Period.MONTH, minimum=2),)
    report = hazard_sources.assessment_report(
        session=session, first=date(2026, 10, 1), last=date(2026, 11, 30), rules=stricter
    )
    (summary,) = report.rows[0].roles
    assert (summary.required, summary.done, summary.overdue) == (2, 0, 2)  # October: 1 of 2; November: none


# --- pure schedule maths ---------------------------------------------------------------------


@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), period=st.sampled_from(list(Period)))
def test_a_period_contains_its_day_and_tiles_the_calendar(day: date, period: Period) -> None:
    start, end = bounds(period, day)
    assert start <= day < end
    assert bounds(period, end)[0] == end  # the next period starts where this one ends
    assert bounds(period, start - timedelta(days=1))[1] == start


@given(
    first=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    span=st.integers(min_value=0, max_value=400),
    offsets=st.lists(st.integers(min_value=0, max_value=400), max_size=30),
)
def test_every_period_is_exactly_one_state(first: date, span: int, offsets: list[int]) -> None:
    as_of = first + timedelta(days=span)
    source = SourceRef(1, "MHS-01", "x", since=first)
    done = [DutyDone("MHS-01", DutyRole.OPERATIONAL, first + timedelta(days=o)) for o in offsets]
    checks = assess([source], done, first=first, as_of=as_of, rules=DEFAULT_DUTY_RULES)
    weekly = [c for c in checks if c.rule.role is DutyRole.OPERATIONAL]
    assert [c.start for c in weekly] == [s for s, _ in periods(Period.WEEK, first, as_of)]
    for check in weekly:
        counted = sum(1 for d in done if check.start <= d.performed_on < check.end and d.performed_on <= as_of)
        assert check.done == counted
        if counted:
            assert check.state is DutyState.DONE
        else:
            assert check.state is (DutyState.OVERDUE if check.end <= as_of else DutyState.DUE)
    assert sum(c.state is DutyState.DUE for c in weekly) <= 1
