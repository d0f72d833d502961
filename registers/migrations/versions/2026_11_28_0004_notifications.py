"""notification rules, duty roster, notified alarms and delivery log (报警通知、值班表、发送记录)

Revision ID: 2026_11_28_0004
Revises: 2026_11_28_0001
Created: 2026-11-28 00:04:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2026_11_28_0004"
down_revision: str | Sequence[str] | None = "2026_11_28_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _audit_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "notify_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False, comment="规则名称"),
        sa.Column("areas", sa.JSON(), nullable=False, comment="area ids; empty = every area"),
        sa.Column("min_priority", sa.String(length=16), nullable=False, comment="least urgent priority notified"),
        sa.Column("roles", sa.JSON(), nullable=False, comment="roster roles notified at level 1"),
        sa.Column("channels", sa.JSON(), nullable=False, comment="channel kinds, in order"),
        sa.Column("notify_return", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_rules")),
        sa.UniqueConstraint("name", name=op.f("uq_notify_rules_name")),
    )
    op.create_table(
        "duty_roster",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=64), nullable=False, comment="值班人员"),
        sa.Column("role", sa.String(length=32), nullable=False, comment="operator / shift_leader / safety_manager ..."),
        sa.Column("area", sa.String(length=64), nullable=True, comment="NULL = every area"),
        sa.Column("shift_start", sa.Time(), nullable=False, comment="Asia/Shanghai local time"),
        sa.Column("shift_end", sa.Time(), nullable=False, comment="Asia/Shanghai local; <= start runs overnight"),
        sa.Column("on_date", sa.Date(), nullable=True, comment="local start date; NULL = daily"),
        sa.Column("addresses", sa.JSON(), nullable=False, comment="channel kind -> address"),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_audit_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_roster")),
    )
    op.create_index("ix_duty_roster_role_area", "duty_roster", ["role", "area"], unique=False)
    op.create_table(
        "notified_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.String(length=128), nullable=False),
        sa.Column("raised_ts", sa.BigInteger(), nullable=False, comment="event time, UTC epoch ms"),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False, comment="highest level notified"),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True, comment="acknowledged: no more escalation"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notified_alarms")),
        sa.UniqueConstraint("alarm_id", "raised_ts", name="uq_notified_alarms_alarm_id_raised_ts"),
    )
    op.create_index(op.f("ix_notified_alarms_alarm_id"), "notified_alarms", ["alarm_id"], unique=False)
    op.create_index(op.f("ix_notified_alarms_resolved_at"), "notified_alarms", ["resolved_at"], unique=False)
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.String(length=128), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False, comment="person, empty when nobody was on duty"),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False, comment="sent / failed / unrouted"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("elapsed_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
    )
    for column in ("alarm_id", "channel", "status", "sent_at"):
        op.create_index(op.f(f"ix_notification_deliveries_{column}"), "notification_deliveries", [column], unique=False)


def downgrade() -> None:
    for column in ("alarm_id", "channel", "status", "sent_at"):
        op.drop_index(op.f(f"ix_notification_deliveries_{column}"), table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_index(op.f("ix_notified_alarms_resolved_at"), table_name="notified_alarms")
    op.drop_index(op.f("ix_notified_alarms_alarm_id"), table_name="notified_alarms")
    op.drop_table("notified_alarms")
    op.drop_index("ix_duty_roster_role_area", table_name="duty_roster")
    op.drop_table("duty_roster")
    op.drop_table("notify_rules")
