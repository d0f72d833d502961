"""Accounts and roles (用户与角色管理): ``/api/v1/users`` and ``/api/v1/roles``.

Only the security administrator (安全管理员(系统)) changes accounts; the auditor may read
them (三员分立). Every change is written to the audit log by ``api.security.AuditTrail``,
with the before/after of roles and state in its detail (``request.state.audit_detail``).
A role change, a disabling and a password reset end the account's sessions at once.

Status codes: 404 unknown account, 409 username taken or a change to one's own roles or
state (an administrator cannot lock themselves out or raise their own rights), 422 invalid
input, an unknown role or a password that breaks the rule.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status

from api.auth import SessionDep, SignedInUser, require
from registers.permissions import ROLE_TITLES, RoleName, grants
from registers.users import service as users
from registers.users.models import User
from registers.users.schemas import PasswordReset, RoleRead, UserCreate, UserPage, UserRead, UserUpdate

router = APIRouter(prefix="/api/v1", tags=["users 用户与角色"])

Reader = Annotated[SignedInUser, Depends(require("read", "user"))]
Creator = Annotated[SignedInUser, Depends(require("create", "user"))]
Editor = Annotated[SignedInUser, Depends(require("update", "user"))]
RoleReader = Annotated[SignedInUser, Depends(require("read", "role"))]

_INT32_MAX = 2**31 - 1
UserId = Annotated[int, Path(ge=1, le=_INT32_MAX, description="用户ID")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "用户不存在 / no such account"}}
_CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "用户名已存在或不能修改自己 / conflict"}}


def _get(session: SessionDep, user_id: int) -> User:
    user = users.get(session=session, user_id=user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"用户不存在 / no account with id {user_id}")
    return user


def _unprocessable(err: Exception) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(err))


@router.get("/users", summary="用户列表 / accounts")
def list_users(
    session: SessionDep,
    _user: Reader,
    offset: Annotated[int, Query(ge=0, le=_INT32_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> UserPage:
    """Accounts by username."""
    rows, total = users.list_users(session=session, offset=offset, limit=limit)
    return UserPage(items=[UserRead.model_validate(r) for r in rows], total=total)


@router.post("/users", status_code=status.HTTP_201_CREATED, summary="新建用户 / open an account", responses=_CONFLICT)
def create_user(body: UserCreate, session: SessionDep, actor: Creator, request: Request) -> UserRead:
    """Open an account; by default its owner must change the password at first login."""
    try:
        user = users.create_user(
            session=session,
            username=body.username,
            password=body.password,
            display_name=body.display_name,
            roles=body.roles,
            must_change_password=body.must_change_password,
            actor=actor.username,
        )
    except users.UsernameTaken as err:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(err)) from err
    except (users.PasswordPolicyError, users.UnknownRole, ValueError) as err:
        raise _unprocessable(err) from err
    request.state.audit_detail = f"user {user.username} roles={','.join(user.role_names)}"
    return UserRead.model_validate(user)


@router.get("/users/{user_id}", summary="用户详情 / one account", responses=_NOT_FOUND)
def read_user(user_id: UserId, session: SessionDep, _user: Reader) -> UserRead:
    """One account."""
    return UserRead.model_validate(_get(session, user_id))


@router.patch("/users/{user_id}", summary="修改用户 / change roles or state", responses={**_NOT_FOUND, **_CONFLICT})
def update_user(user_id: UserId, body: UserUpdate, session: SessionDep, actor: Editor, request: Request) -> UserRead:
    """Change name, roles or active state; a role change or disabling logs the account out everywhere."""
    user = _get(session, user_id)
    if user.id == actor.id and (body.roles is not None or body.is_active is not None):
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail="不能修改自己的角色或状态 / You cannot change your own roles or state"
        )
    before = f"roles={','.join(user.role_names)} active={user.is_active}"
    try:
        users.update_user(
            session=session,
            user=user,
            actor=actor.username,
            display_name=body.display_name,
            is_active=body.is_active,
            roles=body.roles,
        )
    except users.UnknownRole as err:
        raise _unprocessable(err) from err
    after = f"roles={','.join(user.role_names)} active={user.is_active}"
    request.state.audit_detail = f"user {user.username}: {before} -> {after}"
    return UserRead.model_validate(user)


@router.post(
    "/users/{user_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="重置密码 / reset a password",
    responses=_NOT_FOUND,
)
def reset_password(user_id: UserId, body: PasswordReset, session: SessionDep, actor: Editor, request: Request) -> None:
    """Set a temporary password; the owner must change it at next login, and old tokens die."""
    user = _get(session, user_id)
    try:
        users.set_password(
            session=session, user=user, password=body.password, actor=actor.username, must_change_password=True
        )
    except users.PasswordPolicyError as err:
        raise _unprocessable(err) from err
    request.state.audit_detail = f"password reset for {user.username}"


@router.post(
    "/users/{user_id}/unlock",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="解除锁定 / unlock",
    responses=_NOT_FOUND,
)
def unlock(user_id: UserId, session: SessionDep, actor: Editor, request: Request) -> None:
    """Lift a login lockout before it runs out."""
    user = _get(session, user_id)
    user.locked_until = None
    user.failed_logins = 0
    user.updated_by = actor.username
    request.state.audit_detail = f"unlocked {user.username}"


@router.get("/roles", summary="角色与权限 / roles and their grants")
def list_roles(_user: RoleReader) -> list[RoleRead]:
    """The built-in roles with their Chinese titles and the permission table."""
    table = grants()
    return [RoleRead(name=role.value, title=ROLE_TITLES[role], grants=table.get(role.value, {})) for role in RoleName]


@router.delete(
    "/users/{user_id}/totp",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="重置动态口令 / remove the second factor (lost phone)",
    responses=_NOT_FOUND,
)
def reset_totp(user_id: UserId, session: SessionDep, actor: Editor, request: Request) -> None:
    """Remove an account's authenticator; its sessions end and the owner may enrol again."""
    user = _get(session, user_id)
    users.reset_totp(session=session, user=user, actor=actor.username)
    request.state.audit_detail = f"totp reset for {user.username}"
