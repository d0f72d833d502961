"""Builders for a dual-prevention hierarchy: object → unit → event → measure (→ schedule)."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy.orm import Session

from models.investigation_schedule import CycleUnit, WorkDayType
from models.risk_grading import GradingMethod
from registers.dual_prevention import service as dp
from registers.dual_prevention.models import CheckSchedule, ControlMeasure, RiskEvent, RiskUnit
from registers.dual_prevention.schemas import (
    Classify1,
    MeasureCreate,
    RiskEventCreate,
    RiskObjectCreate,
    RiskUnitCreate,
    ScheduleCreate,
)


def hierarchy(session: Session, *, code: str = "MHS-01", area: str = "tank_farm") -> tuple[RiskUnit, ControlMeasure]:
    """A major hazard source with one unit, one LEC event (540: red) and one measure."""
    obj = dp.objects.create(
        session=session, data=RiskObjectCreate(code=code, name="液化烃球罐区", area=area), actor="sm"
    )
    unit = dp.units.create(
        session=session,
        data=RiskUnitCreate(object_id=obj.id, name=f"{code} 球罐", area=area, liable_person="赵强"),
        actor="sm",
    )
    event = dp.events.create(
        session=session,
        data=RiskEventCreate(
            unit_id=unit.id, name="球罐泄漏火灾", method=GradingMethod.LEC, likelihood=6, exposure=6, consequence=15
        ),
        actor="sm",
    )
    measure = dp.measures.create(
        session=session,
        data=MeasureCreate(
            event_id=event.id, classify1=Classify1.ENGINEERING, classify2="安全仪表", description="可燃气体检测报警"
        ),
        actor="sm",
    )
    return unit, measure


def schedule(
    session: Session,
    measure: ControlMeasure,
    *,
    cycle: int,
    unit: CycleUnit,
    anchor: datetime,
    work_start: time,
    work_end: time,
    day_type: WorkDayType = WorkDayType.EVERY_DAY,
    assignee: str = "inspector1",
) -> CheckSchedule:
    return dp.schedules.create(
        session=session,
        data=ScheduleCreate(
            measure_id=measure.id,
            content="检查可燃气体探头完好",
            cycle=cycle,
            cycle_unit=unit,
            anchor=anchor,
            work_start=work_start,
            work_end=work_end,
            day_type=day_type,
            assignee=assignee,
        ),
        actor="sm",
    )


__all__ = ["RiskEvent", "hierarchy", "schedule"]
