"""An Excel import writes rows the way the form's create does, hooks included (issue 12).

Registers whose create does more than insert the row (a calibration's next due date from the
valve's own interval and the valve's due date, a lifecycle event's status change, a work
order's number, a hidden hazard's registrant) must give an imported row exactly what a create
through the API gives it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from registers.db import utcnow
from registers.equipment import service
from registers.equipment.models import SafetyValveCalibration, WorkOrder
from registers.equipment.schemas import CalibrationCreate, LifecycleCreate, LifecycleEvent, WorkOrderCreate
from registers.framework.exporting import LOCAL_TZ
from registers.framework.importing import ImportFailed, import_file
from registers.framework.models import RecordVersion
from tests.registers.test_equipment import PSV, V101, build_tree, xlsx

PSV_INTERVAL = 180  # build_tree gives the valve its own interval (the default is 365 days)


def test_imported_calibration_gets_the_due_date_a_create_gives(session: Session) -> None:
    build_tree(session)
    created = service.calibrations.create(
        session=session, data=CalibrationCreate(equipment_code=PSV, calibrated_on=date(2026, 1, 5)), actor="eng"
    )
    assert created.next_due == date(2026, 1, 5) + timedelta(days=PSV_INTERVAL)
    content = xlsx([["安全阀编码", "校验日期", "校验结论"], [PSV, "2026-03-01", "合格"]])
    report = service.import_equipment_file(
        service.calibrations, session=session, content=content, filename="c.xlsx", actor="eng"
    )
    assert report.imported == 1
    imported = session.scalars(
        sa.select(SafetyValveCalibration).where(SafetyValveCalibration.calibrated_on == date(2026, 3, 1))
    ).one()
    expected = date(2026, 3, 1) + timedelta(days=PSV_INTERVAL)
    assert imported.next_due == expected  # the valve's interval, not the register's 365-day default
    valve = service.get_by_code(session=session, code=PSV)
    assert valve is not None and valve.next_calibration_due == expected


def test_imported_lifecycle_event_changes_the_equipment_status_as_create_does(session: Session) -> None:
    build_tree(session)
    rd = f"{V101}.RD-1"
    service.lifecycle.create(
        session=session,
        data=LifecycleCreate(equipment_code=rd, event=LifecycleEvent.DECOMMISSION, occurred_on=date(2026, 2, 1)),
        actor="eng",
    )
    node = service.get_by_code(session=session, code=rd)
    assert node is not None and node.status == "停用"
    content = xlsx([["设备编码", "事件", "日期"], [V101, "停用", "2026-03-01"]])
    service.import_equipment_file(service.lifecycle, session=session, content=content, filename="l.xlsx", actor="eng")
    vessel = service.get_by_code(session=session, code=V101)
    assert vessel is not None and vessel.status == "停用"


def test_imported_work_orders_are_numbered_as_created_ones(session: Session) -> None:
    build_tree(session)
    today = utcnow().astimezone(LOCAL_TZ).date()
    created = service.work_orders.create(
        session=session, data=WorkOrderCreate(equipment_code=V101, title="泄漏"), actor="eng"
    )
    assert created.number == f"WO-{today:%Y%m%d}-0001"
    content = xlsx(
        [
            ["设备编码", "标题", "工单号"],
            [V101, "压力表更换", None],
            [PSV, "复校", "WO-MANUAL-7"],
            [V101, "保温修补", None],
        ]
    )
    report = import_file(service.work_orders, session=session, content=content, filename="w.xlsx", actor="eng")
    assert report.imported == 3
    orders = session.scalars(sa.select(WorkOrder).order_by(WorkOrder.id)).all()
    assert [(o.title, o.number, o.state) for o in orders] == [
        ("泄漏", f"WO-{today:%Y%m%d}-0001", "open"),
        ("压力表更换", f"WO-{today:%Y%m%d}-0002", "open"),
        ("复校", "WO-MANUAL-7", "open"),
        ("保温修补", f"WO-{today:%Y%m%d}-0003", "open"),
    ]
    history = session.scalars(
        sa.select(RecordVersion.action).where(RecordVersion.register == "work_order").order_by(RecordVersion.id)
    ).all()
    assert history == ["create", "import", "import", "import"]  # the trail still says how each came in


def test_a_hook_refusing_a_row_fails_the_whole_import(session: Session) -> None:
    """A rule only create knows (here: the tree's parent) is a row error, and nothing is written."""
    build_tree(session)
    content = xlsx([["设备编码", "标题"], [V101, "好的"], ["DEMO.TANK_FARM.V-999", "无此设备"]])
    with pytest.raises(ImportFailed) as failed:
        import_file(service.work_orders, session=session, content=content, filename="w.xlsx", actor="eng")
    assert [(e.row, e.column, e.field) for e in failed.value.report.errors] == [(3, "设备编码", "equipment_code")]
    assert "DEMO.TANK_FARM.V-999" in failed.value.report.errors[0].message
    assert session.scalar(sa.select(sa.func.count()).select_from(WorkOrder)) == 0


def test_a_tree_file_may_list_a_node_before_its_parent(session: Session) -> None:
    """Rows go through create in file order; one whose parent comes later in the file waits for it."""
    content = xlsx(
        [
            ["设备编码", "名称"],
            ["DEMO.TANK_FARM.V-101", "1#球罐"],
            ["DEMO.TANK_FARM", "罐区"],
            ["DEMO", "示范化工"],
        ]
    )
    report = service.import_equipment_file(
        service.register, session=session, content=content, filename="t.xlsx", actor="e"
    )
    assert report.imported == 3
    vessel = service.get_by_code(session=session, code=V101)
    assert vessel is not None and vessel.parent_code == "DEMO.TANK_FARM"
