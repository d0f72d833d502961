"""stored periodic 包保 assessment reports (包保责任制考核报告), one per month

Revision ID: 2026_12_03_0031
Revises: 2026_11_28_0005
Created: 2026-12-03 06:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0031"
down_revision: str | Sequence[str] | None = "2026_11_28_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hazard_source_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False, comment="考核期, e.g. 2026-11"),
        sa.Column("first", sa.Date(), nullable=False, comment="报告开始日期"),
        sa.Column("last", sa.Date(), nullable=False, comment="报告截止日期 (含)"),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False, comment="生成时间"),
        sa.Column("sources", sa.Integer(), nullable=False, comment="重大危险源数"),
        sa.Column("required", sa.Integer(), nullable=False, comment="应履职周期数"),
        sa.Column("done", sa.Integer(), nullable=False, comment="已履职周期数"),
        sa.Column("overdue", sa.Integer(), nullable=False, comment="逾期未履职周期数"),
        sa.Column("content", sa.JSON(), nullable=False, comment="the report as GET /hazard-sources/report answers"),
        sa.Column("workbook", sa.LargeBinary(), nullable=False, comment="the report as an .xlsx file"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hazard_source_reports")),
        sa.UniqueConstraint("first", "last", name="uq_hazard_source_reports_period"),
    )
    op.create_index(op.f("ix_hazard_source_reports_last"), "hazard_source_reports", ["last"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hazard_source_reports_last"), table_name="hazard_source_reports")
    op.drop_table("hazard_source_reports")
