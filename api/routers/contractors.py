"""Contractors API (承包商, 一企一档): framework routes plus workflow, evaluation and permit check.

The framework's routes serve contractors, their documents, tools and violations; added are
the workflow (准入, 入场, 续期, 退场, 黑名单), evaluation, the whole
file and the permit check other modules and screens ask.

Mount in ``api/app.py`` with the other authenticated routers::

    for leaf in contractors.routers:  # flat: see ``routers`` below
        app.include_router(leaf, dependencies=protected)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status

from api.auth import SessionDep, SignedInUser, require
from api.register_router import RecordId, register_router, translate_errors
from registers.contractors import service
from registers.contractors.schemas import (
    ContractorFileRead,
    ContractorRead,
    EvaluationIn,
    EvaluationRead,
    PermitCheckRead,
    ReasonIn,
    RenewIn,
)
from registers.contractors.workflow import InvalidTransition
from registers.framework.reminders import LOCAL_TZ
from registers.people import service as people

RESOURCE = "contractor"
TAGS: list[str | Enum] = ["contractors 承包商"]
Reader = Annotated[SignedInUser, Depends(require("read", RESOURCE))]
Approver = Annotated[SignedInUser, Depends(require("approve", RESOURCE))]
Editor = Annotated[SignedInUser, Depends(require("update", RESOURCE))]


def _today() -> date:
    return datetime.now(LOCAL_TZ).date()


@contextmanager
def _errors() -> Iterator[None]:
    """The framework's mapping, plus 409 for a move the workflow or the admission rules refuse."""
    with translate_errors():  # outermost, so the specific mapping below wins over its catch-all 400
        try:
            yield
        except (InvalidTransition, service.AdmissionRefused) as err:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err


extra = APIRouter(prefix="/api/v1/contractors", tags=TAGS)


def _read(record: object) -> ContractorRead:
    return service.contractors.to_read(record)  # type: ignore[arg-type]


@extra.post("/{record_id}/admit", response_model=ContractorRead, summary="准入")
def admit(session: SessionDep, user: Approver, record_id: RecordId, body: RenewIn) -> ContractorRead:
    """Admit an applicant whose qualification and safety agreement are valid."""
    with _errors():
        return _read(
            service.admit(
                session=session, contractor_id=record_id, valid_until=body.valid_until, on=_today(), actor=user.username
            )
        )


@extra.post("/{record_id}/reject", response_model=ContractorRead, summary="驳回准入申请")
def reject(session: SessionDep, user: Approver, record_id: RecordId, body: ReasonIn) -> ContractorRead:
    """Reject an application, with the reason."""
    with _errors():
        return _read(service.reject(session=session, contractor_id=record_id, reason=body.reason, actor=user.username))


@extra.post("/{record_id}/enter", response_model=ContractorRead, summary="入场")
def enter(session: SessionDep, user: Approver, record_id: RecordId) -> ContractorRead:
    """Let an admitted contractor with registered people on site."""
    with _errors():
        return _read(service.enter(session=session, contractor_id=record_id, on=_today(), actor=user.username))


@extra.post("/{record_id}/renew", response_model=ContractorRead, summary="续期")
def renew(session: SessionDep, user: Approver, record_id: RecordId, body: RenewIn) -> ContractorRead:
    """Extend the admission."""
    with _errors():
        return _read(
            service.renew(
                session=session, contractor_id=record_id, valid_until=body.valid_until, on=_today(), actor=user.username
            )
        )


@extra.post("/{record_id}/exit", response_model=ContractorRead, summary="退场")
def exit_site(session: SessionDep, user: Approver, record_id: RecordId) -> ContractorRead:
    """The contractor leaves the site."""
    with _errors():
        return _read(service.exit_site(session=session, contractor_id=record_id, actor=user.username))


@extra.post("/{record_id}/reapply", response_model=ContractorRead, summary="重新申请准入")
def reapply(session: SessionDep, user: Editor, record_id: RecordId) -> ContractorRead:
    """Apply again after rejection or exit."""
    with _errors():
        return _read(service.reapply(session=session, contractor_id=record_id, actor=user.username))


@extra.post("/{record_id}/blacklist", response_model=ContractorRead, summary="列入黑名单")
def blacklist(session: SessionDep, user: Approver, record_id: RecordId, body: ReasonIn) -> ContractorRead:
    """Blacklist: blocks admission and every work permit."""
    with _errors():
        return _read(
            service.blacklist(session=session, contractor_id=record_id, reason=body.reason, actor=user.username)
        )


@extra.post("/{record_id}/lift-blacklist", response_model=ContractorRead, summary="解除黑名单")
def lift_blacklist(session: SessionDep, user: Approver, record_id: RecordId, body: ReasonIn) -> ContractorRead:
    """Lift the blacklist; the contractor must apply again."""
    with _errors():
        return _read(
            service.lift_blacklist(session=session, contractor_id=record_id, reason=body.reason, actor=user.username)
        )


@extra.post("/{record_id}/evaluate", response_model=EvaluationRead, status_code=201, summary="评价")
def evaluate(session: SessionDep, user: Approver, record_id: RecordId, body: EvaluationIn) -> EvaluationRead:
    """Score the contractor on the weighted criteria (a fatal/major incident vetoes)."""
    with _errors():
        row = service.evaluate(
            session=session,
            contractor_id=record_id,
            period=body.period,
            scores=body.scores,
            on=_today(),
            actor=user.username,
        )
    return EvaluationRead.model_validate(row)


@extra.get("/{record_id}/file", response_model=ContractorFileRead, summary="一企一档")
def contractor_file(session: SessionDep, user: Reader, record_id: RecordId) -> ContractorFileRead:
    """The contractor with its documents, tools, violations, evaluations and people."""
    with _errors():
        file = service.file_of(session=session, contractor_id=record_id)
    return ContractorFileRead(
        contractor=_read(file.contractor),
        allowed_events=[e.value for e in file.allowed_events],
        documents=[service.documents.to_read(d) for d in file.documents],
        tools=[service.tools.to_read(t) for t in file.tools],
        violations=[service.violations.to_read(v) for v in file.violations],
        evaluations=[EvaluationRead.model_validate(e) for e in file.evaluations],
        people=[people.persons.to_read(p) for p in file.people],
    )


@extra.get("/{record_id}/permit-check", response_model=PermitCheckRead, summary="能否开具作业票")
def permit_check(
    session: SessionDep,
    user: Reader,
    record_id: RecordId,
    on: Annotated[date | None, Query(description="作业日期 (默认今天)")] = None,
) -> PermitCheckRead:
    """Whether a work permit may be issued for this contractor, and why not."""
    allowed, reason = service.may_issue_permit(session=session, contractor_id=record_id, on=on or _today())
    return PermitCheckRead(contractor_id=record_id, allowed=allowed, reason=reason)


# ``routers`` are the leaf routers, in matching order; ``api/app.py`` includes them one by one.
# FastAPI analyses every route again at each level of nested ``include_router``; flat keeps
# start-up fast. ``router`` (all of them, one level deep) is for tests and other apps.
routers: tuple[APIRouter, ...] = (
    extra,
    register_router(service.contractors, prefix="/api/v1/contractors", tags=TAGS, resource=RESOURCE),
    *(
        register_router(_register, prefix=f"/api/v1/{_path}", tags=TAGS, resource=RESOURCE)
        for _register, _path in (
            (service.documents, "contractor-documents"),
            (service.tools, "contractor-tools"),
            (service.violations, "contractor-violations"),
        )
    ),
)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
