"""Training API (培训管理): registers, exams with automatic marking, the personal file, QR and PDF.

The framework's routes serve courses, plans, sessions, records, the question bank and papers;
added are sitting and marking exams, certificate renewal and the personal
training file (一人一档) as JSON, QR code (PNG) and printable record (PDF).

Mount in ``api/app.py`` with the other authenticated routers::

    for leaf in training.routers:  # flat: see ``routers`` below
        app.include_router(leaf, dependencies=protected)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status

from api.auth import SessionDep, SignedInUser, require
from api.register_router import RecordId, register_router, translate_errors
from registers.framework.reminders import LOCAL_TZ
from registers.people import service as people
from registers.people.schemas import PersonCertificateRead
from registers.training import documents, service
from registers.training.schemas import AttemptRead, ExamSubmit, PaperRead, TrainingFileRead

RESOURCE = "training"
TAGS: list[str | Enum] = ["training 培训管理"]
Reader = Annotated[SignedInUser, Depends(require("read", RESOURCE))]
Candidate = Annotated[SignedInUser, Depends(require("execute", RESOURCE))]
Approver = Annotated[SignedInUser, Depends(require("approve", RESOURCE))]
PersonId = Annotated[int, Path(ge=1, le=2**31 - 1, description="人员ID")]


@contextmanager
def _errors() -> Iterator[None]:
    """The framework's mapping, plus 409 for a renewal the record cannot make."""
    with translate_errors():  # outermost, so the specific mapping below wins over its catch-all 400
        try:
            yield
        except service.RenewalRefused as err:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err


def record_url(request: Request, person_id: int) -> str:
    """Absolute URL of the person's training file, as the QR code carries it."""
    return str(request.base_url).rstrip("/") + service.record_path(person_id)


extra = APIRouter(prefix="/api/v1/training", tags=TAGS)


@extra.get("/exams/{record_id}/paper", response_model=PaperRead, summary="试卷 (不含答案)")
def exam_paper(session: SessionDep, user: Candidate, record_id: RecordId) -> PaperRead:
    """The paper as a candidate sees it."""
    with _errors():
        return service.paper(session=session, exam_id=record_id)


@extra.post("/exams/{record_id}/submit", response_model=AttemptRead, status_code=201, summary="交卷并自动阅卷")
def submit_exam(session: SessionDep, user: Candidate, record_id: RecordId, sheet: ExamSubmit) -> AttemptRead:
    """Mark the answer sheet at once and file the result in the person's record."""
    with _errors():
        attempt = service.submit_exam(
            session=session, exam_id=record_id, person_id=sheet.person_id, answers=sheet.answers, actor=user.username
        )
    return AttemptRead.model_validate(attempt)


@extra.post(
    "/records/{record_id}/renew-certificate", response_model=PersonCertificateRead, summary="按取换证培训更新证书有效期"
)
def renew_certificate(session: SessionDep, user: Approver, record_id: RecordId) -> PersonCertificateRead:
    """Carry a passed 取换证 training's new expiry date onto the person's certificate."""
    with _errors():
        cert = service.renew_certificate(session=session, record_id=record_id, actor=user.username)
    return people.certificates.to_read(cert)


@extra.get("/people/{person_id}/file", response_model=TrainingFileRead, summary="个人培训档案 (一人一档)")
def training_file(request: Request, session: SessionDep, user: Reader, person_id: PersonId) -> TrainingFileRead:
    """Everything about one person's training: certificates, records, exams, hours by type."""
    with _errors():
        file = service.training_file(session=session, person_id=person_id)
    return TrainingFileRead(
        person=people.persons.to_read(file.person),
        certificates=[people.certificates.to_read(c) for c in file.certificates],
        records=[service.records.to_read(r) for r in file.records],
        attempts=[AttemptRead.model_validate(a) for a in file.attempts],
        total_hours=file.total_hours,
        hours_by_type=file.hours_by_type,
        record_url=record_url(request, person_id),
    )


@extra.get(
    "/people/{person_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    summary="个人培训档案二维码",
)
def training_qr(request: Request, session: SessionDep, user: Reader, person_id: PersonId) -> Response:
    """A QR code (PNG) that opens the person's training file."""
    with _errors():
        people.persons.get(session=session, record_id=person_id)
    return Response(documents.qr_png(record_url(request, person_id)), media_type="image/png")


@extra.get(
    "/people/{person_id}/record.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    summary="打印个人培训档案 (PDF)",
)
def training_pdf(request: Request, session: SessionDep, user: Reader, person_id: PersonId) -> Response:
    """The printable personal training record."""
    with _errors():
        file = service.training_file(session=session, person_id=person_id)
    body = documents.record_pdf(
        file, record_url=record_url(request, person_id), printed_on=datetime.now(LOCAL_TZ).date()
    )
    headers = {"Content-Disposition": f'inline; filename="training-record-{person_id}.pdf"'}
    return Response(body, media_type="application/pdf", headers=headers)


# ``routers`` are the leaf routers, in matching order; ``api/app.py`` includes them one by one.
# FastAPI analyses every route again at each level of nested ``include_router``; flat keeps
# start-up fast. ``router`` (all of them, one level deep) is for tests and other apps.
routers: tuple[APIRouter, ...] = (
    extra,
    *(
        register_router(_register, prefix=f"/api/v1/training/{_path}", tags=TAGS, resource=RESOURCE)
        for _register, _path in (
            (service.courses, "courses"),
            (service.plans, "plans"),
            (service.sessions, "sessions"),
            (service.records, "records"),
            (service.questions, "questions"),
            (service.exams, "exams"),
        )
    ),
)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
