"""SQLAlchemy models of notification rules, the duty roster, tracked alarms and the delivery log."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Index,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, utcnow
from registers.mixins import AuditMixin, TimestampMixin


class NotifyRuleRow(TimestampMixin, AuditMixin, Base):
    """A routing rule (通知规则): alarms of these areas and priorities go to these roles and channels."""

    __tablename__ = "notify_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, comment="规则名称")
    areas: Mapped[list[str]] = mapped_column(JSON, default=list, comment="area ids; empty = every area")
    min_priority: Mapped[str] = mapped_column(String(16), default="low", comment="least urgent priority notified")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list, comment="roster roles notified at level 1")
    channels: Mapped[list[str]] = mapped_column(JSON, default=list, comment="channel kinds, in order")
    notify_return: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    def __repr__(self) -> str:
        return f"NotifyRuleRow({self.name!r})"


class RosterEntryRow(TimestampMixin, AuditMixin, Base):
    """One line of the duty roster (值班表): a person, role, area and shift in local time."""

    __tablename__ = "duty_roster"
    __table_args__ = (Index("ix_duty_roster_role_area", "role", "area"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person: Mapped[str] = mapped_column(String(64), comment="值班人员")
    role: Mapped[str] = mapped_column(String(32), comment="operator / shift_leader / safety_manager ...")
    area: Mapped[str | None] = mapped_column(String(64), default=None, comment="NULL = every area")
    shift_start: Mapped[time] = mapped_column(Time, comment="Asia/Shanghai local time")
    shift_end: Mapped[time] = mapped_column(Time, comment="Asia/Shanghai local; <= start runs overnight")
    on_date: Mapped[date | None] = mapped_column(Date, default=None, comment="local start date; NULL = daily")
    addresses: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, comment="channel kind -> address")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    def __repr__(self) -> str:
        return f"RosterEntryRow({self.person!r}, {self.role!r})"


class NotifiedAlarm(Base):
    """An alarm occurrence that was notified, tracked until acknowledged (升级跟踪).

    Unique on (alarm_id, raised_ts) so a replayed alarm event notifies nobody twice, while a
    new occurrence of the same alarm point is tracked afresh.
    """

    __tablename__ = "notified_alarms"
    __table_args__ = (UniqueConstraint("alarm_id", "raised_ts", name="uq_notified_alarms_alarm_id_raised_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[str] = mapped_column(String(128), index=True)
    raised_ts: Mapped[int] = mapped_column(BigInteger, comment="event time, UTC epoch ms")
    raised_at: Mapped[datetime]
    source_id: Mapped[str] = mapped_column(String(128), default="")
    area: Mapped[str | None] = mapped_column(String(64), default=None)
    priority: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[int] = mapped_column(Integer, default=1, comment="highest level notified")
    resolved_at: Mapped[datetime | None] = mapped_column(
        default=None, index=True, comment="acknowledged: no more escalation"
    )


class NotificationDelivery(Base):
    """One send attempt (每次发送) of one notification: the delivery log, never updated."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[str] = mapped_column(String(128), index=True)
    level: Mapped[int] = mapped_column(Integer, default=1)
    recipient: Mapped[str] = mapped_column(String(64), comment="person, empty when nobody was on duty")
    role: Mapped[str] = mapped_column(String(32), default="")
    channel: Mapped[str] = mapped_column(String(16), index=True)
    address: Mapped[str] = mapped_column(String(256), default="")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), index=True, comment="sent / failed / unrouted")
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    response: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str] = mapped_column(String(256), default="")
    sent_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    elapsed_ms: Mapped[float | None] = mapped_column(Float, default=None)
