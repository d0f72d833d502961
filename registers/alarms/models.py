"""SQLAlchemy models of the alarm register (报警记录): occurrences, journal, comments, disposal.

One :class:`Alarm` row is one *occurrence* of an alarm: from the moment it leaves the normal
state until it is back to normal (returned and acknowledged). An alarm that chatters without
being acknowledged stays one row (``activation_count`` grows, ``chattering`` is set) instead
of flooding the list, which is what ISA-18.2 asks of an alarm list. Every change lands in
:class:`AlarmTransition` with who and when; rates and floods are counted from that journal.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registers.db import Base
from registers.mixins import TimestampMixin


class DisposalStatus(StrEnum):
    """处置 closed loop: a disposal is opened, filled in, then closed by a safety manager."""

    OPEN = "open"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """The Chinese name shown on the disposal form."""
        return {"open": "处置中", "closed": "已闭环"}[self.value]


class Alarm(TimestampMixin, Base):
    """One occurrence of an alarm, with its current ISA-18.2 state."""

    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_alarm_id_id", "alarm_id", "id"),
        Index("ix_alarms_state_raised_at", "state", "raised_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_id: Mapped[str] = mapped_column(String(160), comment="pipeline id, '{tag}:{kind}'")
    source_kind: Mapped[str] = mapped_column(String(32), default="tag")
    source_id: Mapped[str] = mapped_column(String(128), index=True, comment="位号 (tag) or other source")
    kind: Mapped[str] = mapped_column(String(32), comment="HH / H / L / LL / ROC / DEV / BAD ...")
    priority: Mapped[str] = mapped_column(String(16), index=True)
    area: Mapped[str | None] = mapped_column(String(64), index=True, default=None, comment="区域 / operator position")
    state: Mapped[str] = mapped_column(String(32), comment="models.alarm_states.AlarmStatus")
    underlying_state: Mapped[str] = mapped_column(String(32), comment="ISA base state beneath shelving etc.")
    raised_at: Mapped[datetime] = mapped_column(index=True)
    last_activated_at: Mapped[datetime]
    returned_at: Mapped[datetime | None] = mapped_column(default=None)
    cleared_at: Mapped[datetime | None] = mapped_column(default=None, comment="back to normal: occurrence over")
    unacked_since: Mapped[datetime | None] = mapped_column(default=None, comment="shown unacknowledged since")
    acked_at: Mapped[datetime | None] = mapped_column(default=None)
    acked_by: Mapped[str | None] = mapped_column(String(64), default=None)
    ack_delay_s: Mapped[float | None] = mapped_column(default=None, comment="seconds from annunciation to ack")
    shelved_until: Mapped[datetime | None] = mapped_column(default=None)
    shelved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    shelve_reason: Mapped[str] = mapped_column(String(512), default="")
    value: Mapped[float | None] = mapped_column(default=None)
    limit: Mapped[float | None] = mapped_column("limit_value", default=None)
    message: Mapped[str] = mapped_column(String(512), default="")
    activation_count: Mapped[int] = mapped_column(default=1, server_default="1")
    chattering: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_event_ts: Mapped[int] = mapped_column(BigInteger, comment="epoch ms of the newest process event")

    transitions: Mapped[list[AlarmTransition]] = relationship(
        back_populates="alarm", order_by="AlarmTransition.id", cascade="all, delete-orphan", passive_deletes=True
    )
    comments: Mapped[list[AlarmComment]] = relationship(
        back_populates="alarm", order_by="AlarmComment.id", cascade="all, delete-orphan", passive_deletes=True
    )
    disposal: Mapped[AlarmDisposal | None] = relationship(
        back_populates="alarm", cascade="all, delete-orphan", passive_deletes=True
    )
    attachments: Mapped[list[AlarmAttachment]] = relationship(
        back_populates="alarm", order_by="AlarmAttachment.id", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"Alarm({self.id}, {self.alarm_id!r}, {self.state})"


class AlarmTransition(Base):
    """The alarm journal: one row per state change, with who and when (ISA-18.2 audit trail).

    Process events carry their pipeline timestamp in ``source_ts``; the unique constraint on
    ``(alarm_id, trigger, source_ts)`` is what makes replayed stream events harmless.
    """

    __tablename__ = "alarm_transitions"
    __table_args__ = (
        UniqueConstraint("alarm_id", "trigger", "source_ts", name="uq_alarm_transitions_process_event"),
        Index("ix_alarm_transitions_trigger_at", "trigger", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_pk: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    alarm_id: Mapped[str] = mapped_column(String(160))
    trigger: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    source_ts: Mapped[int | None] = mapped_column(BigInteger, default=None)
    area: Mapped[str | None] = mapped_column(String(64), default=None)
    comment: Mapped[str] = mapped_column(Text, default="")

    alarm: Mapped[Alarm] = relationship(back_populates="transitions")


class AlarmComment(Base):
    """A remark on an occurrence (交接班说明, 现场反馈)."""

    __tablename__ = "alarm_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_pk: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)

    alarm: Mapped[Alarm] = relationship(back_populates="comments")


class AlarmDisposal(TimestampMixin, Base):
    """处置: who handled the alarm, the cause analysis, the measures taken, and the closure."""

    __tablename__ = "alarm_disposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_pk: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), unique=True)
    handler: Mapped[str] = mapped_column(String(64), comment="处置人")
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime]
    cause: Mapped[str] = mapped_column(Text, default="", comment="原因分析")
    measures: Mapped[str] = mapped_column(Text, default="", comment="处置措施")
    status: Mapped[str] = mapped_column(String(16), default=DisposalStatus.OPEN)
    closed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closing_note: Mapped[str] = mapped_column(Text, default="")

    alarm: Mapped[Alarm] = relationship(back_populates="disposal")


class AlarmAttachment(Base):
    """A file attached to an occurrence (现场照片, 处置报告); the bytes live under the uploads folder."""

    __tablename__ = "alarm_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    alarm_pk: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255), comment="name as uploaded")
    stored_path: Mapped[str] = mapped_column(String(512), comment="relative to the uploads folder")
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]

    alarm: Mapped[Alarm] = relationship(back_populates="attachments")
