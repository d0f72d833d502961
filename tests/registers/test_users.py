"""Accounts, login lockout, password rules and the first migration, on SQLite and PostgreSQL.

Every test runs twice: on a migrated SQLite file and on a real PostgreSQL server (a fresh
schema per test, dropped afterwards). The PostgreSQL run is skipped on a laptop without a
server and fails under CI=true (see tests/conftest.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registers.db import Base, alembic_config, make_engine, migrate
from registers.permissions import ROLE_TITLES, RoleName
from registers.users import service as users
from registers.users.models import Role, User, user_roles

PASSWORD = "Chlorine-Tank-42"
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def make_user(session: Session, username: str = "zhang.san", roles: tuple[str, ...] = ("operator",)) -> User:
    return users.create_user(session=session, username=username, password=PASSWORD, display_name="张三", roles=roles)


# --- schema ----------------------------------------------------------------------------------


def test_migration_matches_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrate_is_idempotent_and_independent_of_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # nowhere near registers/migrations
    url = f"sqlite:///{tmp_path / 'sub' / 'fresh.db'}"  # the folder does not exist yet
    migrate(url)
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        applied = tuple(conn.execute(sa.text("select version_num from alembic_version")).scalars())
    engine.dispose()
    # Every revision is applied: the recorded ones with all they revise or depend on (a
    # revision another one ``depends_on`` is implied and not listed in alembic_version).
    script = ScriptDirectory.from_config(alembic_config())
    reached = script.revision_map.iterate_revisions(applied, "base", select_for_downgrade=True)
    assert {rev.revision for rev in reached} == {rev.revision for rev in script.walk_revisions()}


def test_foreign_keys_are_enforced(session: Session) -> None:
    with pytest.raises(IntegrityError):
        session.execute(sa.insert(user_roles).values(user_id=999, role_id=999))
        session.flush()


def test_naive_datetimes_are_refused(session: Session) -> None:
    user = make_user(session)
    user.locked_until = datetime(2026, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        session.flush()


# --- accounts --------------------------------------------------------------------------------


def test_create_user(session: Session) -> None:
    user = make_user(session, username="  Zhang.San ", roles=("operator", "inspector"))
    assert user.username == "zhang.san"
    assert sorted(user.role_names) == ["inspector", "operator"]
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    session.expire_all()
    loaded = users.get_by_username(session=session, username="ZHANG.SAN")
    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.is_active
    assert loaded.failed_logins == 0


def test_username_is_unique_case_insensitively(session: Session) -> None:
    make_user(session)
    with pytest.raises(users.UsernameTaken):
        make_user(session, username="ZHANG.SAN")


def test_unknown_role_is_refused(session: Session) -> None:
    with pytest.raises(users.UnknownRole, match="superuser"):
        make_user(session, roles=("superuser",))


@pytest.mark.parametrize(
    "password",
    ["Ab1!xyz", "abcdefgh", "abcdefg1", "ABCDEFG1", "12345678", "abcd!@#$", "Zhang.San-9"],
    ids=["7-chars", "lower", "lower+digit", "upper+digit", "digits", "lower+symbol", "contains-username"],
)
def test_weak_passwords_are_refused(session: Session, password: str) -> None:
    with pytest.raises(ValueError, match="Password must"):
        users.create_user(session=session, username="zhang.san", password=password)


@pytest.mark.parametrize("password", ["tankEF12", "vent12!@", "PUMP12!@", "Reactor!", "安全第一abc123"])
def test_passwords_with_three_classes_are_accepted(password: str) -> None:
    users.check_password_policy(password, username="zhang.san")


# --- login -----------------------------------------------------------------------------------


def test_authenticate(session: Session) -> None:
    make_user(session)
    user = users.authenticate(session=session, username="Zhang.San", password=PASSWORD, now=T0)
    assert user.last_login_at == T0
    assert user.failed_logins == 0


def test_unknown_user_and_wrong_password_look_the_same(session: Session) -> None:
    make_user(session)
    with pytest.raises(users.InvalidCredentials) as unknown:
        users.authenticate(session=session, username="li.si", password=PASSWORD)
    with pytest.raises(users.InvalidCredentials) as wrong:
        users.authenticate(session=session, username="zhang.san", password="Wrong-Pass-1")
    assert str(unknown.value) == str(wrong.value) == "用户名或密码错误 / Invalid username or password"


def test_five_failures_lock_for_fifteen_minutes(session: Session) -> None:
    make_user(session)
    for attempt in range(1, 5):
        with pytest.raises(users.InvalidCredentials):
            users.authenticate(session=session, username="zhang.san", password="Wrong-Pass-1", now=T0)
        assert users.get_by_username(session=session, username="zhang.san").failed_logins == attempt  # type: ignore[union-attr]
    with pytest.raises(users.AccountLocked, match="15") as locked:
        users.authenticate(session=session, username="zhang.san", password="Wrong-Pass-1", now=T0)
    assert locked.value.locked_until == T0 + timedelta(minutes=15)
    assert locked.value.retry_after_s == 15 * 60

    # the right password does not help while locked
    with pytest.raises(users.AccountLocked):
        users.authenticate(session=session, username="zhang.san", password=PASSWORD, now=T0 + timedelta(minutes=14))
    # the lock survives a round trip through the database (aware UTC on both backends)
    session.expire_all()
    user = users.get_by_username(session=session, username="zhang.san")
    assert user is not None
    assert user.locked_until == T0 + timedelta(minutes=15)

    user = users.authenticate(
        session=session, username="zhang.san", password=PASSWORD, now=T0 + timedelta(minutes=15, seconds=1)
    )
    assert user.locked_until is None
    assert user.failed_logins == 0


def test_success_resets_the_failure_count(session: Session) -> None:
    make_user(session)
    for _ in range(4):
        with pytest.raises(users.InvalidCredentials):
            users.authenticate(session=session, username="zhang.san", password="Wrong-Pass-1", now=T0)
    users.authenticate(session=session, username="zhang.san", password=PASSWORD, now=T0)
    for _ in range(4):
        with pytest.raises(users.InvalidCredentials):
            users.authenticate(session=session, username="zhang.san", password="Wrong-Pass-1", now=T0)


def test_disabled_account(session: Session) -> None:
    make_user(session).is_active = False
    with pytest.raises(users.InvalidCredentials):
        users.authenticate(session=session, username="zhang.san", password="Wrong-Pass-1")
    with pytest.raises(users.AccountDisabled):
        users.authenticate(session=session, username="zhang.san", password=PASSWORD)


# --- passwords -------------------------------------------------------------------------------


def test_set_password(session: Session) -> None:
    user = make_user(session)
    with pytest.raises(users.PasswordPolicyError):
        users.set_password(session=session, user=user, password="short")
    users.set_password(session=session, user=user, password="New-Password-7", actor="admin", must_change_password=True)
    assert user.must_change_password
    assert user.updated_by == "admin"
    with pytest.raises(users.InvalidCredentials):
        users.authenticate(session=session, username="zhang.san", password=PASSWORD)
    assert users.authenticate(session=session, username="zhang.san", password="New-Password-7") is user


def test_change_password(session: Session) -> None:
    user = make_user(session)
    user.must_change_password = True
    with pytest.raises(users.InvalidCredentials, match="current password"):
        users.change_password(
            session=session, user=user, current_password="Wrong-Pass-1", new_password="New-Password-7"
        )
    assert user.failed_logins == 1  # a stolen token cannot guess the password without limit
    with pytest.raises(users.PasswordPolicyError, match="differ"):
        users.change_password(session=session, user=user, current_password=PASSWORD, new_password=PASSWORD)
    with pytest.raises(users.PasswordPolicyError, match="at least 8"):
        users.change_password(session=session, user=user, current_password=PASSWORD, new_password="weak")
    users.change_password(session=session, user=user, current_password=PASSWORD, new_password="New-Password-7")
    assert not user.must_change_password
    assert user.updated_by == "zhang.san"
    assert users.authenticate(session=session, username="zhang.san", password="New-Password-7") is user


# --- seeding ---------------------------------------------------------------------------------


def test_ensure_roles_is_idempotent(session: Session) -> None:
    first = users.ensure_roles(session=session)
    second = users.ensure_roles(session=session)
    assert first.keys() == second.keys() == {role.value for role in RoleName}
    assert first["safety_manager"].title == "安全管理员"
    assert {r.name: r.title for r in session.scalars(sa.select(Role))} == {k.value: v for k, v in ROLE_TITLES.items()}


def test_demo_admin_is_created_once(session: Session) -> None:
    password = users.ensure_demo_admin(session=session)
    assert password is not None
    users.check_password_policy(password, username="admin")
    assert users.ensure_demo_admin(session=session) is None

    admin = users.authenticate(session=session, username="admin", password=password)
    assert admin.role_names == ["admin"]
    assert admin.must_change_password  # 等保2.0: no default password survives the first login


def test_demo_admin_is_not_recreated_after_rename(session: Session) -> None:
    make_user(session, username="wang.admin", roles=("admin",))
    assert users.ensure_demo_admin(session=session) is None
    assert users.get_by_username(session=session, username="admin") is None
