"""The audit log table (审计日志): one row per security-relevant event, chained by SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import Base


class AuditEntry(Base):
    """One audited event: who (actor, roles, ip), what (action, object), when, and the result.

    ``hash`` is SHA-256 over ``prev_hash`` and the row's fields, so changing, inserting or
    deleting a row in the middle breaks every hash after it (tamper evidence, 等保2.0
    8.1.4.3 c). Rows are never updated or deleted by the application; database triggers
    refuse it too (see the migration).
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True, comment="username, or '-' when unknown")
    roles: Mapped[str] = mapped_column(String(255), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(32), index=True)
    object_type: Mapped[str] = mapped_column(String(64), default="")
    object_id: Mapped[str] = mapped_column(String(255), default="")
    result: Mapped[str] = mapped_column(String(16), comment="success | failure | denied")
    detail: Mapped[str] = mapped_column(String(1000), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
