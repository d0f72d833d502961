"""Alarm handling (报警管理): the alarm list and history, acknowledge, shelve, comment, dispose, KPIs.

Routes are thin: parse, authorise (``resource="alarm"``), one service call. Domain errors are
translated here, once: an unknown record is 404, a move the ISA-18.2 state table does not
allow is 409 with the allowed actions in the message, bad input is 422.

Who may do what (``registers.permissions``): everyone with ``alarm`` read access sees the
list and KPIs; operators acknowledge, shelve, comment and fill in disposals; closing a
disposal (闭环) needs ``approve``, which safety managers hold; regulators only read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, Request, Response, UploadFile, status
from pydantic import AwareDatetime

from api.auth import SessionDep, SignedInUser, require, run_and_commit
from models.alarm_states import AlarmStatus, InvalidShelve, InvalidTransition
from models.contracts import AlarmPriority
from registers.alarms import service as alarms
from registers.alarms.models import Alarm
from registers.alarms.schemas import (
    AckRequest,
    AlarmDetail,
    AlarmKpis,
    AlarmPage,
    AlarmRead,
    AttachmentRead,
    CommentCreate,
    CommentRead,
    DisposalClose,
    DisposalRead,
    DisposalUpsert,
    ShelveRequest,
    UnshelveRequest,
)
from registers.db import utcnow
from registers.framework.attachments import storage_for_data_dir

log = logging.getLogger(__name__)

router = APIRouter(tags=["alarm management 报警管理"])

Reader = Annotated[SignedInUser, Depends(require("read", "alarm"))]
Acknowledger = Annotated[SignedInUser, Depends(require("acknowledge", "alarm"))]
Editor = Annotated[SignedInUser, Depends(require("update", "alarm"))]
Approver = Annotated[SignedInUser, Depends(require("approve", "alarm"))]

SORT_PATTERN = r"^-?(" + "|".join(alarms.SORT_FIELDS) + r")$"

# Ids the database can hold (32-bit on PostgreSQL): a larger one is a 422, not an overflow (500).
AlarmPk = Annotated[int, Path(ge=1, le=2**31 - 1, description="报警记录ID")]
AttachmentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="附件ID")]


@contextmanager
def _domain_errors() -> Iterator[None]:
    """Translate the alarm register's errors into HTTP answers, in one place."""
    try:
        yield
    except alarms.AlarmNotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err
    except (InvalidTransition, alarms.NotCurrent, alarms.DisposalConflict) as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    except alarms.AttachmentRefused as err:
        code = status.HTTP_413_CONTENT_TOO_LARGE if err.too_large else status.HTTP_422_UNPROCESSABLE_CONTENT
        raise HTTPException(code, detail=str(err)) from err
    except (InvalidShelve, ValueError) as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err)) from err


def _load(alarm_pk: AlarmPk, session: SessionDep) -> Alarm:
    """404-loading dependency for ``{alarm_pk}``."""
    with _domain_errors():
        return alarms.get(session=session, alarm_pk=alarm_pk)


def _load_for_update(alarm_pk: AlarmPk, session: SessionDep) -> Alarm:
    """404-loading dependency that locks the row: two operators acting at once take turns."""
    with _domain_errors():
        return alarms.get(session=session, alarm_pk=alarm_pk, for_update=True)


AlarmDep = Annotated[Alarm, Depends(_load)]
LockedAlarmDep = Annotated[Alarm, Depends(_load_for_update)]


@router.get("/api/v1/alarm-records", response_model=AlarmPage)
async def list_alarm_records(
    session: SessionDep,
    _user: Reader,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: Annotated[str, Query(pattern=SORT_PATTERN, description="field, '-' prefix for descending")] = "-raised_at",
    scope: Annotated[Literal["active", "history", "all"], Query(description="active: not yet normal")] = "all",
    state: Annotated[list[AlarmStatus] | None, Query()] = None,
    priority: Annotated[list[AlarmPriority] | None, Query()] = None,
    area: Annotated[list[str] | None, Query()] = None,
    tag: Annotated[list[str] | None, Query()] = None,
    start: Annotated[AwareDatetime | None, Query(description="raised at or after (ISO 8601 with zone)")] = None,
    end: Annotated[AwareDatetime | None, Query(description="raised before (ISO 8601 with zone)")] = None,
) -> AlarmPage:
    """Alarm occurrences, filtered, sorted and paged (active and historical)."""
    query = alarms.AlarmQuery(
        scope=scope,
        states=[s.value for s in state or ()],
        priorities=[p.value for p in priority or ()],
        areas=area or (),
        tags=tag or (),
        start=start,
        end=end,
        sort=sort,
        page=page,
        size=size,
    )

    def work() -> AlarmPage:  # queries, page and commit in one worker thread (api.auth.run_and_commit)
        with _domain_errors():
            # expires due shelves first: nothing is listed as shelved past its time
            rows, total = alarms.list_current_rows(session=session, query=query)
        return AlarmPage(items=[AlarmRead.of_row(row) for row in rows], total=total, page=page, size=size)

    return await run_and_commit(session, work)


@router.get("/api/v1/alarm-records/{alarm_pk}", response_model=AlarmDetail)
def get_alarm_record(alarm_pk: AlarmPk, session: SessionDep, _user: Reader) -> AlarmDetail:
    """One occurrence with its journal (who did what, when), comments, disposal and attachments."""
    with _domain_errors():
        alarms.expire_shelving(session=session)
        return AlarmDetail.of(alarms.get_detail(session=session, alarm_pk=alarm_pk))


@router.post("/api/v1/alarm-records/{alarm_pk}/ack", response_model=AlarmRead)
async def acknowledge_alarm(
    user: Acknowledger, alarm_pk: AlarmPk, session: SessionDep, body: AckRequest | None = None
) -> AlarmRead:
    """Acknowledge (确认) an unacknowledged alarm."""

    def work() -> AlarmRead:  # lock, move, answer and commit in one worker thread (api.auth.run_and_commit)
        with _domain_errors():
            alarm = alarms.get(session=session, alarm_pk=alarm_pk, for_update=True)
            alarms.acknowledge(session=session, alarm=alarm, actor=user.username, comment=body.comment if body else "")
        return AlarmRead.of(alarm)

    return await run_and_commit(session, work)


@router.post("/api/v1/alarm-records/{alarm_pk}/shelve", response_model=AlarmRead)
def shelve_alarm(user: Acknowledger, alarm: LockedAlarmDep, session: SessionDep, body: ShelveRequest) -> AlarmRead:
    """Shelve (搁置) an alarm until a time or for some minutes (at most 24 h), with a reason."""
    with _domain_errors():
        alarms.shelve(session=session, alarm=alarm, actor=user.username, until=body.end(utcnow()), reason=body.reason)
    return AlarmRead.of(alarm)


@router.post("/api/v1/alarm-records/{alarm_pk}/unshelve", response_model=AlarmRead)
def unshelve_alarm(
    user: Acknowledger, alarm: LockedAlarmDep, session: SessionDep, body: UnshelveRequest | None = None
) -> AlarmRead:
    """Take an alarm off the shelf; it shows the state the process left it in."""
    with _domain_errors():
        alarms.unshelve(session=session, alarm=alarm, actor=user.username, comment=body.comment if body else "")
    return AlarmRead.of(alarm)


@router.post("/api/v1/alarm-records/{alarm_pk}/comments", response_model=CommentRead, status_code=201)
def add_comment(user: Editor, alarm: AlarmDep, session: SessionDep, body: CommentCreate) -> CommentRead:
    """Add a remark to an occurrence."""
    row = alarms.comment(session=session, alarm=alarm, author=user.username, text=body.text)
    return CommentRead.model_validate(row)


@router.post("/api/v1/alarm-records/{alarm_pk}/disposal", response_model=DisposalRead)
def upsert_disposal(user: Editor, alarm: LockedAlarmDep, session: SessionDep, body: DisposalUpsert) -> DisposalRead:
    """Open the disposal (处置) of an occurrence, or update its cause analysis and measures."""
    with _domain_errors():
        disposal = alarms.open_disposal(
            session=session,
            alarm=alarm,
            actor=user.username,
            cause=body.cause,
            measures=body.measures,
            handler=body.handler,
        )
    return DisposalRead.of(disposal)


@router.post("/api/v1/alarm-records/{alarm_pk}/disposal/close", response_model=DisposalRead)
def close_disposal(
    user: Approver, alarm: LockedAlarmDep, session: SessionDep, body: DisposalClose | None = None
) -> DisposalRead:
    """Close the loop (闭环): needs a cause and measures, and a cleared alarm condition."""
    with _domain_errors():
        disposal = alarms.close_disposal(
            session=session, alarm=alarm, actor=user.username, note=body.note if body else ""
        )
    return DisposalRead.of(disposal)


@router.post("/api/v1/alarm-records/{alarm_pk}/attachments", response_model=AttachmentRead, status_code=201)
def upload_attachment(
    user: Editor,  # permission before the record is loaded: a refused user learns nothing
    request: Request,
    alarm: AlarmDep,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="photo, PDF, office document, text or video; at most 20 MiB")],
) -> AttachmentRead:
    """Attach a file (现场照片, 处置报告) to an occurrence (multipart/form-data, field ``file``)."""
    content = file.file.read(alarms.MAX_ATTACHMENT_BYTES + 1)
    storage = storage_for_data_dir(request.app.state.settings.data_dir)
    with _domain_errors():
        row = alarms.add_attachment(
            session=session,
            alarm=alarm,
            storage=storage,
            filename=file.filename or "",
            content=content,
            content_type=file.content_type,
            actor=user.username,
        )
    return AttachmentRead.model_validate(row)


@router.get("/api/v1/alarm-records/{alarm_pk}/attachments/{attachment_id}")
def download_attachment(
    _user: Reader, request: Request, alarm: AlarmDep, attachment_id: AttachmentId, session: SessionDep
) -> Response:
    """The bytes of an attachment, checked against their hash."""
    with _domain_errors():
        row = alarms.get_attachment(session=session, alarm=alarm, attachment_id=attachment_id)
    storage = storage_for_data_dir(request.app.state.settings.data_dir)
    try:
        data = storage.get(row.stored_path)
    except KeyError as err:
        log.error("attachment %d of alarm record %d is missing from storage", row.id, alarm.id)
        raise HTTPException(status.HTTP_410_GONE, detail="附件文件已丢失 / the attachment's file is missing") from err
    disposition = f"attachment; filename*=UTF-8''{quote(row.filename)}"
    return Response(content=data, media_type=row.content_type, headers={"Content-Disposition": disposition})


@router.get("/api/v1/alarm-kpis", response_model=AlarmKpis)
def alarm_kpis(
    session: SessionDep,
    _user: Reader,
    start: Annotated[AwareDatetime | None, Query(description="default: 24 h before end")] = None,
    end: Annotated[AwareDatetime | None, Query(description="default: now")] = None,
) -> AlarmKpis:
    """ISA-18.2 alarm KPIs: alarms per position per hour, peak 10 min, top 10, standing, chattering, floods."""
    now = utcnow()
    end = end or now
    start = start or end - timedelta(hours=24)
    with _domain_errors():
        return alarms.kpis(session=session, start=start, end=end, now=now)
