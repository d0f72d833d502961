"""People: 学历 and the qualifications the staffing 学历 rules judge (key persons, safety staff)

Revision ID: 2026_12_03_0043
Revises: 2026_11_28_0007
Created: 2026-12-03 12:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0043"
down_revision: str | Sequence[str] | None = "2026_11_28_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FLAGS = (
    ("key_manager", "主管生产/设备/技术/安全的负责人 (分管负责人)"),
    ("related_major", "所学专业为化学、化工、安全等相关专业"),
    ("chem_title", "化工类中级及以上专业技术职称"),
    ("chem_technician", "化工安全相关工种技师及以上技能等级"),
)


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(
            sa.Column("education", sa.String(length=16), nullable=True, comment="学历 (models.compliance.Education)")
        )
        for name, comment in _FLAGS:
            # existing rows: not recorded, i.e. false (the rules then name the person)
            batch.add_column(sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false(), comment=comment))


def downgrade() -> None:
    with op.batch_alter_table("people") as batch:
        for name, _ in reversed(_FLAGS):
            batch.drop_column(name)
        batch.drop_column("education")
