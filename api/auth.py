"""Authentication for the API: passwords, JWTs, the request session and user dependencies.

What the app must provide at start-up: ``app.state.settings`` (``api.settings.Settings``)
and ``app.state.session_factory`` (``registers.db.make_session_factory``).

Dependencies, to use as type annotations in routes::

    @router.get("/things")
    def list_things(session: SessionDep, user: CurrentUser) -> ...: ...

    @router.post("/permits/{id}/approve")
    def approve(user: Annotated[SignedInUser, Depends(require("approve", "permit"))], ...): ...

One transaction per request: :func:`get_session` commits once after the route has returned
and before the response is sent, and rolls back if anything raised. Services only flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol, TypeVar, cast

import anyio.to_thread
import jwt
from fastapi import Depends, HTTPException, WebSocketException, status
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ValidationError
from sqlalchemy import Select, Table, bindparam, exists, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import HTTPConnection

from api.request_threads import RequestThreads
from api.settings import Settings
from api.signed_in_cache import SignedInCache
from registers.audit import service as audit
from registers.db import REQUEST_SESSIONS, fetch_rows, reads_outside_transaction, server_transaction_open, utcnow
from registers.permissions import can
from registers.users import service as users
from registers.users.models import RevokedToken, Role, User, user_roles
from registers.users.service import hash_password, verify_password

__all__ = [
    "CurrentUser",
    "SessionDep",
    "SignedInUser",
    "PASSWORD_CHANGE_PATHS",
    "TokenClaims",
    "TokenDep",
    "WsUser",
    "audit_event",
    "client_ip",
    "create_token",
    "decode_token",
    "get_current_user",
    "get_session",
    "get_ws_user",
    "hash_password",
    "in_request_thread",
    "permission_of",
    "require",
    "run_and_commit",
    "security_session",
    "token_claims_of",
    "user_from_token",
    "verify_password",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

ALGORITHM = "HS256"
TOKEN_URL = "/api/v1/auth/token"

NOT_AUTHENTICATED = "未登录或令牌无效，请重新登录 / Not authenticated: log in again"
TOKEN_EXPIRED = "登录已过期，请重新登录 / Session expired: log in again"
MUST_CHANGE_PASSWORD = "请先修改密码 / Password change required: POST /api/v1/auth/me/password"
# What an account that must change its password may still do (等保2.0: the initial or reset
# password is good for nothing but replacing it).
PASSWORD_CHANGE_PATHS = frozenset({"/api/v1/auth/me", "/api/v1/auth/me/password", "/api/v1/auth/logout"})
# What an account of a role in ``settings.totp_required_roles`` may do before it enrolled.
TOTP_ENROL_PATHS = PASSWORD_CHANGE_PATHS | {"/api/v1/auth/me/totp", "/api/v1/auth/me/totp/confirm"}
TOTP_REQUIRED = "请先绑定动态口令 / Second factor required: POST /api/v1/auth/me/totp"


class TokenClaims(BaseModel):
    """The claims SafeTwin puts into an access token."""

    sub: str
    roles: list[str]
    iat: int
    exp: int
    jti: str  # token id, for logout (revoked_tokens)
    ver: int = 0  # the user's token_version at issue: a password or role change kills older tokens


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """The account behind a live token, as a request needs it: read-only, in no session.

    Why not the ORM ``User``: loading one per request (the joined roles, ``unique()``, the
    identity map) cost ~0.37 ms of CPU against ~0.22 ms for the same row through Core, on every
    request of every route (docs/performance.md). A route that changes the account loads it
    (``session.get_one(User, user.id)``).
    """

    id: int
    username: str
    display_name: str
    role_names: list[str]
    is_active: bool
    must_change_password: bool
    token_version: int
    totp_enabled: bool
    created_at: datetime | None
    password_changed_at: datetime | None
    last_login_at: datetime | None
    locked_until: datetime | None

    @property
    def roles(self) -> list[str]:
        """The role names, under the name ``UserRead`` and ``TokenUser`` read them by."""
        return self.role_names


class _TokenSubject(Protocol):
    """What a token is issued for: an ORM ``User`` at login, a :class:`SignedInUser` after."""

    @property
    def username(self) -> str: ...
    @property
    def role_names(self) -> list[str]: ...
    @property
    def token_version(self) -> int: ...


# --- tokens ----------------------------------------------------------------------------------


def create_token(settings: Settings, user: _TokenSubject, *, now: datetime | None = None) -> str:
    """Sign an access token for ``user`` that expires after ``settings.token_ttl_minutes``.

    The roles are in the token for the front end (menus); the server re-reads them from the
    database on every request, so revoking a role works at once.

    Args:
        settings: provides ``secret_key`` and ``token_ttl_minutes``.
        user: the authenticated user.
        now: issue time, aware UTC (tests pass one in the past to get an expired token).
    """
    issued = now or utcnow()
    claims = {
        "sub": user.username,
        "roles": user.role_names,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=settings.token_ttl_minutes)).timestamp()),
        "jti": secrets.token_urlsafe(16),
        "ver": user.token_version or 0,
    }
    return jwt.encode(claims, settings.signing_key(), algorithm=ALGORITHM)


def decode_token(settings: Settings, token: str) -> TokenClaims:
    """Verify signature and expiry and return the claims.

    A token's signature is checked once per worker: the claims of a token verified before
    under the same key come from a small in-process cache (:func:`_verified_claims`), which
    saves the HMAC, base64 and JSON work that every request of a session repeated. Expiry is
    checked on every call, and the cache holds nothing that a logout, password or role
    change could make stale: those are looked up in the database on every request
    (:func:`_claims_and_user`).

    Raises:
        jwt.ExpiredSignatureError: the token has expired.
        jwt.InvalidTokenError: any other problem (bad signature, missing claims, garbage).
    """
    claims = _verified_claims(settings.signing_key(), token)
    # PyJWT's own rule (leeway 0): expired when ``exp <= now``.
    if claims.exp <= time.time():
        msg = "Signature has expired"
        raise jwt.ExpiredSignatureError(msg)
    return claims


@functools.lru_cache(maxsize=4096)
def _verified_claims(key: str, token: str) -> TokenClaims:
    """The claims of a token whose signature ``key`` verifies; raises for any bad token.

    Cached per ``(key, token)`` (only successes are cached: ``lru_cache`` keeps no
    exceptions), so a rotated signing key verifies every token afresh. The returned model
    is shared between requests: callers read it, never change it.
    """
    payload = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],  # never trust the header's alg
        options={"require": ["sub", "exp", "iat", "jti"]},
    )
    try:
        return TokenClaims.model_validate(payload)
    except ValidationError as err:
        msg = "token claims have the wrong shape"
        raise jwt.InvalidTokenError(msg) from err


def _token_lookup() -> Select[*tuple[Any, ...]]:
    """The authentication query, built once per process (parameters: ``username``, ``jti``).

    One row per role of the user (none: one row, role ``NULL``), each with the account's
    columns and whether the token id was logged out (``EXISTS``). Built once: the statement
    object is immutable, so one serves every request and SQLAlchemy's compiled cache finds its
    SQL at once.
    """
    global _TOKEN_LOOKUP  # noqa: PLW0603 - built lazily, after the mappers are configured
    lookup = _TOKEN_LOOKUP
    if lookup is None:
        account, role = cast(Table, User.__table__), cast(Table, Role.__table__)
        revoked = exists().where(RevokedToken.jti == bindparam("jti")).label("revoked")
        lookup = (
            select(
                *(account.c[name] for name in _ACCOUNT_COLUMNS),
                account.c.totp_secret.is_not(None).label("has_totp_secret"),
                account.c.totp_enabled_at,
                role.c.name.label("role"),
                revoked,
            )
            .select_from(
                account.outerjoin(user_roles, user_roles.c.user_id == account.c.id).outerjoin(
                    role, role.c.id == user_roles.c.role_id
                )
            )
            .where(account.c.username == bindparam("username"))
            .order_by(role.c.name)
        )
        _TOKEN_LOOKUP = lookup
    return lookup


_TOKEN_LOOKUP: Select[*tuple[Any, ...]] | None = None
_ACCOUNT_COLUMNS = (
    "id",
    "username",
    "display_name",
    "is_active",
    "must_change_password",
    "token_version",
    "created_at",
    "password_changed_at",
    "last_login_at",
    "locked_until",
)


def _signed_in(rows: Sequence[Any]) -> SignedInUser:
    first = rows[0]
    return SignedInUser(
        **{name: getattr(first, name) for name in _ACCOUNT_COLUMNS},
        role_names=[row.role for row in rows if row.role is not None],
        totp_enabled=bool(first.has_totp_secret) and first.totp_enabled_at is not None,
    )


def _claims_and_user(settings: Settings, session: Session, token: str | None) -> tuple[TokenClaims, SignedInUser]:
    """The claims and the active user of a live token; raises ``jwt.InvalidTokenError`` otherwise.

    Live means: signature and expiry good, not logged out (``revoked_tokens``) and issued
    under the user's current ``token_version`` (no password or role change since).
    """
    if not token:
        msg = "no token"
        raise jwt.InvalidTokenError(msg)
    claims = decode_token(settings, token)
    # One round trip: the user, its roles (joined) and whether the token id was logged out
    # (EXISTS), instead of three queries. On PostgreSQL a worker keeps the answer while its
    # listener hears of no change (api.signed_in_cache says when a change takes effect).
    params = {"username": users.normalize_username(claims.sub), "jti": claims.jti}
    rows = fetch_rows(session, _token_lookup(), params)  # straight to the driver: ~0.1 ms less CPU
    if not rows or not rows[0].is_active:
        msg = "the token's user is unknown or disabled"
        raise jwt.InvalidTokenError(msg)
    user = _signed_in(rows)
    if claims.ver != (user.token_version or 0):
        msg = "the token predates a password or role change"
        raise jwt.InvalidTokenError(msg)
    if rows[0].revoked:
        msg = "the token was revoked (logout)"
        raise jwt.InvalidTokenError(msg)
    return claims, user


def _user_for_token(settings: Settings, session: Session, token: str | None) -> SignedInUser:
    """The active user of a live token; raises ``jwt.InvalidTokenError`` otherwise."""
    return _claims_and_user(settings, session, token)[1]


def _user_for_request(settings: Settings, session: Session, token: str | None) -> SignedInUser:
    """:func:`_user_for_token` as a request's first statement: in no transaction of its own.

    A route that reads nothing else from the database then needs no ``BEGIN``, ``COMMIT`` or
    worker thread to end its session (:func:`get_session`, docs/performance.md).
    """
    with reads_outside_transaction(session):
        return _user_for_token(settings, session, token)


def token_claims_of(
    settings: Settings, session_factory: sessionmaker[Session], token: str | None
) -> TokenClaims | None:
    """The claims of a live token (see :func:`_claims_and_user`), or ``None``; for WebSocket re-checks."""
    with session_factory() as session:
        try:
            claims, user = _claims_and_user(settings, session, token)
        except jwt.InvalidTokenError:
            return None
        return None if user.must_change_password else claims


def user_from_token(
    settings: Settings, session_factory: sessionmaker[Session], token: str | None
) -> SignedInUser | None:
    """The active user a token belongs to, or ``None``; for WebSocket handlers.

    Uses a short session of its own, so a long-lived socket does not hold a database
    connection.
    """
    with session_factory() as session:
        try:
            return _user_for_token(settings, session, token)
        except jwt.InvalidTokenError:
            return None


# --- audit -----------------------------------------------------------------------------------


def client_ip(conn: HTTPConnection) -> str:
    """The peer address as the server saw it (a proxy's, unless uvicorn trusts its headers)."""
    return conn.client.host if conn.client else ""


def audit_event(
    conn: HTTPConnection,
    *,
    actor: str,
    action: str,
    result: str = "success",
    roles: list[str] | tuple[str, ...] = (),
    object_type: str = "",
    object_id: str = "",
    detail: str = "",
) -> None:
    """Append one entry to the audit trail in a transaction of its own.

    Never raises: a request must not fail because auditing did, but the failure is logged
    at ERROR so monitoring sees a gap in the trail.
    """
    factory: sessionmaker[Session] | None = getattr(conn.app.state, "session_factory", None)
    if factory is None:
        return
    event = audit.Event(
        actor=actor,
        action=action,
        result=result,
        roles=roles,
        ip=client_ip(conn),
        object_type=object_type,
        object_id=object_id,
        detail=detail,
    )
    try:
        audit.record(factory, event)
    except Exception:
        log.exception("audit entry lost: %s %s %s", actor, action, object_id)


# --- sessions --------------------------------------------------------------------------------

# The request session's blocking work (authentication, a route's queries, the commit) runs in
# these threads rather than anyio's or a ThreadPoolExecutor's: a hand-over through
# ``RequestThreads`` (a C queue, one ``call_soon_threadsafe`` back) costs about a third of one
# through ``run_in_executor`` and a sixth of one through ``anyio.to_thread.run_sync``, and
# every request of the business mix makes one (docs/performance.md, session 22). Sized like
# anyio's default pool; threads start only when needed, and a job never waits for another job
# below that size, so the pool cannot stall a request.
_DB_THREADS = RequestThreads(max_threads=40, name="safetwin-request")


async def in_request_thread(work: Callable[[], _T]) -> _T:
    """Run the blocking ``work`` of a request in a worker thread and return its result.

    Cancellation waits for ``work`` to end, as ``anyio.to_thread.run_sync`` does: the
    request's session is in that thread's hands until then, and must not be rolled back or
    closed under it. Context variables travel with the work.
    """
    return await _DB_THREADS.run(work)


# One limit per event loop (a loop's asyncio primitives cannot be shared with another; the
# tests run many). Weak keys: a closed loop's semaphore goes with it.
_SESSION_LIMITS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _session_limit() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    limit = _SESSION_LIMITS.get(loop)
    if limit is None:
        limit = _SESSION_LIMITS[loop] = asyncio.Semaphore(REQUEST_SESSIONS)
    return limit


async def get_session(conn: HTTPConnection) -> Session:
    """The request's session; committed once at the end, rolled back on any error.

    Async on purpose: opening a session does no I/O (the connection is checked out when the
    first query runs, in a worker thread), so only the commit or rollback at the end goes to
    a worker thread. A sync generator cost two thread-pool round trips per request, a
    measurable share of a request's CPU (docs/performance.md).

    Not a generator either: its end (:class:`_SessionEnd`) is pushed onto the exit stack
    FastAPI keeps for the route's function-scoped dependencies, the stack an ``async def``
    dependency with ``yield`` and ``scope="function"`` ends on. It runs at the same point
    (after the route, before the response is sent) and sees the route's exception the same
    way; what is saved is FastAPI's wrapping of a generator (a context manager, a cancel
    scope and a shielded exit): ~26 µs of CPU a request (docs/performance.md, session 21).
    The end is shielded all the same: a cancelled request's commit or rollback still runs
    to its end in its worker thread (:func:`in_request_thread`).

    At most ``REQUEST_SESSIONS`` requests of an event loop hold a session at a time (the rest
    wait on the event loop, without a thread), fewer than the pool's connections; uncapped,
    50 users stalled the API for the pool timeout (threads waiting for connections held by
    requests waiting for a thread). The limit is an ``asyncio.Semaphore`` taken here rather
    than FastAPI's ``Depends(max_concurrency=...)``: that one is an anyio semaphore behind two
    more context-manager layers, and its checkpoint costs an extra turn of the event loop
    per request even when a slot is free.
    """
    limit = _session_limit()
    await limit.acquire()
    try:
        factory: sessionmaker[Session] = conn.app.state.session_factory
        session = factory()
        stack: contextlib.AsyncExitStack = conn.scope["fastapi_function_astack"]
        stack.push_async_exit(_SessionEnd(session, limit))
    except BaseException:
        limit.release()
        raise
    return session


class _SessionEnd:
    """The end of a request's session: commit if there is anything to send, roll back after an error."""

    __slots__ = ("_limit", "_session")

    def __init__(self, session: Session, limit: asyncio.Semaphore) -> None:
        self._session = session
        self._limit = limit

    async def __call__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        session = self._session
        try:
            if exc_type is not None:
                await in_request_thread(functools.partial(_rollback_and_close, session))
            elif server_transaction_open(session):
                await in_request_thread(functools.partial(_commit_and_close, session))
            else:  # never used, only read outside a transaction, or committed: nothing to send
                session.close()
        finally:
            self._limit.release()
        return False  # the route's exception, if any, goes on


async def run_and_commit(session: Session, work: Callable[[], _T]) -> _T:
    """Run a route's blocking work and then the request's commit in one worker thread.

    For ``async def`` routes on the hot paths (register list, read, create, update): a sync
    route costs a thread-pool round trip for the route and another for FastAPI's response
    validation, and the commit at the end of :func:`get_session` a third. Here the work
    returns the response model already validated and the commit follows it in the same
    thread, so :func:`get_session` finds nothing left to send. The commit still comes before
    the response is sent (a failed commit is a 500, never a 200 for lost work); if ``work``
    raises, nothing is committed and :func:`get_session` rolls back.
    """

    def body() -> _T:
        result = work()
        if server_transaction_open(session):
            session.commit()
        else:  # only read, outside a transaction: nothing to send; closing returns the connection
            session.close()  # without the commit's state machine (~25 µs of CPU a read request)
        return result

    return await in_request_thread(body)


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _rollback_and_close(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


# The session ends on the route's function-scoped exit stack: the commit runs before the
# response is sent, so a failed commit is a 500 and never a 200 for work that was lost. The
# number of sessions is capped inside get_session (REQUEST_SESSIONS per event loop).
SessionDep = Annotated[Session, Depends(get_session)]


@contextmanager
def security_session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction of its own that is committed even when a login fails.

    Why: the failed-login counter and the lock are security state (等保2.0 8.1.4 b). The
    request transaction rolls back on every error, and the 401 *is* an error, so it would
    erase the very count that must lead to the lock. Routes that check a password run the
    check in this session instead.
    """
    session = session_factory()
    try:
        yield session
        session.commit()
    except users.LoginError:
        session.commit()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# --- current user ----------------------------------------------------------------------------


class _BearerToken(OAuth2PasswordBearer):
    """``Authorization: Bearer`` for HTTP; for WebSockets also ``?token=``.

    Browsers cannot set headers on a WebSocket, hence the query parameter; it is refused on
    plain HTTP because URLs end up in proxy and access logs. Declared as an OAuth2 password
    flow so Swagger's "Authorize" button logs in through ``POST /api/v1/auth/token``.
    """

    async def __call__(self, request: HTTPConnection) -> str | None:
        scheme, credentials = get_authorization_scheme_param(request.headers.get("Authorization"))
        if scheme.lower() == "bearer" and credentials:
            return credentials
        if request.scope["type"] == "websocket":
            return request.query_params.get("token")
        return None


bearer_token = _BearerToken(tokenUrl=TOKEN_URL, auto_error=False, description="SafeTwin access token")
TokenDep = Annotated[str | None, Depends(bearer_token)]


def _unauthorized(conn: HTTPConnection, err: jwt.InvalidTokenError) -> HTTPException | WebSocketException:
    message = TOKEN_EXPIRED if isinstance(err, jwt.ExpiredSignatureError) else NOT_AUTHENTICATED
    if conn.scope["type"] == "websocket":
        return WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=message)
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"})


async def get_current_user(conn: HTTPConnection, session: SessionDep, token: TokenDep) -> SignedInUser:
    """The active user of a valid token, read in the request's session (a :class:`SignedInUser`).

    Async: only the database look-up goes to a worker thread (:func:`in_request_thread`), not
    the checks around it; as a sync dependency it went through anyio's thread pool, a dearer
    hand-over. A missing token is refused without a thread at all.

    Raises:
        HTTPException: 401 (HTTP) when the token is missing, invalid, expired or names a
            disabled user; a WebSocket is closed with code 1008 instead.
    """
    settings: Settings = conn.app.state.settings
    cache: SignedInCache | None = getattr(conn.app.state, "signed_in_cache", None)
    try:
        if not token:
            msg = "no token"
            raise jwt.InvalidTokenError(msg)
        look_up = functools.partial(_user_for_request, settings, session, token)
        if cache is None or not cache.live:
            user = await in_request_thread(look_up)
        else:  # PostgreSQL reports every change (api.signed_in_cache)
            claims = decode_token(settings, token)
            found = cache.get(claims)
            if found is None:
                generation = cache.generation  # read before the look-up: a change meanwhile voids it
                found = await in_request_thread(look_up)
                cache.put(claims, found, generation)
            user = found
    except jwt.InvalidTokenError as err:
        log.info("rejected token on %s: %s", conn.url.path, err)
        raise _unauthorized(conn, err) from err
    conn.state.audit_actor = (user.username, user.role_names)
    # The raw ASGI path, not ``conn.url.path``: building the URL object (host header, URL
    # parsing) cost more than the rest of these checks. They compare with fixed paths, which
    # the two spell alike (the URL only percent-escapes "?", "#" and "\\").
    path: str = conn.scope["path"]
    if path not in PASSWORD_CHANGE_PATHS and (
        user.must_change_password or users.password_expired(user, max_age_days=settings.password_max_age_days)
    ):
        if conn.scope["type"] == "websocket":
            raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=MUST_CHANGE_PASSWORD)
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=MUST_CHANGE_PASSWORD)
    if (
        settings.totp_required_roles
        and path not in TOTP_ENROL_PATHS
        and not user.totp_enabled
        and set(user.role_names) & set(settings.totp_required_roles)
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=TOTP_REQUIRED)
    return user


CurrentUser = Annotated[SignedInUser, Depends(get_current_user)]


def get_ws_user(conn: HTTPConnection, token: TokenDep) -> SignedInUser:
    """The user of a WebSocket, checked with a short session of its own (see :func:`user_from_token`).

    Prefer this to :data:`CurrentUser` on WebSockets: ``CurrentUser`` keeps the request
    session, and with it a pooled connection, open for the life of the socket.
    """
    user = user_from_token(conn.app.state.settings, conn.app.state.session_factory, token)
    if user is None:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=NOT_AUTHENTICATED)
    if user.must_change_password:
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=MUST_CHANGE_PASSWORD)
    return user


WsUser = Annotated[SignedInUser, Depends(get_ws_user)]


_PERMISSION_ATTR = "safetwin_permission"


def require(action: str, resource: str) -> Callable[..., Awaitable[SignedInUser]]:
    """Dependency factory: the current user, if one of their roles may do ``action`` on ``resource``.

    Example:
        ``def approve(user: Annotated[SignedInUser, Depends(require("approve", "permit"))]) -> ...``
        or ``@router.post(..., dependencies=[Depends(require("approve", "permit"))])``.

    Raises:
        HTTPException: 403 when no role of the user grants the action (see ``registers.permissions``).
    """

    # Async: the check is a table look-up, not worth a thread-pool round trip per request;
    # only a refusal, which writes the audit entry, goes to a worker thread.
    async def dependency(conn: HTTPConnection, user: CurrentUser) -> SignedInUser:
        if not can(user.role_names, action, resource):
            log.warning("forbidden: %s may not %s %s", user.username, action, resource)
            await anyio.to_thread.run_sync(
                functools.partial(
                    audit_event,
                    conn,
                    actor=user.username,
                    roles=user.role_names,
                    action="forbidden",
                    result="denied",
                    object_type=resource,
                    object_id=conn.url.path,
                    detail=f"{conn.scope.get('method', 'WS')} needs {action} {resource}",
                )
            )
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"无权执行此操作 / Forbidden: your roles may not {action} {resource}",
            )
        return user

    dependency.__name__ = f"require_{action}_{resource}"
    dependency.__qualname__ = dependency.__name__
    setattr(dependency, _PERMISSION_ATTR, (action, resource))
    return dependency


def permission_of(dependency: object) -> tuple[str, str] | None:
    """The ``(action, resource)`` a :func:`require` dependency checks, or ``None`` for any other callable.

    Why: the role × action test walks every route's dependencies and asks each one what it
    guards, so a route added later is checked against the permission table without anyone
    having to list it by hand.
    """
    permission = getattr(dependency, _PERMISSION_ATTR, None)
    return permission if isinstance(permission, tuple) else None
