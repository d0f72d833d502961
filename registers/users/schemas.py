"""Pydantic schemas of accounts and login: ``UserCreate / UserUpdate / UserRead / UserPage``.

Validation here is the 数据有效性检验 of 等保2.0 at the API boundary (lengths and character
sets); the password complexity rule is checked in the service so that every path that sets
a password (API, CLI, seeding) obeys it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
OTP_PATTERN = r"^[0-9]{6}$"


def _role_names(value: Any) -> Any:
    """Accept ORM ``Role`` objects as well as plain names."""
    if isinstance(value, list | tuple):
        return [getattr(item, "name", item) for item in value]
    return value


class UserCreate(BaseModel):
    """What an administrator supplies to open an account."""

    username: str = Field(pattern=USERNAME_PATTERN, description="login name (工号), case-insensitive")
    display_name: str = Field(default="", max_length=128, description="姓名")
    password: str = Field(max_length=128, description="checked against the password rule by the service")
    roles: list[str] = Field(default_factory=list)
    must_change_password: bool = True


class UserUpdate(BaseModel):
    """Fields an administrator may change; ``None`` leaves a field as it is."""

    display_name: str | None = Field(default=None, max_length=128)
    is_active: bool | None = None
    roles: list[str] | None = None


class UserRead(BaseModel):
    """An account as the API shows it (never the hash or the lockout counters)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    roles: list[str]
    is_active: bool
    must_change_password: bool
    last_login_at: datetime | None = None
    totp_enabled: bool = Field(default=False, description="动态口令（第二因素）已启用")
    locked_until: datetime | None = Field(default=None, description="登录失败锁定至")

    _roles = field_validator("roles", mode="before")(_role_names)


class UserPage(BaseModel):
    """One page of accounts."""

    items: list[UserRead]
    total: int


class LoginRequest(BaseModel):
    """JSON body of ``POST /api/v1/auth/login``."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=128)
    otp: str | None = Field(
        default=None, pattern=OTP_PATTERN, description="动态口令: six digits, for accounts with a second factor"
    )


class TotpEnrolment(BaseModel):
    """A new TOTP secret for the authenticator app; confirmed with a first code."""

    secret: str = Field(description="base32 secret, for typing into the app")
    otpauth_uri: str = Field(description="otpauth:// URI, for a QR code")


class TotpCode(BaseModel):
    """A six-digit one-time code."""

    code: str = Field(pattern=OTP_PATTERN)


class TokenUser(BaseModel):
    """The part of the account the front end needs right after login."""

    model_config = ConfigDict(from_attributes=True)

    username: str
    display_name: str
    roles: list[str]
    must_change_password: bool = False

    _roles = field_validator("roles", mode="before")(_role_names)


class Token(BaseModel):
    """Login result; the same shape for JSON login and the OAuth2 password form."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds until the token expires")
    user: TokenUser


class PasswordChange(BaseModel):
    """Body of ``POST /api/v1/auth/me/password``."""

    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


class PasswordReset(BaseModel):
    """Body of an administrator's password reset; the user must change it at next login."""

    password: str = Field(min_length=1, max_length=128, description="checked against the password rule")


class RoleRead(BaseModel):
    """A built-in role and what it may do (resource -> actions)."""

    name: str
    title: str
    grants: dict[str, list[str]]
