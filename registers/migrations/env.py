"""Alembic environment of the registers database.

Two ways in:

* ``registers.db.migrate(url)`` (start-up, tests) passes an open connection in
  ``config.attributes["connection"]`` and owns the transaction;
* the ``alembic`` command (``alembic -c registers/alembic.ini revision --autogenerate -m ...``)
  takes the URL from ``-x url=...``, else from ``sqlalchemy.url``, else from Settings.

SQLite cannot ALTER most things, so on SQLite operations are rendered as batch operations
(copy-and-move of the table); PostgreSQL gets plain ALTERs.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

import registers.alarms.models  # noqa: F401 - registers the tables on Base.metadata
import registers.audit.models  # noqa: F401
import registers.certificates.models  # noqa: F401
import registers.contractors.models  # noqa: F401
import registers.dual_prevention.models  # noqa: F401
import registers.equipment.models  # noqa: F401
import registers.framework.models  # noqa: F401
import registers.hazard_sources.models  # noqa: F401
import registers.hidden_hazards.models  # noqa: F401
import registers.inspections.models  # noqa: F401
import registers.notifications.models  # noqa: F401
import registers.people.models  # noqa: F401
import registers.permits.models  # noqa: F401
import registers.process.models  # noqa: F401
import registers.risk_warnings.models  # noqa: F401
import registers.training.models  # noqa: F401
import registers.users.models  # noqa: F401 - registers the tables on Base.metadata
from registers.db import Base, make_engine

# Import every domain's models above, so that autogenerate sees their tables.

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    url = url or config.get_main_option("sqlalchemy.url")
    if url:
        return str(url)
    # The alembic CLI is an entry point of its own; registers may not import api's settings.
    env_url = os.environ.get("SAFETWIN_DATABASE_URL")
    data_dir = os.environ.get("SAFETWIN_DATA_DIR", "var")
    return env_url or f"sqlite:///{data_dir}/safetwin.db"


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) instead of running it."""
    url = _database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live database, reusing the caller's connection when there is one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_database_url())
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
