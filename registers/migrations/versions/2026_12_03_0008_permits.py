"""special-work permits (特殊作业票, GB 30871-2022): jobs, tickets, measures, gas analyses, steps

Revision ID: 2026_12_03_0008
Revises: 2026_11_28_0001
Created: 2026-12-03 00:08:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0008"
down_revision: str | Sequence[str] | None = "2026_11_28_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "2026_11_28_0007"  # people and contractors tables (foreign keys)


def upgrade() -> None:
    op.create_table(
        "permit_jobs",
        sa.Column("title", sa.String(length=200), nullable=False, comment="作业名称"),
        sa.Column("content", sa.Text(), nullable=False, comment="作业内容"),
        sa.Column("area", sa.String(length=64), nullable=True, comment="作业区域"),
        sa.Column("location", sa.String(length=200), nullable=True, comment="作业位置"),
        sa.Column("x", sa.Float(), nullable=True, comment="作业点 x (m)"),
        sa.Column("y", sa.Float(), nullable=True, comment="作业点 y (m)"),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=False, comment="计划开始时间"),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=False, comment="计划结束时间"),
        sa.Column("applicant_unit", sa.String(length=200), nullable=True, comment="申请单位"),
        sa.Column("contractor_id", sa.Integer(), nullable=True, comment="作业单位 (承包商)"),
        sa.Column("chemicals", sa.JSON(), nullable=False, comment="涉及介质"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["contractors.id"], name=op.f("fk_permit_jobs_contractor_id_contractors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_jobs")),
    )
    op.create_index(op.f("ix_permit_jobs_area"), "permit_jobs", ["area"], unique=False)
    op.create_index(op.f("ix_permit_jobs_contractor_id"), "permit_jobs", ["contractor_id"], unique=False)
    op.create_index(op.f("ix_permit_jobs_deleted_at"), "permit_jobs", ["deleted_at"], unique=False)
    op.create_table(
        "permits",
        sa.Column("number", sa.String(length=32), nullable=False, comment="作业证编号"),
        sa.Column("job_id", sa.Integer(), nullable=False, comment="作业任务"),
        sa.Column("work_type", sa.String(length=16), nullable=False, comment="作业类型"),
        sa.Column("grade", sa.String(length=8), nullable=False, comment="申请级别"),
        sa.Column("managed_grade", sa.String(length=8), nullable=False, comment="管理级别"),
        sa.Column("grade_reasons", sa.JSON(), nullable=False, comment="升级管理原因"),
        sa.Column("rules_version", sa.String(length=32), nullable=False, comment="规则版本"),
        sa.Column("status", sa.String(length=8), nullable=False, comment="状态"),
        sa.Column("title", sa.String(length=200), nullable=False, comment="作业名称"),
        sa.Column("content", sa.Text(), nullable=False, comment="作业内容"),
        sa.Column("area", sa.String(length=64), nullable=True, comment="作业区域"),
        sa.Column("location", sa.String(length=200), nullable=True, comment="作业位置"),
        sa.Column("x", sa.Float(), nullable=True, comment="作业点 x (m)"),
        sa.Column("y", sa.Float(), nullable=True, comment="作业点 y (m)"),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=False, comment="计划开始时间"),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=False, comment="计划结束时间"),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False, comment="有效期至"),
        sa.Column(
            "hazardous_area", sa.Boolean(), server_default=sa.false(), nullable=False, comment="火灾爆炸危险场所"
        ),
        sa.Column("oxygen_enriched", sa.Boolean(), server_default=sa.false(), nullable=False, comment="富氧环境"),
        sa.Column("gas_required", sa.Boolean(), server_default=sa.false(), nullable=False, comment="需气体分析"),
        sa.Column("contractor_id", sa.Integer(), nullable=True, comment="承包商"),
        sa.Column("contractor_name", sa.String(length=200), nullable=True, comment="作业单位"),
        sa.Column("leader_id", sa.Integer(), nullable=True, comment="作业负责人"),
        sa.Column("guardian_id", sa.Integer(), nullable=False, comment="监护人"),
        sa.Column("worker_ids", sa.JSON(), nullable=False, comment="作业人员"),
        sa.Column("details", sa.JSON(), nullable=False, comment="作业类型专有字段"),
        sa.Column("pipeline", sa.String(length=64), nullable=True, comment="管道 (盲板抽堵)"),
        sa.Column("risks", sa.JSON(), nullable=False, comment="风险辨识结果"),
        sa.Column("linked_numbers", sa.JSON(), nullable=False, comment="关联作业票编号"),
        sa.Column("approval_step", sa.Integer(), nullable=False, comment="已完成审批级数"),
        sa.Column("briefed_by", sa.String(length=64), nullable=True, comment="安全交底人"),
        sa.Column("briefed_at", sa.DateTime(timezone=True), nullable=True, comment="交底时间"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True, comment="开始作业时间"),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True, comment="中断时间"),
        sa.Column("suspend_reason", sa.Text(), nullable=True, comment="中断原因"),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True, comment="完工时间"),
        sa.Column("accepted_by", sa.String(length=64), nullable=True, comment="验收人"),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True, comment="验收时间"),
        sa.Column("content_hash", sa.String(length=64), nullable=True, comment="签发时的作业票内容摘要"),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["contractor_id"], ["contractors.id"], name=op.f("fk_permits_contractor_id_contractors")
        ),
        sa.ForeignKeyConstraint(["guardian_id"], ["people.id"], name=op.f("fk_permits_guardian_id_people")),
        sa.ForeignKeyConstraint(["job_id"], ["permit_jobs.id"], name=op.f("fk_permits_job_id_permit_jobs")),
        sa.ForeignKeyConstraint(["leader_id"], ["people.id"], name=op.f("fk_permits_leader_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits")),
    )
    op.create_index(op.f("ix_permits_area"), "permits", ["area"], unique=False)
    op.create_index(op.f("ix_permits_contractor_id"), "permits", ["contractor_id"], unique=False)
    op.create_index(op.f("ix_permits_contractor_name"), "permits", ["contractor_name"], unique=False)
    op.create_index(op.f("ix_permits_deleted_at"), "permits", ["deleted_at"], unique=False)
    op.create_index(op.f("ix_permits_guardian_id"), "permits", ["guardian_id"], unique=False)
    op.create_index(op.f("ix_permits_job_id"), "permits", ["job_id"], unique=False)
    op.create_index(op.f("ix_permits_managed_grade"), "permits", ["managed_grade"], unique=False)
    op.create_index(op.f("ix_permits_number"), "permits", ["number"], unique=False)
    op.create_index(op.f("ix_permits_pipeline"), "permits", ["pipeline"], unique=False)
    op.create_index(op.f("ix_permits_status"), "permits", ["status"], unique=False)
    op.create_index(op.f("ix_permits_valid_until"), "permits", ["valid_until"], unique=False)
    op.create_index(op.f("ix_permits_work_type"), "permits", ["work_type"], unique=False)
    op.create_table(
        "permit_gas_analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.Integer(), nullable=False),
        sa.Column("analyst", sa.String(length=64), nullable=False, comment="分析人"),
        sa.Column("analyser", sa.String(length=64), nullable=True, comment="分析仪器"),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False, comment="采样时间"),
        sa.Column("point", sa.String(length=200), nullable=False, comment="采样分析部位"),
        sa.Column("readings", sa.JSON(), nullable=False, comment="分析数据"),
        sa.Column("passed", sa.Boolean(), nullable=False, comment="是否合格"),
        sa.Column("reasons", sa.JSON(), nullable=False, comment="不合格原因"),
        sa.Column("source", sa.String(length=16), nullable=False, comment="来源: 人工/在线监测"),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True, comment="过期提醒时间"),
        sa.Column("recorded_by", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["permit_id"], ["permits.id"], name=op.f("fk_permit_gas_analyses_permit_id_permits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_gas_analyses")),
    )
    op.create_index(op.f("ix_permit_gas_analyses_permit_id"), "permit_gas_analyses", ["permit_id"], unique=False)
    op.create_index(op.f("ix_permit_gas_analyses_sampled_at"), "permit_gas_analyses", ["sampled_at"], unique=False)
    op.create_table(
        "permit_measures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, comment="序号"),
        sa.Column("content", sa.Text(), nullable=False, comment="安全措施"),
        sa.Column("involved", sa.Boolean(), nullable=False, comment="是否涉及"),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True, comment="确认人"),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True, comment="确认时间"),
        sa.ForeignKeyConstraint(["permit_id"], ["permits.id"], name=op.f("fk_permit_measures_permit_id_permits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_measures")),
    )
    op.create_index(op.f("ix_permit_measures_permit_id"), "permit_measures", ["permit_id"], unique=False)
    op.create_table(
        "permit_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False, comment="环节"),
        sa.Column("from_status", sa.String(length=8), nullable=False),
        sa.Column("to_status", sa.String(length=8), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True, comment="处理人 (账号)"),
        sa.Column("person_id", sa.Integer(), nullable=True, comment="签字人"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, comment="处理时间"),
        sa.Column("x", sa.Float(), nullable=True, comment="签字位置 x"),
        sa.Column("y", sa.Float(), nullable=True, comment="签字位置 y"),
        sa.Column("opinion", sa.Text(), nullable=True, comment="处理意见"),
        sa.Column("signature", sa.String(length=64), nullable=True, comment="电子签名 (HMAC-SHA256)"),
        sa.ForeignKeyConstraint(["permit_id"], ["permits.id"], name=op.f("fk_permit_steps_permit_id_permits")),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], name=op.f("fk_permit_steps_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_steps")),
    )
    op.create_index(op.f("ix_permit_steps_at"), "permit_steps", ["at"], unique=False)
    op.create_index(op.f("ix_permit_steps_permit_id"), "permit_steps", ["permit_id"], unique=False)


def downgrade() -> None:
    op.drop_table("permit_steps")
    op.drop_table("permit_gas_analyses")
    op.drop_table("permit_measures")
    op.drop_table("permits")
    op.drop_table("permit_jobs")
