"""Account services: create, authenticate with lockout, password rules, seeding.

The numbers come from the usual reading of 等保2.0 (GB/T 22239-2019) 8.1.4 身份鉴别, see
DOMAIN.md section 7.1: passwords of at least 8 characters with 3 of the 4 character classes,
and an account locked for 15 minutes after 5 failed logins.

Services follow the register conventions: keyword-only, session first, ``flush()`` and never
``commit()``; the caller owns the transaction. One caveat for callers: a failed login raises
*after* flushing the failure counter, so the caller must commit even on :class:`LoginError`
or the lockout never triggers (``api.auth.security_session`` does this).
"""

from __future__ import annotations

import logging
import math
import secrets
import string
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Protocol

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Insert, func, insert, select
from sqlalchemy import delete as sa_delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from registers.db import utcnow
from registers.permissions import ROLE_TITLES, RoleName
from registers.users.common_passwords import COMMON_PASSWORDS, COMMON_SEQUENCES, COMMON_WORDS
from registers.users.models import PasswordHistory, RevokedToken, Role, User, user_roles

log = logging.getLogger(__name__)

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
MIN_CHARACTER_CLASSES = 3
PASSWORD_HISTORY = 5  # the last five passwords cannot be chosen again
DEMO_ADMIN_USERNAME = "admin"

PASSWORD_RULE = (
    f"密码至少 {MIN_PASSWORD_LENGTH} 位，且包含大写字母、小写字母、数字、特殊字符中的至少 {MIN_CHARACTER_CLASSES} 类"
    f" / Password must have at least {MIN_PASSWORD_LENGTH} characters and at least {MIN_CHARACTER_CLASSES} of:"
    " upper-case letters, lower-case letters, digits, symbols"
)

# argon2id with the library's defaults (RFC 9106 low-memory profile); verify() reads the
# parameters from each stored hash, so raising them later only needs check_needs_rehash.
_hasher = PasswordHasher()


class UserError(Exception):
    """Base of the account errors; the API maps each subclass to one status code."""


class LoginError(UserError):
    """A login that did not succeed; the message is safe to show to the user."""

    def __init__(self, message: str, *, username: str) -> None:
        super().__init__(message)
        self.username = username


class InvalidCredentials(LoginError):
    """Unknown username or wrong password (deliberately not said which)."""

    def __init__(self, *, username: str, message: str = "用户名或密码错误 / Invalid username or password") -> None:
        super().__init__(message, username=username)


class AccountLocked(LoginError):
    """Too many failed logins; no password is checked until ``locked_until``."""

    def __init__(self, *, username: str, locked_until: datetime, now: datetime) -> None:
        minutes = max(1, math.ceil((locked_until - now).total_seconds() / 60))
        super().__init__(
            f"连续 {MAX_FAILED_LOGINS} 次登录失败，账户已锁定，请 {minutes} 分钟后重试"
            f" / Account locked after {MAX_FAILED_LOGINS} failed logins; try again in {minutes} min",
            username=username,
        )
        self.locked_until = locked_until
        self.retry_after_s = max(1, math.ceil((locked_until - now).total_seconds()))


class AccountDisabled(LoginError):
    """The password was right but the account has been disabled by an administrator."""

    def __init__(self, *, username: str) -> None:
        message = "账户已停用，请联系系统管理员 / Account disabled; contact the administrator"
        super().__init__(message, username=username)


class OtpRequired(LoginError):
    """The password was right and the account has a second factor: send the one-time code too.

    Not a failed login (nothing is counted); the client asks for the code and logs in again.
    """

    def __init__(self, *, username: str) -> None:
        super().__init__("请输入动态口令 / One-time code required (authenticator app)", username=username)


class InvalidOtp(LoginError):
    """A wrong, expired or replayed one-time code; counts toward the lockout like a wrong password."""

    def __init__(self, *, username: str) -> None:
        super().__init__("动态口令错误或已使用 / Wrong or already used one-time code", username=username)


class TotpStateError(UserError, ValueError):
    """Enrolment asked in the wrong state (already enabled, or nothing to confirm)."""


class PasswordPolicyError(UserError, ValueError):
    """A new password breaks the complexity rule."""


class UsernameTaken(UserError, ValueError):
    """The username is already in use."""


class UnknownRole(UserError, ValueError):
    """A role name that is not one of ``RoleName``."""


# --- passwords -------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """Hash a password with argon2id (PHC string with salt and parameters)."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash is simply a mismatch."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    # Built on first use, not at import: hashing costs tens of milliseconds.
    return hash_password(secrets.token_urlsafe(16))


def character_classes(password: str) -> int:
    """How many of upper-case, lower-case, digits and other characters the password uses."""
    return sum(
        (
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdecimal() for c in password),
            any(not (c.isupper() or c.islower() or c.isdecimal()) for c in password),
        )
    )


def check_password_policy(password: str, *, username: str | None = None) -> None:
    """Raise :class:`PasswordPolicyError` unless the password meets the 等保2.0 rule.

    Args:
        password: the candidate password.
        username: when given, a password containing the username is refused too (it is
            the first thing an attacker tries).

    Raises:
        PasswordPolicyError: with a bilingual message that states the rule.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        msg = f"密码不能超过 {MAX_PASSWORD_LENGTH} 位 / Password must not exceed {MAX_PASSWORD_LENGTH} characters"
        raise PasswordPolicyError(msg)
    if len(password) < MIN_PASSWORD_LENGTH or character_classes(password) < MIN_CHARACTER_CLASSES:
        raise PasswordPolicyError(PASSWORD_RULE)
    if username and username.strip().lower() in password.lower():
        msg = "密码不能包含用户名 / Password must not contain the username"
        raise PasswordPolicyError(msg)
    if is_common_password(password):
        msg = "密码过于常见，容易被猜中 / Password is too common (a well-known password or word)"
        raise PasswordPolicyError(msg)


_LEET = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s", "5": "s", "7": "t"})
_EDGE = string.digits + string.punctuation + " "


def is_common_password(password: str) -> bool:
    """Whether the password is a well-known one or a common word dressed up with digits and symbols."""
    lowered = password.strip().lower()
    if lowered in COMMON_PASSWORDS:
        return True
    core = lowered.strip(_EDGE)  # Password1 -> password, @Admin2024! -> admin
    if not core or core in COMMON_WORDS or len(set(core)) <= 2:
        return True
    unleet = lowered.translate(_LEET)  # P@ssw0rd -> password
    if unleet.strip(_EDGE) in COMMON_WORDS or unleet in COMMON_PASSWORDS:
        return True
    return any(seq in lowered or seq in unleet for seq in COMMON_SEQUENCES)  # 1qaz2wsx!Q, Qwerty-9x


def generate_password(length: int = 20) -> str:
    """A random password that satisfies the rule with all four character classes."""
    alphabet = string.ascii_letters + string.digits + "!@#$%^&*-_=+"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if character_classes(candidate) == 4:  # all four classes
            return candidate


# --- reading ---------------------------------------------------------------------------------


def normalize_username(username: str) -> str:
    """Usernames are case-insensitive: ``Zhang.San`` and ``zhang.san`` are one account."""
    return username.strip().lower()


def get(*, session: Session, user_id: int) -> User | None:
    """The user with this id, or ``None``."""
    return session.get(User, user_id)


def get_by_username(*, session: Session, username: str) -> User | None:
    """The user with this username (case-insensitive), or ``None``."""
    return session.scalar(select(User).where(User.username == normalize_username(username)))


# --- roles and seeding -----------------------------------------------------------------------


def _insert_ignoring_duplicates(session: Session, entity: Any) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's dialect.

    Seeding runs at every start of every API replica; this makes two replicas starting at
    once agree instead of one of them failing on a unique constraint.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(entity).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(entity).on_conflict_do_nothing()
    return insert(entity)


def ensure_roles(*, session: Session) -> dict[str, Role]:
    """Create the fixed roles that are missing; return every role by name."""
    rows = [{"name": role.value, "title": ROLE_TITLES[role]} for role in RoleName]
    existing = set(session.scalars(select(Role.name)))
    missing = [row for row in rows if row["name"] not in existing]
    if missing:
        session.execute(_insert_ignoring_duplicates(session, Role), missing)
    return {role.name: role for role in session.scalars(select(Role))}


def _roles_by_names(session: Session, names: Iterable[str]) -> list[Role]:
    wanted = list(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in {role.value for role in RoleName}]
    if unknown:
        msg = f"未知角色 / unknown role(s): {', '.join(unknown)}; known: {', '.join(RoleName)}"
        raise UnknownRole(msg)
    roles = ensure_roles(session=session) if wanted else {}
    return [roles[name] for name in wanted]


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    display_name: str = "",
    roles: Iterable[str] = (),
    must_change_password: bool = False,
    actor: str | None = None,
) -> User:
    """Open an account after checking the username is free and the password meets the rule.

    Raises:
        UsernameTaken: the (case-insensitive) username exists.
        PasswordPolicyError: the password breaks the complexity rule.
        UnknownRole: a role name is not a ``RoleName``.
    """
    name = normalize_username(username)
    if not name:
        msg = "用户名不能为空 / Username must not be empty"
        raise ValueError(msg)
    if get_by_username(session=session, username=name) is not None:
        msg = f"用户名已存在 / Username already exists: {name}"
        raise UsernameTaken(msg)
    check_password_policy(password, username=name)
    user = User(
        username=name,
        display_name=display_name,
        password_hash=hash_password(password),
        must_change_password=must_change_password,
        roles=_roles_by_names(session, roles),
        created_by=actor,
        updated_by=actor,
    )
    session.add(user)
    session.flush()
    log.info("user created: %s roles=%s by=%s", name, user.role_names, actor)
    return user


def ensure_demo_admin(
    *, session: Session, username: str = DEMO_ADMIN_USERNAME, role: RoleName = RoleName.ADMIN, must_change: bool = True
) -> str | None:
    """Create a built-in account on first start; return its password exactly once.

    ``admin`` by default; with ``username``/``role`` also the security administrator and the
    auditor of 三员分立. The password is random (a fixed default password is what 等保2.0
    forbids); ``must_change`` makes the owner replace it at first login. Nothing is created
    while any account holds the role, so an account deliberately renamed or deleted stays gone.

    Returns:
        The generated password on the run that created the account, else ``None``.
    """
    roles = ensure_roles(session=session)
    holders = session.scalar(select(func.count()).select_from(user_roles).where(user_roles.c.role_id == roles[role].id))
    if holders:
        return None
    password = generate_password()
    stmt = _insert_ignoring_duplicates(session, User).values(
        username=username,
        display_name=ROLE_TITLES[role],
        password_hash=hash_password(password),
        must_change_password=must_change,
    )
    user_id = session.scalar(stmt.returning(User.id))
    if user_id is None:
        log.warning("no account holds the %s role, but the username %r is taken", role, username)
        return None
    user = session.get_one(User, user_id)
    user.roles.append(roles[role])
    session.flush()
    log.warning("created the initial %r account (%s)", username, role)
    return password


# --- login and passwords ---------------------------------------------------------------------


def _record_failure(session: Session, user: User, now: datetime) -> None:
    """Count a failed password; lock the account at the limit.

    The increment is done in SQL so concurrent guesses cannot overwrite each other's count.
    """
    user.failed_logins = User.failed_logins + 1
    session.flush()
    session.refresh(user, ["failed_logins"])
    log.warning("login failed: %s (%d/%d)", user.username, user.failed_logins, MAX_FAILED_LOGINS)
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + LOCKOUT
        user.failed_logins = 0
        session.flush()
        log.warning("account locked: %s until %s", user.username, user.locked_until.isoformat())
        raise AccountLocked(username=user.username, locked_until=user.locked_until, now=now)


def _check_not_locked(user: User, now: datetime) -> None:
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked(username=user.username, locked_until=user.locked_until, now=now)


def authenticate(
    *, session: Session, username: str, password: str, otp: str | None = None, now: datetime | None = None
) -> User:
    """Check a username and password (and the one-time code); count failures and lock after the fifth.

    Args:
        session: the session; failure counters are flushed before raising, so commit on
            :class:`LoginError` too.
        username: login name, case-insensitive.
        password: the password as typed.
        otp: the six-digit code of an account with a second factor (ignored otherwise).
        now: the current time (tests pass a fixed one); aware UTC.

    Returns:
        The user, with ``last_login_at`` set and the failure counter cleared.

    Raises:
        InvalidCredentials: unknown user or wrong password (failures 1 to 4).
        AccountLocked: the fifth failure in a row, and every attempt during the lock.
        AccountDisabled: right password for a disabled account.
        OtpRequired: right password, the account has TOTP, and no code was given.
        InvalidOtp: right password, wrong or replayed code (counted like a wrong password).
    """
    now = now or utcnow()
    user = get_by_username(session=session, username=username)
    if user is None:
        verify_password(password, _dummy_hash())  # same cost as a real check: no user enumeration by timing
        log.warning("login failed: unknown user %s", normalize_username(username))
        raise InvalidCredentials(username=username)
    _check_not_locked(user, now)
    if not verify_password(password, user.password_hash):
        _record_failure(session, user, now)
        raise InvalidCredentials(username=user.username)
    if not user.is_active:
        raise AccountDisabled(username=user.username)
    if user.totp_enabled:
        if not otp:
            raise OtpRequired(username=user.username)
        if not _accept_totp(user, otp, now):
            _record_failure(session, user, now)
            raise InvalidOtp(username=user.username)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    log.info("login: %s", user.username)
    return user


def _reused(session: Session, user: User, password: str) -> bool:
    """Whether ``password`` is the current one or one of the last :data:`PASSWORD_HISTORY`."""
    if user.id is None:
        return False
    previous = session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(PASSWORD_HISTORY)
    )
    return any(verify_password(password, old) for old in [user.password_hash, *previous])


def set_password(
    *,
    session: Session,
    user: User,
    password: str,
    actor: str | None = None,
    must_change_password: bool = False,
    now: datetime | None = None,
) -> User:
    """Set a new password after checking the rule; an administrator's reset passes ``must_change_password``.

    The old hash goes into the history, and ``token_version`` is bumped: every token issued
    before the change stops working at once (a thief's token dies with the old password).

    Raises:
        PasswordPolicyError: the password breaks the rule or is one of the last five.
    """
    check_password_policy(password, username=user.username)
    if _reused(session, user, password):
        msg = (
            f"新密码不能与当前或最近 {PASSWORD_HISTORY} 次使用过的密码相同"
            f" / The new password must differ from the current one and the last {PASSWORD_HISTORY}"
        )
        raise PasswordPolicyError(msg)
    if user.id is not None:
        session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now or utcnow()))
    user.password_hash = hash_password(password)
    user.password_changed_at = now or utcnow()
    user.must_change_password = must_change_password
    user.failed_logins = 0
    user.locked_until = None
    user.token_version = (user.token_version or 0) + 1
    user.updated_by = actor
    session.flush()
    log.info("password set: %s by=%s", user.username, actor)
    return user


def change_password(
    *, session: Session, user: User, current_password: str, new_password: str, now: datetime | None = None
) -> User:
    """A user's own password change: the current password is checked like a login.

    A wrong current password counts toward the lockout, so a stolen token cannot be used to
    guess the password without limit.

    Raises:
        AccountLocked: the account is locked, or this was the fifth failure.
        InvalidCredentials: the current password is wrong.
        PasswordPolicyError: the new password breaks the rule or equals the current one.
    """
    now = now or utcnow()
    _check_not_locked(user, now)
    if not verify_password(current_password, user.password_hash):
        _record_failure(session, user, now)
        raise InvalidCredentials(username=user.username, message="当前密码错误 / The current password is wrong")
    if new_password == current_password:
        msg = "新密码不能与当前密码相同 / The new password must differ from the current one"
        raise PasswordPolicyError(msg)
    return set_password(session=session, user=user, password=new_password, actor=user.username, now=now)


class _PasswordAge(Protocol):
    """An account's dates that password expiry counts from (an ORM ``User`` or the API's signed-in user)."""

    @property
    def password_changed_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime | None: ...


def password_expired(user: _PasswordAge, *, max_age_days: int, now: datetime | None = None) -> bool:
    """Whether the password is older than ``max_age_days`` (0 turns expiry off).

    An account that never changed its password counts from its creation.
    """
    if max_age_days <= 0:
        return False
    since = user.password_changed_at or user.created_at
    return since is not None and (now or utcnow()) - since > timedelta(days=max_age_days)


# --- second factor (TOTP, RFC 6238) ----------------------------------------------------------

TOTP_ISSUER = "SafeTwin"
TOTP_VALID_WINDOW = 1  # one 30 s step either side: a phone clock a little off still works


def _accept_totp(user: User, code: str, now: datetime) -> bool:
    """Whether ``code`` is valid for the user's secret now and newer than the last one used.

    On success the step is remembered (flushed with the login), so the same code cannot log
    in twice: RFC 6238 5.2 "the verifier MUST NOT accept the second attempt of the same OTP".
    """
    if user.totp_secret is None or not code.isdecimal():
        return False
    totp = pyotp.TOTP(user.totp_secret)
    step_now = totp.timecode(now.timestamp())
    for offset in range(-TOTP_VALID_WINDOW, TOTP_VALID_WINDOW + 1):
        step = step_now + offset
        if step > (user.totp_last_step or 0) and secrets.compare_digest(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False


def start_totp_enrolment(*, session: Session, user: User) -> str:
    """Give the user a new (pending) TOTP secret; login is unchanged until :func:`confirm_totp`.

    Raises:
        TotpStateError: the second factor is already on (reset it first).
    """
    if user.totp_enabled:
        msg = "已启用动态口令，需先由安全管理员重置 / TOTP is already enabled; have it reset first"
        raise TotpStateError(msg)
    user.totp_secret = pyotp.random_base32()
    user.totp_enabled_at = None
    user.totp_last_step = 0
    session.flush()
    return user.totp_secret


def totp_uri(user: User, secret: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def confirm_totp(*, session: Session, user: User, code: str, now: datetime | None = None) -> User:
    """Turn the second factor on once the user typed a valid code from the new secret.

    Raises:
        TotpStateError: no pending enrolment, or already enabled.
        InvalidOtp: the code does not match (nothing is counted: the password was not asked).
    """
    now = now or utcnow()
    if user.totp_secret is None or user.totp_enabled:
        msg = "没有待确认的动态口令绑定 / No pending TOTP enrolment"
        raise TotpStateError(msg)
    if not _accept_totp(user, code, now):
        raise InvalidOtp(username=user.username)
    user.totp_enabled_at = now
    user.token_version = (user.token_version or 0) + 1  # sessions opened with one factor end
    session.flush()
    log.info("totp enabled: %s", user.username)
    return user


def reset_totp(*, session: Session, user: User, actor: str) -> User:
    """Remove the second factor (a lost phone); the owner may enrol again."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = 0
    user.token_version = (user.token_version or 0) + 1
    user.updated_by = actor
    session.flush()
    log.info("totp reset: %s by=%s", user.username, actor)
    return user


# --- administration and sessions -------------------------------------------------------------


def update_user(
    *,
    session: Session,
    user: User,
    actor: str,
    display_name: str | None = None,
    is_active: bool | None = None,
    roles: Iterable[str] | None = None,
) -> User:
    """Change an account; a role change or disabling ends its sessions (``token_version``).

    Raises:
        UnknownRole: a role name is not a ``RoleName``.
    """
    ends_sessions = False
    if display_name is not None:
        user.display_name = display_name
    if roles is not None:
        new_roles = _roles_by_names(session, roles)
        if {r.name for r in new_roles} != set(user.role_names):
            user.roles = new_roles
            ends_sessions = True
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        ends_sessions = ends_sessions or not is_active
    if ends_sessions:
        user.token_version = (user.token_version or 0) + 1
    user.updated_by = actor
    session.flush()
    log.info("user updated: %s roles=%s active=%s by=%s", user.username, user.role_names, user.is_active, actor)
    return user


def end_sessions(*, session: Session, user: User) -> None:
    """Invalidate every token of the user ("log out everywhere")."""
    user.token_version = (user.token_version or 0) + 1
    session.flush()


def revoke_token(*, session: Session, jti: str, username: str, expires_at: datetime) -> None:
    """Revoke one token (logout) until it would have expired anyway; old revocations are purged."""
    now = utcnow()
    session.execute(sa_delete(RevokedToken).where(RevokedToken.expires_at < now))
    if session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, username=username, expires_at=expires_at))
    session.flush()


def is_revoked(*, session: Session, jti: str) -> bool:
    """Whether the token id was revoked by a logout."""
    return session.get(RevokedToken, jti) is not None


def list_users(*, session: Session, offset: int = 0, limit: int = 100) -> tuple[list[User], int]:
    """One page of accounts by username, and the total."""
    total = session.scalar(select(func.count()).select_from(User)) or 0
    return list(session.scalars(select(User).order_by(User.username).offset(offset).limit(limit))), total
