"""Inspection registers and the round: generate, check in by code, record readings, finish, expire, coverage.

Registers (framework CRUD): points, check items, routes, plans. A round (巡检任务) belongs to
one inspector; only they check in, record and finish. Presence at a point is proven by the
point's own code (QR or NFC; positioning joins later), readings are accepted only at a point
checked in during this round, and a reading outside its item's range raises exactly one
hidden hazard linked to the point, the round and the reading. Points not reached by the end
of the round are recorded as missed, points reached after their planned time as late.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.investigation_schedule import CycleUnit, Schedule, slots
from registers.db import utcnow
from registers.dual_prevention.models import RiskUnit
from registers.framework.service import InvalidInput, RecordNotFound, Register, RegisterError
from registers.hidden_hazards import service as hidden_hazards
from registers.hidden_hazards.schemas import DangerSrc, HazardCreate, HazardLevel, HazardType, Origin
from registers.inspections.models import (
    CheckIn,
    CheckItem,
    InspectionPlan,
    InspectionPoint,
    InspectionRoute,
    InspectionTask,
    Reading,
)
from registers.inspections.schemas import (
    ITEM_LABELS,
    PLAN_LABELS,
    POINT_LABELS,
    ROUTE_LABELS,
    CoverageRead,
    ItemCreate,
    ItemRead,
    ItemUpdate,
    PlanCreate,
    PlanRead,
    PlanUpdate,
    PointCreate,
    PointRead,
    PointUpdate,
    RouteCreate,
    RouteRead,
    RouteUpdate,
)
from registers.inspections.workflow import RoundAction, RoundState, transition

__all__ = [
    "AlreadyRecorded",
    "NotAssignee",
    "OverdueRound",
    "check_in",
    "coverage",
    "expire_rounds",
    "finish",
    "generate_rounds",
    "get_round",
    "items",
    "list_rounds",
    "overdue_tasks",
    "plans",
    "points",
    "record_reading",
    "routes",
]

# Days given to rectify a hazard an out-of-range reading raised, by grade (the safety manager
# may shorten or extend it on the hazard afterwards).
RECTIFY_DAYS: Final[Mapping[str, int]] = {HazardLevel.GENERAL: 7, HazardLevel.MAJOR: 30}


class NotAssignee(RegisterError):
    """Only the inspector the round is assigned to may act on it. API: 403."""


class AlreadyRecorded(RegisterError):
    """The point is checked in, or the item read, already in this round. API: 409."""


def _check_item(values: Mapping[str, Any]) -> None:
    low, high = values.get("low"), values.get("high")
    if low is not None and high is not None and low > high:
        field, message = "low", "下限不能大于上限"
        raise InvalidInput(field, message)


class _RouteRegister(Register[InspectionRoute, RouteCreate, RouteUpdate, RouteRead]):
    """Routes name points by id in a JSON list: each must be a live point, none twice."""

    def validate_rows(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, InvalidInput]]:
        """The framework's checks plus the point list."""
        problems = super().validate_rows(session, rows)
        wanted = {p for row in rows for p in (row.get("point_ids") or []) if isinstance(p, int)}
        live = set(
            session.scalars(
                select(InspectionPoint.id).where(InspectionPoint.id.in_(wanted), InspectionPoint.deleted_at.is_(None))
            )
        )
        for index, row in enumerate(rows):
            ids = list(row.get("point_ids") or [])
            missing = [p for p in ids if p not in live]
            if missing:
                problems.append((index, InvalidInput("point_ids", f"点位 {missing} 不存在或已删除")))
            elif len(set(ids)) != len(ids):
                problems.append((index, InvalidInput("point_ids", "路线中点位不能重复")))
        return problems


points: Register[InspectionPoint, PointCreate, PointUpdate, PointRead] = Register(
    name="inspection_point",
    title="巡检点位",
    model=InspectionPoint,
    create_schema=PointCreate,
    update_schema=PointUpdate,
    read_schema=PointRead,
    labels=POINT_LABELS,
    searchable=("code", "name", "area", "equipment_code"),
    sortable=("id", "code", "name", "area", "updated_at"),
    filterable=("code", "area", "unit_id", "tag_code"),
    unique=("code", "tag_code"),
    describe=lambda r: f"{r.code} {r.name}",
    default_sort="code",
    references={"unit_id": RiskUnit},
)
items: Register[CheckItem, ItemCreate, ItemUpdate, ItemRead] = Register(
    name="inspection_item",
    title="巡检检查项",
    model=CheckItem,
    create_schema=ItemCreate,
    update_schema=ItemUpdate,
    read_schema=ItemRead,
    labels=ITEM_LABELS,
    searchable=("name",),
    sortable=("id", "point_id", "name", "updated_at"),
    filterable=("point_id", "hazard_level"),
    describe=lambda r: r.name,
    default_sort="id",
    references={"point_id": InspectionPoint},
    check=_check_item,
)
routes = _RouteRegister(
    name="inspection_route",
    title="巡检路线",
    model=InspectionRoute,
    create_schema=RouteCreate,
    update_schema=RouteUpdate,
    read_schema=RouteRead,
    labels=ROUTE_LABELS,
    searchable=("name",),
    sortable=("id", "name", "updated_at"),
    filterable=("name",),
    describe=lambda r: r.name,
    default_sort="id",
)
plans: Register[InspectionPlan, PlanCreate, PlanUpdate, PlanRead] = Register(
    name="inspection_plan",
    title="巡检计划",
    model=InspectionPlan,
    create_schema=PlanCreate,
    update_schema=PlanUpdate,
    read_schema=PlanRead,
    labels=PLAN_LABELS,
    searchable=("name", "assignee", "role", "shift"),
    sortable=("id", "name", "assignee", "updated_at"),
    filterable=("route_id", "assignee", "role", "shift", "active"),
    describe=lambda r: r.name,
    default_sort="id",
    references={"route_id": InspectionRoute},
)


def _step(task: InspectionTask, action: str, actor: str | None, at: datetime, **extra: Any) -> None:
    task.steps = [*(task.steps or []), {"action": action, "by": actor or "system", "at": at.isoformat(), **extra}]


def generate_rounds(*, session: Session, until: datetime) -> int:
    """Create the rounds of every active plan whose slot starts before ``until`` (idempotent)."""
    created = 0
    for plan in session.scalars(
        select(InspectionPlan).where(InspectionPlan.deleted_at.is_(None), InspectionPlan.active.is_(True))
    ):
        latest = session.scalar(select(func.max(InspectionTask.slot_start)).where(InspectionTask.plan_id == plan.id))
        since = latest if latest is not None else plan.anchor
        existing = set(
            session.scalars(
                select(InspectionTask.slot_start).where(
                    InspectionTask.plan_id == plan.id, InspectionTask.slot_start >= since
                )
            )
        )
        schedule = Schedule(
            cycle=plan.cycle,
            unit=CycleUnit(plan.cycle_unit),
            anchor=plan.anchor,
            work_start=plan.work_start,
            work_end=plan.work_end,
        )
        for slot in slots(schedule, since, until):
            if slot.start in existing:
                continue
            task = InspectionTask(
                plan_id=plan.id,
                route_id=plan.route_id,
                assignee=plan.assignee,
                slot_start=slot.start,
                slot_end=slot.end,
                state=RoundState.PENDING,
                missed_point_ids=[],
                late_point_ids=[],
                steps=[],
            )
            _step(task, "派发", None, until)
            session.add(task)
            created += 1
    session.flush()
    return created


def get_round(*, session: Session, task_id: int) -> InspectionTask:
    """The round with this id; raises ``RecordNotFound``."""
    task = session.get(InspectionTask, task_id)
    if task is None:
        register = "inspection_task"
        raise RecordNotFound(register, task_id)
    return task


def _own_round(session: Session, task_id: int, actor: str, action: RoundAction) -> tuple[InspectionTask, RoundState]:
    task = get_round(session=session, task_id=task_id)
    if actor != task.assignee:
        msg = f"只有被指派的巡检人（{task.assignee}）可以执行该巡检任务"
        raise NotAssignee(msg)
    after = transition(RoundState(task.state), action)
    return task, after


def _route_points(session: Session, task: InspectionTask) -> list[int]:
    route = session.get(InspectionRoute, task.route_id)
    return list(route.point_ids) if route is not None else []


def check_in(
    *, session: Session, task_id: int, code: str, actor: str, method: str = "QR", now: datetime | None = None
) -> CheckIn:
    """到位打卡 at the point whose QR/NFC code was read; late when after its planned time.

    Raises:
        NotAssignee: ``actor`` is not the round's inspector.
        InvalidInput: the code names no point of this round's route.
        AlreadyRecorded: this point is checked in already in this round.
        InvalidTransition: the round is finished or missed.
    """
    now = now or utcnow()
    task, after = _own_round(session, task_id, actor, RoundAction.CHECK_IN)
    route_points = _route_points(session, task)
    point = session.scalar(
        select(InspectionPoint).where(InspectionPoint.tag_code == code, InspectionPoint.deleted_at.is_(None))
    )
    if point is None or point.id not in route_points:
        field, message = "code", "该二维码/NFC标签不属于本次巡检路线的点位"
        raise InvalidInput(field, message)
    route = session.get(InspectionRoute, task.route_id)
    per_point = timedelta(minutes=route.minutes_per_point if route else 10)
    planned = task.slot_start + per_point * (route_points.index(point.id) + 1)
    row = CheckIn(task_id=task.id, point_id=point.id, method=method, at=now, by=actor, late=now > planned)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError as err:
        msg = f"点位「{point.name}」本轮已打卡"
        raise AlreadyRecorded(msg) from err
    if task.started_at is None:
        task.started_at = now
    task.state = after
    if row.late:
        task.late_point_ids = [*task.late_point_ids, point.id]
    _step(task, RoundAction.CHECK_IN.value, actor, now, point=point.code)
    session.flush()
    return row


def _liable_for(session: Session, point: InspectionPoint, fallback: str) -> str:
    if point.unit_id is not None:
        unit = session.get(RiskUnit, point.unit_id)
        if unit is not None and unit.liable_person:
            return unit.liable_person
    return fallback


def record_reading(
    *,
    session: Session,
    task_id: int,
    item_id: int,
    value: float,
    actor: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Reading:
    """Record one item's value at a point checked in this round; out of range raises one hidden hazard.

    Raises:
        NotAssignee: ``actor`` is not the round's inspector.
        InvalidInput: the item is unknown or its point is not checked in this round.
        AlreadyRecorded: the item has a reading in this round.
        InvalidTransition: the round is not in progress.
    """
    now = now or utcnow()
    task, after = _own_round(session, task_id, actor, RoundAction.RECORD)
    item = session.get(CheckItem, item_id)
    if item is None or item.deleted_at is not None or item.point_id not in _route_points(session, task):
        field, message = "item_id", "检查项不存在或不属于本次巡检路线"
        raise InvalidInput(field, message)
    checked = session.scalar(select(CheckIn.id).where(CheckIn.task_id == task.id, CheckIn.point_id == item.point_id))
    if checked is None:
        field, message = "item_id", "请先在该点位扫码打卡，再录入读数"
        raise InvalidInput(field, message)
    in_range = (item.low is None or value >= item.low) and (item.high is None or value <= item.high)
    reading = Reading(
        task_id=task.id,
        point_id=item.point_id,
        item_id=item.id,
        value=value,
        in_range=in_range,
        note=note,
        at=now,
        by=actor,
    )
    try:
        with session.begin_nested():
            session.add(reading)
    except IntegrityError as err:
        msg = f"检查项「{item.name}」本轮已录入"
        raise AlreadyRecorded(msg) from err
    task.state = after
    _step(task, RoundAction.RECORD.value, actor, now, item=item.name)
    if not in_range:
        point = session.get(InspectionPoint, item.point_id)
        assert point is not None  # a live route point
        expected = f"{'' if item.low is None else item.low}～{'' if item.high is None else item.high}{item.unit or ''}"
        level = HazardLevel(item.hazard_level)
        hazard = hidden_hazards.report(
            session=session,
            data=HazardCreate(
                name=f"{point.name}{item.name}超限"[:200],
                level=level,
                origin=Origin.INSPECTION,
                danger_src=DangerSrc.DAILY,
                hazard_type=HazardType.EQUIPMENT,
                area=point.area,
                inspection_task_id=task.id,
                inspection_point_id=point.id,
                inspection_reading_id=reading.id,
                description=f"巡检读数 {value:g}{item.unit or ''}，正常范围 {expected}" + (f"；{note}" if note else ""),
                liable_person=_liable_for(session, point, task.assignee),
                deadline=(now + timedelta(days=RECTIFY_DAYS[level])).date(),
            ),
            actor=actor,
        )
        reading.hazard_id = hazard.id
    session.flush()
    return reading


def _close(task: InspectionTask, session: Session, action: RoundAction, actor: str | None, now: datetime) -> None:
    reached = set(session.scalars(select(CheckIn.point_id).where(CheckIn.task_id == task.id)))
    task.missed_point_ids = [p for p in _route_points(session, task) if p not in reached]
    task.state = transition(RoundState(task.state), action)
    task.finished_at = now
    _step(task, action.value, actor, now, missed=str(len(task.missed_point_ids)))


def finish(*, session: Session, task_id: int, actor: str, now: datetime | None = None) -> InspectionTask:
    """完成巡检: the points not checked in are recorded as missed."""
    now = now or utcnow()
    task, _ = _own_round(session, task_id, actor, RoundAction.FINISH)
    _close(task, session, RoundAction.FINISH, actor, now)
    session.flush()
    return task


def expire_rounds(*, session: Session, now: datetime) -> int:
    """Close the rounds whose slot has ended: never started = 已漏检, started = done with its missed points."""
    count = 0
    for task in session.scalars(
        select(InspectionTask).where(
            InspectionTask.state.in_((RoundState.PENDING, RoundState.IN_PROGRESS)), InspectionTask.slot_end <= now
        )
    ):
        _close(task, session, RoundAction.EXPIRE, None, now)
        count += 1
    session.flush()
    return count


def list_rounds(
    *,
    session: Session,
    assignee: str | None = None,
    state: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[Sequence[InspectionTask], int]:
    """Rounds, newest first, filtered; and how many matched."""
    stmt = select(InspectionTask)
    if assignee is not None:
        stmt = stmt.where(InspectionTask.assignee == assignee)
    if state is not None:
        stmt = stmt.where(InspectionTask.state == state)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(InspectionTask.slot_start.desc(), InspectionTask.id).offset(offset).limit(limit)
    ).all()
    return rows, total


@dataclass(frozen=True, slots=True)
class OverdueRound:
    """What the risk model counts: a round not completed by the end of its slot."""

    id: int
    plan_id: int
    assignee: str
    slot_end: datetime
    state: str
    areas: tuple[str, ...]
    missed_points: int


def overdue_tasks(
    *, session: Session, area: str | None = None, now: datetime, window: timedelta = timedelta(hours=24)
) -> list[OverdueRound]:
    """Rounds whose slot ended within ``window`` before ``now`` without being completed in full.

    That is: still pending or in progress past their end, missed (never started), or closed with
    missed points. ``area`` keeps the rounds whose route passes through that area.
    """
    stmt = select(InspectionTask).where(InspectionTask.slot_end <= now, InspectionTask.slot_end > now - window)
    area_of = {p.id: p.area for p in session.scalars(select(InspectionPoint))}
    out = []
    for task in session.scalars(stmt.order_by(InspectionTask.slot_end, InspectionTask.id)):
        incomplete = task.state != RoundState.DONE or bool(task.missed_point_ids)
        if not incomplete:
            continue
        route_points = _route_points(session, task)
        missed = (
            len(task.missed_point_ids)
            if task.state in (RoundState.DONE, RoundState.MISSED)
            else len(route_points)
            - len(set(session.scalars(select(CheckIn.point_id).where(CheckIn.task_id == task.id))))
        )
        areas = tuple(sorted({a for p in route_points if (a := area_of.get(p))}))
        if area is not None and area not in areas:
            continue
        out.append(OverdueRound(task.id, task.plan_id, task.assignee, task.slot_end, task.state, areas, missed))
    return out


def coverage(*, session: Session, since: datetime, until: datetime) -> CoverageRead:
    """Coverage of the rounds that ended in ``[since, until)``: points due, checked, missed, late."""
    tasks = session.scalars(
        select(InspectionTask).where(InspectionTask.slot_end >= since, InspectionTask.slot_end < until)
    ).all()
    ids = [t.id for t in tasks]
    due = sum(len(_route_points(session, t)) for t in tasks)
    checked = session.scalar(select(func.count(CheckIn.id)).where(CheckIn.task_id.in_(ids))) or 0 if ids else 0
    late = (
        session.scalar(select(func.count(CheckIn.id)).where(CheckIn.task_id.in_(ids), CheckIn.late.is_(True))) or 0
        if ids
        else 0
    )
    readings = session.scalars(select(Reading.in_range).where(Reading.task_id.in_(ids))).all() if ids else []
    return CoverageRead(
        since=since,
        until=until,
        rounds=len(tasks),
        rounds_missed=sum(t.state == RoundState.MISSED for t in tasks),
        points_due=due,
        points_checked=checked,
        points_missed=due - checked,
        points_late=late,
        coverage=round(checked / due, 4) if due else None,
        readings=len(readings),
        readings_out_of_range=sum(not r for r in readings),
    )
