"""Hidden-hazard register (隐患台账) and its closed loop: report, submit, accept or reject, escalate.

Every step is a workflow move (:mod:`registers.hidden_hazards.workflow`) that bumps the
version, appends ``{action, by, at}`` to ``steps`` and writes a history entry, so the file
shows who registered, rectified and accepted the hazard and when. Two rules make the loop
hard to skip:

* only the responsible person (整改责任人) submits the rectification;
* the acceptor (验收人) is someone other than the one who rectified it.

Other domains report hazards through :func:`report` (inspections, check tasks, alarms, permits)
and the risk model counts :func:`open_hazards`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.investigation_schedule import LOCAL_TZ
from registers.db import utcnow
from registers.dual_prevention.models import ControlMeasure
from registers.framework.service import InvalidInput, Register, RegisterError, jsonable
from registers.hidden_hazards.models import HiddenHazard
from registers.hidden_hazards.schemas import (
    HAZARD_LABELS,
    HazardCreate,
    HazardLevel,
    HazardRead,
    HazardUpdate,
    Origin,
)
from registers.hidden_hazards.workflow import HazardAction, HazardState, transition

__all__ = [
    "NotResponsible",
    "OpenHazard",
    "accept",
    "hazards",
    "is_overdue",
    "open_hazards",
    "reject",
    "report",
    "submit",
    "supervision_list",
]


class NotResponsible(RegisterError):
    """The actor may not take this step (not the responsible person, or accepting own work). API: 403."""


def _check(values: Any) -> None:
    if values.get("state") == HazardState.ACCEPTED:  # an update of a closed (销号) hazard
        field, message = "state", "已验收销号的隐患不能再修改"
        raise InvalidInput(field, message)
    if values.get("origin") == Origin.CHECK_TASK and values.get("measure_id") is None:
        field, message = "measure_id", "排查任务发现的隐患须关联管控措施"
        raise InvalidInput(field, message)


def _step(record: HiddenHazard, action: str, actor: str | None, at: datetime) -> None:
    record.steps = [*(record.steps or []), {"action": action, "by": actor or "", "at": at.isoformat()}]


class _HazardRegister(Register[HiddenHazard, HazardCreate, HazardUpdate, HazardRead]):
    """The framework register, plus the registrant and the first step on create."""

    def create(self, *, session: Session, data: HazardCreate, actor: str | None) -> HiddenHazard:
        """Register (登记): state 整改中, registrant and time recorded."""
        record = super().create(session=session, data=data, actor=actor)
        now = utcnow()
        record.state = HazardState.RECTIFYING
        record.registrant, record.registered_at = actor, now
        _step(record, "登记", actor, now)
        session.flush()
        return record


hazards = _HazardRegister(
    name="hidden_hazard",
    title="隐患",
    model=HiddenHazard,
    create_schema=HazardCreate,
    update_schema=HazardUpdate,
    read_schema=HazardRead,
    labels=HAZARD_LABELS,
    searchable=("name", "description", "liable_person", "area"),
    sortable=("id", "deadline", "level", "state", "registered_at", "updated_at"),
    filterable=("level", "state", "origin", "area", "liable_person", "deadline", "inspection_task_id", "measure_id"),
    describe=lambda r: r.name,
    default_sort="deadline",
    references={"measure_id": ControlMeasure},
    check=_check,
)


def report(*, session: Session, data: HazardCreate, actor: str | None) -> HiddenHazard:
    """Register a hazard found by a task, an inspection, an alarm disposal, a permit or by hand."""
    return hazards.create(session=session, data=data, actor=actor)


def _move(
    session: Session, record: HiddenHazard, action: HazardAction, actor: str | None, extra: dict[str, Any]
) -> HiddenHazard:
    before = HazardState(record.state)
    after = transition(before, action)
    now = utcnow()
    changes: dict[str, Any] = {"state": [before.value, after.value]}
    for name, value in extra.items():
        changes[name] = [jsonable(getattr(record, name)), jsonable(value)]
        setattr(record, name, value)
    record.state = after
    _step(record, action.value, actor, now)
    record.version += 1
    record.updated_by, record.updated_at = actor, now
    session.flush()
    hazards.record_history(session, record, action.value, actor, changes)
    return record


def submit(*, session: Session, hazard_id: int, note: str, actor: str) -> HiddenHazard:
    """整改完成, submitted for acceptance; only the responsible person may.

    Raises:
        NotResponsible: ``actor`` is not the responsible person.
        InvalidTransition: the hazard is not being rectified.
    """
    record = hazards.get_for_change(session=session, record_id=hazard_id)
    transition(HazardState(record.state), HazardAction.SUBMIT)  # state first: a closed one says so
    if actor != record.liable_person:
        msg = f"只有整改责任人（{record.liable_person}）可以提交整改完成"
        raise NotResponsible(msg)
    return _move(
        session,
        record,
        HazardAction.SUBMIT,
        actor,
        {"rectified_by": actor, "rectified_at": utcnow(), "rectify_note": note},
    )


def accept(*, session: Session, hazard_id: int, comment: str, actor: str) -> HiddenHazard:
    """验收通过 = 销号: acceptor, time and comment recorded; the rectifier cannot accept their own work.

    Raises:
        NotResponsible: ``actor`` rectified it.
        InvalidTransition: the hazard is not waiting for acceptance.
    """
    record = hazards.get_for_change(session=session, record_id=hazard_id)
    transition(HazardState(record.state), HazardAction.ACCEPT)
    if actor == record.rectified_by:
        msg = "整改人不能验收自己的整改 / the rectifier cannot accept their own work"
        raise NotResponsible(msg)
    extra = {"accepted_by": actor, "accepted_at": utcnow(), "accept_comment": comment}
    return _move(session, record, HazardAction.ACCEPT, actor, extra)


def reject(*, session: Session, hazard_id: int, comment: str, actor: str) -> HiddenHazard:
    """验收不通过: back to 整改中, with the acceptor's comment."""
    record = hazards.get_for_change(session=session, record_id=hazard_id)
    transition(HazardState(record.state), HazardAction.REJECT)
    if actor == record.rectified_by:
        msg = "整改人不能验收自己的整改 / the rectifier cannot accept their own work"
        raise NotResponsible(msg)
    return _move(session, record, HazardAction.REJECT, actor, {"accept_comment": comment})


def is_overdue(record: HiddenHazard, now: datetime) -> bool:
    """Open and past its deadline (the deadline day counts, on the plant calendar)."""
    return record.state != HazardState.ACCEPTED and now.astimezone(LOCAL_TZ).date() > record.deadline


@dataclass(frozen=True, slots=True)
class OpenHazard:
    """What the risk model counts: an open hidden hazard with its grade, area and deadline."""

    id: int
    name: str
    level: str
    area: str | None
    deadline: date
    state: str
    overdue: bool


def _open_rows(session: Session, area: str | None) -> Sequence[HiddenHazard]:
    stmt = select(HiddenHazard).where(HiddenHazard.deleted_at.is_(None), HiddenHazard.state != HazardState.ACCEPTED)
    if area is not None:
        stmt = stmt.where(HiddenHazard.area == area)
    return session.scalars(stmt.order_by(HiddenHazard.deadline, HiddenHazard.id)).all()


def open_hazards(*, session: Session, area: str | None = None, now: datetime | None = None) -> list[OpenHazard]:
    """Open (not yet accepted) hidden hazards, overdue flagged, optionally of one area."""
    now = now or utcnow()
    return [
        OpenHazard(r.id, r.name, r.level, r.area, r.deadline, r.state, is_overdue(r, now))
        for r in _open_rows(session, area)
    ]


def supervision_list(*, session: Session) -> list[HiddenHazard]:
    """Open major hazards (重大隐患), listed for supervision (挂牌督办) until accepted."""
    return [r for r in _open_rows(session, None) if r.level == HazardLevel.MAJOR]
