"""The audit log (审计日志): ``/api/v1/audit``, for the auditor (审计员) only.

Read and export need ``read audit`` / ``export audit``, which only the auditor holds
(三员分立): the system administrator whose actions are logged cannot read or prune the log.
The log is append-only; there is no route that changes or deletes an entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.auth import SessionDep, SignedInUser, require
from registers.audit import service as audit
from registers.audit.schemas import AuditPage, AuditRead, Result, VerifyRead

router = APIRouter(prefix="/api/v1/audit", tags=["audit 安全审计"])

Reader = Annotated[SignedInUser, Depends(require("read", "audit"))]
Exporter = Annotated[SignedInUser, Depends(require("export", "audit"))]

_INT32_MAX = 2**31 - 1
EXPORT_LIMIT = 100_000


class _Filters:
    """Query filters shared by the list and the export."""

    def __init__(
        self,
        actor: Annotated[str | None, Query(max_length=64, description="操作人")] = None,
        action: Annotated[str | None, Query(max_length=32, description="操作, e.g. login_failed")] = None,
        result: Annotated[Result | None, Query(description="结果")] = None,
        since: Annotated[datetime | None, Query(description="起始时间 (含)")] = None,
        until: Annotated[datetime | None, Query(description="截止时间 (不含)")] = None,
    ) -> None:
        self.actor, self.action, self.result = actor, action, result
        self.since, self.until = _aware(since), _aware(until)


def _aware(value: datetime | None) -> datetime | None:
    """Read a time without an offset as UTC (the log stores aware UTC only)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


Filters = Annotated[_Filters, Depends()]


@router.get("", summary="审计日志 / audit log")
def list_entries(
    session: SessionDep,
    _user: Reader,
    filters: Filters,
    offset: Annotated[int, Query(ge=0, le=_INT32_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Entries matching the filters, newest first."""
    rows, total = audit.query(session=session, **vars(filters), offset=offset, limit=limit)
    return AuditPage(items=[AuditRead.model_validate(r) for r in rows], total=total)


@router.get(
    "/export",
    summary="导出审计日志 / export (CSV)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV, UTF-8 with BOM"}},
)
def export_entries(session: SessionDep, _user: Exporter, filters: Filters) -> StreamingResponse:
    """The matching entries as CSV (at most 100,000 per file; narrow the time range for more)."""
    rows, _ = audit.query(session=session, **vars(filters), limit=EXPORT_LIMIT)
    chunks: Iterator[str] = iter(list(audit.export_csv(reversed(rows))))  # before the session commits
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


@router.get("/verify", summary="完整性校验 / verify the hash chain")
def verify_chain(session: SessionDep, _user: Reader) -> VerifyRead:
    """Recompute the hash chain; ``ok`` false names the first entry that was altered or removed."""
    result = audit.verify(session=session)
    return VerifyRead(
        ok=result.ok,
        checked=result.checked,
        first_bad_id=result.first_bad_id,
        reason=result.reason,
        last_hash=result.last_hash,
    )
