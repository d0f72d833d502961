"""Transport-level hardening of the app (等保2.0 L3 8.1.4 intrusion prevention, audit).

* :class:`SecurityHeaders`: CSP, X-Frame-Options, nosniff, Referrer-Policy on every HTTP
  response, HSTS on HTTPS;
* :class:`AuditTrail`: every changing request (POST/PUT/PATCH/DELETE) and every export
  written to the hash-chained audit log with actor, roles, IP, object and result;
* :class:`RedactSecrets`: tokens, tickets and passwords in URLs cut out of server logs
  (``/ws/live?token=`` would otherwise put a live JWT into the access log);
* :func:`seed_accounts`: the built-in accounts of 三员分立, their one-time passwords in a
  0600 file instead of the log; :func:`protect_files`: 0600 on the SQLite file and secrets.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import get_current_user
from api.settings import SECRET_FILE, Settings, write_private
from registers.audit import service as audit
from registers.permissions import RoleName
from registers.users import service as users

log = logging.getLogger(__name__)

INITIAL_PASSWORDS_FILE = "initial-passwords.txt"
# The three built-in accounts of 三员分立: system, security and audit administrator.
BUILTIN_ACCOUNTS = (("admin", RoleName.ADMIN), ("secadmin", RoleName.SECURITY_ADMIN), ("auditor", RoleName.AUDITOR))

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self' ws: wss:; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc load their scripts from a CDN and run an inline bootstrap script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; frame-ancestors 'none'"
)
_DOCS_PATHS = ("/docs", "/redoc")


# --- headers ---------------------------------------------------------------------------------


class SecurityHeaders:
    """Add the browser-hardening headers to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, *, hsts_max_age_s: int = 31536000) -> None:
        self.app = app
        self.hsts = f"max-age={hsts_max_age_s}; includeSubDomains".encode() if hsts_max_age_s else b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the missing headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if path.startswith(_DOCS_PATHS) else CSP
        wanted = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"content-security-policy", csp.encode()),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if self.hsts and scope.get("scheme") == "https":
            wanted.append((b"strict-transport-security", self.hsts))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in wanted if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- audit of changing requests --------------------------------------------------------------

_ACTIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
_VERBS = frozenset(
    {"import", "preview", "export", "approve", "acknowledge", "ack", "close", "submit", "reject", "execute"}
)


def _action(method: str, path: str) -> str | None:
    """What a request does, for the audit log; ``None`` for reads that are not exports."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if "export" in path.split("/") or last == "export":
        return "export"
    if method not in _ACTIONS:
        return None
    return last if last in _VERBS else _ACTIONS[method]


class AuditTrail:
    """Write one audit entry per changing request and per export, after the response is sent.

    Login, logout and refusals (403) are recorded where they happen (``api.routers.auth``,
    ``api.auth.require``) with more detail, so they are skipped here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, note the status, then append the entry."""
        path: str = scope.get("path", "")
        method: str = scope.get("method", "")
        if method not in _ACTIONS and "export" not in path:  # a read (most requests): nothing to audit
            await self.app(scope, receive, send)
            return
        action = _action(method, path) if scope["type"] == "http" and path.startswith("/api/") else None
        if action is None or path.startswith("/api/v1/auth/"):
            await self.app(scope, receive, send)
            return
        status_code = 500

        async def capture(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            if status_code != 403:  # noqa: PLR2004 - refusals are recorded by require()
                await self._record(scope, method, path, action, status_code)

    @staticmethod
    async def _record(scope: Scope, method: str, path: str, action: str, status_code: int) -> None:
        app: Any = scope.get("app")
        factory = getattr(getattr(app, "state", None), "session_factory", None)
        if factory is None:
            return
        state = scope.get("state", {})
        actor, roles = state.get("audit_actor", ("-", []))
        extra = state.get("audit_detail")
        parts = path.split("/")
        client = scope.get("client")
        event = audit.Event(
            actor=actor,
            roles=roles,
            ip=client[0] if client else "",
            action=action,
            result="success" if status_code < 400 else ("denied" if status_code == 401 else "failure"),  # noqa: PLR2004
            object_type=parts[3] if len(parts) > 3 else "",  # noqa: PLR2004 - /api/v1/<resource>/...
            object_id=path,
            detail=f"{method} {path} -> {status_code}" + (f"; {extra}" if extra else ""),
        )
        try:
            await asyncio.wrap_future(audit.submit(factory, event))  # no thread waits for the batch
        except Exception:
            log.exception("audit entry lost: %s %s %s", actor, method, path)


# --- logs ------------------------------------------------------------------------------------

_SECRET_PARAM = re.compile(r"((?:access_)?token|ticket|password|secret)=[^&\s\"']+", re.IGNORECASE)


_SECRET_KEYS = ("token=", "ticket=", "password=", "secret=")
"""What :data:`_SECRET_PARAM` needs in a text to match at all (casefolded, as its IGNORECASE)."""


def redact(text: str) -> str:
    """``/ws/live?token=eyJ...`` -> ``/ws/live?token=***``.

    Runs on every access-log line: text that names no secret (nearly all of it, query strings
    included) skips the regex, ~1 µs instead of ~10 per line.
    """
    if "=" not in text:
        return text
    folded = text.casefold()
    if not any(key in folded for key in _SECRET_KEYS):
        return text
    return _SECRET_PARAM.sub(r"\1=***", text)


class RedactSecrets(logging.Filter):
    """A logging filter that cuts secrets out of the message and its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


_REDACTED_LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "httpx", "api")


def install_log_redaction() -> None:
    """Attach :class:`RedactSecrets` to the server loggers (once)."""
    for name in _REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


# --- app wiring ------------------------------------------------------------------------------


SIGNED_IN_SCHEMA_PATH = "/api/v1/openapi.json"


def docs_urls(settings: Settings) -> dict[str, Any]:
    """FastAPI's docs arguments: the public docs and schema are closed in production.

    Signed-in users still get the schema there, at :data:`SIGNED_IN_SCHEMA_PATH` with their
    bearer token (see :func:`install`); Swagger UI stays closed because it loads its
    scripts from a CDN and cannot send a token when the browser navigates to it.
    """
    if settings.environment == "production":
        return {"docs_url": None, "redoc_url": None, "openapi_url": None}
    return {}


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middlewares and the log filter to the app; in production the signed-in schema route."""
    app.add_middleware(AuditTrail)
    app.add_middleware(SecurityHeaders, hsts_max_age_s=settings.hsts_max_age_s)
    install_log_redaction()
    if settings.environment == "production":

        def openapi_schema() -> JSONResponse:
            return JSONResponse(app.openapi())

        app.add_api_route(
            SIGNED_IN_SCHEMA_PATH,
            openapi_schema,
            methods=["GET"],
            dependencies=[Depends(get_current_user)],
            include_in_schema=False,
            summary="OpenAPI schema for signed-in users (production)",
        )


# --- files and first start -------------------------------------------------------------------


def protect_files(settings: Settings) -> None:
    """Rights 0600 on the SQLite file (password hashes, audit log) and the secrets in the data dir."""
    candidates = [settings.data_dir / SECRET_FILE, settings.data_dir / INITIAL_PASSWORDS_FILE]
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        db = Path(url.database)
        candidates += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    for path in candidates:
        if path.is_file():
            path.chmod(0o600)


def seed_accounts(app: FastAPI, settings: Settings) -> dict[str, str]:
    """Create the built-in accounts that are missing; their passwords go to a 0600 file.

    Why a file and not the console: a password in stdout ends up in journald, container logs
    and CI artefacts. The banner names the file. Outside production (demo, tests) the
    accounts are ready to use; in production each must change its password at first login.
    """
    created = seed_builtin_accounts(app.state.session_factory, settings)
    app.state.demo_admin_password = created.get("admin")
    return created


def seed_builtin_accounts(session_factory: sessionmaker[Session], settings: Settings) -> dict[str, str]:
    """:func:`seed_accounts` without an app: ``safetwin api --workers N`` runs it once before the workers."""
    created: dict[str, str] = {}
    with session_factory() as session:
        for username, role in BUILTIN_ACCOUNTS:
            password = users.ensure_demo_admin(
                session=session, username=username, role=role, must_change=settings.environment == "production"
            )
            if password:
                created[username] = password
        session.commit()
    if created:
        path = settings.data_dir / INITIAL_PASSWORDS_FILE
        lines = "".join(f"{name}: {password}\n" for name, password in created.items())
        write_private(path, "# 初始账户密码 / initial passwords; change them, then delete this file\n" + lines)
        banner = (
            f"\n  首次启动：已创建内置账户 / built-in accounts created: {', '.join(created)}\n"
            f"  初始密码见 / initial passwords in: {path.resolve()} (0600)\n"
        )
        print(banner, flush=True)  # noqa: T201 - printed once, by design; never the password itself
    return created
