"""A pooled PostgreSQL connection that died while idle is replaced before a request uses it.

``registers.db`` pings only connections that sat in the pool for ``PING_IDLE_S`` (instead of
SQLAlchemy's ``pool_pre_ping`` at every checkout, a round trip per request); a database
restart or a firewall's idle timeout must still not reach the first request after it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from registers import db

pytestmark = pytest.mark.integration


def _kill_pooled_connection(engine: sa.Engine, admin: sa.Engine) -> int:
    with engine.connect() as conn:  # checked out, used, back to the pool
        pid = int(conn.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
    with admin.connect() as conn:
        assert conn.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return pid


def test_a_connection_killed_while_idle_is_replaced(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PING_IDLE_S", 0.0)  # every connection back in the pool counts as idle
    engine = db.make_engine(postgres_url, pool_size=1, max_overflow=0)
    admin = db.make_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        killed = _kill_pooled_connection(engine, admin)
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT pg_backend_pid()")) != killed  # a fresh connection
    finally:
        engine.dispose()
        admin.dispose()


def test_a_connection_back_in_the_pool_moments_ago_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side of the trade: no round trip for a busy pool, so a just-killed connection fails once."""
    monkeypatch.setattr(db, "PING_IDLE_S", 3600.0)
    engine = db.make_engine(postgres_url, pool_size=1, max_overflow=0)
    admin = db.make_engine(postgres_url, poolclass=sa.pool.NullPool)
    try:
        _kill_pooled_connection(engine, admin)
        with pytest.raises(exc.OperationalError), engine.connect() as conn:
            conn.scalar(sa.text("SELECT 1"))
        with engine.connect() as conn:  # the failure invalidated the pool: the next one works
            assert conn.scalar(sa.text("SELECT 1")) == 1
    finally:
        engine.dispose()
        admin.dispose()
