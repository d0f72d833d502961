"""register framework (history, attachments, reminders) and certificates (证照与报告)

Revision ID: 2026_11_28_0002
Revises: 2026_11_28_0001
Created: 2026-11-28 00:02:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_28_0002"
down_revision: str | Sequence[str] | None = "2026_11_28_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "register_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("register", sa.String(length=64), nullable=False, comment="register name, e.g. certificate"),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True, comment="username; NULL for the system"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False, comment="{field: [old, new]}"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_versions")),
        sa.UniqueConstraint("register", "record_id", "version", name="uq_register_versions_record_version"),
    )
    op.create_table(
        "register_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False, comment="sanitised original name"),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_attachments")),
    )
    op.create_index("ix_register_attachments_record", "register_attachments", ["register", "record_id"], unique=False)
    op.create_table(
        "register_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_reminders")),
        sa.UniqueConstraint(
            "register", "record_id", "field", "lead_days", "due_date", name="uq_register_reminders_once"
        ),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False, comment="证照类型 (CertificateKind)"),
        sa.Column("number", sa.String(length=64), nullable=True, comment="证照编号"),
        sa.Column("name", sa.String(length=200), nullable=True, comment="证照/报告名称"),
        sa.Column("holder", sa.String(length=200), nullable=True, comment="持证单位"),
        sa.Column("issuer", sa.String(length=200), nullable=True, comment="发证机关 / 编制机构"),
        sa.Column("issue_date", sa.Date(), nullable=True, comment="发证/出具日期"),
        sa.Column("expiry_date", sa.Date(), nullable=True, comment="有效期至"),
        sa.Column("scope", sa.Text(), nullable=True, comment="许可范围 / 登记品种 / 评价范围"),
        sa.Column("grade", sa.String(length=32), nullable=True, comment="等级 (标准化)"),
        sa.Column("project", sa.String(length=200), nullable=True, comment="建设项目 (三同时/评价)"),
        sa.Column("stage", sa.String(length=32), nullable=True, comment="阶段: 预评价/设计专篇/竣工验收"),
        sa.Column("status", sa.String(length=16), nullable=False, comment="状态"),
        sa.Column("responsible_person", sa.String(length=64), nullable=True, comment="负责人"),
        sa.Column("remarks", sa.Text(), nullable=True, comment="备注"),
        sa.Column("missing_fields", sa.JSON(), nullable=False, comment="缺失的关键字段"),
        sa.Column("is_complete", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True, comment="审核人"),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True, comment="审核时间"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
    )
    op.create_index(op.f("ix_certificates_kind"), "certificates", ["kind"], unique=False)
    op.create_index(op.f("ix_certificates_number"), "certificates", ["number"], unique=False)
    op.create_index(op.f("ix_certificates_expiry_date"), "certificates", ["expiry_date"], unique=False)
    op.create_index(op.f("ix_certificates_is_complete"), "certificates", ["is_complete"], unique=False)
    op.create_index(op.f("ix_certificates_deleted_at"), "certificates", ["deleted_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_certificates_deleted_at"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_is_complete"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_expiry_date"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_number"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_kind"), table_name="certificates")
    op.drop_table("certificates")
    op.drop_table("register_reminders")
    op.drop_index("ix_register_attachments_record", table_name="register_attachments")
    op.drop_table("register_attachments")
    op.drop_table("register_versions")
