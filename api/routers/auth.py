"""Login, token and own-account routes (认证): ``/api/v1/auth``.

``/login`` and ``/token`` are the only unauthenticated routes of the API (they have to be);
mount this router *outside* the aggregating router that adds authentication.

Second factor (等保2.0 8.1.4.1 d): an account that enrolled an authenticator app
(``POST /me/totp``, then ``/me/totp/confirm`` with a first code) logs in with ``otp`` as
well. Without it the right password gets 401 with ``X-OTP-Required: true`` (nothing is
counted); a wrong code counts toward the lockout like a wrong password.

Status codes: 401 wrong credentials, 423 account locked (with ``Retry-After``), 403 account
disabled, 422 invalid input or a new password that breaks the rule, 400 a wrong current
password on ``/me/password`` (not 401, which the front end reads as "logged out").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from api.auth import (
    CurrentUser,
    SignedInUser,
    TokenDep,
    audit_event,
    create_token,
    decode_token,
    security_session,
)
from api.settings import Settings
from registers.users import service as users
from registers.users.models import User
from registers.users.schemas import (
    LoginRequest,
    PasswordChange,
    Token,
    TokenUser,
    TotpCode,
    TotpEnrolment,
    UserRead,
)

router = APIRouter(prefix="/api/v1/auth", tags=["auth 认证"])

_LOGIN_ERRORS: dict[int | str, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "description": "用户名、密码或动态口令错误；需要动态口令时带 X-OTP-Required / invalid credentials or code",
        "headers": {
            "X-OTP-Required": {"description": "true: send the authenticator code as otp", "schema": {"type": "string"}}
        },
    },
    status.HTTP_403_FORBIDDEN: {"description": "账户已停用 / account disabled"},
    status.HTTP_423_LOCKED: {"description": "账户已锁定 / account locked after 5 failed logins"},
}

_FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {"type": "string"},
                        "password": {"type": "string", "format": "password"},
                        "otp": {"type": "string", "pattern": "^[0-9]{6}$"},
                    },
                }
            }
        },
    }
}


@contextmanager
def _translate_errors(*, wrong_password_status: int = status.HTTP_401_UNAUTHORIZED) -> Iterator[None]:
    """Map account errors to HTTP once, here at the boundary."""
    try:
        yield
    except users.AccountLocked as err:
        raise HTTPException(
            status.HTTP_423_LOCKED, detail=str(err), headers={"Retry-After": str(err.retry_after_s)}
        ) from err
    except users.AccountDisabled as err:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=str(err)) from err
    except users.OtpRequired as err:
        otp_headers = {"WWW-Authenticate": "Bearer", "X-OTP-Required": "true"}
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=str(err), headers=otp_headers) from err
    except users.TotpStateError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    except (users.InvalidCredentials, users.InvalidOtp) as err:
        headers = {"WWW-Authenticate": "Bearer"} if wrong_password_status == status.HTTP_401_UNAUTHORIZED else None
        raise HTTPException(wrong_password_status, detail=str(err), headers=headers) from err
    except users.PasswordPolicyError as err:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err)) from err


@contextmanager
def _audited(
    request: Request,
    user: SignedInUser,
    action: str,
    *,
    object_type: str = "user",
    object_id: str | None = None,
    detail: str = "",
) -> Iterator[None]:
    """Audit one own-account action: ``failure`` with the refusal's reason, else ``success``.

    Enter it *before* the action's transaction so it exits after that commit: the entry is
    written in a transaction of its own, and on SQLite a second writer would wait for the
    request's write lock. ``object_id`` defaults to the account's username.

    Raises:
        HTTPException: the action's refusal, unchanged, once it is in the trail.
    """
    record = partial(
        audit_event,
        request,
        actor=user.username,
        roles=user.role_names,
        action=action,
        object_type=object_type,
        object_id=user.username if object_id is None else object_id,
    )
    try:
        yield
    except HTTPException as err:
        record(result="failure", detail=str(err.detail))
        raise
    record(detail=detail)


def _audit_login_failure(request: Request, err: users.LoginError) -> None:
    action = {
        users.AccountLocked: "account_locked",
        users.AccountDisabled: "login_disabled",
        users.OtpRequired: "login_otp_required",  # the password was right: worth seeing in the trail
        users.InvalidOtp: "login_otp_failed",
    }.get(type(err), "login_failed")
    audit_event(
        request,
        actor=users.normalize_username(err.username)[:64],
        action=action,
        result="failure",
        object_type="session",
        detail=str(err),
    )


def _issue_token(request: Request, credentials: LoginRequest) -> Token:
    """Authenticate in a security session (failures are kept), sign a token, audit either way."""
    settings: Settings = request.app.state.settings
    factory: sessionmaker[Session] = request.app.state.session_factory
    with _translate_errors():
        try:
            with security_session(factory) as session:
                user = users.authenticate(
                    session=session, username=credentials.username, password=credentials.password, otp=credentials.otp
                )
                token = Token(
                    access_token=create_token(settings, user),
                    expires_in=settings.token_ttl_minutes * 60,
                    user=TokenUser.model_validate(user),
                )
        except users.LoginError as err:
            _audit_login_failure(request, err)
            raise
    factors = "password+totp" if credentials.otp and user.totp_enabled else "password"
    audit_event(
        request, actor=user.username, roles=user.role_names, action="login", object_type="session", detail=factors
    )
    return token


async def password_form(request: Request) -> LoginRequest:
    """Read the OAuth2 password-grant form (``application/x-www-form-urlencoded``).

    Parsed with the standard library so the API does not need ``python-multipart`` just for
    Swagger's "Authorize" dialog.
    """
    form = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    data = {key: values[0] for key in ("username", "password", "otp") if (values := form.get(key))}
    try:
        return LoginRequest.model_validate(data)
    except ValidationError as err:
        raise RequestValidationError(err.errors(include_url=False)) from err


@router.post("/login", responses=_LOGIN_ERRORS, summary="登录 / log in (JSON)")
def login(credentials: LoginRequest, request: Request) -> Token:
    """Exchange a username and password for an access token valid ``token_ttl_minutes``."""
    return _issue_token(request, credentials)


@router.post("/token", responses=_LOGIN_ERRORS, openapi_extra=_FORM_BODY, summary="OAuth2 password grant")
def token(request: Request, credentials: Annotated[LoginRequest, Depends(password_form)]) -> Token:
    """The same as ``/login`` with a form body, for Swagger's "Authorize" button."""
    return _issue_token(request, credentials)


@router.get("/me", summary="当前用户 / the logged-in user")
def me(user: CurrentUser) -> UserRead:
    """The account of the token's user."""
    return UserRead.model_validate(user)


@router.post(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="修改密码 / change own password",
    responses={
        status.HTTP_400_BAD_REQUEST: {"description": "当前密码错误 / current password is wrong"},
        status.HTTP_422_UNPROCESSABLE_CONTENT: {"description": "新密码不符合规则 / new password breaks the rule"},
        status.HTTP_423_LOCKED: {"description": "账户已锁定 / account locked"},
    },
)
def change_password(body: PasswordChange, user: CurrentUser, request: Request) -> None:
    """Change one's own password; a wrong current password counts toward the lockout.

    Every token of the account, this one included, stops working: log in again.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    with (
        _audited(request, user, "password_change"),
        _translate_errors(wrong_password_status=status.HTTP_400_BAD_REQUEST),
        security_session(factory) as session,
    ):
        users.change_password(
            session=session,
            user=session.get_one(User, user.id),
            current_password=body.current_password,
            new_password=body.new_password,
        )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="退出登录 / log out")
def logout(
    user: CurrentUser,
    request: Request,
    token: TokenDep,
    everywhere: Annotated[bool, Query(description="也结束该账户的其他会话 / end every session")] = False,
) -> None:
    """Revoke this token on the server (and with ``everywhere`` every token of the account)."""
    settings: Settings = request.app.state.settings
    factory: sessionmaker[Session] = request.app.state.session_factory
    claims = decode_token(settings, token or "")
    detail = "everywhere" if everywhere else ""
    with (
        _audited(request, user, "logout", object_type="session", object_id="", detail=detail),
        factory.begin() as session,
    ):
        expires = datetime.fromtimestamp(claims.exp, UTC)
        users.revoke_token(session=session, jti=claims.jti, username=user.username, expires_at=expires)
        if everywhere:
            users.end_sessions(session=session, user=session.get_one(User, user.id))


@router.post(
    "/me/totp",
    status_code=status.HTTP_201_CREATED,
    summary="绑定动态口令 / start TOTP enrolment",
    responses={status.HTTP_409_CONFLICT: {"description": "已启用动态口令 / already enabled"}},
)
def enrol_totp(user: CurrentUser, request: Request) -> TotpEnrolment:
    """A new secret for an authenticator app; login does not change until ``/me/totp/confirm``."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with _audited(request, user, "totp_enrol"), _translate_errors(), security_session(factory) as session:
        account = session.get_one(User, user.id)
        secret = users.start_totp_enrolment(session=session, user=account)
        enrolment = TotpEnrolment(secret=secret, otpauth_uri=users.totp_uri(account, secret))
    return enrolment


@router.post(
    "/me/totp/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="确认动态口令 / confirm TOTP with a first code",
    responses={
        status.HTTP_400_BAD_REQUEST: {"description": "动态口令错误 / wrong code"},
        status.HTTP_409_CONFLICT: {"description": "没有待确认的绑定 / nothing to confirm"},
    },
)
def confirm_totp(body: TotpCode, user: CurrentUser, request: Request) -> None:
    """Turn the second factor on; every token of the account ends, so log in again with a code."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with (
        _audited(request, user, "totp_enable"),
        _translate_errors(wrong_password_status=status.HTTP_400_BAD_REQUEST),
        security_session(factory) as session,
    ):
        users.confirm_totp(session=session, user=session.get_one(User, user.id), code=body.code)
