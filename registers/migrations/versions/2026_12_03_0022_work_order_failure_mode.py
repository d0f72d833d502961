"""PdM work orders name their failure mode: one open order per asset and mode

Revision ID: 2026_12_03_0022
Revises: 2026_11_28_0006
Created: 2026-12-03 06:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0022"
down_revision: str | Sequence[str] | None = "2026_11_28_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.add_column(
            sa.Column(
                "pdm_failure_mode",
                sa.String(length=32),
                nullable=True,
                comment="PdM故障模式 (models.pdm.failure_modes); one open order per asset and mode",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("work_orders") as batch:
        batch.drop_column("pdm_failure_mode")
