"""Intelligent-inspection API (智能巡检): points, items, routes, plans, and the round on the phone.

Framework routes serve points (with their QR/NFC code), check items, routes and plans under
``/api/v1/inspection-...``. Added for the round (巡检任务), all under ``/api/v1/inspections``:

* ``GET  /rounds`` (``?mine=true`` for the phone), ``GET /rounds/{task_id}``;
* ``POST /rounds/generate`` — push the due rounds (and close the ended ones);
* ``POST /rounds/{task_id}/check-in`` — the code read at the point (QR or NFC);
* ``POST /rounds/{task_id}/readings`` — one item's value; out of range raises a hidden hazard;
* ``POST /rounds/{task_id}/finish`` — points not reached are recorded as missed;
* ``GET  /coverage`` — points due, reached, missed, late, readings out of range;
* ``GET  /mobile`` — the phone page (HTML) listing the inspector's rounds.

Only the round's inspector acts on it (403 otherwise).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import HTMLResponse

from api.auth import SessionDep, SignedInUser, require
from api.register_router import register_router, translate_errors
from models.investigation_schedule import LOCAL_TZ
from registers.db import utcnow
from registers.inspections import service as insp
from registers.inspections.schemas import (
    CheckInIn,
    CheckInRead,
    CoverageRead,
    GenerateRoundsIn,
    ReadingIn,
    ReadingRead,
    RoundPage,
    RoundRead,
)
from registers.inspections.workflow import InvalidTransition, RoundState

RESOURCE = "inspection"
PREFIX = "/api/v1/inspections"
TAGS: list[str | Enum] = ["inspections 智能巡检"]
Reader = Annotated[SignedInUser, Depends(require("read", RESOURCE))]
Editor = Annotated[SignedInUser, Depends(require("update", RESOURCE))]
Doer = Annotated[SignedInUser, Depends(require("execute", RESOURCE))]
TaskId = Annotated[int, Path(ge=1, le=2**31 - 1, description="巡检任务ID")]


@contextmanager
def _errors() -> Iterator[None]:
    """The framework's mapping, plus 403 for someone else's round and 409 for a repeat or a closed round."""
    with translate_errors():
        try:
            yield
        except insp.NotAssignee as err:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(err)) from err
        except (InvalidTransition, insp.AlreadyRecorded) as err:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err


extra = APIRouter(prefix=PREFIX, tags=TAGS)


@extra.get("/rounds", response_model=RoundPage, summary="巡检任务列表")
def list_rounds(
    session: SessionDep,
    user: Reader,
    mine: Annotated[bool, Query(description="只看我的任务")] = False,
    state: Annotated[RoundState | None, Query(description="状态")] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RoundPage:
    """Rounds, newest first."""
    rows, total = insp.list_rounds(
        session=session, assignee=user.username if mine else None, state=state, offset=offset, limit=limit
    )
    return RoundPage(items=[RoundRead.model_validate(r) for r in rows], total=total)


@extra.post("/rounds/generate", response_model=dict[str, int], summary="派发巡检任务")
def generate(session: SessionDep, user: Editor, body: GenerateRoundsIn) -> dict[str, int]:
    """Create the rounds due up to ``until`` (default now, never later) and close the ended ones."""
    now = utcnow()
    created = insp.generate_rounds(session=session, until=min(body.until or now, now))
    return {"created": created, "closed": insp.expire_rounds(session=session, now=now)}


@extra.get("/rounds/{task_id}", response_model=RoundRead, summary="巡检任务详情")
def get_round(session: SessionDep, user: Reader, task_id: TaskId) -> RoundRead:
    """One round with its steps, missed and late points."""
    with _errors():
        return RoundRead.model_validate(insp.get_round(session=session, task_id=task_id))


@extra.post("/rounds/{task_id}/check-in", response_model=CheckInRead, status_code=201, summary="到位打卡（扫码/NFC）")
def check_in(session: SessionDep, user: Doer, task_id: TaskId, body: CheckInIn) -> CheckInRead:
    """Prove presence at a point of the route by its code."""
    with _errors():
        row = insp.check_in(session=session, task_id=task_id, code=body.code, method=body.method, actor=user.username)
    return CheckInRead.model_validate(row)


@extra.post("/rounds/{task_id}/readings", response_model=ReadingRead, status_code=201, summary="录入巡检读数")
def reading(session: SessionDep, user: Doer, task_id: TaskId, body: ReadingIn) -> ReadingRead:
    """Record a value at a point checked in; out of range raises one hidden hazard."""
    with _errors():
        row = insp.record_reading(
            session=session,
            task_id=task_id,
            item_id=body.item_id,
            value=body.value,
            note=body.note,
            actor=user.username,
        )
    return ReadingRead.model_validate(row)


@extra.post("/rounds/{task_id}/finish", response_model=RoundRead, summary="完成巡检")
def finish(session: SessionDep, user: Doer, task_id: TaskId) -> RoundRead:
    """Close the round; points not checked in are recorded as missed."""
    with _errors():
        return RoundRead.model_validate(insp.finish(session=session, task_id=task_id, actor=user.username))


@extra.get("/coverage", response_model=CoverageRead, summary="巡检覆盖率统计")
def coverage(
    session: SessionDep,
    user: Reader,
    days: Annotated[int, Query(ge=1, le=366, description="统计天数")] = 7,
) -> CoverageRead:
    """Coverage of the rounds that ended in the last ``days`` days."""
    now = utcnow()
    return insp.coverage(session=session, since=now - timedelta(days=days), until=now)


def _local(ts: datetime) -> str:
    return ts.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M")


@extra.get("/mobile", response_class=HTMLResponse, summary="巡检移动端页面")
def mobile(session: SessionDep, user: Reader) -> HTMLResponse:
    """The inspector's rounds on a phone-sized page; scanning posts the code to ``check-in``."""
    rows, _ = insp.list_rounds(session=session, assignee=user.username, limit=20)
    items = "".join(
        f"<li data-id='{r.id}'><b>{_local(r.slot_start)}–{_local(r.slot_end)}</b> {html.escape(r.state)}"
        f"{' · 漏检 ' + str(len(r.missed_point_ids)) if r.missed_point_ids else ''}</li>"
        for r in rows
    )
    page = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'><title>我的巡检任务</title>"
        "<style>body{font-family:sans-serif;margin:12px}li{padding:10px 0;border-bottom:1px solid #ddd}</style>"
        f"</head><body><h1>我的巡检任务</h1><p>{html.escape(user.username)}</p>"
        f"<ul>{items or '<li>暂无巡检任务</li>'}</ul>"
        "<p>到点位后扫描二维码或贴近NFC标签完成打卡，再录入检查项读数；超出正常范围的读数会自动登记为隐患。</p>"
        "</body></html>"
    )
    return HTMLResponse(page)


routers: tuple[APIRouter, ...] = (
    extra,
    *(
        register_router(register, prefix=f"/api/v1/{path}", tags=TAGS, resource=RESOURCE)
        for register, path in (
            (insp.points, "inspection-points"),
            (insp.items, "inspection-items"),
            (insp.routes, "inspection-routes"),
            (insp.plans, "inspection-plans"),
        )
    ),
)
router = APIRouter()
for _leaf in routers:
    router.include_router(_leaf)
