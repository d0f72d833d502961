"""Demo data of dual prevention, hidden hazards and inspection, built from the demo plant.

For every major hazard source of the plant: a risk analysis object (its code is the source's
id), one unit, one LEC-graded event, one engineering control measure and a daily check
schedule; for every piece of equipment with a local gauge: an inspection point with a QR
code and a check item whose range is the tag's alarm limits; one route and one 2-hourly plan
per area; one open hidden hazard. Keyed on the natural codes, so loading twice adds nothing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.investigation_schedule import LOCAL_TZ, CycleUnit
from models.risk_grading import GradingMethod
from registers.dual_prevention import service as dp
from registers.dual_prevention.models import RiskObject
from registers.dual_prevention.schemas import (
    Classify1,
    MeasureCreate,
    ObjectKind,
    RiskEventCreate,
    RiskObjectCreate,
    RiskUnitCreate,
    ScheduleCreate,
)
from registers.hidden_hazards import service as hh
from registers.hidden_hazards.schemas import HazardCreate, HazardType, ManagementClass
from registers.inspections import service as insp
from registers.inspections.models import InspectionPoint
from registers.inspections.schemas import ItemCreate, PlanCreate, PointCreate, RouteCreate
from twin.plant import Plant

__all__ = ["DEMO_INSPECTOR", "load_dual_prevention_demo"]

ACTOR = "demo"
DEMO_INSPECTOR = "inspector"
# LEC factors per unit kind: storage of liquefied gases 6 × 6 × 15 = 540 (重大), production 3 × 6 × 15 = 270 (较大)
_LEC = {"storage": (6.0, 6.0, 15.0), "production": (3.0, 6.0, 15.0)}


def _exists(session: Session, model: type[RiskObject] | type[InspectionPoint], code: str) -> bool:
    stmt = select(model.id).where(model.code == code, model.deleted_at.is_(None)).limit(1)
    return session.scalar(stmt) is not None


def load_dual_prevention_demo(*, session: Session, plant: Plant, today: date) -> int:
    """Add what is missing; returns how many rows were added."""
    added = 0
    anchor = datetime.combine(today - timedelta(days=7), time(0), tzinfo=LOCAL_TZ)
    first_measure: int | None = None
    for source in plant.hazard_sources:
        if _exists(session, RiskObject, source.id):
            continue
        obj = dp.objects.create(
            session=session,
            data=RiskObjectCreate(code=source.id, name=source.name, kind=ObjectKind.MAJOR_HAZARD, area=source.area),
            actor=ACTOR,
        )
        unit = dp.units.create(
            session=session,
            data=RiskUnitCreate(
                object_id=obj.id,
                name=source.name if source.name.endswith("单元") else f"{source.name}单元",
                area=source.area,
                liable_person="赵强",
            ),
            actor=ACTOR,
        )
        likelihood, exposure, consequence = _LEC[source.unit_kind]
        event = dp.events.create(
            session=session,
            data=RiskEventCreate(
                unit_id=unit.id,
                name=f"{source.name}泄漏引发火灾、爆炸或中毒",
                method=GradingMethod.LEC,
                likelihood=likelihood,
                exposure=exposure,
                consequence=consequence,
            ),
            actor=ACTOR,
        )
        measure = dp.measures.create(
            session=session,
            data=MeasureCreate(
                event_id=event.id,
                classify1=Classify1.ENGINEERING,
                classify2="安全仪表",
                description="可燃/有毒气体检测报警与紧急切断联锁投用",
                troubleshoot_content="检查气体检测仪示值、联锁投用状态",
            ),
            actor=ACTOR,
        )
        first_measure = first_measure or measure.id
        dp.schedules.create(
            session=session,
            data=ScheduleCreate(
                measure_id=measure.id,
                content="检查气体检测仪示值及紧急切断阀联锁投用状态",
                cycle=1,
                cycle_unit=CycleUnit.DAY,
                anchor=anchor,
                work_start=time(8),
                work_end=time(17),
                post="外操岗",
                assignee=DEMO_INSPECTOR,
            ),
            actor=ACTOR,
        )
        added += 5
    tags_by_equipment = {t.equipment: t for t in plant.tags}
    points_by_area: dict[str, list[int]] = {}
    for equipment in plant.equipment:
        tag = tags_by_equipment.get(equipment.id)
        code = f"XJ-{equipment.id}"
        if tag is None or _exists(session, InspectionPoint, code):
            continue
        point = insp.points.create(
            session=session,
            data=PointCreate(
                code=code,
                name=equipment.name,
                area=equipment.area,
                equipment_code=equipment.id,
                tag_code=f"QR-{equipment.id}",
            ),
            actor=ACTOR,
        )
        insp.items.create(
            session=session,
            data=ItemCreate(
                point_id=point.id, name=f"{tag.name}（现场表）", unit=tag.unit[:32], low=tag.limits.l, high=tag.limits.h
            ),
            actor=ACTOR,
        )
        points_by_area.setdefault(equipment.area, []).append(point.id)
        added += 2
    for area, point_ids in points_by_area.items():
        route = insp.routes.create(
            session=session, data=RouteCreate(name=f"{area} 巡检路线", point_ids=point_ids), actor=ACTOR
        )
        insp.plans.create(
            session=session,
            data=PlanCreate(
                route_id=route.id,
                name=f"{area} 白班 2 小时巡检",
                shift="白班",
                assignee=DEMO_INSPECTOR,
                cycle=2,
                cycle_unit=CycleUnit.HOUR,
                anchor=anchor,
                work_start=time(8),
                work_end=time(20),
            ),
            actor=ACTOR,
        )
        added += 2
    if first_measure is not None:
        hh.report(
            session=session,
            data=HazardCreate(
                name="球罐区可燃气体检测仪未按期标定",
                hazard_type=HazardType.INSTRUMENT,
                management_class=ManagementClass.THINGS,
                area=plant.hazard_sources[0].area,
                measure_id=first_measure,
                control_measures="联系计量单位标定，标定前加密人工检测",
                liable_person="赵强",
                deadline=today + timedelta(days=7),
            ),
            actor=ACTOR,
        )
        added += 1
    session.flush()
    return added
