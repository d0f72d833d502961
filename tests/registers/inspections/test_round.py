"""An inspection round end to end in the register: QR check-ins, readings, the hazard an out-of-range one raises."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.investigation_schedule import LOCAL_TZ, CycleUnit
from registers.framework.service import InvalidInput
from registers.hidden_hazards import service as hh
from registers.hidden_hazards.models import HiddenHazard
from registers.hidden_hazards.workflow import HazardState, InvalidTransition
from registers.inspections import service as insp
from registers.inspections.models import InspectionTask
from registers.inspections.schemas import ItemCreate, PlanCreate, PointCreate, RouteCreate
from registers.inspections.workflow import RoundState
from tests.registers.dual_prevention.factories import hierarchy

DAY = datetime(2026, 12, 2, tzinfo=LOCAL_TZ)


def plant_round(session: Session) -> tuple[InspectionTask, list[int], list[int]]:
    """Three points on a route (the first in a red unit), one item each, a 2-hourly plan, the 08:00 round."""
    unit, _ = hierarchy(session)
    point_ids, item_ids = [], []
    for n, (name, low, high) in enumerate(
        [("1#球罐压力表", 0.2, 1.6), ("2#球罐液位计", 10, 85), ("消防泵房", None, None)]
    ):
        point = insp.points.create(
            session=session,
            data=PointCreate(
                code=f"P-{n + 1}",
                name=name,
                area="tank_farm",
                unit_id=unit.id if n == 0 else None,
                tag_code=f"QR-{n + 1}",
            ),
            actor="sm",
        )
        item = insp.items.create(
            session=session,
            data=ItemCreate(
                point_id=point.id,
                name="读数" if low is not None else "外观",
                unit="MPa" if n == 0 else None,
                low=low,
                high=high,
            ),
            actor="sm",
        )
        point_ids.append(point.id)
        item_ids.append(item.id)
    route = insp.routes.create(
        session=session, data=RouteCreate(name="罐区巡检线", point_ids=point_ids, minutes_per_point=10), actor="sm"
    )
    insp.plans.create(
        session=session,
        data=PlanCreate(
            route_id=route.id,
            name="罐区白班 2 小时巡检",
            role="inspector",
            shift="白班",
            assignee="xun",
            cycle=2,
            cycle_unit=CycleUnit.HOUR,
            anchor=DAY,
            work_start=time(8),
            work_end=time(20),
        ),
        actor="sm",
    )
    assert insp.generate_rounds(session=session, until=DAY + timedelta(days=1)) == 6
    assert insp.generate_rounds(session=session, until=DAY + timedelta(days=1)) == 0
    first = session.scalars(select(InspectionTask).order_by(InspectionTask.slot_start)).first()
    assert first is not None and first.slot_start == DAY.replace(hour=8)
    return first, point_ids, item_ids


def test_a_round_with_one_out_of_range_reading_yields_exactly_one_linked_hazard(session: Session) -> None:
    task, point_ids, item_ids = plant_round(session)
    t0 = task.slot_start
    with pytest.raises(insp.NotAssignee):
        insp.check_in(session=session, task_id=task.id, code="QR-1", actor="someone", now=t0)
    with pytest.raises(InvalidInput):
        insp.check_in(session=session, task_id=task.id, code="QR-999", actor="xun", now=t0)
    insp.check_in(session=session, task_id=task.id, code="QR-1", actor="xun", now=t0 + timedelta(minutes=5))
    with pytest.raises(InvalidInput, match="打卡"):  # no reading at a point not checked in
        insp.record_reading(session=session, task_id=task.id, item_id=item_ids[1], value=50, actor="xun", now=t0)
    high = insp.record_reading(
        session=session, task_id=task.id, item_id=item_ids[0], value=1.85, actor="xun", now=t0 + timedelta(minutes=6)
    )
    with pytest.raises(insp.AlreadyRecorded):
        insp.record_reading(session=session, task_id=task.id, item_id=item_ids[0], value=1.0, actor="xun")
    insp.check_in(
        session=session, task_id=task.id, code="QR-2", actor="xun", method="NFC", now=t0 + timedelta(minutes=40)
    )
    ok = insp.record_reading(
        session=session, task_id=task.id, item_id=item_ids[1], value=50, actor="xun", now=t0 + timedelta(minutes=41)
    )
    done = insp.finish(session=session, task_id=task.id, actor="xun", now=t0 + timedelta(minutes=45))

    assert (high.in_range, ok.in_range, ok.hazard_id) == (False, True, None)
    hazards = session.scalars(select(HiddenHazard)).all()
    assert len(hazards) == 1
    hazard = hazards[0]
    assert high.hazard_id == hazard.id
    assert (hazard.inspection_point_id, hazard.inspection_task_id, hazard.inspection_reading_id) == (
        point_ids[0],
        task.id,
        high.id,
    )
    assert (hazard.origin, hazard.area, hazard.liable_person, hazard.state) == (
        "巡检",
        "tank_farm",
        "赵强",
        HazardState.RECTIFYING,
    )
    assert "1.85MPa" in (hazard.description or "") and "0.2～1.6MPa" in (hazard.description or "")
    assert (done.state, done.missed_point_ids, done.late_point_ids) == (RoundState.DONE, [point_ids[2]], [point_ids[1]])

    with pytest.raises(InvalidTransition):  # closing without verification is refused
        hh.accept(session=session, hazard_id=hazard.id, comment="直接销号", actor="sm")
    assert hazard.state == HazardState.RECTIFYING
    with pytest.raises(Exception, match="巡检任务状态"):
        insp.record_reading(session=session, task_id=task.id, item_id=item_ids[2], value=1, actor="xun")
    assert session.scalar(select(func.count(HiddenHazard.id))) == 1


def test_unstarted_rounds_are_missed_and_counted_as_overdue_and_in_coverage(session: Session) -> None:
    task, _, _ = plant_round(session)
    insp.check_in(session=session, task_id=task.id, code="QR-1", actor="xun", now=task.slot_start)
    noon = DAY.replace(hour=12)
    assert insp.expire_rounds(session=session, now=noon) == 2  # the 08:00 (started) and the 10:00 round
    rounds = session.scalars(select(InspectionTask).order_by(InspectionTask.slot_start)).all()
    assert [r.state for r in rounds[:3]] == [RoundState.DONE, RoundState.MISSED, RoundState.PENDING]
    assert len(rounds[0].missed_point_ids) == 2 and len(rounds[1].missed_point_ids) == 3
    overdue = insp.overdue_tasks(session=session, now=noon)
    assert [(o.id, o.missed_points, o.areas) for o in overdue] == [
        (rounds[0].id, 2, ("tank_farm",)),
        (rounds[1].id, 3, ("tank_farm",)),
    ]
    assert insp.overdue_tasks(session=session, area="reaction_unit", now=noon) == []
    stats = insp.coverage(session=session, since=DAY, until=noon + timedelta(minutes=1))
    assert (stats.rounds, stats.rounds_missed, stats.points_due, stats.points_checked, stats.coverage) == (
        2,
        1,
        6,
        1,
        round(1 / 6, 4),
    )
