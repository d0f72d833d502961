"""Tables and mixins that every register shares: soft delete, version counter, history, files, reminders.

A register's own table gets its bookkeeping columns from :class:`RegisterMixin`; the three
shared tables below hold, for every register at once, what changed (:class:`RecordVersion`),
which files are attached (:class:`Attachment`) and which due-date reminders have fired
(:class:`ReminderSent`). Shared tables keyed by ``(register, record_id)`` mean a new register
needs no new history, attachment or reminder table and no new migration for them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base, UtcDateTime, utcnow
from registers.mixins import AuditMixin, TimestampMixin

# Columns the framework maintains itself: never taken from user input, never diffed as "what changed".
BOOKKEEPING_COLUMNS: frozenset[str] = frozenset(
    {"id", "version", "created_at", "updated_at", "created_by", "updated_by", "deleted_at", "deleted_by"}
)


class SoftDeleteMixin:
    """``deleted_at`` / ``deleted_by``: a deleted register row stays, hidden, and can be restored.

    Why not delete: a regulator may ask what a certificate said last year, and 等保2.0 wants
    the trail of who removed what.
    """

    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None, index=True)
    deleted_by: Mapped[str | None] = mapped_column(String(64), default=None)

    @property
    def is_deleted(self) -> bool:
        """Whether the row is soft-deleted."""
        return self.deleted_at is not None


class VersionMixin:
    """``version``: 1 on create, +1 on every change; doubles as an optimistic-lock token."""

    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1", nullable=False)


class RegisterMixin(TimestampMixin, AuditMixin, SoftDeleteMixin, VersionMixin):
    """Everything a register row needs besides its own fields: id, times, who, soft delete, version.

    Example:
        ``class Certificate(RegisterMixin, Base): __tablename__ = "certificates"; number: Mapped[str] ...``
    """

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class RecordVersion(Base):
    """One change of one register record (版本记录): who, when, what (``{field: [old, new]}``).

    ``action`` is ``create``, ``update``, ``delete``, ``restore``, ``import`` or ``attach``;
    ``version`` is the record's version after the change, so history and rows line up.
    """

    __tablename__ = "register_versions"
    __table_args__ = (UniqueConstraint("register", "record_id", "version", name="uq_register_versions_record_version"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    register: Mapped[str] = mapped_column(String(64), comment="register name, e.g. certificate")
    record_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(64), default=None, comment="username; NULL for the system")
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, comment="{field: [old, new]}")


class Attachment(Base):
    """A file attached to a register record (附件): metadata here, bytes in the attachment storage.

    ``storage_key`` is derived from the SHA-256 of the content, so the same scan uploaded twice
    is stored once and a changed file can never overwrite another.
    """

    __tablename__ = "register_attachments"
    __table_args__ = (Index("ix_register_attachments_record", "register", "record_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    register: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255), comment="sanitised original name")
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    uploaded_by: Mapped[str | None] = mapped_column(String(64), default=None)
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ReminderSent(Base):
    """A due-date reminder that has fired (已发送提醒); the unique key makes each fire exactly once.

    ``due_date`` is part of the key so that a renewed certificate (new expiry date) is
    reminded about again, while the same date never is.
    """

    __tablename__ = "register_reminders"
    __table_args__ = (
        UniqueConstraint("register", "record_id", "field", "lead_days", "due_date", name="uq_register_reminders_once"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    register: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(64))
    lead_days: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
