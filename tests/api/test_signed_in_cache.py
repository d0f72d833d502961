"""On PostgreSQL a worker keeps its signed-in users, and every change to who may do what still ends them.

Why: the user look-up was ~13 % of the API's CPU and ~27 % of PostgreSQL's on the business
mix (docs/performance.md, session 18). Kept per process, a user must never outlive a logout,
a password or role change or a disabled account: in this process on the very next request,
from another process (another worker, a replica, the CLI, psql) as soon as PostgreSQL's
notification arrives, and nothing at all while the listener is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api import auth, signed_in_cache
from api.auth import CurrentUser, SignedInUser, TokenClaims, decode_token
from api.routers.auth import router
from api.settings import Settings
from api.signed_in_cache import AuthChangeListener, SignedInCache, conninfo_of
from registers.db import fetch_rows, make_engine, make_session_factory, utcnow
from registers.users import service as users
from tests.db_fixtures import migrate_registers

PASSWORD = "Chlorine-Tank-42"


@dataclass
class Counter:
    """Counts the user look-ups sent to PostgreSQL (they go through ``fetch_rows``, which
    SQLAlchemy's execution events do not see)."""

    calls: int = 0

    def wrap(self, fetch_rows: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return fetch_rows(*args, **kwargs)

        return counted


@dataclass
class Harness:
    client: TestClient
    engine: Engine
    cache: SignedInCache
    listener: AuthChangeListener
    counter: Counter

    def login(self) -> dict[str, str]:
        """Sign in and wait until the listener heard the login's own change (``last_login_at``).

        Otherwise that notification may arrive after the next request kept the user, and
        rightly drop it: a look-up more than the test expects on a busy box.
        """
        heard = self.listener.notifications
        r = self.client.post("/api/v1/auth/login", json={"username": "lead", "password": PASSWORD})
        assert r.status_code == 200, r.text
        wait_until(lambda: self.listener.notifications > heard, timeout_s=2.0)
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def whoami(self, headers: dict[str, str]) -> tuple[int, Any, int]:
        """Status, body and how many user look-ups the request sent to the database."""
        before = self.counter.calls
        r = self.client.get("/whoami", headers=headers)
        return r.status_code, r.json(), self.counter.calls - before

    def other_process(self, sql: str) -> None:
        """A change another process commits (its own connection, not a session of this one)."""
        with psycopg.connect(conninfo_of(self.engine), autocommit=True) as conn:
            conn.execute(sql)


pytestmark = pytest.mark.integration


@pytest.fixture
def harness(postgres_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    engine = make_engine(postgres_database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        users.create_user(
            session=session,
            username="lead",
            password=PASSWORD,
            roles=["operator", "safety_manager"],
            display_name="班长",
        )
        users.create_user(session=session, username="other", password=PASSWORD, roles=["operator"])
    started = signed_in_cache.start_for(engine)
    assert started is not None, "PostgreSQL gets a cache"
    cache, listener = started
    assert listener.wait_live(10), "the listener did not start listening"
    app = FastAPI()
    app.state.settings = Settings(environment="test", data_dir=tmp_path, database_url=postgres_database_url)
    app.state.session_factory = factory
    app.state.signed_in_cache = cache
    app.include_router(router)

    @app.get("/whoami")
    def whoami(user: CurrentUser) -> dict[str, Any]:
        return {"username": user.username, "roles": user.role_names, "active": user.is_active}

    counter = Counter()
    monkeypatch.setattr(auth, "fetch_rows", counter.wrap(fetch_rows))
    try:
        with TestClient(app) as client:
            yield Harness(client, engine, cache, listener, counter)
    finally:
        listener.stop()
        engine.dispose()


def wait_until(check: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``check()`` held; fails after ``timeout_s``."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout_s, f"not within {timeout_s} s"
        time.sleep(0.002)
    return time.monotonic() - start


def test_a_signed_in_request_reads_its_user_once(harness: Harness) -> None:
    headers = harness.login()
    assert harness.whoami(headers)[::2] == (200, 1)  # looked up
    status, body, statements = harness.whoami(headers)
    assert (status, statements) == (200, 0)  # kept: no database round trip at all
    assert body == {"username": "lead", "roles": ["operator", "safety_manager"], "active": True}
    assert harness.client.get("/whoami", headers={"Authorization": "Bearer x.y.z"}).status_code == 401


def test_changes_made_in_this_process_end_the_token_on_the_next_request(harness: Harness) -> None:
    headers = harness.login()
    assert harness.whoami(headers)[0] == 200
    assert harness.whoami(headers)[2] == 0
    assert harness.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert harness.whoami(headers)[0] == 401

    factory = make_session_factory(harness.engine)
    for change in ("token_version", "is_active"):
        headers = harness.login()
        assert harness.whoami(headers)[0] == 200
        assert harness.whoami(headers)[2] == 0  # served from the cache
        with factory.begin() as session:
            user = users.get_by_username(session=session, username="lead")
            assert user is not None
            if change == "token_version":
                user.token_version += 1  # what a password or role change does
            else:
                user.is_active = False
        assert harness.whoami(headers)[0] == 401, change
        if change == "token_version":
            continue
        with factory.begin() as session:
            user = users.get_by_username(session=session, username="lead")
            assert user is not None
            user.is_active = True


@pytest.mark.parametrize(
    ("change", "then"),
    [
        ("UPDATE users SET is_active = false WHERE username = 'lead'", 401),
        ("UPDATE users SET token_version = token_version + 1 WHERE username = 'lead'", 401),
        (
            "INSERT INTO revoked_tokens (jti, username, expires_at) VALUES ('{jti}', 'lead', now() + interval '1 h')",
            401,
        ),
        ("DELETE FROM user_roles WHERE role_id = (SELECT id FROM roles WHERE name = 'operator')", 200),
    ],
)
def test_a_change_another_process_commits_reaches_the_cache_within_milliseconds(
    harness: Harness, change: str, then: int
) -> None:
    headers = harness.login()
    assert harness.whoami(headers)[0] == 200
    assert harness.whoami(headers)[2] == 0
    claims = _claims(harness, headers)
    harness.other_process(change.format(jti=claims.jti))  # no session of this process knows of it

    def changed() -> bool:
        status, body, _ = harness.whoami(headers)
        return status == then and (then != 200 or body["roles"] == ["safety_manager"])  # noqa: PLR2004

    took = wait_until(changed, timeout_s=2.0)
    assert took < 1.0, f"took {took:.3f} s"
    assert harness.listener.notifications >= 1


def test_a_change_to_another_account_keeps_this_ones_users(harness: Harness) -> None:
    headers = harness.login()
    assert harness.whoami(headers)[0] == 200
    heard = harness.listener.notifications
    harness.other_process("UPDATE users SET display_name = '另一个' WHERE username = 'other'")
    wait_until(lambda: harness.listener.notifications > heard, timeout_s=2.0)
    assert harness.whoami(headers)[::2] == (200, 0)  # still kept: one login does not cost everyone a look-up
    harness.other_process("UPDATE roles SET title = title")  # a role's definition: everything
    wait_until(lambda: harness.listener.notifications > heard + 1, timeout_s=2.0)
    assert harness.whoami(headers)[::2] == (200, 1)


def test_nothing_is_served_while_the_listener_is_down(harness: Harness) -> None:
    headers = harness.login()
    assert harness.whoami(headers)[0] == 200
    assert harness.whoami(headers)[2] == 0
    harness.other_process(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE query = 'LISTEN {signed_in_cache.CHANNEL}' AND datname = current_database()"
    )
    wait_until(lambda: not harness.cache.live, timeout_s=2.0)
    status, _, statements = harness.whoami(headers)
    assert (status, statements) == (200, 1)  # looked up again: nothing kept is trusted
    assert harness.listener.wait_live(10), "the listener came back"
    harness.whoami(headers)
    assert harness.whoami(headers)[::2] == (200, 0)


def _claims(harness: Harness, headers: dict[str, str]) -> TokenClaims:
    settings: Settings = harness.client.app.state.settings  # type: ignore[attr-defined]
    return decode_token(settings, headers["Authorization"].removeprefix("Bearer "))


# --- the cache alone ---------------------------------------------------------------------------


def _user(name: str = "lead") -> SignedInUser:
    return SignedInUser(
        id=1,
        username=name,
        display_name="班长",
        role_names=["operator"],
        is_active=True,
        must_change_password=False,
        token_version=0,
        totp_enabled=False,
        created_at=None,
        password_changed_at=None,
        last_login_at=None,
        locked_until=None,
    )


def _token(jti: str, sub: str = "lead") -> TokenClaims:
    return TokenClaims(sub=sub, roles=["operator"], jti=jti, ver=0, exp=2**40, iat=0)


def test_the_cache_keeps_nothing_it_was_not_live_for() -> None:
    now = [0.0]
    cache = SignedInCache(max_age_s=60, clock=lambda: now[0])
    cache.put(_token("a"), _user(), cache.generation)
    assert cache.get(_token("a")) is None  # not live: neither kept nor served
    cache.set_live(True)
    cache.put(_token("a"), _user(), cache.generation)
    assert cache.get(_token("a")) is not None
    assert cache.get(_token("a", sub="other")) is None  # another subject under the same id
    now[0] = 61.0
    assert cache.get(_token("a")) is None  # too old


def test_a_change_forgets_what_it_names() -> None:
    cache = SignedInCache()
    cache.set_live(True)
    lead, other = _user(), replace(_user("other"), id=2)
    for jti, user in (("a", lead), ("b", lead), ("c", other)):
        cache.put(_token(jti, user.username), user, cache.generation)
    cache.forget([signed_in_cache.token_key("a")])
    assert [cache.get(_token(j, s)) is not None for j, s in (("a", "lead"), ("b", "lead"), ("c", "other"))] == [
        False,
        True,
        True,
    ]
    cache.forget([signed_in_cache.user_key(1)])
    assert cache.get(_token("b")) is None
    assert cache.get(_token("c", "other")) is not None
    cache.forget(["something new"])  # a key this version does not know: everything
    assert len(cache) == 0


def test_a_look_up_that_raced_a_change_is_not_kept() -> None:
    cache = SignedInCache()
    cache.set_live(True)
    started = cache.generation  # a look-up starts reading the database ...
    cache.forget([signed_in_cache.ALL])  # ... a change is reported meanwhile ...
    cache.put(_token("a"), _user(), started)  # ... and its answer comes back stale
    assert cache.get(_token("a")) is None
    cache.put(_token("a"), _user(), cache.generation)
    assert cache.get(_token("a")) is not None
    cache.set_live(False)
    assert cache.get(_token("a")) is None


@pytest.mark.parametrize("database", ["sqlite"])
def test_a_commit_of_this_process_empties_the_cache_before_it_returns(database: str, tmp_path: Path) -> None:
    # No listener here: only the session events can empty the cache, and they must before
    # commit() returns (a notification would come a moment later, after the response).
    from sqlalchemy import insert, update

    from registers.users.models import RevokedToken, User

    url = f"{database}:///{tmp_path / 'auth.db'}"
    migrate_registers(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        users.create_user(session=session, username="lead", password=PASSWORD, roles=["operator"])
    cache = SignedInCache()
    cache.set_live(True)

    def kept() -> bool:
        cache.put(_token("a"), _user(), cache.generation)
        return cache.get(_token("a")) is not None

    assert kept()
    with factory.begin() as session:  # a bulk UPDATE of users that matches no row
        session.execute(update(User).where(User.username == "nobody").values(display_name="x"))
    assert cache.get(_token("a")) is None  # an UPDATE of users, even of no row, empties it
    changes: list[Callable[[Session], Any]] = [
        lambda s: setattr(users.get_by_username(session=s, username="lead"), "token_version", 5),
        lambda s: s.execute(insert(RevokedToken).values(jti="j", username="lead", expires_at=utcnow())),
        lambda s: s.add(RevokedToken(jti="a", username="lead", expires_at=utcnow())),
    ]
    for change in changes:
        assert kept()
        with factory.begin() as session:
            change(session)
        assert cache.get(_token("a")) is None
    assert kept()
    with factory.begin() as session:  # another account and another token: lead's entry stays
        users.create_user(session=session, username="other", password=PASSWORD, roles=["operator"])
        session.add(RevokedToken(jti="z", username="other", expires_at=utcnow()))
    assert cache.get(_token("a")) is not None
    with factory() as session:  # rolled back: nothing changed, nothing emptied
        users.get_by_username(session=session, username="lead").is_active = False  # type: ignore[union-attr]
        session.flush()
        session.rollback()
    assert cache.get(_token("a")) is not None
    with factory.begin() as session:  # reads only
        users.get_by_username(session=session, username="lead")
    assert cache.get(_token("a")) is not None
    engine.dispose()
