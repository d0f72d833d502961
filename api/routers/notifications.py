"""Notification rules, duty roster (值班表) and the delivery log (发送记录).

Thin routes: parse, authorise, one service call. Reading needs ``read alarm``; changing rules
and the roster needs ``create alarm`` (safety managers and admins, not operators), until the
permission table gets a ``notification`` resource of its own. Mount behind the authenticated
aggregating router like the other domains.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from api.auth import SessionDep, SignedInUser, require
from models.channels import ChannelKind
from registers.notifications import service as notifications
from registers.notifications.models import NotifyRuleRow, RosterEntryRow
from registers.notifications.schemas import (
    DeliveryPage,
    DeliveryRead,
    DeliveryStatus,
    NotifyRuleCreate,
    NotifyRulePage,
    NotifyRuleRead,
    NotifyRuleUpdate,
    RosterEntryCreate,
    RosterEntryPage,
    RosterEntryRead,
    RosterEntryUpdate,
)

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications 报警通知"])

Reader = Annotated[SignedInUser, Depends(require("read", "alarm"))]
Editor = Annotated[SignedInUser, Depends(require("create", "alarm"))]

# Ids and offsets the database can hold (32-bit on PostgreSQL): larger ones are a 422, not a 500.
_INT32_MAX = 2**31 - 1
RuleId = Annotated[int, Path(ge=1, le=_INT32_MAX, description="规则ID")]
EntryId = Annotated[int, Path(ge=1, le=_INT32_MAX, description="值班记录ID")]
Offset = Annotated[int, Query(ge=0, le=_INT32_MAX)]


def _rule(rule_id: RuleId, session: SessionDep) -> NotifyRuleRow:
    try:
        return notifications.get_rule(session=session, rule_id=rule_id)
    except notifications.NotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err


def _entry(entry_id: EntryId, session: SessionDep) -> RosterEntryRow:
    try:
        return notifications.get_roster_entry(session=session, entry_id=entry_id)
    except notifications.NotFound as err:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(err)) from err


RuleDep = Annotated[NotifyRuleRow, Depends(_rule)]
EntryDep = Annotated[RosterEntryRow, Depends(_entry)]


# --- rules -----------------------------------------------------------------------------------


@router.get("/rules")
def list_rules(session: SessionDep, _user: Reader) -> NotifyRulePage:
    """All routing rules (通知规则)."""
    rows = notifications.list_rules(session=session)
    return NotifyRulePage(items=[NotifyRuleRead.model_validate(r) for r in rows], total=len(rows))


@router.post("/rules", status_code=status.HTTP_201_CREATED)
def create_rule(data: NotifyRuleCreate, session: SessionDep, user: Editor) -> NotifyRuleRead:
    """Add a routing rule; 409 when the name is taken."""
    try:
        row = notifications.create_rule(session=session, data=data, actor=user.username)
    except notifications.NameTaken as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    return NotifyRuleRead.model_validate(row)


@router.patch("/rules/{rule_id}")
def update_rule(user: Editor, data: NotifyRuleUpdate, rule: RuleDep, session: SessionDep) -> NotifyRuleRead:
    """Change a routing rule."""
    try:
        row = notifications.update_rule(session=session, rule=rule, data=data, actor=user.username)
    except notifications.NameTaken as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    return NotifyRuleRead.model_validate(row)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(_user: Editor, rule: RuleDep, session: SessionDep) -> Response:
    """Remove a routing rule."""
    notifications.delete_rule(session=session, rule=rule)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- roster ----------------------------------------------------------------------------------


@router.get("/roster")
def list_roster(
    session: SessionDep,
    _user: Reader,
    role: Annotated[str | None, Query(max_length=64)] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
    person: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=notifications.MAX_PAGE)] = 100,
    offset: Offset = 0,
) -> RosterEntryPage:
    """The duty roster (值班表), filtered and paged."""
    rows, total = notifications.list_roster(
        session=session, role=role, area=area, person=person, limit=limit, offset=offset
    )
    return RosterEntryPage(items=[RosterEntryRead.model_validate(r) for r in rows], total=total)


@router.post("/roster", status_code=status.HTTP_201_CREATED)
def create_roster_entry(data: RosterEntryCreate, session: SessionDep, user: Editor) -> RosterEntryRead:
    """Add a line to the duty roster."""
    row = notifications.create_roster_entry(session=session, data=data, actor=user.username)
    return RosterEntryRead.model_validate(row)


@router.patch("/roster/{entry_id}")
def update_roster_entry(user: Editor, data: RosterEntryUpdate, entry: EntryDep, session: SessionDep) -> RosterEntryRead:
    """Change a roster line."""
    row = notifications.update_roster_entry(session=session, entry=entry, data=data, actor=user.username)
    return RosterEntryRead.model_validate(row)


@router.delete("/roster/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_roster_entry(_user: Editor, entry: EntryDep, session: SessionDep) -> Response:
    """Remove a roster line."""
    notifications.delete_roster_entry(session=session, entry=entry)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- delivery log ----------------------------------------------------------------------------


@router.get("/deliveries")
def list_deliveries(
    session: SessionDep,
    _user: Reader,
    alarm_id: Annotated[str | None, Query(max_length=128)] = None,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    channel: ChannelKind | None = None,
    recipient: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=notifications.MAX_PAGE)] = 100,
    offset: Offset = 0,
) -> DeliveryPage:
    """The delivery log, newest first: every attempt with its status, error and response."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            detail = f"{name} 需要带时区的时间 / {name} needs a time with an offset, e.g. 2026-11-28T08:00:00+08:00"
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)
    rows, total = notifications.list_deliveries(
        session=session,
        alarm_id=alarm_id,
        status=delivery_status,
        channel=channel.value if channel else None,
        recipient=recipient,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )
    return DeliveryPage(items=[DeliveryRead.model_validate(r) for r in rows], total=total)
