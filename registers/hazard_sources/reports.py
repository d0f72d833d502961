"""Periodic 包保 assessment reports (包保责任制考核报告), generated on schedule and stored.

The report itself is :func:`registers.hazard_sources.service.assessment_report`; here it is
issued once per calendar month after the month has ended, by the alarm worker's
housekeeping, and kept as issued (JSON as the API shows it, and the Excel file) in
``hazard_source_reports``. A later correction of a duty record changes the on-request
report, not the one already issued: that is what "stored" is for.

A month is issued only if some live source was in the register before it ended, so a
fresh install does not issue a year of empty or all-overdue reports. The last
:data:`BACKFILL_MONTHS` ended months are checked each time, so a worker that was down on
the 1st still issues the report later. Two replicas issuing at once store one report: the
table's unique ``(first, last)`` refuses the second, which is then skipped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from registers.hazard_sources.models import HazardSource, HazardSourceReport
from registers.hazard_sources.scheduled import DutyCheck
from registers.hazard_sources.service import AssessmentReport, assessment_report, report_xlsx

__all__ = [
    "BACKFILL_MONTHS",
    "check_json",
    "due_months",
    "generate_due_reports",
    "get_report",
    "issue_report",
    "list_reports",
    "report_json",
]

BACKFILL_MONTHS = 3
"""Ended months checked at each run (a worker down for up to a quarter still issues them)."""


def check_json(check: DutyCheck) -> dict[str, Any]:
    """One (source, role, period) as the API shows it."""
    return {
        "hazard_source_code": check.source.code,
        "hazard_source_name": check.source.name,
        "role": check.rule.role.value,
        "role_label": check.rule.role.label,
        "person": check.source.person(check.rule.role),
        "period": check.rule.period.value,
        "start": check.start.isoformat(),
        "last_day": check.last_day.isoformat(),
        "done": check.done,
        "required": check.rule.minimum,
        "state": check.state.value,
        "state_label": check.state.label,
    }


def report_json(report: AssessmentReport) -> dict[str, Any]:
    """The report as plain JSON (what ``GET /api/v1/hazard-sources/report`` answers)."""
    return {
        "first": report.first.isoformat(),
        "last": report.last.isoformat(),
        "required": report.required,
        "done": report.done,
        "rows": [
            {
                "code": row.code,
                "name": row.name,
                "grade": row.grade,
                "grade_label": row.grade_label,
                "r_value": row.r_value,
                "s_value": row.s_value,
                "roles": [
                    {
                        "role": r.role.value,
                        "role_label": r.role.label,
                        "person": r.person,
                        "required": r.required,
                        "done": r.done,
                        "overdue": r.overdue,
                        "records": r.records,
                        "rate": r.rate,
                    }
                    for r in row.roles
                ],
            }
            for row in report.rows
        ],
        "overdue": [check_json(c) for c in report.overdue],
    }


def _month(day: date) -> tuple[date, date]:
    """First and last day of ``day``'s calendar month."""
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def due_months(today: date, *, months: int = BACKFILL_MONTHS) -> list[tuple[date, date]]:
    """The last ``months`` calendar months that have ended by ``today``, oldest first.

    Example:
        >>> [(a.isoformat(), b.isoformat()) for a, b in due_months(date(2026, 12, 3), months=2)]
        [('2026-10-01', '2026-10-31'), ('2026-11-01', '2026-11-30')]
    """
    found: list[tuple[date, date]] = []
    day = today.replace(day=1) - timedelta(days=1)
    for _ in range(months):
        first, last = _month(day)
        found.append((first, last))
        day = first - timedelta(days=1)
    return found[::-1]


def issue_report(*, session: Session, first: date, last: date, now: datetime) -> HazardSourceReport:
    """The month's report as issued at ``now`` (JSON and Excel), not yet added to the session."""
    report = assessment_report(session=session, first=first, last=last)
    return HazardSourceReport(
        period=first.strftime("%Y-%m"),
        first=first,
        last=last,
        generated_at=now,
        sources=len(report.rows),
        required=report.required,
        done=report.done,
        overdue=len(report.overdue),
        content=report_json(report),
        workbook=report_xlsx(report),
    )


def generate_due_reports(*, session: Session, now: datetime, months: int = BACKFILL_MONTHS) -> list[HazardSourceReport]:
    """Issue and store every ended month's report not stored yet; return the new ones (caller commits)."""
    earliest = session.scalar(select(func.min(HazardSource.created_at)).where(HazardSource.deleted_at.is_(None)))
    if earliest is None:
        return []
    stored = {(r.first, r.last) for r in session.execute(select(HazardSourceReport.first, HazardSourceReport.last))}
    issued: list[HazardSourceReport] = []
    for first, last in due_months(now.date(), months=months):
        if (first, last) in stored or earliest.date() > last:
            continue
        row = issue_report(session=session, first=first, last=last, now=now)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # another replica issued it a moment ago
            continue
        issued.append(row)
    session.flush()
    return issued


def list_reports(*, session: Session, limit: int = 120) -> list[HazardSourceReport]:
    """Stored reports, newest period first."""
    stmt = (
        select(HazardSourceReport)
        .options(defer(HazardSourceReport.content), defer(HazardSourceReport.workbook))  # the list needs neither
        .order_by(HazardSourceReport.last.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def get_report(*, session: Session, report_id: int) -> HazardSourceReport | None:
    """One stored report, or ``None``."""
    return session.get(HazardSourceReport, report_id)
