"""Dual-prevention registers and services: grading, the four-colour map, task generation and completion, health.

Registers (framework CRUD, history, import/export): risk analysis objects, units, events
(graded on every create and update, the unit taking its worst event's level), control
measures and check schedules. Services:

* :func:`generate_tasks` turns every active schedule into tasks up to an instant (idempotent:
  one task per schedule and slot) and :func:`expire_tasks` marks the ones past their slot;
* :func:`complete_task` records the check (only the assignee may);
* :func:`risk_map` and :func:`mechanism_health` are what the screens and the regulator read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.investigation_schedule import LOCAL_TZ, CycleUnit, Schedule, WorkDayType, slots
from models.risk_grading import DEFAULT_TABLE, GradingTable, InvalidFactor, RiskLevel, grade, worst
from registers.db import utcnow
from registers.dual_prevention.models import (
    CheckSchedule,
    CheckTask,
    ControlMeasure,
    RiskEvent,
    RiskObject,
    RiskUnit,
)
from registers.dual_prevention.schemas import (
    EVENT_LABELS,
    MEASURE_LABELS,
    OBJECT_LABELS,
    SCHEDULE_LABELS,
    UNIT_LABELS,
    CheckStatus,
    HealthRead,
    MeasureCreate,
    MeasureRead,
    MeasureUpdate,
    RiskEventCreate,
    RiskEventRead,
    RiskEventUpdate,
    RiskMapEntry,
    RiskObjectCreate,
    RiskObjectRead,
    RiskObjectUpdate,
    RiskUnitCreate,
    RiskUnitRead,
    RiskUnitUpdate,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
    TaskHazardIn,
    UnitHealth,
)
from registers.dual_prevention.workflow import TaskAction, TaskState, transition
from registers.framework.service import InvalidInput, RecordNotFound, Register, RegisterError
from registers.hidden_hazards import service as hidden_hazards
from registers.hidden_hazards.models import HiddenHazard
from registers.hidden_hazards.schemas import DangerSrc, HazardCreate, Origin
from registers.hidden_hazards.workflow import HazardState
from registers.inspections.models import InspectionPoint

__all__ = [
    "NotAssignee",
    "complete_task",
    "events",
    "expire_tasks",
    "generate_tasks",
    "get_task",
    "list_tasks",
    "measures",
    "mechanism_health",
    "objects",
    "risk_map",
    "schedules",
    "units",
]

GRADING_TABLE: GradingTable = DEFAULT_TABLE


class NotAssignee(RegisterError):
    """Only the person a task is assigned to may complete it. API: 403."""


def _grade_values(values: Mapping[str, Any]) -> dict[str, Any]:
    try:
        result = grade(
            values["method"],
            likelihood=values["likelihood"],
            exposure=values.get("exposure"),
            consequence=values.get("consequence"),
            severity=values.get("severity"),
            table=GRADING_TABLE,
        )
    except InvalidFactor as err:
        field = {"L": "likelihood", "E": "exposure", "C": "consequence", "S": "severity"}.get(err.factor[0], "method")
        raise InvalidInput(field, str(err)) from err
    return {
        "score": result.score,
        "risk_level": result.level.value,
        "colour": result.colour.value,
        "management_level": result.level.management_level,
        "table_version": result.table_version,
    }


def _check_event(values: Mapping[str, Any]) -> None:
    _grade_values(values)


def _derive_event(values: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        return _grade_values(values)
    except InvalidInput:  # refused by check before it gets here; never store a wrong grade
        return {"score": None, "risk_level": None, "colour": None, "management_level": None, "table_version": None}


def refresh_unit(session: Session, unit_id: int) -> None:
    """Give the unit its worst live event's level (四色图 colour), or none without events."""
    unit = session.get(RiskUnit, unit_id)
    if unit is None:
        return
    levels = session.scalars(
        select(RiskEvent.risk_level).where(RiskEvent.unit_id == unit_id, RiskEvent.deleted_at.is_(None))
    ).all()
    level = worst([RiskLevel(v) for v in levels if v])
    unit.risk_level = level.value if level else None
    unit.colour = level.colour.value if level else None
    session.flush()


class _EventRegister(Register[RiskEvent, RiskEventCreate, RiskEventUpdate, RiskEventRead]):
    """Events re-colour their unit whenever they change."""

    def create(self, *, session: Session, data: RiskEventCreate, actor: str | None) -> RiskEvent:
        """Create and re-grade the unit."""
        record = super().create(session=session, data=data, actor=actor)
        refresh_unit(session, record.unit_id)
        return record

    def update(self, **kwargs: Any) -> RiskEvent:
        """Update and re-grade the unit (the old one too, if the event moved)."""
        before = self.get(session=kwargs["session"], record_id=kwargs["record_id"]).unit_id
        record = super().update(**kwargs)
        for unit_id in {before, record.unit_id}:
            refresh_unit(kwargs["session"], unit_id)
        return record

    def soft_delete(self, **kwargs: Any) -> RiskEvent:
        """Delete and re-grade the unit."""
        record = super().soft_delete(**kwargs)
        refresh_unit(kwargs["session"], record.unit_id)
        return record

    def restore(self, **kwargs: Any) -> RiskEvent:
        """Restore and re-grade the unit."""
        record = super().restore(**kwargs)
        refresh_unit(kwargs["session"], record.unit_id)
        return record


objects: Register[RiskObject, RiskObjectCreate, RiskObjectUpdate, RiskObjectRead] = Register(
    name="dp_risk_object",
    title="风险分析对象",
    model=RiskObject,
    create_schema=RiskObjectCreate,
    update_schema=RiskObjectUpdate,
    read_schema=RiskObjectRead,
    labels=OBJECT_LABELS,
    searchable=("code", "name", "area"),
    sortable=("id", "code", "name", "area", "updated_at"),
    filterable=("code", "kind", "area"),
    unique=("code",),
    describe=lambda r: f"{r.code} {r.name}",
    default_sort="code",
)
units: Register[RiskUnit, RiskUnitCreate, RiskUnitUpdate, RiskUnitRead] = Register(
    name="dp_risk_unit",
    title="安全风险分析单元",
    model=RiskUnit,
    create_schema=RiskUnitCreate,
    update_schema=RiskUnitUpdate,
    read_schema=RiskUnitRead,
    labels=UNIT_LABELS,
    searchable=("name", "area", "department", "liable_person"),
    sortable=("id", "name", "risk_level", "area", "updated_at"),
    filterable=("object_id", "area", "risk_level", "colour"),
    describe=lambda r: r.name,
    default_sort="id",
    references={"object_id": RiskObject},
)
events = _EventRegister(
    name="dp_risk_event",
    title="安全风险事件",
    model=RiskEvent,
    create_schema=RiskEventCreate,
    update_schema=RiskEventUpdate,
    read_schema=RiskEventRead,
    labels=EVENT_LABELS,
    searchable=("name",),
    sortable=("id", "score", "risk_level", "updated_at"),
    filterable=("unit_id", "method", "risk_level", "colour", "score"),
    derive=_derive_event,
    check=_check_event,
    describe=lambda r: r.name,
    default_sort="id",
    references={"unit_id": RiskUnit},
)
measures: Register[ControlMeasure, MeasureCreate, MeasureUpdate, MeasureRead] = Register(
    name="dp_control_measure",
    title="安全风险管控措施",
    model=ControlMeasure,
    create_schema=MeasureCreate,
    update_schema=MeasureUpdate,
    read_schema=MeasureRead,
    labels=MEASURE_LABELS,
    searchable=("description", "troubleshoot_content", "classify2"),
    sortable=("id", "classify1", "updated_at"),
    filterable=("event_id", "classify1", "data_src"),
    describe=lambda r: r.description[:40],
    default_sort="id",
    references={"event_id": RiskEvent},
)
schedules: Register[CheckSchedule, ScheduleCreate, ScheduleUpdate, ScheduleRead] = Register(
    name="dp_check_schedule",
    title="隐患排查任务",
    model=CheckSchedule,
    create_schema=ScheduleCreate,
    update_schema=ScheduleUpdate,
    read_schema=ScheduleRead,
    labels=SCHEDULE_LABELS,
    searchable=("content", "assignee", "post"),
    sortable=("id", "assignee", "cycle_unit", "updated_at"),
    filterable=("measure_id", "assignee", "cycle_unit", "is_defend", "active"),
    describe=lambda r: r.content[:40],
    default_sort="id",
    references={"measure_id": ControlMeasure},
)


# --- tasks -----------------------------------------------------------------------------------


def schedule_of(row: CheckSchedule) -> Schedule:
    """The pure schedule of a schedule row."""
    return Schedule(
        cycle=row.cycle,
        unit=CycleUnit(row.cycle_unit),
        anchor=row.anchor,
        work_start=row.work_start,
        work_end=row.work_end,
        day_type=WorkDayType(row.day_type),
    )


def _placement(session: Session, measure_id: int) -> tuple[int | None, str | None]:
    row = session.execute(
        select(RiskUnit.id, RiskUnit.area)
        .join(RiskEvent, RiskEvent.unit_id == RiskUnit.id)
        .join(ControlMeasure, ControlMeasure.event_id == RiskEvent.id)
        .where(ControlMeasure.id == measure_id)
    ).first()
    return (row[0], row[1]) if row else (None, None)


def _step(task: CheckTask, action: str, actor: str | None, at: datetime) -> None:
    task.steps = [*(task.steps or []), {"action": action, "by": actor or "system", "at": at.isoformat()}]


def generate_tasks(*, session: Session, until: datetime) -> int:
    """Create the tasks of every active schedule whose slot starts before ``until``; returns how many.

    Idempotent: a slot that has its task is skipped, so the job may run as often as it likes.
    """
    created = 0
    rows = session.scalars(
        select(CheckSchedule).where(CheckSchedule.deleted_at.is_(None), CheckSchedule.active.is_(True))
    ).all()
    for row in rows:
        latest = session.scalar(select(func.max(CheckTask.slot_start)).where(CheckTask.schedule_id == row.id))
        since = latest if latest is not None else row.anchor
        existing = set(
            session.scalars(
                select(CheckTask.slot_start).where(CheckTask.schedule_id == row.id, CheckTask.slot_start >= since)
            )
        )
        unit_id, area = _placement(session, row.measure_id)
        for slot in slots(schedule_of(row), since, until):
            if slot.start in existing:
                continue
            task = CheckTask(
                schedule_id=row.id,
                slot_start=slot.start,
                slot_end=slot.end,
                assignee=row.assignee,
                area=area,
                unit_id=unit_id,
                state=TaskState.PENDING,
                late=False,
                steps=[],
            )
            _step(task, "生成", None, until)
            session.add(task)
            created += 1
    session.flush()
    return created


def expire_tasks(*, session: Session, now: datetime) -> int:
    """Mark pending tasks whose slot has ended as 已逾期; returns how many."""
    expired = 0
    for task in session.scalars(
        select(CheckTask).where(CheckTask.state == TaskState.PENDING, CheckTask.slot_end <= now)
    ):
        task.state = transition(TaskState(task.state), TaskAction.EXPIRE)
        _step(task, TaskAction.EXPIRE.value, None, now)
        expired += 1
    session.flush()
    return expired


def get_task(*, session: Session, task_id: int) -> CheckTask:
    """The task with this id; raises ``RecordNotFound``."""
    task = session.get(CheckTask, task_id)
    if task is None:
        register = "dp_check_task"
        raise RecordNotFound(register, task_id)
    return task


def complete_task(
    *,
    session: Session,
    task_id: int,
    actor: str,
    check_status: CheckStatus,
    result: str | None = None,
    device: str | None = None,
    hazard: TaskHazardIn | None = None,
    now: datetime | None = None,
) -> CheckTask:
    """Record the check of a task (隐患排查记录); only its assignee may, once.

    A hazard found is registered with it, linked to the task and to the schedule's control
    measure (``riskMeasureId`` is mandatory for hazards found by a check task).

    Raises:
        NotAssignee: ``actor`` is not the assignee.
        InvalidTransition: the task is already done.
    """
    now = now or utcnow()
    task = get_task(session=session, task_id=task_id)
    if actor != task.assignee:
        msg = f"只有被指派的排查人（{task.assignee}）可以完成该排查任务"
        raise NotAssignee(msg)
    before = TaskState(task.state)
    task.state = transition(before, TaskAction.COMPLETE)
    task.late = before is TaskState.OVERDUE or now > task.slot_end
    task.check_status, task.result, task.device = check_status.code, result, device
    task.checked_at, task.checked_by = now, actor
    _step(task, TaskAction.COMPLETE.value, actor, now)
    session.flush()
    if hazard is not None:
        schedule = session.get(CheckSchedule, task.schedule_id)
        hidden_hazards.report(
            session=session,
            data=HazardCreate(
                name=hazard.name,
                level=hazard.level,
                origin=Origin.CHECK_TASK,
                danger_src=DangerSrc.DAILY,
                area=task.area,
                measure_id=schedule.measure_id if schedule else None,
                check_task_id=task.id,
                description=hazard.description,
                liable_person=hazard.liable_person,
                deadline=hazard.deadline,
            ),
            actor=actor,
        )
    return task


def list_tasks(
    *,
    session: Session,
    assignee: str | None = None,
    state: str | None = None,
    area: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[Sequence[CheckTask], int]:
    """Tasks, newest slot first, filtered; and how many matched."""
    stmt = select(CheckTask)
    for column, value in ((CheckTask.assignee, assignee), (CheckTask.state, state), (CheckTask.area, area)):
        if value is not None:
            stmt = stmt.where(column == value)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(CheckTask.slot_start.desc(), CheckTask.id).offset(offset).limit(limit)).all()
    return rows, total


# --- read-outs -------------------------------------------------------------------------------


def risk_map(*, session: Session) -> list[RiskMapEntry]:
    """Every live unit with its level and colour: the register of risk points for the four-colour map."""
    out = []
    for unit in session.scalars(select(RiskUnit).where(RiskUnit.deleted_at.is_(None)).order_by(RiskUnit.id)):
        level = RiskLevel(unit.risk_level) if unit.risk_level else None
        out.append(
            RiskMapEntry(
                unit_id=unit.id,
                unit_name=unit.name,
                area=unit.area,
                risk_level=unit.risk_level,
                colour=unit.colour,
                management_level=level.management_level if level else None,
                liable_person=unit.liable_person,
            )
        )
    return out


def _overdue_at(rows: Sequence[HiddenHazard], at: datetime) -> int:
    """Hazards registered by ``at``, past their deadline then and not accepted by then."""
    day = at.astimezone(LOCAL_TZ).date()
    return sum(
        1
        for h in rows
        if h.registered_at is not None
        and h.registered_at <= at
        and day > h.deadline
        and (h.accepted_at is None or h.accepted_at > at)
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def mechanism_health(*, session: Session, now: datetime, days: int = 30, idle_days: int = 3) -> HealthRead:
    """Completion rate of tasks, closure rate and overdue hazards per unit, and the warnings.

    Warnings: no task done for ``idle_days`` while tasks were due (the mechanism has stopped),
    and more hazards overdue now than ``idle_days`` ago (overdue rising).
    """
    since = now - timedelta(days=days)
    names = {u.id: u.name for u in session.scalars(select(RiskUnit).where(RiskUnit.deleted_at.is_(None)))}
    tasks = session.scalars(select(CheckTask).where(CheckTask.slot_end <= now, CheckTask.slot_start >= since)).all()
    hazard_rows = session.scalars(
        select(HiddenHazard).where(HiddenHazard.deleted_at.is_(None), HiddenHazard.registered_at >= since)
    ).all()
    unit_of_measure = {
        m: u
        for m, u in session.execute(
            select(ControlMeasure.id, RiskEvent.unit_id).join(RiskEvent, RiskEvent.id == ControlMeasure.event_id)
        )
    }
    stats: dict[int | None, list[int]] = {}
    for task in tasks:
        s = stats.setdefault(task.unit_id, [0, 0, 0, 0, 0])
        s[0] += 1
        s[1] += task.state == TaskState.DONE
    today = now.astimezone(LOCAL_TZ).date()
    unit_of_point = dict(session.execute(select(InspectionPoint.id, InspectionPoint.unit_id)).all())
    for hazard in hazard_rows:
        unit_id = unit_of_measure.get(hazard.measure_id) if hazard.measure_id else None
        if unit_id is None and hazard.inspection_point_id is not None:
            unit_id = unit_of_point.get(hazard.inspection_point_id)
        s = stats.setdefault(unit_id, [0, 0, 0, 0, 0])
        s[2] += 1
        s[3] += hazard.state == HazardState.ACCEPTED
        s[4] += hazard.state != HazardState.ACCEPTED and today > hazard.deadline
    units = [
        UnitHealth(
            unit_id=unit_id,
            unit_name=names.get(unit_id, "未关联单元") if unit_id is not None else "未关联单元",
            tasks_due=s[0],
            tasks_done=s[1],
            completion_rate=_rate(s[1], s[0]),
            hazards=s[2],
            hazards_closed=s[3],
            closure_rate=_rate(s[3], s[2]),
            hazards_overdue=s[4],
        )
        for unit_id, s in sorted(stats.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
    ]
    warnings = []
    recent = now - timedelta(days=idle_days)
    due_recent = [t for t in tasks if t.slot_end >= recent]
    if due_recent and not any(t.checked_at is not None and t.checked_at >= recent for t in tasks):
        warnings.append(f"近{idle_days}天有{len(due_recent)}项排查任务到期但无一完成，双重预防机制可能已停止运行")
    overdue_now, overdue_before = _overdue_at(hazard_rows, now), _overdue_at(hazard_rows, recent)
    if overdue_now > overdue_before:
        warnings.append(f"逾期未整改隐患由{overdue_before}项增至{overdue_now}项")
    return HealthRead(since=since, until=now, units=units, warnings=warnings)
