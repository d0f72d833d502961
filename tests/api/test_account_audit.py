"""The own-account routes of ``/api/v1/auth`` leave one audit entry per attempt, failed or not.

等保2.0 8.1.4.3: a wrong current password, a weak new one, a wrong TOTP code and a confirmation
with nothing to confirm are each recorded as ``failure`` with the answer's reason; the
successful change, enrolment, confirmation and logout as ``success``. (Before the routes shared
one audit wrapper, a refused enrolment left no entry at all.) The entries are read
back from the audit table exactly as an auditor would see them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import INITIAL_PASSWORDS_FILE
from api.settings import Settings
from registers.audit.models import AuditEntry
from registers.db import utcnow
from registers.users import service as users

PASSWORD = "Chlorine-Tank-42"
NEW_PASSWORD = "Nitration-Unit-77"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp: Path = tmp_path_factory.mktemp("account-audit")
    app = create_app(Settings(environment="test", data_dir=tmp, web_dist=tmp / "no-web"), start_runtime=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert (tmp / INITIAL_PASSWORDS_FILE).exists()
        yield c


def _add_user(client: TestClient, username: str) -> None:
    with client.app.state.session_factory.begin() as session:  # type: ignore[attr-defined]
        users.create_user(session=session, username=username, password=PASSWORD, roles=["safety_manager"])


def _headers(client: TestClient, username: str, password: str = PASSWORD, otp: str | None = None) -> dict[str, str]:
    body = {"username": username, "password": password} | ({"otp": otp} if otp else {})
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _trail(client: TestClient, username: str) -> list[tuple[str, str, str, str, str, str]]:
    """(action, result, roles, object_type, object_id, detail) of the account's entries, logins left out."""
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        rows = session.query(AuditEntry).filter_by(actor=username).order_by(AuditEntry.id)
        return [
            (e.action, e.result, e.roles, e.object_type, e.object_id, e.detail)
            for e in rows
            if not e.action.startswith("login")
        ]


def test_password_change_failures_and_success_are_each_recorded(client: TestClient) -> None:
    _add_user(client, "audit.pw")
    headers = _headers(client, "audit.pw")
    wrong = client.post(
        "/api/v1/auth/me/password",
        json={"current_password": "Not-The-Password-1", "new_password": NEW_PASSWORD},
        headers=headers,
    )
    assert wrong.status_code == 400
    weak = client.post(
        "/api/v1/auth/me/password", json={"current_password": PASSWORD, "new_password": PASSWORD}, headers=headers
    )
    assert weak.status_code == 422
    done = client.post(
        "/api/v1/auth/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=headers
    )
    assert done.status_code == 204, done.text

    trail = _trail(client, "audit.pw")
    assert [t[:5] for t in trail] == [
        ("password_change", "failure", "safety_manager", "user", "audit.pw"),
        ("password_change", "failure", "safety_manager", "user", "audit.pw"),
        ("password_change", "success", "safety_manager", "user", "audit.pw"),
    ]
    assert trail[0][5] == wrong.json()["detail"]  # the reason the user was given, verbatim
    assert trail[1][5] == weak.json()["detail"] and trail[1][5]
    assert trail[2][5] == ""


def test_totp_enrolment_confirmation_and_logout_are_recorded(client: TestClient) -> None:
    _add_user(client, "audit.totp")
    headers = _headers(client, "audit.totp")
    nothing = client.post("/api/v1/auth/me/totp/confirm", json={"code": "123456"}, headers=headers)
    assert nothing.status_code == 409  # no enrolment started
    enrolled = client.post("/api/v1/auth/me/totp", headers=headers)
    assert enrolled.status_code == 201, enrolled.text
    totp = pyotp.TOTP(enrolled.json()["secret"])
    good = totp.at(utcnow() - timedelta(seconds=30))
    wrong_code = f"{(int(good) + 1) % 1_000_000:06d}"
    assert wrong_code not in {totp.now(), good, totp.at(utcnow() + timedelta(seconds=30))}
    wrong = client.post("/api/v1/auth/me/totp/confirm", json={"code": wrong_code}, headers=headers)
    assert wrong.status_code == 400
    assert client.post("/api/v1/auth/me/totp/confirm", json={"code": good}, headers=headers).status_code == 204

    fresh = _headers(client, "audit.totp", otp=totp.now())
    again = client.post("/api/v1/auth/me/totp", headers=fresh)
    assert again.status_code == 409  # already on: reset first
    assert client.post("/api/v1/auth/logout", params={"everywhere": True}, headers=fresh).status_code == 204
    assert client.get("/api/v1/auth/me", headers=fresh).status_code == 401

    trail = _trail(client, "audit.totp")
    assert trail == [
        ("totp_enable", "failure", "safety_manager", "user", "audit.totp", nothing.json()["detail"]),
        ("totp_enrol", "success", "safety_manager", "user", "audit.totp", ""),
        ("totp_enable", "failure", "safety_manager", "user", "audit.totp", wrong.json()["detail"]),
        ("totp_enable", "success", "safety_manager", "user", "audit.totp", ""),
        ("totp_enrol", "failure", "safety_manager", "user", "audit.totp", again.json()["detail"]),
        ("logout", "success", "safety_manager", "session", "", "everywhere"),
    ]
    assert re.search(r"\S", trail[0][5])
