"""Major hazard sources (重大危险源) and 包保 duties: the register API plus assessment and report.

Two registers through the framework's router factory — ``/api/v1/hazard-sources`` and
``/api/v1/hazard-source-duties`` — and three routes of their own, declared before the
factory's ``/{record_id}`` so their names are not read as record ids:

* ``GET /api/v1/hazard-sources/assessment``: on-line duty assessment (在线考核), every
  (source, role, period) with its state, or only the overdue ones;
* ``GET /api/v1/hazard-sources/report``: periodic assessment report (JSON);
* ``GET /api/v1/hazard-sources/report/export``: the same report as an Excel workbook;
* ``GET /api/v1/hazard-sources/periodic-reports``: the monthly reports issued on schedule and
  stored (``registers/hazard_sources/reports.py``), ``/{report_id}`` one as issued and
  ``/{report_id}/export`` its Excel file;
* ``GET /api/v1/hazard-sources/{record_id}/msds``: the source's inventory linked to the
  chemicals (MSDS) register, chemicals without an MSDS flagged.

This module has no ``from __future__ import annotations``: FastAPI reads the annotations.
"""

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import BaseModel

from api.auth import SessionDep, SignedInUser, require
from api.register_router import register_router, translate_errors
from registers.db import utcnow
from registers.framework.exporting import XLSX_MEDIA_TYPE
from registers.hazard_sources import reports as periodic
from registers.hazard_sources import service as hazard_sources
from registers.hazard_sources.models import HazardSourceReport
from registers.hazard_sources.scheduled import DutyCheck, DutyState

__all__ = ["router", "routers"]

# The longest span one request may assess: five years of weekly periods is ~260 per source.
MAX_SPAN = timedelta(days=5 * 366)

# Calendar periods are computed up to a quarter past the last day: keep well inside date's range.
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)

Reader = Annotated[SignedInUser, Depends(require("read", "hazard_source"))]
Exporter = Annotated[SignedInUser, Depends(require("export", "hazard_source"))]


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
    return DutyCheckRead.model_validate(periodic.check_json(check))


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
reports = APIRouter(prefix="/api/v1/hazard-sources/periodic-reports", tags=["hazard sources 重大危险源"])


class MsdsLinkRead(BaseModel):
    """One inventory chemical and its row in the chemicals (MSDS) register."""

    name: str
    cas: str
    quantity_t: float
    table_1_seq: int | None
    chemical_id: int | None
    chemical_name: str | None
    gb18218_categories: str | None
    has_msds: bool


@assessment.get("/{record_id}/msds", response_model=list[MsdsLinkRead], summary="危险化学品与MSDS台账关联")
def hazard_source_msds(
    session: SessionDep, user: Reader, record_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> list[MsdsLinkRead]:
    """Each chemical of the source with the chemicals-register row (MSDS) it is; ``has_msds`` false where none."""
    with translate_errors():
        record = hazard_sources.register.get(session=session, record_id=record_id)
    return [
        MsdsLinkRead(
            name=link.name,
            cas=link.cas,
            quantity_t=link.quantity_t,
            table_1_seq=link.table_1_seq,
            chemical_id=link.chemical_id,
            chemical_name=link.chemical_name,
            gb18218_categories=link.gb18218_categories,
            has_msds=link.has_msds,
        )
        for link in hazard_sources.msds_links(session=session, record=record)
    ]


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
    return ReportRead.model_validate(periodic.report_json(_report(session, first, last)))


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


class PeriodicReportRead(BaseModel):
    """A stored periodic report, without its content (the list)."""

    id: int
    period: str
    first: date
    last: date
    generated_at: datetime
    sources: int
    required: int
    done: int
    overdue: int


class PeriodicReportDetailRead(PeriodicReportRead):
    """A stored periodic report with the report as it was issued."""

    report: ReportRead


ReportId = Annotated[int, Path(ge=1, le=2**31 - 1, description="报告ID")]


def _stored(session: SessionDep, report_id: int) -> HazardSourceReport:
    found = periodic.get_report(session=session, report_id=report_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"考核报告 {report_id} 不存在 / no such report")
    return found


def _summary(row: HazardSourceReport) -> dict[str, Any]:
    return {k: getattr(row, k) for k in PeriodicReportRead.model_fields}


@reports.get("", response_model=list[PeriodicReportRead], summary="包保考核定期报告列表")
def list_periodic_reports(session: SessionDep, user: Reader) -> list[PeriodicReportRead]:
    """The monthly reports issued on schedule, newest first."""
    return [PeriodicReportRead.model_validate(_summary(r)) for r in periodic.list_reports(session=session)]


@reports.get("/{report_id}", response_model=PeriodicReportDetailRead, summary="查看包保考核定期报告")
def get_periodic_report(session: SessionDep, user: Reader, report_id: ReportId) -> PeriodicReportDetailRead:
    """One stored report, as it was issued."""
    row = _stored(session, report_id)
    return PeriodicReportDetailRead.model_validate({**_summary(row), "report": row.content})


@reports.get(
    "/{report_id}/export",
    response_class=Response,
    summary="下载包保考核定期报告 (Excel)",
    responses={200: {"content": {XLSX_MEDIA_TYPE: {}}}},
)
def export_periodic_report(session: SessionDep, user: Exporter, report_id: ReportId) -> Response:
    """The stored report's Excel file, byte for byte as issued."""
    row = _stored(session, report_id)
    filename = f"重大危险源包保考核报告_{row.period}.xlsx"
    disposition = f"attachment; filename=\"hazard-source-report-{row.period}.xlsx\"; filename*=UTF-8''{quote(filename)}"
    return Response(row.workbook, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": disposition})


# ``routers`` are the leaf routers, in matching order; ``api/app.py`` includes them one by one.
# FastAPI analyses every route again at each level of nested ``include_router``; flat keeps
# start-up fast. ``router`` (all of them, one level deep) is for tests and other apps.
routers: tuple[APIRouter, ...] = (
    assessment,
    reports,
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
