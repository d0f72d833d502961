"""The equipment register on SQLite and PostgreSQL: tree coding, records and due dates, reminders,
SIS bypasses, work orders (by hand and from PdM), import with the tree's rules, the demo plant."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.contracts import PdmPrediction
from registers.equipment import service
from registers.equipment.demo import load_equipment_demo
from registers.equipment.models import EquipmentNode, SafetyValveCalibration, WorkOrder
from registers.equipment.schemas import (
    BypassCreate,
    CalibrationCreate,
    EquipmentCategory,
    EquipmentCreate,
    EquipmentStatus,
    InspectionCreate,
    InspectionResult,
    InterlockCreate,
    LifecycleCreate,
    LifecycleEvent,
    ReplacementCreate,
    SparePartCreate,
    SparePartUpdate,
    SpecialKind,
    WorkOrderCreate,
)
from registers.equipment.workflow import BypassAction, BypassState, InvalidTransition, WorkOrderAction, WorkOrderState
from registers.framework.importing import ImportFailed, import_file
from registers.framework.reminders import due_reminders
from registers.framework.service import DuplicateValue, InvalidInput
from twin.plant import DEMO_PLANT, load_plant

V101 = "DEMO.TANK_FARM.V-101"
PSV = f"{V101}.PSV-101A"


def node(code: str, name: str = "节点", **extra: object) -> EquipmentCreate:
    return EquipmentCreate(code=code, name=name, **extra)  # type: ignore[arg-type]


def build_tree(session: Session) -> None:
    for data in (
        node("DEMO", "示范化工", plant_id="demo"),
        node("DEMO.TANK_FARM", "罐区", plant_id="tank_farm"),
        node(V101, "1#球罐", plant_id="V-101", special_kind=SpecialKind.PRESSURE_VESSEL),
        node(PSV, "安全阀A", category=EquipmentCategory.SAFETY_VALVE, interval_days=180),
        node(f"{V101}.RD-1", "爆破片", category=EquipmentCategory.RUPTURE_DISC),
    ):
        service.register.create(session=session, data=data, actor="eng")
    session.flush()


# --- the tree --------------------------------------------------------------------------------


def test_a_node_needs_its_parent_and_a_unique_code(session: Session) -> None:
    with pytest.raises(InvalidInput, match="设备「DEMO.TANK_FARM」不存在"):
        service.register.create(session=session, data=node("DEMO.TANK_FARM.V-101"), actor="eng")
    build_tree(session)
    v101 = service.get_by_code(session=session, code=V101)
    assert v101 is not None and (v101.level, v101.parent_code) == ("equipment", "DEMO.TANK_FARM")
    with pytest.raises(DuplicateValue, match="设备编码「DEMO.TANK_FARM.V-101」已存在"):
        service.register.create(session=session, data=node(V101), actor="eng")
    # the same plant equipment filed under another unit would split its records between two files
    service.register.create(session=session, data=node("DEMO.REACTION_UNIT"), actor="eng")
    with pytest.raises(DuplicateValue, match="数字孪生编号「V-101」已存在"):
        service.register.create(session=session, data=node("DEMO.REACTION_UNIT.V-101", plant_id="V-101"), actor="eng")


def test_a_node_with_children_stays_and_a_deleted_code_is_free_again(session: Session) -> None:
    build_tree(session)
    v101 = service.get_by_code(session=session, code=V101)
    assert v101 is not None
    with pytest.raises(InvalidInput, match="下还有 2 个下级节点"):
        service.register.soft_delete(session=session, record_id=v101.id, actor="eng")
    for code in (PSV, f"{V101}.RD-1"):
        child = service.get_by_code(session=session, code=code)
        assert child is not None
        service.register.soft_delete(session=session, record_id=child.id, actor="eng")
    service.register.soft_delete(session=session, record_id=v101.id, actor="eng")
    # the partial unique index lets a new V-101 take the code of the deleted one
    again = service.register.create(session=session, data=node(V101, "新1#球罐"), actor="eng")
    session.flush()
    assert again.id != v101.id
    assert [n.code for n in service.tree(session=session)[0].children[0].children] == [V101]


def test_plant_id_must_match_the_code_on_update(session: Session) -> None:
    build_tree(session)
    v101 = service.get_by_code(session=session, code=V101)
    assert v101 is not None
    from registers.equipment.schemas import EquipmentUpdate

    with pytest.raises(InvalidInput, match="不一致"):
        service.register.update(session=session, record_id=v101.id, data=EquipmentUpdate(plant_id="V-102"), actor="e")


# --- records, due dates, reminders -----------------------------------------------------------


def test_records_need_the_right_kind_of_equipment(session: Session) -> None:
    build_tree(session)
    with pytest.raises(InvalidInput, match="不是安全阀"):
        service.calibrations.create(
            session=session, data=CalibrationCreate(equipment_code=V101, calibrated_on=date(2026, 1, 5)), actor="e"
        )
    with pytest.raises(InvalidInput, match="不是特种设备"):
        service.inspections.create(
            session=session,
            data=InspectionCreate(
                equipment_code=PSV,
                inspected_on=date(2026, 1, 5),
                next_due=date(2029, 1, 5),
                result=InspectionResult.PASS,
                agency="检验院",
            ),
            actor="e",
        )
    with pytest.raises(InvalidInput, match="设备「DEMO.TANK_FARM.V-999」不存在"):
        service.lifecycle.create(
            session=session,
            data=LifecycleCreate(
                equipment_code="DEMO.TANK_FARM.V-999", event=LifecycleEvent.REPAIR, occurred_on=date(2026, 1, 1)
            ),
            actor="e",
        )


def test_newest_record_sets_the_due_date_and_reminders_fire_once_each(session: Session) -> None:
    build_tree(session)
    # the valve's own interval (180 d) decides its next calibration
    first = service.calibrations.create(
        session=session, data=CalibrationCreate(equipment_code=PSV, calibrated_on=date(2026, 1, 10)), actor="e"
    )
    assert first.next_due == date(2026, 7, 9)
    older = service.calibrations.create(
        session=session, data=CalibrationCreate(equipment_code=PSV, calibrated_on=date(2025, 7, 1)), actor="e"
    )
    valve = service.get_by_code(session=session, code=PSV)
    assert valve is not None and valve.next_calibration_due == date(2026, 7, 9)  # the older one does not win
    service.replacements.create(
        session=session, data=ReplacementCreate(equipment_code=f"{V101}.RD-1", replaced_on=date(2026, 1, 20)), actor="e"
    )
    service.inspections.create(
        session=session,
        data=InspectionCreate(
            equipment_code=V101,
            inspected_on=date(2023, 7, 1),
            next_due=date(2026, 7, 1),
            result=InspectionResult.PASS,
            agency="示范市特检院",
        ),
        actor="e",
    )
    session.flush()

    def fire(day: date) -> list[tuple[str, int]]:
        now = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
        return sorted(
            (r.field, r.lead_days) for r in due_reminders(service.REMINDER_REGISTERS, session=session, now=now)
        )

    assert fire(date(2026, 5, 1)) == []
    assert fire(date(2026, 6, 2)) == [("next_inspection_due", 30)]
    assert fire(date(2026, 6, 2)) == []  # once
    assert fire(date(2026, 6, 10)) == [("next_calibration_due", 30)]
    assert fire(date(2026, 7, 1)) == [("next_inspection_due", 0)]
    assert fire(date(2026, 7, 2)) == [("next_calibration_due", 7)]
    assert fire(date(2027, 1, 20)) == [("next_calibration_due", 0), ("next_replacement_due", 0)]
    assert fire(date(2027, 2, 1)) == []
    # deleting the newest calibration brings the older record's date back
    service.calibrations.soft_delete(session=session, record_id=first.id, actor="e")
    assert valve.next_calibration_due == older.next_due == date(2025, 12, 28)


def test_out_of_service_equipment_is_not_reminded_and_lifecycle_sets_status(session: Session) -> None:
    build_tree(session)
    service.inspections.create(
        session=session,
        data=InspectionCreate(
            equipment_code=V101,
            inspected_on=date(2023, 7, 1),
            next_due=date(2026, 7, 1),
            result=InspectionResult.PASS,
            agency="特检院",
        ),
        actor="e",
    )
    service.lifecycle.create(
        session=session,
        data=LifecycleCreate(equipment_code=V101, event=LifecycleEvent.DECOMMISSION, occurred_on=date(2026, 5, 1)),
        actor="e",
    )
    v101 = service.get_by_code(session=session, code=V101)
    assert v101 is not None and v101.status == EquipmentStatus.OUT_OF_SERVICE
    now = datetime(2026, 7, 2, tzinfo=UTC)
    assert [r.field for r in due_reminders(service.REMINDER_REGISTERS, session=session, now=now)] == []
    history = service.register.history(session=session, record_id=v101.id)
    assert [h.action for h in history][-1] == "update" and history[-1].changes["status"] == ["在用", "停用"]


def test_spare_parts_flag_low_stock(session: Session) -> None:
    build_tree(session)
    part = service.spare_parts.create(
        session=session,
        data=SparePartCreate(part_no="SP-1", name="阀芯", equipment_code=PSV, stock=1, min_stock=2),
        actor="e",
    )
    assert part.below_min
    service.spare_parts.update(session=session, record_id=part.id, data=SparePartUpdate(stock=5), actor="e")
    assert not part.below_min
    assert service.spare_parts.list(session=session, filters={"below_min": True}).total == 0


# --- SIS bypasses ----------------------------------------------------------------------------

T0 = datetime(2026, 11, 1, 0, tzinfo=UTC)


def bypass_request(session: Session) -> int:
    build_tree(session)
    service.interlocks.create(
        session=session,
        data=InterlockCreate(
            code="SIS-101-01",
            name="球罐压力高高",
            equipment_code=V101,
            trip_condition="PT-101 ≥ 1.75 MPa",
            action="切断进料",
        ),
        actor="e",
    )
    data = BypassCreate(
        interlock_code="SIS-101-01", reason="变送器更换", planned_start=T0, planned_end=T0 + timedelta(hours=8)
    )
    return service.bypasses.create(session=session, data=data, actor="op").id


def test_bypass_workflow_with_separation_of_duties_and_overrun(session: Session) -> None:
    record_id = bypass_request(session)
    with pytest.raises(InvalidInput, match="已有未关闭的旁路申请"):
        service.bypasses.create(
            session=session,
            data=BypassCreate(
                interlock_code="SIS-101-01", reason="再次", planned_start=T0, planned_end=T0 + timedelta(hours=1)
            ),
            actor="op",
        )
    with pytest.raises(InvalidTransition, match="已申请"):
        service.transition_bypass(session=session, record_id=record_id, action=BypassAction.START, actor="op", now=T0)
    with pytest.raises(service.SeparationOfDuties):
        service.transition_bypass(session=session, record_id=record_id, action=BypassAction.APPROVE, actor="op", now=T0)
    service.transition_bypass(session=session, record_id=record_id, action=BypassAction.APPROVE, actor="boss", now=T0)
    record = service.transition_bypass(
        session=session, record_id=record_id, action=BypassAction.START, actor="op", now=T0 + timedelta(hours=1)
    )
    assert record.state == BypassState.ACTIVE and record.approved_by == "boss"
    assert service.overrun_bypasses(session=session, now=T0 + timedelta(hours=7)) == []
    assert [b.id for b in service.overrun_bypasses(session=session, now=T0 + timedelta(hours=9))] == [record_id]
    record = service.transition_bypass(
        session=session, record_id=record_id, action=BypassAction.CLOSE, actor="op", now=T0 + timedelta(hours=10)
    )
    assert record.state == BypassState.RESTORED and service.is_overrun(record)
    actions = [h.action for h in service.bypasses.history(session=session, record_id=record_id)]
    assert actions == ["create", "approve", "start", "close"]


def test_a_bypass_cannot_start_after_its_window(session: Session) -> None:
    record_id = bypass_request(session)
    service.transition_bypass(session=session, record_id=record_id, action=BypassAction.APPROVE, actor="boss", now=T0)
    with pytest.raises(InvalidTransition, match="时间窗已于"):
        service.transition_bypass(
            session=session, record_id=record_id, action=BypassAction.START, actor="op", now=T0 + timedelta(hours=9)
        )


# --- work orders -----------------------------------------------------------------------------


def test_work_order_by_hand_through_its_workflow(session: Session) -> None:
    build_tree(session)
    order = service.work_orders.create(
        session=session, data=WorkOrderCreate(equipment_code=V101, title="液位计校准"), actor="eng"
    )
    second = service.work_orders.create(
        session=session, data=WorkOrderCreate(equipment_code=V101, title="b"), actor="e"
    )
    assert order.state == WorkOrderState.OPEN and order.number.startswith("WO-")
    assert int(second.number[-4:]) == int(order.number[-4:]) + 1

    def move(action: WorkOrderAction, actor: str, assignee: str | None = None, note: str | None = None) -> WorkOrder:
        return service.transition_work_order(
            session=session, record_id=order.id, action=action, actor=actor, assignee=assignee, note=note
        )

    with pytest.raises(InvalidTransition):
        move(WorkOrderAction.COMPLETE, "fitter")
    move(WorkOrderAction.ASSIGN, "eng", assignee="fitter")
    move(WorkOrderAction.START, "fitter")
    move(WorkOrderAction.COMPLETE, "fitter", note="已更换液位计浮子")
    with pytest.raises(service.SeparationOfDuties):
        move(WorkOrderAction.VERIFY, "fitter")
    move(WorkOrderAction.VERIFY, "eng")
    done = move(WorkOrderAction.CLOSE, "eng")
    assert (done.state, done.result, done.verified_by) == ("closed", "已更换液位计浮子", "eng")
    assert done.closed_at is not None
    with pytest.raises(InvalidTransition):
        move(WorkOrderAction.CANCEL, "eng")


def test_pdm_prediction_creates_one_work_order_per_asset_and_time(session: Session) -> None:
    build_tree(session)
    ts = int(datetime(2026, 11, 20, 2, tzinfo=UTC).timestamp() * 1000)
    prediction = PdmPrediction(
        asset_id="V-101", ts=ts, health=0.42, anomaly_score=0.8, rul_days=12.5, top_features=["rms"]
    )
    first = service.create_from_prediction(session=session, prediction=prediction)
    again = service.create_from_prediction(session=session, prediction=prediction)
    assert again.id == first.id
    assert (first.equipment_code, first.source, first.priority, first.due_on) == (
        V101,
        "pdm",
        "high",
        date(2026, 12, 2),
    )
    later = service.create_from_prediction(
        session=session, prediction=PdmPrediction(asset_id="V-101", ts=ts + 1, health=0.2, anomaly_score=0.9)
    )
    assert later.id != first.id and later.priority == "urgent"
    assert session.scalar(select(func.count()).select_from(WorkOrder)) == 2
    with pytest.raises(InvalidInput, match="不在设备台账中"):
        service.create_from_prediction(
            session=session, prediction=PdmPrediction(asset_id="X-999", ts=ts, health=0.1, anomaly_score=1)
        )


# --- import with the tree's rules ------------------------------------------------------------


def xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_tree_import_is_all_or_nothing_with_parent_checks(session: Session) -> None:
    header = ["设备编码", "名称", "设备类别"]
    bad = xlsx(
        [
            header,
            ["DEMO", "示范化工", "厂区"],
            ["DEMO.TANK_FARM", "罐区", "装置"],
            ["DEMO.TANK_FARM.V-101", "1#球罐", "球罐"],
            ["DEMO.REACTION_UNIT.R-401", "反应釜", "反应器"],  # its unit is neither stored nor in the file
            ["DEMO.TANK_FARM.v101", "坏编码", "储罐"],
        ]
    )
    with pytest.raises(ImportFailed) as failed:
        service.import_equipment_file(service.register, session=session, content=bad, filename="tree.xlsx", actor="e")
    errors = [(e.row, e.column) for e in failed.value.report.errors]
    assert errors == [(5, "设备编码"), (6, "设备编码")]
    assert "上级节点「DEMO.REACTION_UNIT」不存在" in failed.value.report.errors[0].message
    assert session.scalar(select(func.count()).select_from(EquipmentNode)) == 0
    good = xlsx(
        [
            header,
            ["DEMO", "示范化工", "厂区"],
            ["DEMO.TANK_FARM", "罐区", "装置"],
            ["DEMO.TANK_FARM.V-101", "1#球罐", "球罐"],
        ]
    )
    report = service.import_equipment_file(
        service.register, session=session, content=good, filename="t.xlsx", actor="e"
    )
    assert report.imported == 3
    assert [n.code for n in service.tree(session=session, root="DEMO.TANK_FARM")] == ["DEMO.TANK_FARM"]
    v101 = service.get_by_code(session=session, code=V101)
    assert v101 is not None and v101.level == "equipment" and v101.parent_code == "DEMO.TANK_FARM"


def test_record_import_checks_equipment_and_carries_due_dates(session: Session) -> None:
    build_tree(session)
    header = ["安全阀编码", "校验日期", "下次校验日期"]
    bad = xlsx([header, [PSV, "2026-03-01", "2027-03-01"], [V101, "2026-03-01", None]])
    with pytest.raises(ImportFailed) as failed:
        service.import_equipment_file(service.calibrations, session=session, content=bad, filename="c.xlsx", actor="e")
    assert [(e.row, e.column) for e in failed.value.report.errors] == [(3, "安全阀编码")]
    assert "不是安全阀" in failed.value.report.errors[0].message
    good = xlsx([header, [PSV, "2026-03-01", "2027-03-01"]])
    service.import_equipment_file(service.calibrations, session=session, content=good, filename="c.xlsx", actor="e")
    valve = service.get_by_code(session=session, code=PSV)
    assert valve is not None and valve.next_calibration_due == date(2027, 3, 1)


# --- the demo plant --------------------------------------------------------------------------


def test_demo_equipment_matches_the_plant_and_loads_once(session: Session) -> None:
    plant = load_plant(DEMO_PLANT)
    added = load_equipment_demo(session=session, plant=plant, today=date(2026, 11, 28))
    assert added > 0
    assert load_equipment_demo(session=session, plant=plant, today=date(2026, 11, 28)) == 0
    for equipment in plant.equipment:
        found = service.node_for_asset(session=session, asset_id=equipment.id)
        assert found is not None, equipment.id
        assert found.code == f"DEMO.{equipment.area.upper()}.{equipment.id}" and found.level == "equipment"
        assert found.hazard_source_code == equipment.hazard_source
    file = service.equipment_file(session=session, code="DEMO.REACTION_UNIT.R-401")
    assert [p.code for p in file["path"]] == ["DEMO", "DEMO.REACTION_UNIT"]
    assert {c.code.rsplit(".", 1)[1] for c in file["components"]} == {"PSV-401", "RD-401"}
    assert {i.tag for i in file["interlocks"]} == {"TT-401", "PT-401", "FT-401"}
    assert "TT-401 ≥ 95" in next(i.trip_condition for i in file["interlocks"] if i.tag == "TT-401")
    assert [b.state for b in file["bypasses"]] == ["restored"]
    assert file["inspections"] and file["calibrations"] and file["replacements"] and file["lifecycle"]
    now = datetime(2026, 11, 28, 1, tzinfo=UTC)
    fired = {r.record for r in due_reminders(service.REMINDER_REGISTERS, session=session, now=now)}
    assert fired == {"DEMO.TANK_FARM.V-301 液氯储罐", "DEMO.TANK_FARM.V-101.PSV-101B 1#球罐安全阀B"}
    low = service.spare_parts.list(session=session, filters={"below_min": True})
    assert [p.part_no for p in low.items] == ["SP-P401-MS"]


def test_imported_records_must_name_equipment_they_apply_to(session: Session) -> None:
    """The generic Excel import applies the same equipment check as the form: nothing orphaned is written."""
    build_tree(session)
    header = ["安全阀编码", "校验日期", "校验结论"]
    rows = [[PSV, "2026-10-01", "合格"], [V101, "2026-10-01", "合格"], ["DEMO.NOPE", "2026-10-01", "合格"]]
    with pytest.raises(ImportFailed) as failed:
        import_file(service.calibrations, session=session, content=_csv(header, rows), filename="a.csv", actor="eng")
    errors = failed.value.report.errors
    assert [(e.row, e.column, e.field) for e in errors] == [
        (3, "安全阀编码", "equipment_code"),
        (4, "安全阀编码", "equipment_code"),
    ]
    assert "DEMO.NOPE" in errors[1].message
    with pytest.raises(InvalidInput) as refused:  # the form says the same about row 3
        service.calibrations.create(
            session=session, data=CalibrationCreate(equipment_code=V101, calibrated_on=date(2026, 10, 1)), actor="eng"
        )
    assert refused.value.message == errors[0].message
    assert session.scalar(select(func.count()).select_from(SafetyValveCalibration)) == 0


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    return "\n".join(",".join(str(c) for c in row) for row in [header, *rows]).encode("utf-8-sig")
