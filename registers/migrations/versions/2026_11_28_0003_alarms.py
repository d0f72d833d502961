"""alarm register: occurrences, journal, comments, disposal, attachments (报警记录与处置)

Revision ID: 2026_11_28_0003
Revises: 2026_11_28_0001
Created: 2026-11-28 00:03:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_28_0003"
down_revision: str | Sequence[str] | None = "2026_11_28_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = True, **kw: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, **kw)


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.String(length=160), nullable=False, comment="pipeline id, '{tag}:{kind}'"),
        sa.Column("source_kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False, comment="位号 (tag) or other source"),
        sa.Column("kind", sa.String(length=32), nullable=False, comment="HH / H / L / LL / ROC / DEV / BAD ..."),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=True, comment="区域 / operator position"),
        sa.Column("state", sa.String(length=32), nullable=False, comment="models.alarm_states.AlarmStatus"),
        sa.Column(
            "underlying_state", sa.String(length=32), nullable=False, comment="ISA base state beneath shelving etc."
        ),
        _ts("raised_at", nullable=False),
        _ts("last_activated_at", nullable=False),
        _ts("returned_at"),
        _ts("cleared_at", comment="back to normal: occurrence over"),
        _ts("unacked_since", comment="shown unacknowledged since"),
        _ts("acked_at"),
        sa.Column("acked_by", sa.String(length=64), nullable=True),
        sa.Column("ack_delay_s", sa.Double(), nullable=True, comment="seconds from annunciation to ack"),
        _ts("shelved_until"),
        sa.Column("shelved_by", sa.String(length=64), nullable=True),
        sa.Column("shelve_reason", sa.String(length=512), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("limit_value", sa.Double(), nullable=True),
        sa.Column("message", sa.String(length=512), nullable=False),
        sa.Column("activation_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("chattering", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("last_event_ts", sa.BigInteger(), nullable=False, comment="epoch ms of the newest process event"),
        _ts("created_at", nullable=False, server_default=sa.func.now()),
        _ts("updated_at", nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index("ix_alarms_alarm_id_id", "alarms", ["alarm_id", "id"], unique=False)
    op.create_index("ix_alarms_state_raised_at", "alarms", ["state", "raised_at"], unique=False)
    op.create_index(op.f("ix_alarms_area"), "alarms", ["area"], unique=False)
    op.create_index(op.f("ix_alarms_priority"), "alarms", ["priority"], unique=False)
    op.create_index(op.f("ix_alarms_raised_at"), "alarms", ["raised_at"], unique=False)
    op.create_index(op.f("ix_alarms_source_id"), "alarms", ["source_id"], unique=False)

    op.create_table(
        "alarm_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_pk", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.String(length=160), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=False),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        _ts("at", nullable=False),
        sa.Column("source_ts", sa.BigInteger(), nullable=True),
        sa.Column("area", sa.String(length=64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_pk"], ["alarms.id"], name=op.f("fk_alarm_transitions_alarm_pk_alarms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_transitions")),
        sa.UniqueConstraint("alarm_id", "trigger", "source_ts", name="uq_alarm_transitions_process_event"),
    )
    op.create_index(op.f("ix_alarm_transitions_alarm_pk"), "alarm_transitions", ["alarm_pk"], unique=False)
    op.create_index("ix_alarm_transitions_trigger_at", "alarm_transitions", ["trigger", "at"], unique=False)

    op.create_table(
        "alarm_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_pk", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        _ts("at", nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_pk"], ["alarms.id"], name=op.f("fk_alarm_comments_alarm_pk_alarms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_comments")),
    )
    op.create_index(op.f("ix_alarm_comments_alarm_pk"), "alarm_comments", ["alarm_pk"], unique=False)

    op.create_table(
        "alarm_disposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_pk", sa.Integer(), nullable=False),
        sa.Column("handler", sa.String(length=64), nullable=False, comment="处置人"),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        _ts("opened_at", nullable=False),
        sa.Column("cause", sa.Text(), nullable=False, comment="原因分析"),
        sa.Column("measures", sa.Text(), nullable=False, comment="处置措施"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        _ts("closed_at"),
        sa.Column("closing_note", sa.Text(), nullable=False),
        _ts("created_at", nullable=False, server_default=sa.func.now()),
        _ts("updated_at", nullable=False, server_default=sa.func.now()),
        sa.ForeignKeyConstraint(
            ["alarm_pk"], ["alarms.id"], name=op.f("fk_alarm_disposals_alarm_pk_alarms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_disposals")),
        sa.UniqueConstraint("alarm_pk", name=op.f("uq_alarm_disposals_alarm_pk")),
    )

    op.create_table(
        "alarm_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_pk", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False, comment="name as uploaded"),
        sa.Column("stored_path", sa.String(length=512), nullable=False, comment="relative to the uploads folder"),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        _ts("uploaded_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["alarm_pk"], ["alarms.id"], name=op.f("fk_alarm_attachments_alarm_pk_alarms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_attachments")),
    )
    op.create_index(op.f("ix_alarm_attachments_alarm_pk"), "alarm_attachments", ["alarm_pk"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_alarm_attachments_alarm_pk"), table_name="alarm_attachments")
    op.drop_table("alarm_attachments")
    op.drop_table("alarm_disposals")
    op.drop_index(op.f("ix_alarm_comments_alarm_pk"), table_name="alarm_comments")
    op.drop_table("alarm_comments")
    op.drop_index("ix_alarm_transitions_trigger_at", table_name="alarm_transitions")
    op.drop_index(op.f("ix_alarm_transitions_alarm_pk"), table_name="alarm_transitions")
    op.drop_table("alarm_transitions")
    for name in ("ix_alarms_source_id", "ix_alarms_raised_at", "ix_alarms_priority", "ix_alarms_area"):
        op.drop_index(op.f(name), table_name="alarms")
    op.drop_index("ix_alarms_state_raised_at", table_name="alarms")
    op.drop_index("ix_alarms_alarm_id_id", table_name="alarms")
    op.drop_table("alarms")
