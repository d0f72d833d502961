"""SQLAlchemy models of accounts (用户) and roles (角色)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registers.db import Base, utcnow
from registers.mixins import AuditMixin, TimestampMixin

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", Integer, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Role(Base):
    """A role (角色) such as ``safety_manager`` (安全管理员); see ``registers.permissions``."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(64), comment="Chinese display name, e.g. 安全管理员")

    def __repr__(self) -> str:
        return f"Role({self.name!r})"


class User(TimestampMixin, AuditMixin, Base):
    """An account (用户账号): one person, never shared (等保2.0 access control).

    ``failed_logins`` and ``locked_until`` implement the login-failure handling of 等保2.0
    8.1.4 b); ``must_change_password`` forces a new password after an administrator set one.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, comment="login name, stored lower-case")
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255), comment="argon2id PHC string")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Bumped on password change, role change, disabling and "log out everywhere": every token
    # carries the version it was issued under, so all older tokens die at once (等保2.0 8.1.4).
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None, comment="for password expiry")
    # Optional second factor (等保2.0 8.1.4.1 d): a TOTP secret (RFC 6238, base32). Pending
    # until the owner proves the authenticator works (``totp_enabled_at``); the last accepted
    # time step is kept so a code seen by a shoulder-surfer cannot be replayed.
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None, comment="base32 TOTP secret")
    totp_enabled_at: Mapped[datetime | None] = mapped_column(default=None, comment="set when enrolment was confirmed")
    totp_last_step: Mapped[int] = mapped_column(default=0, server_default="0", comment="last accepted 30 s step")

    # Roles are needed on every authenticated request, so load them with the user.
    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin", order_by=Role.name)

    @property
    def role_names(self) -> list[str]:
        """Names of the user's roles, as ``can()`` and tokens want them."""
        return [role.name for role in self.roles]

    @property
    def totp_enabled(self) -> bool:
        """Whether login asks for a one-time code (enrolment confirmed)."""
        return self.totp_secret is not None and self.totp_enabled_at is not None

    def __repr__(self) -> str:
        return f"User({self.username!r})"


class PasswordHistory(Base):
    """Hashes of a user's previous passwords, so the last few cannot be chosen again."""

    __tablename__ = "user_password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedToken(Base):
    """A token id (``jti``) revoked by logout before it expired; rows past ``expires_at`` may go."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)
