"""Major hazard sources (重大危险源) and 包保 duties: the register API plus assessment and report.

Two registers through the framework's router factory — ``/api/v1/hazard-sources`` and
``/api/v1/hazard-source-duties`` — and three routes of their own, declared before the
factory's ``/{record_id}`` so their names are not read as record ids:

* ``GET /api/v1/hazard-sources/assessment``: on-line duty assessment (在线考核), every
  (source, role, period) with its state, or only the overdue ones;
* ``GET /api/v1/hazard-sources/report``: periodic assessment report (JSON);
* ``GET /api/v1/hazard-sources/report/export``: the same report as an Excel workbook.

This module has no ``from __future__ import annotations``: FastAPI reads the annotations.
"""

from datetime import date, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel

from api.auth import SessionDep, require
from api.register_router import register_router, translate_errors
from registers.db import utcnow
from registers.framework.exporting import XLSX_MEDIA_TYPE
from registers.hazard_sources import service as hazard_sources
from registers.hazard_sources.scheduled import DutyCheck, DutyState
from registers.users.models import User

__all__ = ["router", "routers"]

# The longest span one request may assess: five years of weekly periods is ~260 per source.
MAX_SPAN = timedelta(days=5 * 366)

# Calendar periods are computed up to a quarter past the last day: keep well inside date's range.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)

Reader = Annotated[User, Depends(require("read", "hazard_source"))]
Exporter = Annotated[User, Depends(require("export", "hazard_source"))]


class DutyCheckRead(BaseModel):
    """One (source, role, period) of the duty assessment."""

    hazard_source_code: str
    hazard_source_name: str
    role: str
    role_label: str
    person: str | None
    period: str
    start: date
    last_day: date
    done: int
    required: int
    state: DutyState
    state_label: str


class RoleSummaryRead(BaseModel):
    """Duty completion of one role at one source over the report period."""

    role: str
    role_label: str
    person: str | None
    required: int
    done: int
    overdue: int
    records: int
    rate: float


class ReportRowRead(BaseModel):
    """One hazard source in the report."""

    code: str
    name: str
    grade: int | None
    grade_label: str
    r_value: float
    s_value: float
    roles: list[RoleSummaryRead]


class ReportRead(BaseModel):
    """The periodic assessment report (包保责任制考核报告)."""

    first: date
    last: date
    required: int
    done: int
    rows: list[ReportRowRead]
    overdue: list[DutyCheckRead]


def _check(check: DutyCheck) -> DutyCheckRead:
    return DutyCheckRead(
        hazard_source_code=check.source.code,
        hazard_source_name=check.source.name,
        role=check.rule.role.value,
        role_label=check.rule.role.label,
        person=check.source.person(check.rule.role),
        period=check.rule.period.value,
        start=check.start,
        last_day=check.last_day,
        done=check.done,
        required=check.rule.minimum,
        state=check.state,
        state_label=check.state.label,
    )


def _span(first: date, last: date) -> None:
    if last < first:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="截止日期不能早于开始日期 / the end is before the start"
        )
    if last - first > MAX_SPAN:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="考核区间不能超过5年 / at most 5 years per request"
        )


def _report(session: SessionDep, first: date, last: date) -> hazard_sources.AssessmentReport:
    _span(first, last)
    with translate_errors():
        return hazard_sources.assessment_report(session=session, first=first, last=last)


assessment = APIRouter(prefix="/api/v1/hazard-sources", tags=["hazard sources 重大危险源"])


@assessment.get("/assessment", response_model=list[DutyCheckRead], summary="包保履职在线考核")
def duty_assessment(
    session: SessionDep,
    user: Reader,
    first: Annotated[date, Query(ge=EARLIEST, le=LATEST, description="考核开始日期")],
    as_of: Annotated[date | None, Query(ge=EARLIEST, le=LATEST, description="考核日期，缺省为今天")] = None,
    overdue_only: Annotated[bool, Query(description="只列逾期未履职")] = False,
) -> list[DutyCheckRead]:
    """Every source × role × period from ``first`` to ``as_of`` with its state (done / due / overdue)."""
    day = as_of or utcnow().date()
    _span(first, day)
    if overdue_only:
        checks = hazard_sources.overdue_duties(session=session, first=first, as_of=day)
    else:
        checks = hazard_sources.assess_duties(session=session, first=first, as_of=day)
    return [_check(c) for c in checks]


@assessment.get("/report", response_model=ReportRead, summary="包保责任制考核报告")
def duty_report(
    session: SessionDep,
    user: Reader,
    first: Annotated[date, Query(ge=EARLIEST, le=LATEST, description="报告开始日期")],
    last: Annotated[date, Query(ge=EARLIEST, le=LATEST, description="报告截止日期(含)")],
) -> ReportRead:
    """Per source: grade, R and per role the periods required, done and overdue."""
    report = _report(session, first, last)
    return ReportRead(
        first=report.first,
        last=report.last,
        required=report.required,
        done=report.done,
        rows=[
            ReportRowRead(
                code=row.code,
                name=row.name,
                grade=row.grade,
                grade_label=row.grade_label,
                r_value=row.r_value,
                s_value=row.s_value,
                roles=[
                    RoleSummaryRead(
                        role=r.role.value,
                        role_label=r.role.label,
                        person=r.person,
                        required=r.required,
                        done=r.done,
                        overdue=r.overdue,
                        records=r.records,
                        rate=r.rate,
                    )
                    for r in row.roles
                ],
            )
            for row in report.rows
        ],
        overdue=[_check(c) for c in report.overdue],
    )


@assessment.get(
    "/report/export",
    response_class=Response,
    summary="导出包保责任制考核报告 (Excel)",
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
def export_duty_report(
    session: SessionDep,
    user: Exporter,
    first: Annotated[date, Query(ge=EARLIEST, le=LATEST, description="报告开始日期")],
    last: Annotated[date, Query(ge=EARLIEST, le=LATEST, description="报告截止日期(含)")],
) -> Response:
    """The report as an .xlsx workbook: summary sheet and overdue list."""
    body = hazard_sources.report_xlsx(_report(session, first, last))
    filename = f"重大危险源包保考核报告_{first.isoformat()}_{last.isoformat()}.xlsx"
    disposition = f"attachment; filename=\"hazard-source-report.xlsx\"; filename*=UTF-8''{quote(filename)}"
    return Response(body, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": disposition})


# ``routers`` are the leaf routers, in matching order; ``api/app.py`` includes them one by one.
# FastAPI analyses every route again at each level of nested ``include_router``; flat keeps
# start-up fast. ``router`` (all of them, one level deep) is for tests and other apps.
routers: tuple[APIRouter, ...] = (
    assessment,
    register_router(
        hazard_sources.register,
        prefix="/api/v1/hazard-sources",
        tags=["hazard sources 重大危险源"],
        resource="hazard_source",
    ),
    register_router(
        hazard_sources.duties,
        prefix="/api/v1/hazard-source-duties",
        tags=["hazard source duties 包保履职"],
        resource="hazard_source_duty",
    ),
)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
