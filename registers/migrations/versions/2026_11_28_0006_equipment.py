"""equipment and facilities (设备设施): equipment tree, special-equipment inspections, safety
valves and rupture discs, lifecycle, spare parts, SIS interlocks and bypasses, work orders

Revision ID: 2026_11_28_0006
Revises: 2026_11_28_0001
Created: 2026-11-28 00:06:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_28_0006"
down_revision: str | Sequence[str] | None = "2026_11_28_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "equipment",
        sa.Column("code", sa.String(length=64), nullable=False, comment="设备编码 (层级编码)"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="名称"),
        sa.Column(
            "level", sa.String(length=16), nullable=False, comment="层级: site/unit/equipment/component (derived)"
        ),
        sa.Column("parent_code", sa.String(length=64), nullable=True, comment="上级编码 (derived)"),
        sa.Column("plant_id", sa.String(length=32), nullable=True, comment="数字孪生编号 (plant model id)"),
        sa.Column("category", sa.String(length=32), nullable=True, comment="设备类别 (EquipmentCategory)"),
        sa.Column("special_kind", sa.String(length=32), nullable=True, comment="特种设备种类; NULL if not special"),
        sa.Column("registration_no", sa.String(length=64), nullable=True, comment="特种设备使用登记证编号"),
        sa.Column("status", sa.String(length=16), nullable=False, comment="状态 (EquipmentStatus)"),
        sa.Column("hazard_source_code", sa.String(length=32), nullable=True, comment="所属重大危险源"),
        sa.Column("manufacturer", sa.String(length=200), nullable=True, comment="制造单位"),
        sa.Column("model_no", sa.String(length=64), nullable=True, comment="规格型号"),
        sa.Column("serial_no", sa.String(length=64), nullable=True, comment="出厂编号"),
        sa.Column("commissioned_on", sa.Date(), nullable=True, comment="投用日期"),
        sa.Column("responsible_person", sa.String(length=64), nullable=True, comment="责任人"),
        sa.Column("medium", sa.String(length=64), nullable=True, comment="介质"),
        sa.Column("design_pressure_mpa", sa.Float(), nullable=True, comment="设计压力/整定压力/爆破压力 MPa"),
        sa.Column("interval_days", sa.Integer(), nullable=True, comment="校验/更换周期 (天); 安全阀缺省365"),
        sa.Column("next_inspection_due", sa.Date(), nullable=True, comment="下次定期检验日期"),
        sa.Column("next_calibration_due", sa.Date(), nullable=True, comment="下次校验日期 (安全阀)"),
        sa.Column("next_replacement_due", sa.Date(), nullable=True, comment="下次更换日期 (爆破片)"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment")),
    )
    op.create_index(op.f("ix_equipment_code"), "equipment", ["code"], unique=False)
    op.create_index(op.f("ix_equipment_deleted_at"), "equipment", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_equipment_level"), "equipment", ["level"], unique=False)
    op.create_index(op.f("ix_equipment_next_calibration_due"), "equipment", ["next_calibration_due"], unique=False)
    op.create_index(op.f("ix_equipment_next_inspection_due"), "equipment", ["next_inspection_due"], unique=False)
    op.create_index(op.f("ix_equipment_next_replacement_due"), "equipment", ["next_replacement_due"], unique=False)
    op.create_index(op.f("ix_equipment_parent_code"), "equipment", ["parent_code"], unique=False)
    op.create_index(op.f("ix_equipment_plant_id"), "equipment", ["plant_id"], unique=False)
    op.create_index(op.f("ix_equipment_special_kind"), "equipment", ["special_kind"], unique=False)
    op.create_index(
        "uq_equipment_code_live",
        "equipment",
        ["code"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )

    op.create_table(
        "equipment_inspections",
        sa.Column("equipment_code", sa.String(length=64), nullable=False, comment="设备编码"),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="检验类别 (InspectionKind)"),
        sa.Column("inspected_on", sa.Date(), nullable=False, comment="检验日期"),
        sa.Column("next_due", sa.Date(), nullable=False, comment="下次检验日期 (报告载明)"),
        sa.Column("result", sa.String(length=16), nullable=False, comment="检验结论 (InspectionResult)"),
        sa.Column("safety_grade", sa.Integer(), nullable=True, comment="安全状况等级 1–5 (压力容器/管道)"),
        sa.Column("agency", sa.String(length=200), nullable=False, comment="检验机构"),
        sa.Column("report_no", sa.String(length=64), nullable=True, comment="检验报告编号"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment_inspections")),
    )
    op.create_index(op.f("ix_equipment_inspections_deleted_at"), "equipment_inspections", ["deleted_at"], unique=False)
    op.create_index(
        op.f("ix_equipment_inspections_equipment_code"), "equipment_inspections", ["equipment_code"], unique=False
    )
    op.create_index(
        op.f("ix_equipment_inspections_inspected_on"), "equipment_inspections", ["inspected_on"], unique=False
    )

    op.create_table(
        "equipment_lifecycle",
        sa.Column("equipment_code", sa.String(length=64), nullable=False, comment="设备编码"),
        sa.Column("event", sa.String(length=16), nullable=False, comment="事件 (LifecycleEvent)"),
        sa.Column("occurred_on", sa.Date(), nullable=False, comment="日期"),
        sa.Column("description", sa.Text(), nullable=True, comment="说明"),
        sa.Column("cost_yuan", sa.Float(), nullable=True, comment="费用 (元)"),
        sa.Column("performed_by", sa.String(length=200), nullable=True, comment="执行单位/人"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equipment_lifecycle")),
    )
    op.create_index(op.f("ix_equipment_lifecycle_deleted_at"), "equipment_lifecycle", ["deleted_at"], unique=False)
    op.create_index(
        op.f("ix_equipment_lifecycle_equipment_code"), "equipment_lifecycle", ["equipment_code"], unique=False
    )
    op.create_index(op.f("ix_equipment_lifecycle_occurred_on"), "equipment_lifecycle", ["occurred_on"], unique=False)

    op.create_table(
        "rupture_disc_replacements",
        sa.Column("equipment_code", sa.String(length=64), nullable=False, comment="爆破片编码"),
        sa.Column("replaced_on", sa.Date(), nullable=False, comment="更换日期"),
        sa.Column("next_due", sa.Date(), nullable=False, comment="下次更换日期"),
        sa.Column("burst_pressure_mpa", sa.Float(), nullable=True, comment="标定爆破压力 MPa"),
        sa.Column("batch_no", sa.String(length=64), nullable=True, comment="批号"),
        sa.Column("reason", sa.String(length=200), nullable=True, comment="更换原因"),
        sa.Column("performed_by", sa.String(length=64), nullable=True, comment="更换人"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rupture_disc_replacements")),
    )
    op.create_index(
        op.f("ix_rupture_disc_replacements_deleted_at"), "rupture_disc_replacements", ["deleted_at"], unique=False
    )
    op.create_index(
        op.f("ix_rupture_disc_replacements_equipment_code"),
        "rupture_disc_replacements",
        ["equipment_code"],
        unique=False,
    )
    op.create_index(
        op.f("ix_rupture_disc_replacements_replaced_on"), "rupture_disc_replacements", ["replaced_on"], unique=False
    )

    op.create_table(
        "safety_valve_calibrations",
        sa.Column("equipment_code", sa.String(length=64), nullable=False, comment="安全阀编码"),
        sa.Column("calibrated_on", sa.Date(), nullable=False, comment="校验日期"),
        sa.Column("next_due", sa.Date(), nullable=False, comment="下次校验日期"),
        sa.Column("set_pressure_mpa", sa.Float(), nullable=True, comment="整定压力 MPa"),
        sa.Column("result", sa.String(length=16), nullable=False, comment="校验结论 (CalibrationResult)"),
        sa.Column("agency", sa.String(length=200), nullable=True, comment="校验机构"),
        sa.Column("report_no", sa.String(length=64), nullable=True, comment="校验报告编号"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_valve_calibrations")),
    )
    op.create_index(
        op.f("ix_safety_valve_calibrations_calibrated_on"), "safety_valve_calibrations", ["calibrated_on"], unique=False
    )
    op.create_index(
        op.f("ix_safety_valve_calibrations_deleted_at"), "safety_valve_calibrations", ["deleted_at"], unique=False
    )
    op.create_index(
        op.f("ix_safety_valve_calibrations_equipment_code"),
        "safety_valve_calibrations",
        ["equipment_code"],
        unique=False,
    )

    op.create_table(
        "sis_bypasses",
        sa.Column("interlock_code", sa.String(length=32), nullable=False, comment="联锁编号"),
        sa.Column("reason", sa.Text(), nullable=False, comment="旁路原因"),
        sa.Column("measures", sa.Text(), nullable=True, comment="旁路期间安全措施"),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=False, comment="计划开始"),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=False, comment="批准的结束时间"),
        sa.Column("state", sa.String(length=16), nullable=False, comment="状态 (BypassState)"),
        sa.Column("requested_by", sa.String(length=64), nullable=True, comment="申请人"),
        sa.Column("approved_by", sa.String(length=64), nullable=True, comment="批准人"),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True, comment="批准时间"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True, comment="旁路投入时间"),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True, comment="联锁恢复时间"),
        sa.Column("closed_by", sa.String(length=64), nullable=True, comment="恢复/驳回/撤销人"),
        sa.Column("note", sa.Text(), nullable=True, comment="审批/恢复意见"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_bypasses")),
    )
    op.create_index(op.f("ix_sis_bypasses_deleted_at"), "sis_bypasses", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_sis_bypasses_interlock_code"), "sis_bypasses", ["interlock_code"], unique=False)
    op.create_index(op.f("ix_sis_bypasses_state"), "sis_bypasses", ["state"], unique=False)

    op.create_table(
        "sis_interlocks",
        sa.Column("code", sa.String(length=32), nullable=False, comment="联锁编号"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="联锁名称"),
        sa.Column("equipment_code", sa.String(length=64), nullable=False, comment="设备编码"),
        sa.Column("tag", sa.String(length=32), nullable=True, comment="联锁位号 (plant tag)"),
        sa.Column("trip_condition", sa.String(length=200), nullable=False, comment="触发条件"),
        sa.Column("action", sa.String(length=200), nullable=False, comment="联锁动作"),
        sa.Column("sil", sa.Integer(), nullable=True, comment="SIL等级 1–4"),
        sa.Column("in_service", sa.Boolean(), nullable=False, comment="是否投用"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sis_interlocks")),
    )
    op.create_index(op.f("ix_sis_interlocks_code"), "sis_interlocks", ["code"], unique=False)
    op.create_index(op.f("ix_sis_interlocks_deleted_at"), "sis_interlocks", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_sis_interlocks_equipment_code"), "sis_interlocks", ["equipment_code"], unique=False)

    op.create_table(
        "spare_parts",
        sa.Column("part_no", sa.String(length=64), nullable=False, comment="备件编号"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="名称"),
        sa.Column("spec", sa.String(length=200), nullable=True, comment="规格型号"),
        sa.Column("equipment_code", sa.String(length=64), nullable=True, comment="适用设备编码"),
        sa.Column("unit", sa.String(length=16), nullable=False, comment="单位"),
        sa.Column("stock", sa.Float(), nullable=False, comment="库存"),
        sa.Column("min_stock", sa.Float(), nullable=True, comment="最低库存"),
        sa.Column("location", sa.String(length=64), nullable=True, comment="存放位置"),
        sa.Column(
            "below_min", sa.Boolean(), server_default=sa.false(), nullable=False, comment="低于最低库存 (derived)"
        ),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spare_parts")),
    )
    op.create_index(op.f("ix_spare_parts_below_min"), "spare_parts", ["below_min"], unique=False)
    op.create_index(op.f("ix_spare_parts_deleted_at"), "spare_parts", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_spare_parts_equipment_code"), "spare_parts", ["equipment_code"], unique=False)
    op.create_index(op.f("ix_spare_parts_part_no"), "spare_parts", ["part_no"], unique=False)

    op.create_table(
        "work_orders",
        sa.Column("number", sa.String(length=32), nullable=False, comment="工单号"),
        sa.Column("equipment_code", sa.String(length=64), nullable=False, comment="设备编码"),
        sa.Column("title", sa.String(length=200), nullable=False, comment="标题"),
        sa.Column("description", sa.Text(), nullable=True, comment="故障/工作内容"),
        sa.Column("priority", sa.String(length=16), nullable=False, comment="优先级 (Priority)"),
        sa.Column("source", sa.String(length=16), nullable=False, comment="来源: manual 人工 / pdm 预测性维护"),
        sa.Column("state", sa.String(length=16), nullable=False, comment="状态 (WorkOrderState)"),
        sa.Column("assignee", sa.String(length=64), nullable=True, comment="维修人"),
        sa.Column("due_on", sa.Date(), nullable=True, comment="要求完成日期"),
        sa.Column("result", sa.Text(), nullable=True, comment="处理结果"),
        sa.Column("verified_by", sa.String(length=64), nullable=True, comment="验收人"),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True, comment="关闭/取消时间"),
        sa.Column("pdm_asset_id", sa.String(length=64), nullable=True, comment="PdM资产"),
        sa.Column("pdm_ts", sa.BigInteger(), nullable=True, comment="PdM预测时间戳 (ms)"),
        sa.Column("pdm_health", sa.Float(), nullable=True, comment="健康度 0–1"),
        sa.Column("pdm_rul_days", sa.Float(), nullable=True, comment="剩余寿命 (天)"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("pdm_asset_id", "pdm_ts", name="uq_work_orders_prediction"),
    )
    op.create_index(op.f("ix_work_orders_deleted_at"), "work_orders", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_work_orders_equipment_code"), "work_orders", ["equipment_code"], unique=False)
    op.create_index(op.f("ix_work_orders_number"), "work_orders", ["number"], unique=False)
    op.create_index(op.f("ix_work_orders_state"), "work_orders", ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("work_orders")
    op.drop_table("spare_parts")
    op.drop_table("sis_interlocks")
    op.drop_table("sis_bypasses")
    op.drop_table("safety_valve_calibrations")
    op.drop_table("rupture_disc_replacements")
    op.drop_table("equipment_lifecycle")
    op.drop_table("equipment_inspections")
    op.drop_table("equipment")
