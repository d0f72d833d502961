"""The demo plant's equipment (``twin/plants/demo.yaml``) in the equipment register.

Codes follow the plant's ids: the site is the plant id, units are its areas, equipment keeps
its plant id as the last code segment (``DEMO.TANK_FARM.V-101``), so the twin, the live tags
and the register name each thing the same way. Interlock trip points are the tags' HH/LL limits.

The data tells a small story a safety manager recognises: V-301's periodic inspection falls
due within the month, one LPG sphere's safety valve is almost due for calibration, P-401's
mechanical seals are below minimum stock, and R-401's feed interlock was bypassed during the
last overhaul (approved, restored in time).

Example:
    ``load_equipment_demo(session=session, plant=load_plant(DEMO_PLANT))`` → rows added (0 the second time)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registers.db import utcnow
from registers.equipment import service
from registers.equipment.models import BypassRecord, LifecycleRecord, SisInterlock, SparePart, WorkOrder
from registers.equipment.schemas import (
    BypassCreate,
    CalibrationCreate,
    EquipmentCategory,
    EquipmentCreate,
    InspectionCreate,
    InspectionResult,
    InterlockCreate,
    LifecycleCreate,
    LifecycleEvent,
    Priority,
    ReplacementCreate,
    SparePartCreate,
    SpecialKind,
    WorkOrderCreate,
)
from registers.equipment.workflow import BypassAction
from twin.plant import Plant

__all__ = ["DEMO_ACTOR", "load_equipment_demo"]

DEMO_ACTOR = "demo"

_CATEGORY: Mapping[str, EquipmentCategory] = {
    "sphere": EquipmentCategory.SPHERE,
    "tank": EquipmentCategory.TANK,
    "vessel": EquipmentCategory.VESSEL,
    "reactor": EquipmentCategory.REACTOR,
    "pump": EquipmentCategory.PUMP,
    "exchanger": EquipmentCategory.EXCHANGER,
    "building": EquipmentCategory.BUILDING,
}
# Pressure vessels under 特种设备目录: the LPG spheres, the liquid-chlorine tank, the reactor.
# The methanol tanks are atmospheric storage tanks, not special equipment.
_SPECIAL: Mapping[str, str] = {
    "V-101": "DJ-YL-0101",
    "V-102": "DJ-YL-0102",
    "V-301": "DJ-YL-0301",
    "R-401": "DJ-YL-0401",
}
_MEDIUM: Mapping[str, str] = {
    "V-101": "液化石油气",
    "V-102": "液化石油气",
    "T-201": "甲醇",
    "T-202": "甲醇",
    "V-301": "液氯",
    "R-401": "氯、甲醇",
    "P-401": "甲醇",
    "E-401": "循环冷却水",
}
_DESIGN_PRESSURE: Mapping[str, float] = {"V-101": 1.77, "V-102": 1.77, "V-301": 1.6, "R-401": 0.6}
_RESPONSIBLE: Mapping[str, str] = {
    "tank_farm": "赵强",
    "reaction_unit": "孙明",
    "warehouse": "周敏",
    "control_room": "孙明",
}

# (parent plant id, segment, name, category, set/burst pressure MPa, interval days)
_COMPONENTS: tuple[tuple[str, str, str, EquipmentCategory, float | None, int | None], ...] = (
    ("V-101", "PSV-101A", "1#球罐安全阀A", EquipmentCategory.SAFETY_VALVE, 1.77, 365),
    ("V-101", "PSV-101B", "1#球罐安全阀B", EquipmentCategory.SAFETY_VALVE, 1.77, 365),
    ("V-102", "PSV-102A", "2#球罐安全阀A", EquipmentCategory.SAFETY_VALVE, 1.77, 365),
    ("V-301", "PSV-301", "液氯储罐安全阀", EquipmentCategory.SAFETY_VALVE, 1.6, 365),
    ("R-401", "PSV-401", "反应釜安全阀", EquipmentCategory.SAFETY_VALVE, 0.6, 365),
    ("R-401", "RD-401", "反应釜爆破片", EquipmentCategory.RUPTURE_DISC, 0.55, 365),
    ("P-401", "M-401", "进料泵电机", EquipmentCategory.MOTOR, None, None),
)

# (interlock code, name, equipment, tag, limit, action, SIL)
_INTERLOCKS: tuple[tuple[str, str, str, str, str, str, int], ...] = (
    ("SIS-101-01", "1#球罐压力高高联锁", "V-101", "PT-101", "hh", "关闭球罐进料紧急切断阀", 2),
    ("SIS-102-01", "2#球罐压力高高联锁", "V-102", "PT-102", "hh", "关闭球罐进料紧急切断阀", 2),
    ("SIS-301-01", "液氯库有毒气体高高联锁", "V-301", "AT-301", "hh", "启动事故氯吸收中和系统并关闭出料阀", 2),
    ("SIS-401-01", "反应釜温度高高联锁", "R-401", "TT-401", "hh", "切断氯气进料阀，打开紧急冷却水阀", 2),
    ("SIS-401-02", "反应釜压力高高联锁", "R-401", "PT-401", "hh", "切断氯气进料阀，停进料泵P-401", 2),
    ("SIS-401-03", "氯气进料流量高高联锁", "R-401", "FT-401", "hh", "切断氯气进料阀", 1),
)


def load_equipment_demo(*, session: Session, plant: Plant, today: date | None = None) -> int:
    """Fill the equipment register for the demo plant; returns rows added (0 when already loaded).

    Idempotent: every part is keyed on its natural key (code, part number, interlock code) and
    skipped when present. Only flushes; the caller commits.

    Args:
        session: a session on a migrated registers database.
        plant: the plant model.
        today: the demo's date for dated records (default: today, UTC).
    """
    today = today or utcnow().date()
    added = _tree(session, plant, today)
    added += _records(session, plant, today)
    added += _interlocks(session, plant, today)
    added += _spares_and_orders(session, plant, today)
    session.flush()
    return added


def _code_of(plant: Plant, equipment_id: str) -> str:
    equipment = plant.equipment_by_id(equipment_id)
    return f"{plant.plant.id.upper()}.{equipment.area.upper()}.{equipment.id.upper()}"


def _add_node(session: Session, data: EquipmentCreate) -> int:
    if service.get_by_code(session=session, code=data.code) is not None:
        return 0
    service.register.create(session=session, data=data, actor=DEMO_ACTOR)
    return 1


def _tree(session: Session, plant: Plant, today: date) -> int:
    site = plant.plant.id.upper()
    added = _add_node(
        session,
        EquipmentCreate(code=site, name=plant.plant.name, plant_id=plant.plant.id, category=EquipmentCategory.SITE),
    )
    used_areas = {e.area for e in plant.equipment}
    for area in plant.areas:
        if area.id not in used_areas:
            continue
        added += _add_node(
            session,
            EquipmentCreate(
                code=f"{site}.{area.id.upper()}",
                name=area.name,
                plant_id=area.id,
                category=EquipmentCategory.UNIT,
                responsible_person=_RESPONSIBLE.get(area.id),
            ),
        )
    commissioned = date(today.year - 6, 9, 1)
    for equipment in plant.equipment:
        special = equipment.id in _SPECIAL
        added += _add_node(
            session,
            EquipmentCreate(
                code=_code_of(plant, equipment.id),
                name=equipment.name,
                plant_id=equipment.id,
                category=_CATEGORY.get(equipment.kind, EquipmentCategory.OTHER),
                special_kind=SpecialKind.PRESSURE_VESSEL if special else None,
                registration_no=_SPECIAL.get(equipment.id),
                hazard_source_code=equipment.hazard_source,
                medium=_MEDIUM.get(equipment.id),
                design_pressure_mpa=_DESIGN_PRESSURE.get(equipment.id),
                commissioned_on=commissioned,
                responsible_person=_RESPONSIBLE.get(equipment.area),
            ),
        )
    for parent, segment, name, category, pressure, interval in _COMPONENTS:
        if parent not in {e.id for e in plant.equipment}:
            continue
        added += _add_node(
            session,
            EquipmentCreate(
                code=f"{_code_of(plant, parent)}.{segment}",
                name=name,
                category=category,
                design_pressure_mpa=pressure,
                interval_days=interval,
                commissioned_on=commissioned,
            ),
        )
    return added


def _has_records(session: Session, model: type[LifecycleRecord] | type[SisInterlock], code: str) -> bool:
    count = session.scalar(select(func.count()).select_from(model).where(model.equipment_code == code))
    return bool(count)


def _records(session: Session, plant: Plant, today: date) -> int:
    added = 0
    for equipment in plant.equipment:
        code = _code_of(plant, equipment.id)
        if service.get_by_code(session=session, code=code) is None or _has_records(session, LifecycleRecord, code):
            continue
        start = date(today.year - 6, 3, 1)
        for offset, event, text in (
            (0, LifecycleEvent.PURCHASE, "随建设项目采购"),
            (120, LifecycleEvent.INSTALL, "安装完成，安装监督检验合格"),
            (180, LifecycleEvent.COMMISSION, "三查四定完成，投用"),
            (365 * 4, LifecycleEvent.REPAIR, "年度检修"),
        ):
            lifecycle = LifecycleCreate(
                equipment_code=code,
                event=event,
                occurred_on=start + timedelta(days=offset),
                description=text,
                performed_by="示范化工设备部",
            )
            service.lifecycle.create(session=session, data=lifecycle, actor=DEMO_ACTOR)
            added += 1
        if equipment.id in _SPECIAL:
            # V-301 falls due within the month (the demo's inspection reminder); the rest in a year or more.
            due = today + timedelta(days=20) if equipment.id == "V-301" else today + timedelta(days=400)
            inspection = InspectionCreate(
                equipment_code=code,
                inspected_on=due - timedelta(days=3 * 365),
                next_due=due,
                result=InspectionResult.PASS,
                safety_grade=2,
                agency="示范市特种设备检验研究院",
                report_no=f"RQ-{due.year - 3}-{equipment.id}",
            )
            service.inspections.create(session=session, data=inspection, actor=DEMO_ACTOR)
            added += 1
    for parent, segment, _, category, pressure, _interval in _COMPONENTS:
        code = f"{_code_of(plant, parent)}.{segment}"
        if service.get_by_code(session=session, code=code) is None:
            continue
        if category is EquipmentCategory.SAFETY_VALVE and not service.calibrations.for_equipment(
            session=session, code=code
        ):
            # PSV-101B was calibrated 350 days ago: due in 15 days, the demo's calibration reminder.
            days_ago = 350 if segment == "PSV-101B" else 200
            calibration = CalibrationCreate(
                equipment_code=code,
                calibrated_on=today - timedelta(days=days_ago),
                set_pressure_mpa=pressure,
                agency="示范市特种设备检验研究院安全阀校验站",
                report_no=f"AF-{segment}",
            )
            service.calibrations.create(session=session, data=calibration, actor=DEMO_ACTOR)
            added += 1
        if category is EquipmentCategory.RUPTURE_DISC and not service.replacements.for_equipment(
            session=session, code=code
        ):
            replacement = ReplacementCreate(
                equipment_code=code,
                replaced_on=today - timedelta(days=50),
                burst_pressure_mpa=pressure,
                batch_no="BP-2026-017",
                reason="年度检修定期更换",
                performed_by="孙明",
            )
            service.replacements.create(session=session, data=replacement, actor=DEMO_ACTOR)
            added += 1
    return added


def _interlocks(session: Session, plant: Plant, today: date) -> int:
    added = 0
    equipment_ids = {e.id for e in plant.equipment}
    for code, name, equipment_id, tag_id, limit, action, sil in _INTERLOCKS:
        exists = session.scalar(select(func.count()).select_from(SisInterlock).where(SisInterlock.code == code))
        if exists or equipment_id not in equipment_ids:
            continue
        tag = plant.tag(tag_id)
        value = getattr(tag.limits, limit)
        data = InterlockCreate(
            code=code,
            name=name,
            equipment_code=_code_of(plant, equipment_id),
            tag=tag_id,
            trip_condition=f"{tag_id} ≥ {value:g} {tag.unit}",
            action=action,
            sil=sil,
        )
        service.interlocks.create(session=session, data=data, actor=DEMO_ACTOR)
        added += 1
    # The last overhaul: SIS-401-01 bypassed for the TT-401 transmitter swap, approved and restored in time.
    if not session.scalar(select(func.count()).select_from(BypassRecord)) and "R-401" in equipment_ids:
        start = datetime(today.year, today.month, 1, 1, 0, tzinfo=UTC) - timedelta(days=40)
        bypass = service.bypasses.create(
            session=session,
            data=BypassCreate(
                interlock_code="SIS-401-01",
                reason="TT-401 温度变送器更换，联锁临时旁路",
                measures="现场专人监护TT-401就地温度计，反应釜停止进氯，DCS设置温度报警H=85°C",
                planned_start=start,
                planned_end=start + timedelta(hours=8),
            ),
            actor="孙明",
        )
        steps = (
            (BypassAction.APPROVE, "李志华", 0),
            (BypassAction.START, "孙明", 1),
            (BypassAction.CLOSE, "孙明", 6),
        )
        for action, actor, hours in steps:
            service.transition_bypass(
                session=session, record_id=bypass.id, action=action, actor=actor, now=start + timedelta(hours=hours)
            )
        added += 1
    return added


def _spares_and_orders(session: Session, plant: Plant, today: date) -> int:
    added = 0
    equipment_ids = {e.id for e in plant.equipment}
    parts = (
        ("SP-P401-MS", "P-401", "机械密封", "双端面机械密封 Φ45", "套", 1, 2, "备件库A-03"),
        ("SP-P401-BRG", "P-401", "轴承", "6309-2RS", "个", 4, 2, "备件库A-04"),
        ("SP-RD401", "R-401", "爆破片", "正拱带槽型 DN80 0.55MPa", "片", 2, 1, "备件库B-01"),
        ("SP-PSV-DN50", "V-101", "安全阀阀芯组件", "A42Y-25 DN50", "套", 1, 1, "备件库B-02"),
    )
    for part_no, equipment_id, name, spec, unit, stock, min_stock, location in parts:
        exists = session.scalar(select(func.count()).select_from(SparePart).where(SparePart.part_no == part_no))
        if exists or equipment_id not in equipment_ids:
            continue
        data = SparePartCreate(
            part_no=part_no,
            name=name,
            spec=spec,
            equipment_code=_code_of(plant, equipment_id),
            unit=unit,
            stock=stock,
            min_stock=min_stock,
            location=location,
        )
        service.spare_parts.create(session=session, data=data, actor=DEMO_ACTOR)
        added += 1
    if "E-401" in equipment_ids and not session.scalar(select(func.count()).select_from(WorkOrder)):
        order = WorkOrderCreate(
            equipment_code=_code_of(plant, "E-401"),
            title="反应冷却器E-401管程清洗",
            description="冷却水出口温度TT-402近一月上升约3°C，疑似结垢，安排停车窗口清洗",
            priority=Priority.NORMAL,
            due_on=today + timedelta(days=30),
        )
        service.work_orders.create(session=session, data=order, actor="李志华")
        added += 1
    return added
