"""Mechanism health: completion and closure rates per unit, and the warning when the mechanism stops."""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.investigation_schedule import CycleUnit
from registers.dual_prevention import service as dp
from registers.dual_prevention.models import CheckTask
from registers.dual_prevention.schemas import CheckStatus
from registers.hidden_hazards import service as hh
from registers.hidden_hazards.schemas import HazardCreate, Origin
from tests.models.test_investigation_schedule import START
from tests.registers.dual_prevention.factories import hierarchy, schedule


def test_rates_per_unit_and_the_stopped_mechanism_warning(session: Session) -> None:
    unit, measure = hierarchy(session)
    schedule(session, measure, cycle=1, unit=CycleUnit.DAY, anchor=START, work_start=time(8), work_end=time(17))
    now = START + timedelta(days=10)
    dp.generate_tasks(session=session, until=now)
    dp.expire_tasks(session=session, now=now)
    tasks = session.scalars(select(CheckTask).order_by(CheckTask.slot_start)).all()
    assert len(tasks) == 10
    for task in tasks[:4]:  # days 1-4 done, then nobody checks for six days
        dp.complete_task(
            session=session,
            task_id=task.id,
            actor="inspector1",
            check_status=CheckStatus.NORMAL,
            now=task.slot_start + timedelta(hours=1),
        )
    # one hazard overdue since 3 December, one since 9 December: overdue rises within the last 3 days
    for deadline in (date(2026, 12, 3), date(2026, 12, 9), date(2026, 12, 30)):
        hazard = hh.report(
            session=session,
            data=HazardCreate(
                name="x", origin=Origin.CHECK_TASK, measure_id=measure.id, liable_person="li", deadline=deadline
            ),
            actor="inspector1",
        )
        hazard.registered_at = START + timedelta(days=1)  # registered in the simulated month

    health = dp.mechanism_health(session=session, now=now, days=30, idle_days=3)
    [row] = health.units
    assert (row.unit_id, row.tasks_due, row.tasks_done, row.completion_rate) == (unit.id, 10, 4, 0.4)
    assert (row.hazards, row.hazards_closed, row.closure_rate, row.hazards_overdue) == (3, 0, 0.0, 2)
    assert any("机制可能已停止运行" in w for w in health.warnings)
    assert any("逾期未整改隐患由1项增至2项" in w for w in health.warnings)

    for task in tasks[4:]:
        dp.complete_task(session=session, task_id=task.id, actor="inspector1", check_status=CheckStatus.NORMAL, now=now)
    healthy = dp.mechanism_health(session=session, now=now, days=30, idle_days=3)
    assert healthy.units[0].completion_rate == 1.0
    assert not any("停止运行" in w for w in healthy.warnings)
