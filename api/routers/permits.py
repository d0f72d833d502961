"""Special-work permits API (特殊作业票, GB 30871-2022): plan, analyse, approve, work, close, print.

Tickets are created only by planning a job (``POST /api/v1/permits/jobs``), which issues the
linked tickets, their risks and measures; nothing of a ticket is edited in place, so the
framework's create, edit, delete and import routes are left out. The rest of the framework
(list with filters, export, history, attachments) serves the field database of past jobs.

Every move is a POST on the ticket; a move a safety rule refuses (stale gas test, missing
certificate, wrong approver, closing without acceptance) is a 409 whose ``detail`` says why.
Mount in ``api/app.py``::

    for leaf in permits.routers:
        app.include_router(leaf, dependencies=protected)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import SessionDep, SignedInUser, require, run_and_commit
from api.register_router import RecordId, register_router, translate_errors
from registers.db import utcnow
from registers.people.models import Person
from registers.permits import documents, service
from registers.permits.schemas import (
    AcceptIn,
    BriefIn,
    GasAnalysisIn,
    GasAnalysisRead,
    JobPlanIn,
    JobRead,
    MeasureRead,
    PermitFileRead,
    PermitRead,
    ReasonIn,
    SignIn,
    StatisticsRead,
    StepRead,
)
from registers.permits.workflow import InvalidTransition

RESOURCE = "permit"
PREFIX = "/api/v1/permits"
TAGS: list[str | Enum] = ["permits 特殊作业票"]
Reader = Annotated[SignedInUser, Depends(require("read", RESOURCE))]
Creator = Annotated[SignedInUser, Depends(require("create", RESOURCE))]
Worker = Annotated[SignedInUser, Depends(require("update", RESOURCE))]
Approver = Annotated[SignedInUser, Depends(require("approve", RESOURCE))]
Area = Annotated[str | None, Query(max_length=64, description="作业区域")]


async def _now(request: Request) -> datetime:
    """The request's clock: the app's ``permit_clock`` if one is set (drills, tests), else UTC now.

    ``async``: a plain function here cost every permit request a trip through the thread pool.
    """
    clock: Callable[[], datetime] | None = getattr(request.app.state, "permit_clock", None)
    return clock() if clock is not None else utcnow()


Now = Annotated[datetime, Depends(_now)]


def _signature_key(request: Request) -> bytes:
    """The e-signature key: derived from the app's secret, so a signature key never doubles as a token key."""
    secret = request.app.state.settings.signing_key().encode()
    return hmac.new(secret, b"safetwin-permit-signature", hashlib.sha256).digest()


@contextmanager
def _errors() -> Iterator[None]:
    """The framework's mapping, plus 409 for a move the workflow or a safety rule refuses."""
    with translate_errors():
        try:
            yield
        except (InvalidTransition, service.PermitRefused) as err:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err


def _read(permit: object) -> PermitRead:
    return service.permits.to_read(permit)  # type: ignore[arg-type]


async def _move(session: Session, move: Callable[[], object]) -> PermitRead:
    """One move of a ticket: the service call, its refusals as 409, the ticket read back, one commit."""

    def work() -> PermitRead:
        with _errors():
            return _read(move())

    return await run_and_commit(session, work)


class ChecksRead(BaseModel):
    """What one run of the permit checks did."""

    expired: list[str]
    suspended: list[str]
    reminders: list[str]


extra = APIRouter(prefix=PREFIX, tags=TAGS)
# The moves and reads below are async and run the service, the response model and the commit
# in one worker thread (api.auth.run_and_commit): as sync routes each cost three thread-pool
# round trips more per request, under 50 concurrent users a large share of its CPU.


@extra.post(
    "/jobs", response_model=JobRead, status_code=status.HTTP_201_CREATED, summary="作业任务策划 (生成关联作业票)"
)
async def plan_job(session: SessionDep, user: Creator, body: JobPlanIn, now: Now) -> JobRead:
    """Plan a job once; one draft ticket per special-work type, linked, with risks and measures proposed."""

    def work() -> JobRead:
        with _errors():
            created = service.plan_job(session=session, data=body, actor=user.username, now=now)
        first = created[0]
        return JobRead(
            id=first.job_id,
            title=first.title,
            content=first.content,
            area=first.area,
            permits=[_read(p) for p in created],
        )

    return await run_and_commit(session, work)


@extra.get("/jobs/{record_id}", response_model=JobRead, summary="作业任务及关联作业票")
async def job(session: SessionDep, user: Reader, record_id: RecordId) -> JobRead:
    """A job and its linked tickets."""

    def work() -> JobRead:
        with _errors():
            row, tickets = service.job_permits(session=session, job_id=record_id)
        return JobRead(
            id=row.id, title=row.title, content=row.content, area=row.area, permits=[_read(p) for p in tickets]
        )

    return await run_and_commit(session, work)


@extra.get("/open", response_model=list[PermitRead], summary="已批准及作业中的作业票 (孪生体图标)")
def open_permits(session: SessionDep, user: Reader, area: Area = None) -> list[PermitRead]:
    """Tickets issued or being worked, with type, grade, point and guardian (the twin's permit icons)."""
    return [_read(p) for p in service.open_permits(session=session, area=area)]


@extra.get("/statistics", response_model=StatisticsRead, summary="作业票统计")
def statistics(
    session: SessionDep,
    user: Reader,
    by: Annotated[
        Literal["work_type", "managed_grade", "area", "contractor_name", "status"], Query(description="统计维度")
    ] = "work_type",
) -> StatisticsRead:
    """Ticket counts by type, grade, area, contractor or status."""
    with _errors():
        counts = service.statistics(session=session, by=by)
    return StatisticsRead(by=by, counts=dict(counts), total=sum(counts.values()))


@extra.post("/checks/run", response_model=ChecksRead, summary="运行作业票检查 (超期、气体分析过期、复测提醒)")
def run_checks(session: SessionDep, user: Worker, now: Now) -> ChecksRead:
    """Expire overdue tickets, stop work on stale gas tests and fire the re-test reminders (each once)."""
    expired = service.expire_overdue(session=session, now=now, actor=user.username)
    stopped = service.check_running(session=session, now=now, actor=user.username)
    reminders = service.gas_reminders(session=session, now=now)
    return ChecksRead(
        expired=[p.number for p in expired],
        suspended=[p.number for p in stopped],
        reminders=[r.message for r in reminders],
    )


def _file(session: SessionDep, record_id: int) -> PermitFileRead:
    file = service.permit_file(session=session, permit_id=record_id)
    return PermitFileRead(
        permit=_read(file.permit),
        measures=[MeasureRead.model_validate(m) for m in file.measures],
        analyses=[GasAnalysisRead.model_validate(a) for a in file.analyses],
        steps=[StepRead.model_validate(s) for s in file.steps],
        allowed_events=[e.value for e in file.allowed],
        approval_levels=file.levels,
        next_approval=file.next_level,
        gas_fresh_until=file.fresh_until,
    )


@extra.get("/{record_id}/file", response_model=PermitFileRead, summary="作业票全貌 (措施、气体分析、审批流)")
async def permit_file(session: SessionDep, user: Reader, record_id: RecordId) -> PermitFileRead:
    """The ticket with its measures, analyses, steps and the moves allowed next."""

    def work() -> PermitFileRead:
        with _errors():
            return _file(session, record_id)

    return await run_and_commit(session, work)


@extra.get(
    "/{record_id}/permit.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="打印作业票 (PDF, 含二维码)",
)
def permit_pdf(request: Request, session: SessionDep, user: Reader, record_id: RecordId, now: Now) -> Response:
    """The ticket in the GB 30871 appendix layout; its QR code opens the ticket."""
    with _errors():
        file = service.permit_file(session=session, permit_id=record_id)
    ids = {*file.permit.worker_ids, file.permit.guardian_id, *(s.person_id for s in file.steps if s.person_id)}
    names = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())
    url = str(request.url_for("permit_file", record_id=record_id))
    body = documents.permit_pdf(file, names=names, permit_url=url, printed_at=now)
    headers = {"Content-Disposition": f'inline; filename="permit-{file.permit.number}.pdf"'}
    return Response(body, media_type="application/pdf", headers=headers)


@extra.post("/{record_id}/brief", response_model=PermitRead, summary="安全交底及措施确认")
async def brief(session: SessionDep, user: Worker, record_id: RecordId, body: BriefIn, now: Now) -> PermitRead:
    """Record the briefing and confirm the measures (all, or those listed)."""
    return await _move(
        session,
        partial(
            service.brief,
            session=session,
            permit_id=record_id,
            actor=user.username,
            measure_ids=body.measure_ids,
            now=now,
        ),
    )


@extra.post("/{record_id}/submit", response_model=PermitRead, summary="提交审批")
async def submit(session: SessionDep, user: Worker, record_id: RecordId, now: Now) -> PermitRead:
    """Submit for approval: measures confirmed, people qualified, contractor admitted, no SIMOPS refusal."""
    return await _move(
        session, partial(service.submit, session=session, permit_id=record_id, actor=user.username, now=now)
    )


@extra.post("/{record_id}/sign", response_model=PermitRead, summary="逐级审批签字 (电子签名)")
async def sign(
    request: Request, session: SessionDep, user: Approver, record_id: RecordId, body: SignIn, now: Now
) -> PermitRead:
    """The current approval level signs; the last level issues the ticket."""
    key = _signature_key(request)
    return await _move(
        session,
        partial(
            service.sign,
            session=session,
            permit_id=record_id,
            approver_id=body.approver_id,
            actor=user.username,
            signing_key=key,
            opinion=body.opinion,
            x=body.x,
            y=body.y,
            now=now,
        ),
    )


@extra.post("/{record_id}/reject", response_model=PermitRead, summary="驳回")
async def reject(session: SessionDep, user: Approver, record_id: RecordId, body: ReasonIn, now: Now) -> PermitRead:
    """Reject; the applicant revises and submits again."""
    return await _move(
        session,
        partial(service.reject, session=session, permit_id=record_id, reason=body.reason, actor=user.username, now=now),
    )


@extra.post("/{record_id}/revise", response_model=PermitRead, summary="修改重报")
async def revise(session: SessionDep, user: Worker, record_id: RecordId, now: Now) -> PermitRead:
    """A rejected ticket becomes a draft again."""
    return await _move(
        session, partial(service.revise, session=session, permit_id=record_id, actor=user.username, now=now)
    )


@extra.post(
    "/{record_id}/gas-analyses",
    response_model=GasAnalysisRead,
    status_code=status.HTTP_201_CREATED,
    summary="记录气体分析",
)
async def gas_analysis(
    session: SessionDep, user: Worker, record_id: RecordId, body: GasAnalysisIn, now: Now
) -> GasAnalysisRead:
    """Record an analysis; the verdict follows GB 30871 (a failing one stops running work)."""

    def work() -> GasAnalysisRead:
        with _errors():
            row = service.record_gas_analysis(
                session=session, permit_id=record_id, data=body, actor=user.username, now=now
            )
        return GasAnalysisRead.model_validate(row)

    return await run_and_commit(session, work)


@extra.post("/{record_id}/start", response_model=PermitRead, summary="开始作业")
async def start(session: SessionDep, user: Worker, record_id: RecordId, now: Now) -> PermitRead:
    """Start work on an issued ticket (fresh passing gas test, briefing, qualifications)."""
    return await _move(
        session, partial(service.start, session=session, permit_id=record_id, actor=user.username, now=now)
    )


@extra.post("/{record_id}/suspend", response_model=PermitRead, summary="中断作业")
async def suspend(session: SessionDep, user: Worker, record_id: RecordId, body: ReasonIn, now: Now) -> PermitRead:
    """Suspend the work, with the reason."""
    return await _move(
        session,
        partial(
            service.suspend, session=session, permit_id=record_id, reason=body.reason, actor=user.username, now=now
        ),
    )


@extra.post("/{record_id}/resume", response_model=PermitRead, summary="恢复作业")
async def resume(session: SessionDep, user: Worker, record_id: RecordId, now: Now) -> PermitRead:
    """Resume; a long interruption needs a new passing analysis."""
    return await _move(
        session, partial(service.resume, session=session, permit_id=record_id, actor=user.username, now=now)
    )


@extra.post("/{record_id}/complete", response_model=PermitRead, summary="完工")
async def complete(session: SessionDep, user: Worker, record_id: RecordId, now: Now) -> PermitRead:
    """The work is done; acceptance follows."""
    return await _move(
        session, partial(service.complete, session=session, permit_id=record_id, actor=user.username, now=now)
    )


@extra.post("/{record_id}/accept", response_model=PermitRead, summary="完工验收并关闭")
async def accept(session: SessionDep, user: Approver, record_id: RecordId, body: AcceptIn, now: Now) -> PermitRead:
    """Completion acceptance: the acceptor signs and the ticket closes."""
    return await _move(
        session,
        partial(
            service.accept,
            session=session,
            permit_id=record_id,
            acceptor_id=body.acceptor_id,
            opinion=body.opinion,
            actor=user.username,
            now=now,
        ),
    )


@extra.post("/{record_id}/cancel", response_model=PermitRead, summary="作废")
async def cancel(session: SessionDep, user: Worker, record_id: RecordId, body: ReasonIn, now: Now) -> PermitRead:
    """Cancel a ticket that has not started (or a suspended one)."""
    return await _move(
        session,
        partial(service.cancel, session=session, permit_id=record_id, reason=body.reason, actor=user.username, now=now),
    )


# The framework's routes minus those that would create, edit, delete or import a ticket
# outside its workflow (a ticket is born by planning and changed only by its moves).
_LEFT_OUT = {("POST", PREFIX), ("PATCH", PREFIX + "/{record_id}"), ("DELETE", PREFIX + "/{record_id}")}
_LEFT_OUT.add(("POST", PREFIX + "/{record_id}/restore"))
_generated = register_router(service.permits, prefix=PREFIX, tags=TAGS, resource=RESOURCE, importer=None)
_generated.routes[:] = [
    r
    for r in _generated.routes
    if not (isinstance(r, APIRoute) and any((m, r.path) in _LEFT_OUT for m in r.methods or ()))
]

routers: tuple[APIRouter, ...] = (extra, _generated)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
