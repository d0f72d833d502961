"""Login, tokens, lockout and permissions through a tiny FastAPI app on a migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import jwt
import pytest
from fastapi import Depends, FastAPI, HTTPException, WebSocket
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from starlette.websockets import WebSocketDisconnect

from api.auth import CurrentUser, SessionDep, WsUser, create_token, decode_token, require
from api.routers.auth import router
from api.settings import Settings
from registers.db import make_engine, make_session_factory, utcnow
from registers.users import service as users
from registers.users.models import User
from tests.db_fixtures import migrate_registers

PASSWORD = "Chlorine-Tank-42"
WRONG = "Wrong-Password-1"


@dataclass
class Harness:
    client: TestClient
    settings: Settings
    factory: sessionmaker[Session]

    def login(self, username: str, password: str = PASSWORD) -> str:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def get_user(self, username: str) -> User:
        with self.factory() as session:
            user = users.get_by_username(session=session, username=username)
            assert user is not None
            return user


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    settings = Settings(environment="test", data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'auth.db'}")
    migrate_registers(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        for name, roles in [
            ("op", ["operator"]),
            ("boss", ["safety_manager"]),
            ("gov", ["regulator"]),
            ("gone", ["operator"]),
        ]:
            users.create_user(session=session, username=name, password=PASSWORD, display_name=name, roles=roles)
        users.get_by_username(session=session, username="gone").is_active = False  # type: ignore[union-attr]

    app = FastAPI()
    app.state.settings = settings
    app.state.session_factory = factory
    app.include_router(router)

    @app.get("/protected")
    def protected(user: CurrentUser) -> dict[str, str]:
        return {"username": user.username}

    @app.post("/permits/approve")
    def approve(user: Annotated[User, Depends(require("approve", "permit"))]) -> dict[str, str]:
        return {"approved_by": user.username}

    @app.get("/permits", dependencies=[Depends(require("read", "permit"))])
    def list_permits() -> list[str]:
        return []

    @app.post("/rename")
    def rename(session: SessionDep, user: CurrentUser, fail: bool = False) -> dict[str, str]:
        session.get_one(User, user.id).display_name = "renamed"  # the signed-in user is read-only
        session.flush()
        if fail:
            raise HTTPException(409, detail="conflict after a flush")
        return {"ok": "yes"}

    @app.websocket("/ws/current")
    async def ws_current(websocket: WebSocket, user: CurrentUser) -> None:
        await websocket.accept()
        await websocket.send_json({"username": user.username})
        await websocket.close()

    @app.websocket("/ws/live")
    async def ws_live(websocket: WebSocket, user: WsUser) -> None:
        await websocket.accept()
        await websocket.send_json({"username": user.username, "roles": user.role_names})
        await websocket.close()

    with TestClient(app) as client:
        yield Harness(client=client, settings=settings, factory=factory)
    engine.dispose()


# --- login -----------------------------------------------------------------------------------


def test_login(harness: Harness) -> None:
    response = harness.client.post("/api/v1/auth/login", json={"username": "Boss", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    assert body["user"] == {
        "username": "boss",
        "display_name": "boss",
        "roles": ["safety_manager"],
        "must_change_password": False,
    }
    claims = decode_token(harness.settings, body["access_token"])
    assert claims.sub == "boss"
    assert claims.roles == ["safety_manager"]
    assert claims.exp - claims.iat == 30 * 60
    assert harness.get_user("boss").last_login_at is not None


def test_token_form_for_swagger(harness: Harness) -> None:
    response = harness.client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "op", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["user"]["roles"] == ["operator"]
    assert harness.client.post("/api/v1/auth/token", data={"username": "op"}).status_code == 422


def test_bad_password_is_401(harness: Harness) -> None:
    response = harness.client.post("/api/v1/auth/login", json={"username": "op", "password": WRONG})
    assert response.status_code == 401
    assert response.json()["detail"] == "用户名或密码错误 / Invalid username or password"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    unknown = harness.client.post("/api/v1/auth/login", json={"username": "nobody", "password": WRONG})
    assert unknown.status_code == 401
    assert unknown.json() == response.json()


@pytest.mark.parametrize(
    "body", [{}, {"username": "op"}, {"username": "", "password": "x"}, {"username": "op", "password": "x" * 200}]
)
def test_invalid_login_body_is_422(harness: Harness, body: dict[str, str]) -> None:
    assert harness.client.post("/api/v1/auth/login", json=body).status_code == 422


def test_disabled_account_is_403(harness: Harness) -> None:
    response = harness.client.post("/api/v1/auth/login", json={"username": "gone", "password": PASSWORD})
    assert response.status_code == 403
    assert "disabled" in response.json()["detail"]


def test_lockout_after_five_failures(harness: Harness) -> None:
    codes = [
        harness.client.post("/api/v1/auth/login", json={"username": "op", "password": WRONG}).status_code
        for _ in range(5)
    ]
    assert codes == [401, 401, 401, 401, 423]
    # the lock was committed although every one of those requests failed
    response = harness.client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD})
    assert response.status_code == 423
    assert "15" in response.json()["detail"]
    assert 14 * 60 < int(response.headers["Retry-After"]) <= 15 * 60
    assert harness.get_user("op").locked_until is not None
    # other accounts are not affected
    harness.login("boss")


# --- protected routes ------------------------------------------------------------------------


def test_protected_route_needs_a_token(harness: Harness) -> None:
    response = harness.client.get("/protected")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert harness.client.get("/protected", headers=bearer("not-a-jwt")).status_code == 401

    token = harness.login("op")
    response = harness.client.get("/protected", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"username": "op"}


def test_query_token_is_refused_on_http(harness: Harness) -> None:
    token = harness.login("op")
    assert harness.client.get("/protected", params={"token": token}).status_code == 401


def test_expired_token_is_401(harness: Harness) -> None:
    user = harness.get_user("op")
    token = create_token(harness.settings, user, now=utcnow() - timedelta(minutes=31))
    response = harness.client.get("/protected", headers=bearer(token))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_token_signed_with_another_key_is_401(harness: Harness) -> None:
    forged = jwt.encode({"sub": "op", "roles": ["admin"], "iat": 0, "exp": 2**40}, "x" * 40, algorithm="HS256")
    assert harness.client.get("/protected", headers=bearer(forged)).status_code == 401


def test_token_of_a_disabled_user_is_401(harness: Harness) -> None:
    token = harness.login("op")
    with harness.factory.begin() as session:
        users.get_by_username(session=session, username="op").is_active = False  # type: ignore[union-attr]
    assert harness.client.get("/protected", headers=bearer(token)).status_code == 401


def test_require_denies_a_role_without_permission(harness: Harness) -> None:
    op, boss, gov = harness.login("op"), harness.login("boss"), harness.login("gov")
    response = harness.client.post("/permits/approve", headers=bearer(op))
    assert response.status_code == 403
    assert "approve permit" in response.json()["detail"]
    assert harness.client.post("/permits/approve", headers=bearer(gov)).status_code == 403
    assert harness.client.post("/permits/approve", headers=bearer(boss)).json() == {"approved_by": "boss"}
    assert harness.client.get("/permits", headers=bearer(gov)).status_code == 200
    assert harness.client.post("/permits/approve").status_code == 401


def test_one_transaction_per_request(harness: Harness) -> None:
    token = harness.login("op")
    assert harness.client.post("/rename", params={"fail": True}, headers=bearer(token)).status_code == 409
    assert harness.get_user("op").display_name == "op"  # flushed, then rolled back
    assert harness.client.post("/rename", headers=bearer(token)).status_code == 200
    assert harness.get_user("op").display_name == "renamed"  # committed once at the end


# --- own account -----------------------------------------------------------------------------


def test_me(harness: Harness) -> None:
    response = harness.client.get("/api/v1/auth/me", headers=bearer(harness.login("gov")))
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "gov"
    assert body["roles"] == ["regulator"]
    assert "password_hash" not in body


def test_change_password(harness: Harness) -> None:
    token = harness.login("op")
    url = "/api/v1/auth/me/password"
    wrong = harness.client.post(
        url, json={"current_password": WRONG, "new_password": "New-Password-7"}, headers=bearer(token)
    )
    assert wrong.status_code == 400
    assert "current password" in wrong.json()["detail"]
    assert harness.get_user("op").failed_logins == 1  # counted, and kept despite the error

    weak = harness.client.post(
        url, json={"current_password": PASSWORD, "new_password": "password"}, headers=bearer(token)
    )
    assert weak.status_code == 422
    assert "at least 8 characters" in weak.json()["detail"]

    ok = harness.client.post(
        url, json={"current_password": PASSWORD, "new_password": "New-Password-7"}, headers=bearer(token)
    )
    assert ok.status_code == 204
    harness.login("op", "New-Password-7")
    old = harness.client.post("/api/v1/auth/login", json={"username": "op", "password": PASSWORD})
    assert old.status_code == 401


# --- WebSockets and docs ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/current", "/ws/live"])
def test_websocket_token_in_query(harness: Harness, path: str) -> None:
    token = harness.login("op")
    with harness.client.websocket_connect(f"{path}?token={token}") as ws:
        assert ws.receive_json()["username"] == "op"
    with pytest.raises(WebSocketDisconnect) as refused, harness.client.websocket_connect(path) as ws:
        ws.receive_json()
    assert refused.value.code == 1008


def test_openapi_declares_the_password_flow(harness: Harness) -> None:
    schema = harness.client.get("/openapi.json").json()
    flows = [s["flows"] for s in schema["components"]["securitySchemes"].values() if s["type"] == "oauth2"]
    assert flows == [{"password": {"scopes": {}, "tokenUrl": "/api/v1/auth/token"}}]
    assert (
        "application/x-www-form-urlencoded" in schema["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    )
