"""Register databases for tests: every register test runs on SQLite and on PostgreSQL.

PostgreSQL tests get a fresh schema each (dropped afterwards), so they can run against a
shared server; under CI=true a missing server fails them instead of skipping.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateSchema, DropSchema

from registers.db import make_engine, make_session_factory, migrate


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a freshly migrated registers database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registers.db'}"
        migrate(url)
        yield url
        return
    base_url: str = request.getfixturevalue("postgres_url")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
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
        admin.dispose()


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        yield session
        session.rollback()
    engine.dispose()
