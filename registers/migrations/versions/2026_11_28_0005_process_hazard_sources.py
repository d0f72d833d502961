"""process base information (生产过程基础信息) and major hazard sources (重大危险源)

Revision ID: 2026_11_28_0005
Revises: 2026_11_28_0001
Created: 2026-11-28 00:05:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_28_0005"
down_revision: str | Sequence[str] | None = "2026_11_28_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hazard_source_duties",
        sa.Column("hazard_source_code", sa.String(length=32), nullable=False, comment="重大危险源编号, e.g. MHS-01"),
        sa.Column(
            "role",
            sa.String(length=16),
            nullable=False,
            comment="principal 主要 / technical 技术 / operational 操作负责人",
        ),
        sa.Column("person", sa.String(length=64), nullable=False, comment="履职人"),
        sa.Column("performed_on", sa.Date(), nullable=False, comment="履职日期"),
        sa.Column("content", sa.Text(), nullable=False, comment="履职内容"),
        sa.Column("findings", sa.Text(), nullable=False, comment="发现问题"),
        sa.Column("hazards_found", sa.Integer(), nullable=False, comment="发现隐患数"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_source_duties")),
    )
    op.create_index(op.f("ix_hazard_source_duties_deleted_at"), "hazard_source_duties", ["deleted_at"], unique=False)
    op.create_index(
        op.f("ix_hazard_source_duties_hazard_source_code"), "hazard_source_duties", ["hazard_source_code"], unique=False
    )
    op.create_index(
        op.f("ix_hazard_source_duties_performed_on"), "hazard_source_duties", ["performed_on"], unique=False
    )
    op.create_table(
        "hazard_sources",
        sa.Column("code", sa.String(length=32), nullable=False, comment="编号, e.g. MHS-01 (plant model id)"),
        sa.Column("name", sa.String(length=200), nullable=False, comment="名称"),
        sa.Column("area", sa.String(length=64), nullable=False, comment="所在区域 (plant area id)"),
        sa.Column(
            "unit_kind",
            sa.String(length=16),
            nullable=False,
            comment="单元类型: storage 储存单元 / production 生产单元",
        ),
        sa.Column("process", sa.String(length=64), nullable=True, comment="涉及的危险工艺"),
        sa.Column(
            "chemicals", sa.JSON(), nullable=False, comment="[{name, cas, quantity_t, critical_t, beta, categories}]"
        ),
        sa.Column(
            "exposed_population",
            sa.Integer(),
            nullable=True,
            comment="厂区边界外500m范围内常住人口; decides alpha when given",
        ),
        sa.Column("alpha", sa.Float(), nullable=False, comment="暴露人员校正系数 α"),
        sa.Column("s_value", sa.Float(), nullable=False, comment="S = Σ q/Q (derived)"),
        sa.Column("r_value", sa.Float(), nullable=False, comment="R = α·Σ β·q/Q (derived)"),
        sa.Column("grade", sa.Integer(), nullable=True, comment="级别 1–4 (derived); NULL if S < 1"),
        sa.Column("is_major", sa.Boolean(), nullable=False, comment="构成重大危险源 S ≥ 1 (derived)"),
        sa.Column("principal_person", sa.String(length=64), nullable=True, comment="主要负责人"),
        sa.Column("technical_person", sa.String(length=64), nullable=True, comment="技术负责人"),
        sa.Column("operational_person", sa.String(length=64), nullable=True, comment="操作负责人"),
        sa.Column("record_number", sa.String(length=64), nullable=True, comment="备案编号"),
        sa.Column("next_assessment_due", sa.Date(), nullable=True, comment="下次安全评估日期 (at least every 3 years)"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_sources")),
    )
    op.create_index(op.f("ix_hazard_sources_code"), "hazard_sources", ["code"], unique=False)
    op.create_index(op.f("ix_hazard_sources_deleted_at"), "hazard_sources", ["deleted_at"], unique=False)
    op.create_table(
        "hazardous_processes",
        sa.Column("name", sa.String(length=64), nullable=False, comment="工艺名称, e.g. 氯化工艺"),
        sa.Column("reaction_type", sa.String(length=64), nullable=False, comment="反应类型, e.g. 放热反应 / 取代氯化"),
        sa.Column("hazard_source_code", sa.String(length=32), nullable=True, comment="所属重大危险源"),
        sa.Column("equipment", sa.String(length=64), nullable=False, comment="关键设备位号, e.g. R-401"),
        sa.Column(
            "key_parameters", sa.JSON(), nullable=False, comment="重点监控工艺参数 [{tag, name, unit, ll, l, h, hh}]"
        ),
        sa.Column("safety_controls", sa.Text(), nullable=False, comment="安全控制的基本要求 / 现有安全措施"),
        sa.Column("control_mode", sa.String(length=128), nullable=False, comment="宜采用的控制方式, e.g. DCS+SIS联锁"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazardous_processes")),
    )
    op.create_index(op.f("ix_hazardous_processes_deleted_at"), "hazardous_processes", ["deleted_at"], unique=False)
    op.create_table(
        "process_chemicals",
        sa.Column("name", sa.String(length=200), nullable=False, comment="化学品名称"),
        sa.Column("cas", sa.String(length=32), nullable=False, comment="CAS号"),
        sa.Column("un_number", sa.String(length=16), nullable=True, comment="UN号"),
        sa.Column("hazard_classes", sa.Text(), nullable=False, comment="危险性类别 (GHS)"),
        sa.Column("gb18218_categories", sa.String(length=64), nullable=False, comment="GB 18218 表2类别, e.g. W2"),
        sa.Column("mac_mg_m3", sa.Float(), nullable=True, comment="MAC mg/m³"),
        sa.Column("pc_twa_mg_m3", sa.Float(), nullable=True, comment="PC-TWA mg/m³"),
        sa.Column("pc_stel_mg_m3", sa.Float(), nullable=True, comment="PC-STEL mg/m³"),
        sa.Column("flash_point_c", sa.Float(), nullable=True, comment="闪点 °C"),
        sa.Column("lel_pct", sa.Float(), nullable=True, comment="爆炸下限 %(v/v)"),
        sa.Column("uel_pct", sa.Float(), nullable=True, comment="爆炸上限 %(v/v)"),
        sa.Column("physical_state", sa.String(length=32), nullable=False, comment="物态"),
        sa.Column("is_highly_toxic", sa.Boolean(), nullable=False, comment="剧毒化学品"),
        sa.Column("emergency_measures", sa.Text(), nullable=False, comment="应急处置措施"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_chemicals")),
    )
    op.create_index(op.f("ix_process_chemicals_cas"), "process_chemicals", ["cas"], unique=False)
    op.create_index(op.f("ix_process_chemicals_deleted_at"), "process_chemicals", ["deleted_at"], unique=False)
    op.create_table(
        "startup_shutdown_records",
        sa.Column("unit", sa.String(length=64), nullable=False, comment="装置/单元, e.g. 氯化反应装置"),
        sa.Column("process", sa.String(length=64), nullable=True, comment="涉及的危险工艺, e.g. 氯化工艺"),
        sa.Column("equipment", sa.String(length=64), nullable=False, comment="主要设备位号, e.g. R-401"),
        sa.Column(
            "kind",
            sa.String(length=16),
            nullable=False,
            comment="startup 开车 / shutdown 停车 / emergency_shutdown 紧急停车",
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, comment="开始时间"),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True, comment="完成时间"),
        sa.Column("reason", sa.Text(), nullable=False, comment="原因"),
        sa.Column("checklist_confirmed", sa.Boolean(), nullable=False, comment="开停车条件确认"),
        sa.Column("approved_by", sa.String(length=64), nullable=True, comment="批准人"),
        sa.Column("operator", sa.String(length=64), nullable=True, comment="操作人"),
        sa.Column("notes", sa.Text(), nullable=False, comment="备注"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_startup_shutdown_records")),
    )
    op.create_index(
        op.f("ix_startup_shutdown_records_deleted_at"), "startup_shutdown_records", ["deleted_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_startup_shutdown_records_deleted_at"), table_name="startup_shutdown_records")
    op.drop_table("startup_shutdown_records")
    op.drop_index(op.f("ix_process_chemicals_deleted_at"), table_name="process_chemicals")
    op.drop_index(op.f("ix_process_chemicals_cas"), table_name="process_chemicals")
    op.drop_table("process_chemicals")
    op.drop_index(op.f("ix_hazardous_processes_deleted_at"), table_name="hazardous_processes")
    op.drop_table("hazardous_processes")
    op.drop_index(op.f("ix_hazard_sources_deleted_at"), table_name="hazard_sources")
    op.drop_index(op.f("ix_hazard_sources_code"), table_name="hazard_sources")
    op.drop_table("hazard_sources")
    op.drop_index(op.f("ix_hazard_source_duties_performed_on"), table_name="hazard_source_duties")
    op.drop_index(op.f("ix_hazard_source_duties_hazard_source_code"), table_name="hazard_source_duties")
    op.drop_index(op.f("ix_hazard_source_duties_deleted_at"), table_name="hazard_source_duties")
    op.drop_table("hazard_source_duties")
