"""Authenticating a request costs one database round trip, and revocation still acts at once.

Why it matters: every API request runs ``get_current_user``; at three queries per request
(user, roles, revoked-token lookup) authentication was a third of the database work of a
cheap read under load.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from api.auth import CurrentUser
from api.routers.auth import router
from api.settings import Settings
from registers.db import make_engine, make_session_factory
from registers.users import service as users
from tests.db_fixtures import migrate_registers

PASSWORD = "Chlorine-Tank-42"


@dataclass
class Counter:
    statements: list[str] = field(default_factory=list)
    on: bool = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.on:
            self.statements.append(statement)


@dataclass
class Harness:
    client: TestClient
    engine: Engine
    counter: Counter

    def login(self) -> dict[str, str]:
        r = self.client.post("/api/v1/auth/login", json={"username": "lead", "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def queries_of(self, headers: dict[str, str]) -> tuple[int, list[str]]:
        self.counter.statements.clear()
        self.counter.on = True
        try:
            r = self.client.get("/whoami", headers=headers)
        finally:
            self.counter.on = False
        statements = [s for s in self.counter.statements if s.lstrip().upper().startswith("SELECT")]
        return r.status_code, statements


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    migrate_registers(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        users.create_user(
            session=session,
            username="lead",
            password=PASSWORD,
            roles=["operator", "safety_manager"],
            display_name="班长",
        )
    app = FastAPI()
    app.state.settings = Settings(environment="test", data_dir=tmp_path, database_url=url)
    app.state.session_factory = factory
    app.include_router(router)

    @app.get("/whoami")
    def whoami(user: CurrentUser) -> dict[str, Any]:
        return {"username": user.username, "roles": user.role_names}

    counter = Counter()
    event.listen(engine, "before_cursor_execute", counter)
    with TestClient(app) as client:
        yield Harness(client, engine, counter)
    engine.dispose()


def test_an_authenticated_request_runs_one_query_and_sees_every_role(harness: Harness) -> None:
    headers = harness.login()
    status, selects = harness.queries_of(headers)
    assert status == 200
    assert len(selects) == 1, selects
    r = harness.client.get("/whoami", headers=headers)
    assert r.json() == {"username": "lead", "roles": ["operator", "safety_manager"]}


def test_logout_still_revokes_the_token_on_the_next_request(harness: Harness) -> None:
    headers = harness.login()
    assert harness.client.get("/whoami", headers=headers).status_code == 200
    assert harness.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    status, selects = harness.queries_of(headers)
    assert status == 401
    assert len(selects) == 1


def test_a_role_change_or_disabled_account_ends_the_token_at_once(harness: Harness) -> None:
    headers = harness.login()
    factory = make_session_factory(harness.engine)
    with factory.begin() as session:
        user = users.get_by_username(session=session, username="lead")
        assert user is not None
        user.token_version += 1  # what a password or role change does
    assert harness.client.get("/whoami", headers=headers).status_code == 401
    headers = harness.login()
    with factory.begin() as session:
        user = users.get_by_username(session=session, username="lead")
        assert user is not None
        user.is_active = False
    assert harness.client.get("/whoami", headers=headers).status_code == 401
