"""People: a certificate's 级别 (a registered safety engineer's 初级/中级/高级, which the staffing rule counts)

Revision ID: 2026_12_03_0044
Revises: 2026_12_03_0043
Created: 2026-12-03 13:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0044"
down_revision: str | Sequence[str] | None = "2026_12_03_0043"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person_certificates") as batch:
        # existing rows: not recorded, so such an engineer does not count where a rule names the grade
        batch.add_column(
            sa.Column(
                "grade",
                sa.String(length=8),
                nullable=True,
                comment="级别 (注册安全工程师, models.compliance.EngineerGrade)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("person_certificates") as batch:
        batch.drop_column("grade")
