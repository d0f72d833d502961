"""TOTP second factor (等保2.0 8.1.4.1 d) through the real app, with real pyotp codes.

An account enrols an authenticator (``POST /auth/me/totp``), confirms it with a code, then
logs in with password *and* code; a missing code is asked for (401 + ``X-OTP-Required``), a
wrong or replayed one refused and counted toward the lockout; the security administrator
removes a lost authenticator; ``totp_required_roles`` keeps admin roles out until enrolled.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.security import INITIAL_PASSWORDS_FILE
from api.settings import Settings
from registers.audit.models import AuditEntry
from registers.db import utcnow
from registers.users import service as users
from registers.users.models import User

PASSWORD = "Chlorine-Tank-42"


@dataclass
class Harness:
    app: FastAPI
    client: TestClient
    initial: dict[str, str]

    def add_user(self, username: str, *roles: str) -> None:
        with self.app.state.session_factory.begin() as session:
            users.create_user(session=session, username=username, password=PASSWORD, roles=roles)

    def login(self, username: str, password: str = PASSWORD, otp: str | None = None) -> Any:
        body = {"username": username, "password": password} | ({"otp": otp} if otp is not None else {})
        return self.client.post("/api/v1/auth/login", json=body)

    def headers(self, username: str, password: str = PASSWORD, otp: str | None = None) -> dict[str, str]:
        response = self.login(username, password, otp)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def user(self, username: str) -> User:
        with self.app.state.session_factory() as session:
            user = users.get_by_username(session=session, username=username)
            assert user is not None
            session.expunge(user)
            return user

    def enrol(self, username: str) -> pyotp.TOTP:
        """Enrol and confirm; returns the authenticator. Uses the previous step's code to confirm,
        so the current step's code is still fresh for the next login."""
        headers = self.headers(username)
        response = self.client.post("/api/v1/auth/me/totp", headers=headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["otpauth_uri"].startswith("otpauth://totp/SafeTwin:")
        totp = pyotp.TOTP(body["secret"])
        previous = totp.at(utcnow() - timedelta(seconds=30))
        confirmed = self.client.post("/api/v1/auth/me/totp/confirm", json={"code": previous}, headers=headers)
        assert confirmed.status_code == 204, confirmed.text
        # enabling the second factor ended the one-factor session
        assert self.client.get("/api/v1/auth/me", headers=headers).status_code == 401
        return totp

    def audit(self, **where: Any) -> list[AuditEntry]:
        with self.app.state.session_factory() as session:
            return list(session.query(AuditEntry).filter_by(**where).order_by(AuditEntry.id))


def _start(tmp: Path, **overrides: Any) -> Iterator[Harness]:
    settings = Settings(environment="test", data_dir=tmp, web_dist=tmp / "no-web", **overrides)
    app = create_app(settings, start_runtime=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        text = (tmp / INITIAL_PASSWORDS_FILE).read_text(encoding="utf-8")
        yield Harness(app, client, dict(re.findall(r"^(\w+): (\S+)$", text, flags=re.MULTILINE)))


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from _start(tmp_path_factory.mktemp("totp"))


def test_login_asks_for_the_code_once_totp_is_on(harness: Harness) -> None:
    harness.add_user("totp.a", "safety_manager")
    totp = harness.enrol("totp.a")

    asked = harness.login("totp.a")
    assert asked.status_code == 401
    assert asked.headers["X-OTP-Required"] == "true"
    assert harness.user("totp.a").failed_logins == 0  # a step, not a failure

    response = harness.login("totp.a", otp=totp.now())
    assert response.status_code == 200, response.text
    me = harness.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"})
    assert me.json()["totp_enabled"] is True
    assert harness.audit(actor="totp.a", action="login")[-1].detail == "password+totp"
    assert harness.audit(actor="totp.a", action="login_otp_required")


def test_a_used_code_cannot_log_in_twice(harness: Harness) -> None:
    harness.add_user("totp.b", "operator")
    totp = harness.enrol("totp.b")
    code = totp.now()
    assert harness.login("totp.b", otp=code).status_code == 200
    replay = harness.login("totp.b", otp=code)
    assert replay.status_code == 401
    assert "X-OTP-Required" not in replay.headers


def test_a_wrong_code_counts_toward_the_lockout(harness: Harness) -> None:
    harness.add_user("totp.c", "operator")
    totp = harness.enrol("totp.c")
    good = totp.now()
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(4):
        assert harness.login("totp.c", otp=wrong).status_code == 401
    assert harness.login("totp.c", otp=wrong).status_code == 423
    assert harness.login("totp.c", otp=good).status_code == 423  # locked: not even the right code
    assert harness.audit(actor="totp.c", action="login_otp_failed")


def test_the_password_is_still_checked_first(harness: Harness) -> None:
    harness.add_user("totp.d", "operator")
    totp = harness.enrol("totp.d")
    response = harness.login("totp.d", password="Wrong-Password-99", otp=totp.now())
    assert response.status_code == 401
    assert "X-OTP-Required" not in response.headers  # a guesser learns nothing about the factor


def test_a_wrong_confirmation_code_leaves_totp_off(harness: Harness) -> None:
    harness.add_user("totp.e", "operator")
    headers = harness.headers("totp.e")
    secret = harness.client.post("/api/v1/auth/me/totp", headers=headers).json()["secret"]
    wrong = f"{(int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000:06d}"
    response = harness.client.post("/api/v1/auth/me/totp/confirm", json={"code": wrong}, headers=headers)
    assert response.status_code == 400
    assert harness.login("totp.e").status_code == 200  # still one factor
    assert harness.user("totp.e").totp_enabled is False


def test_enrolling_twice_is_a_conflict(harness: Harness) -> None:
    harness.add_user("totp.f", "operator")
    totp = harness.enrol("totp.f")
    headers = harness.headers("totp.f", otp=totp.now())
    assert harness.client.post("/api/v1/auth/me/totp", headers=headers).status_code == 409
    nothing = harness.client.post("/api/v1/auth/me/totp/confirm", json={"code": "123456"}, headers=headers)
    assert nothing.status_code == 409


def test_the_security_admin_removes_a_lost_authenticator(harness: Harness) -> None:
    harness.add_user("totp.g", "operator")
    totp = harness.enrol("totp.g")
    token = harness.headers("totp.g", otp=totp.now())
    user_id = harness.user("totp.g").id
    sec = harness.headers("secadmin", harness.initial["secadmin"])
    admin = harness.headers("admin", harness.initial["admin"])
    assert harness.client.delete(f"/api/v1/users/{user_id}/totp", headers=admin).status_code == 403  # 三员分立
    assert harness.client.delete(f"/api/v1/users/{user_id}/totp", headers=sec).status_code == 204
    assert harness.client.get("/api/v1/auth/me", headers=token).status_code == 401  # its sessions ended
    assert harness.login("totp.g").status_code == 200  # one factor again
    listed = harness.client.get("/api/v1/users", headers=sec).json()["items"]
    assert next(u for u in listed if u["username"] == "totp.g")["totp_enabled"] is False


@pytest.mark.parametrize("otp", ["12345", "1234567", "abcdef", "12 456", ""])
def test_malformed_codes_are_422(harness: Harness, otp: str) -> None:
    response = harness.login("admin", harness.initial["admin"], otp=otp)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "otp"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from _start(tmp_path_factory.mktemp("totp-required"), totp_required_roles=["admin", "security_admin"])


def test_required_roles_can_do_nothing_but_enrol(strict: Harness) -> None:
    strict.add_user("ops.h", "operator")
    strict.add_user("root.h", "admin")
    assert strict.client.get("/api/v1/plant", headers=strict.headers("ops.h")).status_code == 200
    headers = strict.headers("root.h")
    refused = strict.client.get("/api/v1/plant", headers=headers)
    assert refused.status_code == 403
    assert "动态口令" in refused.json()["detail"]
    assert strict.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    totp = strict.enrol("root.h")
    assert strict.client.get("/api/v1/plant", headers=strict.headers("root.h", otp=totp.now())).status_code == 200


# --- the code check itself -------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(offset_s=st.integers(min_value=-600, max_value=600))
def test_only_codes_within_one_step_are_accepted(offset_s: int) -> None:
    """Hypothesis over clock offsets: a code of time t is good at now iff |step(t) - step(now)| <= 1."""
    secret = pyotp.random_base32()
    user = User(username="h", password_hash="x", totp_secret=secret, totp_last_step=0)
    now = utcnow()
    totp = pyotp.TOTP(secret)
    at = now + timedelta(seconds=offset_s)
    code = totp.at(at)
    accepted = users._accept_totp(user, code, now)  # noqa: SLF001 - the rule under test
    steps_apart = abs(totp.timecode(at.timestamp()) - totp.timecode(now.timestamp()))
    if steps_apart <= 1:
        assert accepted
    elif accepted:  # a different step's code can collide with a valid one (1 in 10^6 per step)
        assert code in {totp.at(now + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
