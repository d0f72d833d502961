"""TOTP second factor of accounts (双因素认证)

Revision ID: 2026_12_03_0017
Revises: 2026_12_03_0013
Created: 2026-12-03 06:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0017"
down_revision: str | Sequence[str] | None = "2026_12_03_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True, comment="base32 TOTP secret"))
        batch.add_column(
            sa.Column(
                "totp_enabled_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="set when enrolment was confirmed",
            )
        )
        batch.add_column(
            sa.Column(
                "totp_last_step", sa.Integer(), server_default="0", nullable=False, comment="last accepted 30 s step"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_secret")
