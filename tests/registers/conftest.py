"""Register databases for tests: every register test runs on SQLite and on PostgreSQL.

PostgreSQL tests get a fresh schema each (dropped afterwards), so they can run against a
shared server; under CI=true a missing server fails them instead of skipping.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from registers.db import make_engine, make_session_factory


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        yield session
        session.rollback()
    engine.dispose()


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory of its own, for tests that run several sessions at once (races)."""
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()
