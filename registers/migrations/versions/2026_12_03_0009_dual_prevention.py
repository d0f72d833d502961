"""dual prevention (双重预防): risk grading, check tasks, hidden hazards, inspection, exchange outbox

Revision ID: 2026_12_03_0009
Revises: 2026_11_28_0001
Created: 2026-12-03 00:09:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0009"
down_revision: str | Sequence[str] | None = "2026_11_28_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dp_risk_objects",
        sa.Column("code", sa.String(length=64), nullable=False, comment="风险分析对象编码 (hazardCode)"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="名称"),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="类型"),
        sa.Column("area", sa.String(length=64), nullable=True, comment="区域"),
        sa.Column("department", sa.String(length=200), nullable=True, comment="责任部门"),
        sa.Column("liable_person", sa.String(length=64), nullable=True, comment="责任人"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dp_risk_objects")),
    )
    op.create_index(op.f("ix_dp_risk_objects_area"), "dp_risk_objects", ["area"], unique=False)
    op.create_index(op.f("ix_dp_risk_objects_code"), "dp_risk_objects", ["code"], unique=False)
    op.create_index(op.f("ix_dp_risk_objects_deleted_at"), "dp_risk_objects", ["deleted_at"], unique=False)
    op.create_table(
        "dp_risk_units",
        sa.Column("object_id", sa.Integer(), nullable=False, comment="风险分析对象ID"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="单元名称"),
        sa.Column("area", sa.String(length=64), nullable=True, comment="区域"),
        sa.Column("department", sa.String(length=200), nullable=True, comment="责任部门 (hazardDep)"),
        sa.Column("liable_person", sa.String(length=64), nullable=True, comment="责任人 (hazardLiablePerson)"),
        sa.Column("risk_level", sa.String(length=16), nullable=True, comment="风险等级"),
        sa.Column("colour", sa.String(length=8), nullable=True, comment="四色"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"], ["dp_risk_objects.id"], name=op.f("fk_dp_risk_units_object_id_dp_risk_objects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dp_risk_units")),
    )
    op.create_index(op.f("ix_dp_risk_units_area"), "dp_risk_units", ["area"], unique=False)
    op.create_index(op.f("ix_dp_risk_units_deleted_at"), "dp_risk_units", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_dp_risk_units_object_id"), "dp_risk_units", ["object_id"], unique=False)
    op.create_index(op.f("ix_dp_risk_units_risk_level"), "dp_risk_units", ["risk_level"], unique=False)
    op.create_table(
        "dp_risk_events",
        sa.Column("unit_id", sa.Integer(), nullable=False, comment="风险分析单元ID"),
        sa.Column("name", sa.String(length=500), nullable=False, comment="风险事件名称"),
        sa.Column("method", sa.String(length=8), nullable=False, comment="评价方法"),
        sa.Column("likelihood", sa.Float(), nullable=False, comment="L 可能性"),
        sa.Column("exposure", sa.Float(), nullable=True, comment="E 暴露频繁程度"),
        sa.Column("consequence", sa.Float(), nullable=True, comment="C 后果"),
        sa.Column("severity", sa.Float(), nullable=True, comment="S 严重性"),
        sa.Column("score", sa.Float(), nullable=True, comment="风险值"),
        sa.Column("risk_level", sa.String(length=16), nullable=True, comment="风险等级"),
        sa.Column("colour", sa.String(length=8), nullable=True, comment="四色"),
        sa.Column("management_level", sa.String(length=32), nullable=True, comment="管控层级"),
        sa.Column("table_version", sa.String(length=32), nullable=True, comment="分级表版本"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["dp_risk_units.id"], name=op.f("fk_dp_risk_events_unit_id_dp_risk_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dp_risk_events")),
    )
    op.create_index(op.f("ix_dp_risk_events_deleted_at"), "dp_risk_events", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_dp_risk_events_risk_level"), "dp_risk_events", ["risk_level"], unique=False)
    op.create_index(op.f("ix_dp_risk_events_unit_id"), "dp_risk_events", ["unit_id"], unique=False)
    op.create_table(
        "dp_control_measures",
        sa.Column("event_id", sa.Integer(), nullable=False, comment="风险事件ID"),
        sa.Column("classify1", sa.String(length=16), nullable=False, comment="管控措施分类1"),
        sa.Column("classify2", sa.String(length=32), nullable=True, comment="管控措施分类2"),
        sa.Column("classify3", sa.String(length=200), nullable=True, comment="管控措施分类3"),
        sa.Column("description", sa.Text(), nullable=False, comment="管控措施描述"),
        sa.Column("data_src", sa.String(length=16), nullable=False, comment="管控方式"),
        sa.Column("troubleshoot_content", sa.Text(), nullable=True, comment="隐患排查内容"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["dp_risk_events.id"], name=op.f("fk_dp_control_measures_event_id_dp_risk_events")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dp_control_measures")),
    )
    op.create_index(op.f("ix_dp_control_measures_deleted_at"), "dp_control_measures", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_dp_control_measures_event_id"), "dp_control_measures", ["event_id"], unique=False)
    op.create_table(
        "dp_check_schedules",
        sa.Column("measure_id", sa.Integer(), nullable=False, comment="管控措施ID"),
        sa.Column("content", sa.Text(), nullable=False, comment="排查内容"),
        sa.Column("cycle", sa.Integer(), nullable=False, comment="排查周期"),
        sa.Column("cycle_unit", sa.String(length=8), nullable=False, comment="周期单位"),
        sa.Column("anchor", sa.DateTime(timezone=True), nullable=False, comment="开始时间"),
        sa.Column("work_start", sa.Time(), nullable=False, comment="每日开始时间"),
        sa.Column("work_end", sa.Time(), nullable=False, comment="每日结束时间"),
        sa.Column("day_type", sa.String(length=8), nullable=False, comment="工作日类型"),
        sa.Column("post", sa.String(length=64), nullable=True, comment="岗位"),
        sa.Column("assignee", sa.String(length=64), nullable=False, comment="排查人"),
        sa.Column("is_defend", sa.Boolean(), nullable=False, comment="包保责任人任务"),
        sa.Column("check_means", sa.String(length=8), nullable=False, comment="排查手段"),
        sa.Column("active", sa.Boolean(), nullable=False, comment="启用"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"],
            ["dp_control_measures.id"],
            name=op.f("fk_dp_check_schedules_measure_id_dp_control_measures"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dp_check_schedules")),
    )
    op.create_index(op.f("ix_dp_check_schedules_assignee"), "dp_check_schedules", ["assignee"], unique=False)
    op.create_index(op.f("ix_dp_check_schedules_deleted_at"), "dp_check_schedules", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_dp_check_schedules_measure_id"), "dp_check_schedules", ["measure_id"], unique=False)
    op.create_table(
        "dp_check_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False, comment="排查任务ID"),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False, comment="应开始时间"),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False, comment="应完成时间"),
        sa.Column("assignee", sa.String(length=64), nullable=False, comment="排查人"),
        sa.Column("area", sa.String(length=64), nullable=True, comment="区域"),
        sa.Column("unit_id", sa.Integer(), nullable=True, comment="风险分析单元ID"),
        sa.Column("state", sa.String(length=16), nullable=False, comment="状态"),
        sa.Column("check_status", sa.Integer(), nullable=True, comment="排查结果 (checkStatus)"),
        sa.Column("result", sa.Text(), nullable=True, comment="排查情况"),
        sa.Column("device", sa.String(length=64), nullable=True, comment="排查设备 (mobileMe)"),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True, comment="排查时间"),
        sa.Column("checked_by", sa.String(length=64), nullable=True, comment="排查人"),
        sa.Column("late", sa.Boolean(), nullable=False, comment="逾期完成"),
        sa.Column("steps", sa.JSON(), nullable=False, comment="处理记录 (谁、何时、做了什么)"),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["dp_check_schedules.id"], name=op.f("fk_dp_check_tasks_schedule_id_dp_check_schedules")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dp_check_tasks")),
        sa.UniqueConstraint("schedule_id", "slot_start", name=op.f("uq_dp_check_tasks_schedule_id")),
    )
    op.create_index(op.f("ix_dp_check_tasks_area"), "dp_check_tasks", ["area"], unique=False)
    op.create_index(op.f("ix_dp_check_tasks_assignee"), "dp_check_tasks", ["assignee"], unique=False)
    op.create_index(op.f("ix_dp_check_tasks_schedule_id"), "dp_check_tasks", ["schedule_id"], unique=False)
    op.create_index(op.f("ix_dp_check_tasks_slot_end"), "dp_check_tasks", ["slot_end"], unique=False)
    op.create_index(op.f("ix_dp_check_tasks_slot_start"), "dp_check_tasks", ["slot_start"], unique=False)
    op.create_index(op.f("ix_dp_check_tasks_state"), "dp_check_tasks", ["state"], unique=False)
    op.create_index(op.f("ix_dp_check_tasks_unit_id"), "dp_check_tasks", ["unit_id"], unique=False)
    op.create_table(
        "hidden_hazards",
        sa.Column("name", sa.String(length=300), nullable=False, comment="隐患名称"),
        sa.Column("level", sa.String(length=8), nullable=False, comment="隐患等级"),
        sa.Column("origin", sa.String(length=16), nullable=False, comment="发现途径"),
        sa.Column("danger_src", sa.String(length=32), nullable=False, comment="隐患来源"),
        sa.Column("hazard_type", sa.String(length=8), nullable=False, comment="隐患类型"),
        sa.Column("management_class", sa.String(length=16), nullable=True, comment="管理分类"),
        sa.Column("manage_type", sa.String(length=8), nullable=False, comment="治理类型"),
        sa.Column("area", sa.String(length=64), nullable=True, comment="区域"),
        sa.Column("hazard_code", sa.String(length=64), nullable=True, comment="风险分析对象编码"),
        sa.Column("measure_id", sa.Integer(), nullable=True, comment="管控措施ID"),
        sa.Column("check_task_id", sa.Integer(), nullable=True, comment="排查任务ID"),
        sa.Column("inspection_task_id", sa.Integer(), nullable=True, comment="巡检任务ID"),
        sa.Column("inspection_point_id", sa.Integer(), nullable=True, comment="巡检点ID"),
        sa.Column("inspection_reading_id", sa.Integer(), nullable=True, comment="巡检记录ID"),
        sa.Column("alarm_id", sa.String(length=128), nullable=True, comment="报警ID"),
        sa.Column("permit_no", sa.String(length=64), nullable=True, comment="作业票编号"),
        sa.Column("description", sa.Text(), nullable=True, comment="隐患描述"),
        sa.Column("reason", sa.Text(), nullable=True, comment="产生原因"),
        sa.Column("control_measures", sa.Text(), nullable=True, comment="治理措施"),
        sa.Column("cost", sa.Float(), nullable=True, comment="治理资金（万元）"),
        sa.Column("liable_person", sa.String(length=64), nullable=False, comment="整改责任人"),
        sa.Column("deadline", sa.Date(), nullable=False, comment="治理期限"),
        sa.Column("registrant", sa.String(length=64), nullable=True, comment="登记人"),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True, comment="登记时间"),
        sa.Column("state", sa.String(length=8), nullable=False, comment="状态"),
        sa.Column("rectified_by", sa.String(length=64), nullable=True, comment="整改完成人"),
        sa.Column("rectified_at", sa.DateTime(timezone=True), nullable=True, comment="整改完成时间"),
        sa.Column("rectify_note", sa.Text(), nullable=True, comment="整改情况"),
        sa.Column("accepted_by", sa.String(length=64), nullable=True, comment="验收人"),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True, comment="验收时间"),
        sa.Column("accept_comment", sa.Text(), nullable=True, comment="验收意见"),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True, comment="逾期督办时间"),
        sa.Column("steps", sa.JSON(), nullable=False, comment="处理记录"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["dp_control_measures.id"], name=op.f("fk_hidden_hazards_measure_id_dp_control_measures")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hidden_hazards")),
    )
    op.create_index(op.f("ix_hidden_hazards_area"), "hidden_hazards", ["area"], unique=False)
    op.create_index(op.f("ix_hidden_hazards_check_task_id"), "hidden_hazards", ["check_task_id"], unique=False)
    op.create_index(op.f("ix_hidden_hazards_deadline"), "hidden_hazards", ["deadline"], unique=False)
    op.create_index(op.f("ix_hidden_hazards_deleted_at"), "hidden_hazards", ["deleted_at"], unique=False)
    op.create_index(
        op.f("ix_hidden_hazards_inspection_point_id"), "hidden_hazards", ["inspection_point_id"], unique=False
    )
    op.create_index(
        op.f("ix_hidden_hazards_inspection_reading_id"), "hidden_hazards", ["inspection_reading_id"], unique=False
    )
    op.create_index(
        op.f("ix_hidden_hazards_inspection_task_id"), "hidden_hazards", ["inspection_task_id"], unique=False
    )
    op.create_index(op.f("ix_hidden_hazards_level"), "hidden_hazards", ["level"], unique=False)
    op.create_index(op.f("ix_hidden_hazards_liable_person"), "hidden_hazards", ["liable_person"], unique=False)
    op.create_index(op.f("ix_hidden_hazards_measure_id"), "hidden_hazards", ["measure_id"], unique=False)
    op.create_index(op.f("ix_hidden_hazards_origin"), "hidden_hazards", ["origin"], unique=False)
    op.create_index(op.f("ix_hidden_hazards_state"), "hidden_hazards", ["state"], unique=False)
    op.create_table(
        "inspection_points",
        sa.Column("code", sa.String(length=64), nullable=False, comment="点位编号"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="点位名称"),
        sa.Column("area", sa.String(length=64), nullable=True, comment="区域"),
        sa.Column("equipment_code", sa.String(length=64), nullable=True, comment="设备编码"),
        sa.Column("unit_id", sa.Integer(), nullable=True, comment="风险分析单元ID"),
        sa.Column("tag_code", sa.String(length=128), nullable=False, comment="二维码/NFC标签"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_points")),
    )
    op.create_index(op.f("ix_inspection_points_area"), "inspection_points", ["area"], unique=False)
    op.create_index(op.f("ix_inspection_points_code"), "inspection_points", ["code"], unique=False)
    op.create_index(op.f("ix_inspection_points_deleted_at"), "inspection_points", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_inspection_points_tag_code"), "inspection_points", ["tag_code"], unique=False)
    op.create_index(op.f("ix_inspection_points_unit_id"), "inspection_points", ["unit_id"], unique=False)
    op.create_table(
        "inspection_items",
        sa.Column("point_id", sa.Integer(), nullable=False, comment="点位ID"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="检查项"),
        sa.Column("unit", sa.String(length=16), nullable=True, comment="单位"),
        sa.Column("low", sa.Float(), nullable=True, comment="下限"),
        sa.Column("high", sa.Float(), nullable=True, comment="上限"),
        sa.Column("hazard_level", sa.String(length=8), nullable=False, comment="超限隐患等级"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["point_id"], ["inspection_points.id"], name=op.f("fk_inspection_items_point_id_inspection_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_items")),
    )
    op.create_index(op.f("ix_inspection_items_deleted_at"), "inspection_items", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_inspection_items_point_id"), "inspection_items", ["point_id"], unique=False)
    op.create_table(
        "inspection_routes",
        sa.Column("name", sa.String(length=200), nullable=False, comment="路线名称"),
        sa.Column("point_ids", sa.JSON(), nullable=False, comment="点位顺序"),
        sa.Column("minutes_per_point", sa.Integer(), nullable=False, comment="每点时限（分钟）"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_routes")),
    )
    op.create_index(op.f("ix_inspection_routes_deleted_at"), "inspection_routes", ["deleted_at"], unique=False)
    op.create_table(
        "inspection_plans",
        sa.Column("route_id", sa.Integer(), nullable=False, comment="路线ID"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="计划名称"),
        sa.Column("role", sa.String(length=32), nullable=False, comment="岗位角色"),
        sa.Column("shift", sa.String(length=16), nullable=True, comment="班次"),
        sa.Column("assignee", sa.String(length=64), nullable=False, comment="巡检人"),
        sa.Column("cycle", sa.Integer(), nullable=False, comment="周期"),
        sa.Column("cycle_unit", sa.String(length=8), nullable=False, comment="周期单位"),
        sa.Column("anchor", sa.DateTime(timezone=True), nullable=False, comment="开始时间"),
        sa.Column("work_start", sa.Time(), nullable=False, comment="班次开始"),
        sa.Column("work_end", sa.Time(), nullable=False, comment="班次结束"),
        sa.Column("active", sa.Boolean(), nullable=False, comment="启用"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["route_id"], ["inspection_routes.id"], name=op.f("fk_inspection_plans_route_id_inspection_routes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_plans")),
    )
    op.create_index(op.f("ix_inspection_plans_assignee"), "inspection_plans", ["assignee"], unique=False)
    op.create_index(op.f("ix_inspection_plans_deleted_at"), "inspection_plans", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_inspection_plans_route_id"), "inspection_plans", ["route_id"], unique=False)
    op.create_table(
        "inspection_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False, comment="计划ID"),
        sa.Column("route_id", sa.Integer(), nullable=False, comment="路线ID"),
        sa.Column("assignee", sa.String(length=64), nullable=False, comment="巡检人"),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False, comment="计划开始"),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False, comment="计划结束"),
        sa.Column("state", sa.String(length=8), nullable=False, comment="状态"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True, comment="开始时间"),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True, comment="完成时间"),
        sa.Column("missed_point_ids", sa.JSON(), nullable=False, comment="漏检点位"),
        sa.Column("late_point_ids", sa.JSON(), nullable=False, comment="迟到点位"),
        sa.Column("steps", sa.JSON(), nullable=False, comment="处理记录"),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["inspection_plans.id"], name=op.f("fk_inspection_tasks_plan_id_inspection_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_tasks")),
        sa.UniqueConstraint("plan_id", "slot_start", name=op.f("uq_inspection_tasks_plan_id")),
    )
    op.create_index(op.f("ix_inspection_tasks_assignee"), "inspection_tasks", ["assignee"], unique=False)
    op.create_index(op.f("ix_inspection_tasks_plan_id"), "inspection_tasks", ["plan_id"], unique=False)
    op.create_index(op.f("ix_inspection_tasks_route_id"), "inspection_tasks", ["route_id"], unique=False)
    op.create_index(op.f("ix_inspection_tasks_slot_end"), "inspection_tasks", ["slot_end"], unique=False)
    op.create_index(op.f("ix_inspection_tasks_slot_start"), "inspection_tasks", ["slot_start"], unique=False)
    op.create_index(op.f("ix_inspection_tasks_state"), "inspection_tasks", ["state"], unique=False)
    op.create_table(
        "inspection_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False, comment="打卡方式"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, comment="打卡时间"),
        sa.Column("by", sa.String(length=64), nullable=False, comment="打卡人"),
        sa.Column("late", sa.Boolean(), nullable=False, comment="迟到"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["inspection_tasks.id"], name=op.f("fk_inspection_checkins_task_id_inspection_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_checkins")),
        sa.UniqueConstraint("task_id", "point_id", name=op.f("uq_inspection_checkins_task_id")),
    )
    op.create_index(op.f("ix_inspection_checkins_point_id"), "inspection_checkins", ["point_id"], unique=False)
    op.create_index(op.f("ix_inspection_checkins_task_id"), "inspection_checkins", ["task_id"], unique=False)
    op.create_table(
        "inspection_readings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False, comment="读数"),
        sa.Column("in_range", sa.Boolean(), nullable=False, comment="是否正常"),
        sa.Column("note", sa.Text(), nullable=True, comment="说明"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, comment="记录时间"),
        sa.Column("by", sa.String(length=64), nullable=False, comment="记录人"),
        sa.Column("hazard_id", sa.Integer(), nullable=True, comment="隐患ID"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["inspection_tasks.id"], name=op.f("fk_inspection_readings_task_id_inspection_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_readings")),
        sa.UniqueConstraint("task_id", "item_id", name=op.f("uq_inspection_readings_task_id")),
    )
    op.create_index(op.f("ix_inspection_readings_item_id"), "inspection_readings", ["item_id"], unique=False)
    op.create_index(op.f("ix_inspection_readings_point_id"), "inspection_readings", ["point_id"], unique=False)
    op.create_index(op.f("ix_inspection_readings_task_id"), "inspection_readings", ["task_id"], unique=False)
    op.create_table(
        "exchange_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False, comment="数据类型"),
        sa.Column("record_id", sa.String(length=64), nullable=False, comment="记录ID"),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False, comment="幂等键"),
        sa.Column("payload", sa.JSON(), nullable=False, comment="报文"),
        sa.Column("state", sa.String(length=16), nullable=False, comment="状态"),
        sa.Column("attempts", sa.Integer(), nullable=False, comment="尝试次数"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, comment="下次尝试"),
        sa.Column("last_error", sa.Text(), nullable=True, comment="最近错误"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, comment="创建时间"),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True, comment="送达时间"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_exchange_outbox_idempotency_key")),
    )
    op.create_index(op.f("ix_exchange_outbox_kind"), "exchange_outbox", ["kind"], unique=False)
    op.create_index(op.f("ix_exchange_outbox_next_attempt_at"), "exchange_outbox", ["next_attempt_at"], unique=False)
    op.create_index(op.f("ix_exchange_outbox_state"), "exchange_outbox", ["state"], unique=False)
    op.create_table(
        "exchange_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("elapsed_ms", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["exchange_outbox.id"], name=op.f("fk_exchange_deliveries_outbox_id_exchange_outbox")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_deliveries")),
    )
    op.create_index(op.f("ix_exchange_deliveries_outbox_id"), "exchange_deliveries", ["outbox_id"], unique=False)


def downgrade() -> None:
    op.drop_table("exchange_deliveries")
    op.drop_table("exchange_outbox")
    op.drop_table("inspection_readings")
    op.drop_table("inspection_checkins")
    op.drop_table("inspection_tasks")
    op.drop_table("inspection_plans")
    op.drop_table("inspection_routes")
    op.drop_table("inspection_items")
    op.drop_table("inspection_points")
    op.drop_table("hidden_hazards")
    op.drop_table("dp_check_tasks")
    op.drop_table("dp_check_schedules")
    op.drop_table("dp_control_measures")
    op.drop_table("dp_risk_events")
    op.drop_table("dp_risk_units")
    op.drop_table("dp_risk_objects")
