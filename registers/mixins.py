"""Columns that every register row carries: when it changed and who changed it.

Kept in mixins so each domain gets the same names and types, and the audit questions of
等保2.0 (who did what, when) have the same answer shape everywhere.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, func
from sqlalchemy.orm import Mapped, mapped_column

from registers.db import UtcDateTime, utcnow


class TimestampMixin:
    """``created_at`` / ``updated_at`` as aware UTC.

    Set in Python (so the values are known right after ``flush``) and with a server default
    too (so rows inserted by plain SQL or a migration are never NULL).
    """

    created_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, onupdate=utcnow, server_default=func.now(), nullable=False
    )


class AuditMixin:
    """``created_by`` / ``updated_by``: the username of the acting user, ``None`` for the system.

    Usernames rather than foreign keys: the trail must outlive a deleted or disabled account
    and must not tie every table to ``users`` (which would also make ``users`` refer to itself).
    """

    created_by: Mapped[str | None] = mapped_column(String(64), default=None)
    updated_by: Mapped[str | None] = mapped_column(String(64), default=None)
