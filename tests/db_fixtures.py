"""Registers-database fixtures, loaded by the root conftest as a pytest plugin.

Kept out of the root conftest so that it stays a list of service addresses: the migration
machinery (``registers.db`` pulls in Alembic, about a second of imports on a busy machine) is
imported by the first test that asks for a database, not by every run of ``pytest tests/models``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a freshly migrated registers database of each kind (PostgreSQL: a schema of its own, dropped after)."""
    # imported here, not at the top: see the module docstring
    from sqlalchemy.engine import make_url
    from sqlalchemy.schema import CreateSchema, DropSchema

    from registers.db import make_engine, migrate

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
