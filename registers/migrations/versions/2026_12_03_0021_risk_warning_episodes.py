"""risk warnings follow an episode of elevated risk: current level, newest score, cleared time

Revision ID: 2026_12_03_0021
Revises: 2026_12_03_0010
Created: 2026-12-03 06:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0021"
down_revision: str | Sequence[str] | None = "2026_12_03_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("risk_warnings") as batch:
        batch.add_column(sa.Column("level", sa.String(length=16), nullable=True, comment="the source's current level"))
        batch.add_column(sa.Column("last_ts", sa.BigInteger(), nullable=True, comment="newest score applied, epoch ms"))
        batch.add_column(
            sa.Column(
                "cleared_ts",
                sa.BigInteger(),
                nullable=True,
                comment="risk fell back below orange, epoch ms; NULL: ongoing",
            )
        )
    op.create_index(op.f("ix_risk_warnings_cleared_ts"), "risk_warnings", ["cleared_ts"])


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_warnings_cleared_ts"), table_name="risk_warnings")
    with op.batch_alter_table("risk_warnings") as batch:
        batch.drop_column("cleared_ts")
        batch.drop_column("last_ts")
        batch.drop_column("level")
