"""Registers-database fixtures, loaded by the root conftest as a pytest plugin.

Kept out of the root conftest so that it stays a list of service addresses: the migration
machinery (``registers.db`` pulls in Alembic, about a second of imports on a busy machine) is
imported by the first test that asks for a database, not by every run of ``pytest tests/models``.

Every test still gets a database of its own, freshly migrated, but the migrations run once per
session into a template that each test copies: Alembic's 0.5 s on SQLite and 1.7-2.1 s on
PostgreSQL per test were about 8 of CI's 34 minutes (515 such set-ups, measured 2026-12-04);
a copy costs a few milliseconds (SQLite) or about 0.3 s (``CREATE DATABASE ... TEMPLATE``).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


_PROCESS_TEMPLATE: list[Path] = []  # the one SQLite template of this process, once made


def _process_sqlite_template() -> Path:
    """A registers database migrated to every head, made once per process and copied by tests."""
    import tempfile

    from registers.db import migrate

    if not _PROCESS_TEMPLATE:
        template = Path(tempfile.mkdtemp(prefix="safetwin-registers-template-")) / "registers.db"
        migrate(f"sqlite:///{template}")
        _PROCESS_TEMPLATE.append(template)
    return _PROCESS_TEMPLATE[0]


def migrate_registers(url: str) -> None:
    """``registers.db.migrate(url)`` for a test's own database, copying a template where it can.

    A SQLite file that does not exist yet gets a copy of the process's migrated template
    (the same schema, Alembic's version table included); any other URL (PostgreSQL, a file
    already there) is migrated as usual. For fixtures that build their own URL rather than
    asking for :func:`database_url`.
    """
    from sqlalchemy.engine import make_url

    from registers.db import migrate

    parsed = make_url(url)
    target = Path(parsed.database) if parsed.database not in (None, "", ":memory:") else None
    if parsed.get_backend_name() != "sqlite" or target is None or target.exists():
        migrate(url)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy_sqlite(_process_sqlite_template(), target)


def _copy_sqlite(template: Path, path: Path) -> None:
    """A page-by-page copy of ``template`` into ``path`` (sqlite3's online backup)."""
    source, copy = sqlite3.connect(template), sqlite3.connect(path)
    try:
        with source, copy:
            source.backup(copy)
    finally:
        source.close()
        copy.close()


@pytest.fixture(scope="session")
def _sqlite_template() -> Path:
    """The process's migrated SQLite template (:func:`_process_sqlite_template`), for :func:`database_url`."""
    return _process_sqlite_template()


def _autocommit(engine: Engine, statement: str, **params: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE refuse to run inside one)."""
    from sqlalchemy import text

    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(statement), params)


def _drop_database(admin: Engine, name: str, *, attempts: int = 10) -> None:
    """Drop a test database, even while PostgreSQL's autovacuum works in it.

    ``WITH (FORCE)`` ends the connections a test left open, but a role that is neither a
    superuser nor in ``pg_signal_backend`` may not end an autovacuum worker (a process of no
    role): the drop then fails with "must be a member of the role whose process is being
    terminated" (it failed a CI run so). A plain ``DROP DATABASE`` stops autovacuum workers by
    itself; so then this role's own connections there are ended and the plain drop is retried.
    """
    from sqlalchemy.exc import DBAPIError

    try:
        _autocommit(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    except DBAPIError:
        pass
    for attempt in range(attempts):
        _autocommit(
            admin,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = :name AND usename = current_user AND pid <> pg_backend_pid()",
            name=name,
        )
        try:
            _autocommit(admin, f'DROP DATABASE IF EXISTS "{name}"')
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.3)


@pytest.fixture(scope="session")
def _postgres_admin(postgres_url: str) -> Iterator[Engine]:
    from registers.db import make_engine

    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _postgres_template(postgres_url: str, _postgres_admin: Engine) -> Iterator[str | None]:
    """A migrated template database on the test server, or None where the role may not create databases.

    Dropped at the end of the session. With None, each test migrates a schema of its own
    (slower, same result).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from registers.db import migrate

    name = f"safetwin_template_{uuid.uuid4().hex[:12]}"
    try:
        _autocommit(_postgres_admin, f'CREATE DATABASE "{name}"')
    except DBAPIError:  # no CREATEDB right: fall back to schemas
        yield None
        return
    try:
        migrate(make_url(postgres_url).set(database=name).render_as_string(False))  # disposes its engine
        yield name
    finally:
        _drop_database(_postgres_admin, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a freshly migrated registers database of each kind (PostgreSQL: a database of its own, dropped after)."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "registers.db"
        _copy_sqlite(template, path)
        yield f"sqlite:///{path}"
        return
    yield from _postgres_database(request)


@pytest.fixture
def postgres_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a freshly migrated PostgreSQL registers database of its own (dropped after).

    For what only a server shows: several processes (API workers, replicas) on one database.
    Mark the test ``integration``.
    """
    yield from _postgres_database(request)


def _postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    # imported here, not at the top: see the module docstring
    from sqlalchemy.engine import make_url

    base_url: str = request.getfixturevalue("postgres_url")
    admin: Engine = request.getfixturevalue("_postgres_admin")
    pg_template: str | None = request.getfixturevalue("_postgres_template")
    if pg_template is None:
        yield from _migrated_schema(base_url, admin)
        return
    name = f"test_{uuid.uuid4().hex[:12]}"
    _autocommit(admin, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    try:
        yield make_url(base_url).set(database=name).render_as_string(False)
    finally:
        _drop_database(admin, name)


def _migrated_schema(base_url: str, admin: Engine) -> Iterator[str]:
    """A schema of its own, migrated for this test (the way without CREATEDB), dropped after."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.schema import CreateSchema, DropSchema

    from registers.db import migrate

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(CreateSchema(schema))
    # psycopg passes "options" to the server: every connection of this URL sees only the schema
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(DropSchema(schema, cascade=True))
