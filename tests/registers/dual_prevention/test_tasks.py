"""Investigation tasks in the register: 30 simulated days match the schedules exactly; only the assignee completes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.investigation_schedule import LOCAL_TZ
from registers.dual_prevention import service as dp
from registers.dual_prevention.models import CheckTask
from registers.dual_prevention.schemas import CheckStatus
from registers.dual_prevention.workflow import InvalidTransition, TaskState
from tests.models.test_investigation_schedule import END, ROWS, START
from tests.registers.dual_prevention.factories import hierarchy, schedule


def test_thirty_simulated_days_of_the_job_give_exactly_the_scheduled_tasks(session: Session) -> None:
    """The job runs every 7 hours (not aligned with any cycle) for 30 days; each schedule's tasks
    are the hand-written ones of the table, none missing, none doubled."""
    _, measure = hierarchy(session)
    rows = {
        schedule(
            session,
            measure,
            cycle=row.schedule.cycle,
            unit=row.schedule.unit,
            anchor=row.schedule.anchor,
            work_start=row.schedule.work_start,
            work_end=row.schedule.work_end,
            day_type=row.schedule.day_type,
        ).id: row
        for row in ROWS
    }
    now = START
    while now < END:
        dp.generate_tasks(session=session, until=now)
        dp.expire_tasks(session=session, now=now)
        now += timedelta(hours=7)
    dp.generate_tasks(session=session, until=END)
    dp.generate_tasks(session=session, until=END)  # a second run at the same instant adds nothing

    for schedule_id, row in rows.items():
        tasks = session.scalars(
            select(CheckTask).where(CheckTask.schedule_id == schedule_id).order_by(CheckTask.slot_start)
        ).all()
        assert len(tasks) == row.count, row.name
        assert tuple(t.slot_start for t in tasks[: len(row.first)]) == row.first, row.name
        assert tasks[-1].slot_start == row.last_start, row.name
        assert tasks[-1].slot_end == row.last_end, row.name
        assert {t.assignee for t in tasks} == {"inspector1"}
        assert {t.area for t in tasks} == {"tank_farm"}


def test_only_the_assignee_completes_a_task_and_a_late_one_stays_late(session: Session) -> None:
    _, measure = hierarchy(session)
    from datetime import time

    from models.investigation_schedule import CycleUnit

    schedule(session, measure, cycle=1, unit=CycleUnit.DAY, anchor=START, work_start=time(8), work_end=time(17))
    dp.generate_tasks(session=session, until=START + timedelta(days=2))
    first, second = session.scalars(select(CheckTask).order_by(CheckTask.slot_start)).all()

    with pytest.raises(dp.NotAssignee):
        dp.complete_task(session=session, task_id=first.id, actor="someone_else", check_status=CheckStatus.NORMAL)
    assert first.state == TaskState.PENDING

    at = first.slot_start + timedelta(hours=1)
    done = dp.complete_task(
        session=session, task_id=first.id, actor="inspector1", check_status=CheckStatus.NORMAL, device="IMEI-1", now=at
    )
    assert (done.state, done.late, done.check_status, done.checked_by) == (TaskState.DONE, False, 0, "inspector1")
    assert [s["action"] for s in done.steps] == ["生成", "完成排查"]
    with pytest.raises(InvalidTransition):
        dp.complete_task(session=session, task_id=first.id, actor="inspector1", check_status=CheckStatus.NORMAL)

    assert dp.expire_tasks(session=session, now=second.slot_end) == 1
    assert second.state == TaskState.OVERDUE
    late = dp.complete_task(
        session=session,
        task_id=second.id,
        actor="inspector1",
        check_status=CheckStatus.HAZARD,
        now=second.slot_end + timedelta(hours=2),
    )
    assert (late.state, late.late, late.check_status) == (TaskState.DONE, True, 1)
    assert late.slot_end.astimezone(LOCAL_TZ).hour == 17


def test_unit_takes_its_worst_events_colour(session: Session) -> None:
    from models.risk_grading import GradingMethod
    from registers.dual_prevention.schemas import RiskEventCreate, RiskEventUpdate

    unit, _ = hierarchy(session)
    assert (unit.risk_level, unit.colour) == ("重大风险", "red")
    low = dp.events.create(
        session=session,
        data=RiskEventCreate(unit_id=unit.id, name="阀门渗漏", method=GradingMethod.LS, likelihood=2, severity=2),
        actor="sm",
    )
    assert (low.score, low.risk_level, low.colour) == (4, "低风险", "blue")
    red = session.scalars(select(dp.RiskEvent).where(dp.RiskEvent.unit_id == unit.id, dp.RiskEvent.id != low.id)).one()
    dp.events.update(
        session=session, record_id=red.id, data=RiskEventUpdate(likelihood=1, exposure=6, consequence=15), actor="sm"
    )
    assert (red.score, red.risk_level) == (90, "一般风险")
    assert (unit.risk_level, unit.colour) == ("一般风险", "yellow")
    dp.events.soft_delete(session=session, record_id=red.id, actor="sm")
    assert (unit.risk_level, unit.colour) == ("低风险", "blue")
    assert [e.colour for e in dp.risk_map(session=session)] == ["blue"]


def test_a_factor_off_the_scale_is_refused_naming_the_field(session: Session) -> None:
    from models.risk_grading import GradingMethod
    from registers.dual_prevention.schemas import RiskEventCreate
    from registers.framework.service import InvalidInput

    unit, _ = hierarchy(session)
    with pytest.raises(InvalidInput) as err:
        dp.events.create(
            session=session,
            data=RiskEventCreate(
                unit_id=unit.id, name="x", method=GradingMethod.LEC, likelihood=7, exposure=6, consequence=15
            ),
            actor="sm",
        )
    assert err.value.field == "likelihood"


def test_a_hazard_found_by_a_task_is_registered_linked_to_the_task_and_the_measure(session: Session) -> None:
    from datetime import date, time

    from models.investigation_schedule import CycleUnit
    from registers.dual_prevention.schemas import CompleteIn, TaskHazardIn
    from registers.hidden_hazards import service as hh

    _, measure = hierarchy(session)
    schedule(session, measure, cycle=1, unit=CycleUnit.DAY, anchor=START, work_start=time(8), work_end=time(17))
    dp.generate_tasks(session=session, until=START + timedelta(days=1))
    task = session.scalars(select(CheckTask)).one()
    found = TaskHazardIn(name="探头防护罩破损", liable_person="赵强", deadline=date(2026, 12, 8))
    with pytest.raises(ValueError, match="存在隐患"):
        CompleteIn(check_status=CheckStatus.NORMAL, hazard=found)
    dp.complete_task(
        session=session, task_id=task.id, actor="inspector1", check_status=CheckStatus.HAZARD, hazard=found, now=START
    )
    [hazard] = hh.open_hazards(session=session, now=START)
    record = hh.hazards.get(session=session, record_id=hazard.id)
    assert (record.origin, record.measure_id, record.check_task_id, record.area) == (
        "排查任务",
        measure.id,
        task.id,
        "tank_farm",
    )
    assert task.check_status == 1
