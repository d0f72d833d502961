"""等保2.0 L3 hardening through the real app: secrets, sessions, 三员分立, audit, headers, logs.

One started app (migrations, the built-in accounts, no plant runtime) on a SQLite file per
module; each test uses accounts of its own so lockouts and revocations do not leak.
"""

from __future__ import annotations

import logging
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.websockets import WebSocketDisconnect

from api.app import create_app
from api.auth import create_token
from api.security import _SECRET_PARAM, INITIAL_PASSWORDS_FILE, RedactSecrets, redact
from api.settings import DEV_SECRET, SECRET_FILE, Settings
from models.channels import ChannelKind
from registers.audit.models import AuditEntry
from registers.db import utcnow
from registers.framework.attachments import sniff_content_type
from registers.notifications import service as notifications
from registers.notifications.schemas import NotifyRuleCreate
from registers.users import service as users

PASSWORD = "Chlorine-Tank-42"


@dataclass
class Harness:
    app: FastAPI
    client: TestClient
    settings: Settings
    initial: dict[str, str]  # built-in account -> password, read from the 0600 file

    def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def add_user(self, username: str, *roles: str, must_change: bool = False) -> None:
        with self.app.state.session_factory.begin() as session:
            users.create_user(
                session=session, username=username, password=PASSWORD, roles=roles, must_change_password=must_change
            )

    def audit(self, **where: Any) -> list[AuditEntry]:
        with self.app.state.session_factory() as session:
            query = session.query(AuditEntry).filter_by(**where).order_by(AuditEntry.id)
            return list(query)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    tmp: Path = tmp_path_factory.mktemp("security")
    settings = Settings(environment="test", data_dir=tmp, ws_recheck_s=0.2, web_dist=tmp / "no-web")
    app = create_app(settings, start_runtime=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        text = (tmp / INITIAL_PASSWORDS_FILE).read_text(encoding="utf-8")
        initial = dict(re.findall(r"^(\w+): (\S+)$", text, flags=re.MULTILINE))
        yield Harness(app, client, settings, initial)


# --- secrets and files -----------------------------------------------------------------------


def test_no_configured_secret_means_a_generated_private_one(tmp_path: Path) -> None:
    first = Settings(environment="development", data_dir=tmp_path).signing_key()
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert Settings(environment="development", data_dir=tmp_path).signing_key() == first  # kept across starts
    assert Settings(environment="production", data_dir=tmp_path / "b").signing_key() != first  # never a constant
    assert Settings(environment="test", data_dir=tmp_path).signing_key() != first  # tests: a key of the process


@pytest.mark.parametrize("secret", [DEV_SECRET, "changeme"])
def test_published_secrets_are_refused_everywhere(tmp_path: Path, secret: str) -> None:
    with pytest.raises(ValueError, match="published example"):
        Settings(environment="development", data_dir=tmp_path, secret_key=secret)


def test_production_refuses_a_short_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32"):
        Settings(environment="production", data_dir=tmp_path, secret_key="x")
    Settings(environment="production", data_dir=tmp_path, secret_key="k" * 8 + "-a-long-private-production-key")


def test_a_token_signed_with_the_old_development_secret_is_refused(harness: Harness) -> None:
    now = int(utcnow().timestamp())
    claims = {"sub": "admin", "roles": ["admin"], "iat": now, "exp": now + 600, "jti": "x", "ver": 0}
    forged = jwt.encode(claims, DEV_SECRET, algorithm="HS256")
    response = harness.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_database_and_secret_files_are_private(harness: Harness) -> None:
    data = harness.settings.data_dir
    for name in ("safetwin.db", INITIAL_PASSWORDS_FILE):  # the key file: see the test above
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name


def test_three_built_in_accounts_with_passwords_only_in_the_file(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set(harness.initial) == {"admin", "secadmin", "auditor"}
    for name, password in harness.initial.items():
        me = harness.client.get("/api/v1/auth/me", headers=harness.login(name, password)).json()
        assert me["roles"] == [{"admin": "admin", "secadmin": "security_admin", "auditor": "auditor"}[name]]
    # a second start prints nothing and creates nothing
    again = create_app(harness.settings, start_runtime=False)
    with TestClient(again):
        pass
    out = capsys.readouterr().out
    assert not any(password in out for password in harness.initial.values())


# --- sessions --------------------------------------------------------------------------------


def test_logout_revokes_only_that_token(harness: Harness) -> None:
    harness.add_user("s_logout", "operator")
    one, two = harness.login("s_logout"), harness.login("s_logout")
    assert harness.client.post("/api/v1/auth/logout", headers=one).status_code == 204
    assert harness.client.get("/api/v1/auth/me", headers=one).status_code == 401
    assert harness.client.get("/api/v1/auth/me", headers=two).status_code == 200
    assert harness.client.post("/api/v1/auth/logout?everywhere=true", headers=two).status_code == 204
    three_before = harness.login("s_logout")
    assert harness.client.get("/api/v1/auth/me", headers=three_before).status_code == 200
    assert [e.action for e in harness.audit(actor="s_logout")].count("logout") == 2


def test_password_change_kills_every_older_token(harness: Harness) -> None:
    harness.add_user("s_pw", "operator")
    old = harness.login("s_pw")
    body = {"current_password": PASSWORD, "new_password": "Fresh-Valve-77"}
    assert harness.client.post("/api/v1/auth/me/password", json=body, headers=old).status_code == 204
    assert harness.client.get("/api/v1/auth/me", headers=old).status_code == 401
    assert harness.client.get("/api/v1/auth/me", headers=harness.login("s_pw", "Fresh-Valve-77")).status_code == 200


def test_must_change_password_is_enforced_on_every_route(harness: Harness) -> None:
    harness.add_user("s_new", "safety_manager", must_change=True)
    headers = harness.login("s_new")
    refused = harness.client.get("/api/v1/notifications/rules", headers=headers)
    assert refused.status_code == 403
    assert "修改密码" in refused.json()["detail"]
    assert harness.client.get("/api/v1/auth/me", headers=headers).json()["must_change_password"] is True
    body = {"current_password": PASSWORD, "new_password": "Fresh-Valve-78"}
    assert harness.client.post("/api/v1/auth/me/password", json=body, headers=headers).status_code == 204
    fresh = harness.login("s_new", "Fresh-Valve-78")
    assert harness.client.get("/api/v1/notifications/rules", headers=fresh).status_code == 200


def test_an_expired_password_must_be_changed(harness: Harness) -> None:
    harness.add_user("s_old", "safety_manager")
    with harness.app.state.session_factory.begin() as session:
        user = users.get_by_username(session=session, username="s_old")
        assert user is not None
        user.password_changed_at = utcnow() - timedelta(days=harness.settings.password_max_age_days + 1)
    response = harness.client.get("/api/v1/notifications/rules", headers=harness.login("s_old"))
    assert response.status_code == 403


def _live_closed(harness: Harness, token: str, *, after: Any = None) -> int:
    with harness.client.websocket_connect(f"/ws/live?token={token}") as ws:
        if after is not None:
            after()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return closed.value.code


@pytest.mark.slow  # waits for a token to run out
def test_live_socket_closes_when_its_token_expires(harness: Harness) -> None:
    harness.add_user("s_ws", "operator")
    with harness.app.state.session_factory() as session:
        user = users.get_by_username(session=session, username="s_ws")
        assert user is not None
        ttl = timedelta(minutes=harness.settings.token_ttl_minutes)
        token = create_token(harness.settings, user, now=utcnow() - ttl + timedelta(seconds=6))
    assert _live_closed(harness, token) == 1008


def test_live_socket_closes_on_logout(harness: Harness) -> None:
    harness.add_user("s_ws2", "operator")
    headers = harness.login("s_ws2")
    token = headers["Authorization"].removeprefix("Bearer ")

    def logout() -> None:
        assert harness.client.post("/api/v1/auth/logout", headers=headers).status_code == 204

    assert _live_closed(harness, token, after=logout) == 1008


def test_the_live_token_is_redacted_from_server_logs() -> None:
    record = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/ws/live?token=eyJhbGciOi.secret.part&x=1"), None,
    )  # fmt: skip
    assert RedactSecrets().filter(record)
    assert "eyJ" not in record.getMessage()
    assert "token=***&x=1" in record.getMessage()


# Letters that IGNORECASE matches beyond ASCII (Kelvin sign, long s, dotted/dotless i) and the
# pieces of a secret parameter, so the draws often come close to one
_LOG_TEXT = st.lists(
    st.sampled_from(["token", "TOKEN", "to\u212aen", "ticket", "password", "ſecret", "secret", "access_", "=",
                     "&", " ", "x", "İ", "ı", "?", "/ws/live", "'", '"']) | st.text(max_size=3),
).map("".join)  # fmt: skip


@given(_LOG_TEXT)
@example("/ws/live?ſecret=abc")  # long s: IGNORECASE reads it as s, lower() does not
@example("/ws/live?to\u212aen=abc")  # Kelvin sign
@example("/a?x=1&secret=s3&access_token=t")
@example("GET /api/v1/certificates?kind=x&page=2")
@hypothesis_settings(max_examples=300)
def test_log_redaction_cuts_every_secret_the_pattern_finds(text: str) -> None:
    # redact() skips the regex for text that names no secret (casefolded): it must never skip
    # one the pattern alone would have cut
    assert redact(text) == _SECRET_PARAM.sub(r"\1=***", text)


# --- 三员分立 and the audit trail ------------------------------------------------------------


def test_admin_no_longer_manages_accounts_or_reads_the_audit_log(harness: Harness) -> None:
    admin = harness.login("admin", harness.initial["admin"])
    assert harness.client.get("/api/v1/users", headers=admin).status_code == 403
    assert harness.client.get("/api/v1/audit", headers=admin).status_code == 403
    sec = harness.login("secadmin", harness.initial["secadmin"])
    assert harness.client.get("/api/v1/audit", headers=sec).status_code == 403
    assert harness.client.get("/api/v1/notifications/rules", headers=sec).status_code == 403
    auditor = harness.login("auditor", harness.initial["auditor"])
    new = {"username": "s_by_aud", "password": PASSWORD, "roles": ["admin"]}
    assert harness.client.post("/api/v1/users", json=new, headers=auditor).status_code == 403
    denied = harness.audit(action="forbidden", actor="admin")
    assert denied
    assert denied[-1].result == "denied"


def test_security_admin_manages_accounts_and_a_role_change_ends_sessions(harness: Harness) -> None:
    sec = harness.login("secadmin", harness.initial["secadmin"])
    body = {"username": "s_managed", "password": PASSWORD, "roles": ["operator"], "must_change_password": False}
    created = harness.client.post("/api/v1/users", json=body, headers=sec)
    assert created.status_code == 201, created.text
    assert harness.client.post("/api/v1/users", json=body, headers=sec).status_code == 409
    weak = {**body, "username": "s_weak", "password": "P@ssw0rd"}
    assert harness.client.post("/api/v1/users", json=weak, headers=sec).status_code == 422
    user_id = created.json()["id"]
    theirs = harness.login("s_managed")
    changed = harness.client.patch(f"/api/v1/users/{user_id}", json={"roles": ["inspector"]}, headers=sec)
    assert changed.status_code == 200
    assert changed.json()["roles"] == ["inspector"]
    assert harness.client.get("/api/v1/auth/me", headers=theirs).status_code == 401
    me = harness.client.get("/api/v1/auth/me", headers=sec).json()
    own = harness.client.patch(f"/api/v1/users/{me['id']}", json={"roles": ["admin"]}, headers=sec)
    assert own.status_code == 409  # nobody raises their own rights
    entry = harness.audit(action="update", object_type="users", result="success")[-1]
    assert entry.actor == "secadmin"
    assert "roles=operator" in entry.detail
    assert "roles=inspector" in entry.detail


def test_logins_failures_and_lockouts_are_audited(harness: Harness) -> None:
    harness.add_user("s_guess", "operator")
    for _ in range(users.MAX_FAILED_LOGINS):
        harness.client.post("/api/v1/auth/login", json={"username": "s_guess", "password": "Wrong-Guess-1"})
    actions = [e.action for e in harness.audit(actor="s_guess")]
    assert actions == ["login_failed"] * (users.MAX_FAILED_LOGINS - 1) + ["account_locked"]
    harness.login("s_logout")
    assert harness.audit(actor="s_logout", action="login")[-1].ip == "testclient"


def test_deleting_a_notification_rule_is_audited_and_the_auditor_sees_it(harness: Harness) -> None:
    with harness.app.state.session_factory.begin() as session:
        rule = NotifyRuleCreate(name="审计测试规则", roles=["operator"], channels=[ChannelKind.SMS])
        rule_id = notifications.create_rule(session=session, data=rule, actor="test").id
    admin = harness.login("admin", harness.initial["admin"])
    assert harness.client.delete(f"/api/v1/notifications/rules/{rule_id}", headers=admin).status_code == 204
    auditor = harness.login("auditor", harness.initial["auditor"])
    page = harness.client.get("/api/v1/audit", params={"actor": "admin", "action": "delete"}, headers=auditor)
    assert page.status_code == 200
    assert any(item["object_id"] == f"/api/v1/notifications/rules/{rule_id}" for item in page.json()["items"])
    csv = harness.client.get("/api/v1/audit/export", headers=auditor)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert f"/api/v1/notifications/rules/{rule_id}" in csv.text
    verified = harness.client.get("/api/v1/audit/verify", headers=auditor).json()
    assert verified["ok"] is True
    assert verified["checked"] > 10
    assert harness.audit(action="export", actor="auditor")  # reading the log out is itself audited


# --- headers and docs ------------------------------------------------------------------------


def test_security_headers(harness: Harness) -> None:
    response = harness.client.get("/api/v1/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # plain HTTP: HSTS means nothing
    https = harness.client.get("https://testserver/api/v1/health")
    assert https.headers["strict-transport-security"].startswith("max-age=")


def test_docs_and_schema_are_closed_in_production(tmp_path: Path) -> None:
    settings = Settings(environment="production", data_dir=tmp_path, secret_key="p" * 40, web_dist=tmp_path / "no-web")
    app = create_app(settings, start_runtime=False)
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/api/v1/health").status_code == 200


# --- uploads and downloads -------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


@pytest.mark.parametrize(
    ("name", "content", "claimed"),
    [
        ("report.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(64), "application/pdf"),  # a Windows program
        ("photo.png", b"<html><script>alert(1)</script></html>", "image/png"),  # stored XSS
        ("diagram.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/svg+xml"),
        ("run.sh", b"#!/bin/sh\nrm -rf /\n", "text/plain"),
        ("blob.bin", bytes(range(256)), "application/octet-stream"),
    ],
)
def test_uploads_are_checked_by_their_bytes(harness: Harness, name: str, content: bytes, claimed: str) -> None:
    admin = harness.login("admin", harness.initial["admin"])
    record = harness.client.post(
        "/api/v1/certificates", json={"kind": "安全生产许可证", "number": f"UP-{name}"}, headers=admin
    )
    assert record.status_code == 201, record.text
    url = f"/api/v1/certificates/{record.json()['id']}/attachments"
    refused = harness.client.post(url, files={"file": (name, content, claimed)}, headers=admin)
    assert refused.status_code == 415
    assert "不支持的文件类型" in refused.json()["detail"]


def test_downloads_carry_the_sniffed_type_never_the_claimed_one(harness: Harness) -> None:
    admin = harness.login("admin", harness.initial["admin"])
    record = harness.client.post(
        "/api/v1/certificates", json={"kind": "安全生产许可证", "number": "UP-png"}, headers=admin
    )
    url = f"/api/v1/certificates/{record.json()['id']}/attachments"
    uploaded = harness.client.post(url, files={"file": ("现场.png", PNG, "text/html")}, headers=admin)
    assert uploaded.status_code == 201, uploaded.text
    download = harness.client.get(f"{url}/{uploaded.json()['id']}", headers=admin)
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-security-policy"].startswith("sandbox")
    assert download.headers["x-content-type-options"] == "nosniff"


@given(
    prefix=st.sampled_from(["<!DOCTYPE html>", "<html>", "<script>", "<svg ", "<?xml ", "#!", "\ufeff <HTML>"]),
    rest=st.text(max_size=40).filter(lambda t: "\x00" not in t),
)
def test_active_content_is_never_an_allowed_upload(prefix: str, rest: str) -> None:
    """Whatever follows, text a browser would execute is refused (stored XSS), in UTF-8 and GB18030."""
    for encoding in ("utf-8", "gb18030"):
        assert sniff_content_type((prefix + rest).encode(encoding, errors="ignore"), "a.txt") is None


def test_live_socket_takes_the_token_as_a_subprotocol_instead_of_in_the_url(harness: Harness) -> None:
    harness.add_user("s_ws3", "operator")
    token = harness.login("s_ws3")["Authorization"].removeprefix("Bearer ")
    with harness.client.websocket_connect("/ws/live", subprotocols=["safetwin.bearer", token]) as ws:
        assert ws.accepted_subprotocol == "safetwin.bearer"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        harness.client.websocket_connect("/ws/live", subprotocols=["safetwin.bearer", "forged"]),
    ):
        pass
    assert refused.value.code == 1008
