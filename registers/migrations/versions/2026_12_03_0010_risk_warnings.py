"""risk warnings and their closed-loop journal (风险预警闭环)

Revision ID: 2026_12_03_0010
Revises: 2026_11_28_0001
Created: 2026-12-03 00:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "2026_12_03_0010"
down_revision: str | Sequence[str] | None = "2026_11_28_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = True, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def upgrade() -> None:
    op.create_table(
        "risk_warnings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hazard_source_id", sa.String(length=64), nullable=False, comment="重大危险源编码"),
        sa.Column("ts", sa.BigInteger(), nullable=False, comment="event time of the level change, epoch ms"),
        sa.Column("from_level", sa.String(length=16), nullable=False),
        sa.Column("to_level", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False, comment="contributions as JSON (rule, points)"),
        sa.Column("rules_version", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False, comment="workflow.WarningState"),
        sa.Column("dispatched_to", sa.String(length=512), nullable=False, comment="推送对象 (roles / persons)"),
        sa.Column("disposal_report", sa.Text(), nullable=False, comment="处置情况"),
        sa.Column("cause", sa.Text(), nullable=False, comment="原因分析"),
        sa.Column("measures", sa.Text(), nullable=False, comment="整改/管控措施"),
        sa.Column("feedback", sa.String(length=32), nullable=True, comment="workflow.Feedback"),
        _ts("closed_at"),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        _ts("created_at", nullable=False, server_default=sa.func.now()),
        _ts("updated_at", nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_warnings")),
        sa.UniqueConstraint("hazard_source_id", "ts", name="uq_risk_warnings_source_ts"),
    )
    op.create_index(op.f("ix_risk_warnings_hazard_source_id"), "risk_warnings", ["hazard_source_id"])
    op.create_index(op.f("ix_risk_warnings_to_level"), "risk_warnings", ["to_level"])
    op.create_index(op.f("ix_risk_warnings_state"), "risk_warnings", ["state"])
    op.create_table(
        "risk_warning_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warning_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True, comment="None: the system"),
        _ts("at", nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["warning_id"],
            ["risk_warnings.id"],
            name=op.f("fk_risk_warning_steps_warning_id_risk_warnings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_warning_steps")),
    )
    op.create_index(op.f("ix_risk_warning_steps_warning_id"), "risk_warning_steps", ["warning_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_warning_steps_warning_id"), table_name="risk_warning_steps")
    op.drop_table("risk_warning_steps")
    op.drop_index(op.f("ix_risk_warnings_state"), table_name="risk_warnings")
    op.drop_index(op.f("ix_risk_warnings_to_level"), table_name="risk_warnings")
    op.drop_index(op.f("ix_risk_warnings_hazard_source_id"), table_name="risk_warnings")
    op.drop_table("risk_warnings")
