"""Writes sent together in one round trip land exactly as ``session.execute`` would write them.

``registers.db.execute_pipelined`` sends a permit move's writes (the ticket, its step, its
history row) in psycopg's pipeline mode on PostgreSQL and one by one elsewhere. What a user
would notice if it went wrong: a history entry whose changes or time differ from the same
entry written the plain way, a write outside the request's transaction (kept after a refusal
rolled the rest back), or a failed write reported as anything but a database error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from registers.db import execute_pipelined, make_engine, make_session_factory
from registers.framework.models import RecordVersion
from registers.permits.service import permits

CHANGES: dict[str, Any] = {"status": ["草稿", "审批中"], "risks": ["火灾", "爆炸"], "note": "含 \"引号\" 与 '单引号'"}


def _entries(session: Session, record_id: int) -> list[tuple[Any, ...]]:
    table = RecordVersion.__table__
    rows = session.execute(
        select(table.c.register, table.c.version, table.c.action, table.c.actor, table.c.at, table.c.changes)
        .where(table.c.record_id == record_id)
        .order_by(table.c.version)
    )
    return [tuple(row) for row in rows]


@pytest.fixture
def session_factory(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_pipelined_entries_read_back_as_the_plain_ones(session_factory) -> None:  # type: ignore[no-untyped-def]
    at = datetime(2026, 12, 5, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))  # plant time, +08:00
    with session_factory.begin() as session:
        for record_id, send in ((1, "plain"), (2, "pipelined")):
            statement, first = permits.history_entry(record_id, 1, "提交", "张工", CHANGES)
            second = {**first, "version": 2, "action": "签发", "actor": None, "changes": {}}
            first["at"] = second["at"] = at
            if send == "plain":
                session.execute(statement, first)
                session.execute(statement, second)
            else:
                execute_pipelined(session, [(statement, first), (statement, second)])
    with session_factory() as session:
        plain, pipelined = _entries(session, 1), _entries(session, 2)
    assert pipelined == plain
    assert [row[1:4] for row in pipelined] == [(1, "提交", "张工"), (2, "签发", None)]
    assert pipelined[0][4] == at.astimezone(UTC)  # stored as UTC, read back aware
    assert pipelined[0][5] == CHANGES


def test_the_writes_are_part_of_the_callers_transaction(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        statement, entry = permits.history_entry(3, 1, "提交", "张工", CHANGES)
        execute_pipelined(session, [(statement, entry), (statement, {**entry, "version": 2})])
        assert len(_entries(session, 3)) == 2  # visible to the transaction that wrote them
        session.rollback()
    with session_factory() as session:
        assert _entries(session, 3) == []  # a refused request's rollback takes them back


def test_a_failed_write_raises_a_database_error_and_nothing_of_the_batch_is_kept(session_factory) -> None:  # type: ignore[no-untyped-def]
    statement, entry = permits.history_entry(4, 1, "提交", "张工", CHANGES)
    with session_factory() as session:
        duplicate = {**entry, "changes": {"again": True}}  # the same (register, record, version)
        third = {**entry, "version": 3}
        with pytest.raises(DBAPIError) as raised:
            execute_pipelined(session, [(statement, entry), (statement, duplicate), (statement, third)])
        assert isinstance(raised.value, IntegrityError)  # what session.execute raises for it
        session.rollback()
        assert _entries(session, 4) == []
