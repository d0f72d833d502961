"""Writes sent together and reads sent straight to the driver land and read back as ``session.execute``'s.

``registers.db.execute_together`` sends a permit move's writes (the ticket, its step, its
history row) as one statement on PostgreSQL (the first ones as ``WITH`` parts of the last) and
one by one elsewhere; ``registers.db.fetch_rows`` runs a move's small reads through the
session's psycopg connection. What a user would notice if it went wrong: a history entry whose
changes or time differ from the same entry written the plain way, a write outside the request's
transaction (kept after a refusal rolled the rest back), a failed write reported as anything
but a database error, two changes of one row of which only one was kept, or a read that sees
other values (naive times, JSON as text, a row written in the request missing) than the ORM.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, column, select, table, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from registers.db import (
    _KEPT_CURSOR,
    _combined,
    execute_together,
    fetch_rows,
    make_engine,
    make_session_factory,
    reads_outside_transaction,
    server_transaction_open,
)
from registers.framework.models import RecordVersion
from registers.permits.demo import ensure_crew
from registers.permits.models import Permit, PermitStep
from registers.permits.schemas import JobPlanIn
from registers.permits.service import permits, plan_job

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


def test_entries_written_together_read_back_as_the_plain_ones(session_factory) -> None:  # type: ignore[no-untyped-def]
    at = datetime(2026, 12, 5, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))  # plant time, +08:00
    with session_factory.begin() as session:
        for record_id, send in ((1, "plain"), (2, "together")):
            statement, first = permits.history_entry(record_id, 1, "提交", "张工", CHANGES)
            second = {**first, "version": 2, "action": "签发", "actor": None, "changes": {}}
            first["at"] = second["at"] = at
            if send == "plain":
                session.execute(statement, first)
                session.execute(statement, second)
            else:
                execute_together(session, [(statement, first), (statement, second)])
    with session_factory() as session:
        plain, together = _entries(session, 1), _entries(session, 2)
    assert together == plain
    assert [row[1:4] for row in together] == [(1, "提交", "张工"), (2, "签发", None)]
    assert together[0][4] == at.astimezone(UTC)  # stored as UTC, read back aware
    assert together[0][5] == CHANGES


def test_one_entry_sent_alone_reads_back_as_the_plain_one(session_factory) -> None:  # type: ignore[no-untyped-def]
    # a register's create or update writes one history row this way (record_history)
    at = datetime(2026, 12, 5, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    with session_factory.begin() as session:
        for record_id, send in ((21, "plain"), (22, "alone")):
            statement, entry = permits.history_entry(record_id, 1, "修改", "张工", CHANGES)
            entry["at"] = at
            if send == "plain":
                session.execute(statement, entry)
            else:
                execute_together(session, [(statement, entry)])
        if session.get_bind().dialect.driver == "psycopg":  # sent as the statement itself, no WITH
            combined = _combined(session.get_bind().dialect, [(statement, entry)])
            assert combined is not None
            assert combined[0].startswith("INSERT INTO register_versions")
    with session_factory() as session:
        assert _entries(session, 22) == _entries(session, 21) != []
        duplicate = permits.history_entry(22, 1, "修改", "李工", {})
        with pytest.raises(IntegrityError):  # the same (register, record, version) again
            execute_together(session, [duplicate])
        session.rollback()
        assert _entries(session, 22) == _entries(session, 21)


def test_the_writes_are_part_of_the_callers_transaction(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        statement, entry = permits.history_entry(3, 1, "提交", "张工", CHANGES)
        execute_together(session, [(statement, entry), (statement, {**entry, "version": 2})])
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
            execute_together(session, [(statement, entry), (statement, duplicate), (statement, third)])
        assert isinstance(raised.value, IntegrityError)  # what session.execute raises for it
        session.rollback()
        assert _entries(session, 4) == []


def _ticket(session: Session) -> Permit:
    """A real hot-work ticket, planned the way the API plans one (the demo crew as its people)."""
    start = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    crew = ensure_crew(session=session, today=start.date())
    plan = JobPlanIn.model_validate(
        {
            "title": "管廊补焊",
            "content": "P-201 支架补焊",
            "area": "area-1",
            "planned_start": start,
            "planned_end": start + timedelta(hours=4),
            "chemicals": ["甲烷"],
            "guardian_id": crew.guardian,
            "worker_ids": [crew.welder],
            "tickets": [{"work_type": "动火作业", "grade": "二级", "hot_work_method": "电焊"}],
        }
    )
    (permit,) = plan_job(session=session, data=plan, actor="planner", now=start - timedelta(hours=2))
    return permit


_TICKET = Permit.__table__
_MOVE = update(_TICKET).where(_TICKET.c.id == bindparam("ticket"))
_STEP = PermitStep.__table__.insert()


def test_a_move_shaped_call_writes_the_ticket_its_step_and_its_history(session_factory) -> None:  # type: ignore[no-untyped-def]
    at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    with session_factory.begin() as session:
        permit_id = _ticket(session).id
        history, entry = permits.history_entry(permit_id, 2, "提交", "张工", CHANGES)
        step = {"permit_id": permit_id, "action": "提交", "from_status": "草稿", "to_status": "审批中", "at": at}
        move = {"status": "审批中", "version": 2, "content": "50% 负荷下补焊", "updated_by": "张工", "updated_at": at}
        writes = [
            (_MOVE, {**move, "ticket": permit_id}),
            (_STEP, {**step, "opinion": "LEL 0.1%，合格"}),
            (history, entry),
        ]
        execute_together(session, writes)
        if session.get_bind().dialect.name == "postgresql":  # the move's path: one statement, not the fallback
            assert _combined(session.get_bind().dialect, writes) is not None
    with session_factory() as session:
        ticket = session.get(Permit, permit_id)
        assert ticket is not None
        assert (ticket.status, ticket.version, ticket.content) == ("审批中", 2, "50% 负荷下补焊")
        steps = session.scalars(select(PermitStep).where(PermitStep.permit_id == permit_id).order_by(PermitStep.id))
        assert [(s.action, s.to_status, s.at, s.opinion) for s in steps][-1] == ("提交", "审批中", at, "LEL 0.1%，合格")
        assert [row[1:4] for row in _entries(session, permit_id)][-1] == (2, "提交", "张工")


def test_two_changes_of_one_row_are_both_kept(session_factory) -> None:  # type: ignore[no-untyped-def]
    """Two UPDATEs of one ticket cannot share a statement (PostgreSQL keeps one): they run in turn."""
    at = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    with session_factory.begin() as session:
        permit_id = _ticket(session).id
        execute_together(
            session,
            [
                (_MOVE, {"ticket": permit_id, "status": "审批中", "updated_at": at}),
                (_MOVE, {"ticket": permit_id, "version": 7, "updated_at": at}),
            ],
        )
    with session_factory() as session:
        ticket = session.get(Permit, permit_id)
        assert ticket is not None
        assert (ticket.status, ticket.version) == ("审批中", 7)


def test_a_change_that_leaves_out_updated_at_still_stamps_it(session_factory) -> None:  # type: ignore[no-untyped-def]
    """``updated_at`` is computed by SQLAlchemy (onupdate); left out, the call runs the plain way."""
    with session_factory.begin() as session:
        permit = _ticket(session)
        permit_id, planned_at = permit.id, permit.updated_at
        history, entry = permits.history_entry(permit_id, 2, "提交", "张工", CHANGES)
        execute_together(session, [(_MOVE, {"ticket": permit_id, "status": "审批中"}), (history, entry)])
    with session_factory() as session:
        ticket = session.get(Permit, permit_id)
        assert ticket is not None
        assert ticket.status == "审批中"
        assert ticket.updated_at is not None
        assert planned_at is None or ticket.updated_at >= planned_at


_TICKET_COLUMNS = select(
    _TICKET.c.id,
    _TICKET.c.number,
    _TICKET.c.planned_start,
    _TICKET.c.worker_ids,
    _TICKET.c.details,
    _TICKET.c.x,
    _TICKET.c.gas_required,
    _TICKET.c.status,
)
_BY_ID = _TICKET_COLUMNS.where(_TICKET.c.id == bindparam("ticket"))
_BY_IDS = _TICKET_COLUMNS.where(_TICKET.c.id.in_(bindparam("ids", expanding=True))).order_by(_TICKET.c.id)
_DRAFTS_OR_WORKING = _TICKET_COLUMNS.where(_TICKET.c.status.in_(["草稿", "作业中"])).order_by(_TICKET.c.id)


def test_fetched_rows_equal_the_sessions_rows(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        first, second = _ticket(session), _ticket(session)
        session.execute(_MOVE, {"ticket": second.id, "x": 12.5, "updated_at": datetime.now(UTC)})
        cases = [
            (_BY_ID, {"ticket": first.id}),
            (_BY_IDS, {"ids": [second.id, first.id]}),
            (_BY_IDS, {"ids": []}),
            (_DRAFTS_OR_WORKING, {}),
            (_BY_ID, {"ticket": -1}),
        ]
        for statement, params in cases:
            fetched = fetch_rows(session, statement, params)
            plain = session.execute(statement, params).all()
            assert [tuple(row) for row in fetched] == [tuple(row) for row in plain], (statement, params)
        (row,) = fetch_rows(session, _BY_ID, {"ticket": second.id})
        assert row.planned_start.tzinfo is not None  # aware, as UtcDateTime hands it back
        assert row.planned_start.utcoffset() == timedelta(0)
        assert row.details == {"hot_work_method": "电焊"}  # JSON read as a dict, not text
        assert row.worker_ids and all(isinstance(worker, int) for worker in row.worker_ids)
        assert (row.x, row.number) == (12.5, second.number)  # by name, as the ORM's rows
        assert [r.id for r in fetch_rows(session, _BY_IDS, {"ids": [second.id, first.id]})] == [first.id, second.id]


def test_a_read_sees_what_the_request_changed_before_it(session_factory) -> None:  # type: ignore[no-untyped-def]
    """Pending ORM changes are flushed first (autoflush), so a read never misses them."""
    with session_factory() as session:
        permit = _ticket(session)
        permit.status = "作业中"  # changed on the object, not yet flushed
        (row,) = fetch_rows(session, _BY_ID, {"ticket": permit.id})
        assert row.status == "作业中"
        session.rollback()


_MISSING = select(column("id")).select_from(table("no_such_register")).where(column("id") == bindparam("ticket"))


def test_a_failed_read_raises_a_database_error(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        _ticket(session)
        with pytest.raises(DBAPIError):
            fetch_rows(session, _MISSING, {"ticket": 1})
        session.rollback()
        assert fetch_rows(session, _BY_ID, {"ticket": -1}) == []  # the session goes on after the rollback


_ENTRY_COUNT = select(column("id")).select_from(table("register_versions"))


def test_reads_outside_a_transaction_leave_the_requests_writes_in_one(session_factory) -> None:  # type: ignore[no-untyped-def]
    """The user look-up runs in autocommit; what the request writes afterwards must still roll back.

    And a session that read or wrote in a transaction after it has that transaction to commit.
    """
    with session_factory() as session:
        assert server_transaction_open(session) is False  # never used
        with reads_outside_transaction(session):
            assert fetch_rows(session, _ENTRY_COUNT) == []
        statement, entry = permits.history_entry(4, 1, "提交", "张工", CHANGES)
        session.execute(statement, entry)
        assert server_transaction_open(session)
        session.rollback()  # a refused request
    with session_factory() as session:
        assert _entries(session, 4) == []
        assert server_transaction_open(session)  # a read in a transaction: COMMIT it
        with reads_outside_transaction(session):  # already in one: the read stays in it
            fetch_rows(session, _ENTRY_COUNT)
        assert server_transaction_open(session)
        session.rollback()


def test_a_session_read_outside_a_transaction_closes_without_a_commit(session_factory, database_url) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        with reads_outside_transaction(session):
            fetch_rows(session, _ENTRY_COUNT)
        if database_url.startswith("postgresql"):
            dbapi = session.connection().connection.dbapi_connection
            assert dbapi.info.transaction_status == dbapi.info.transaction_status.IDLE
            assert dbapi.autocommit is False  # the request's next statement opens a transaction
            assert not server_transaction_open(session)
        else:  # SQLite reads in its transaction as before, and commits it
            assert server_transaction_open(session)
        session.close()


def test_one_cursor_per_connection_and_a_fresh_one_after_the_connection_is_lost(session_factory, database_url) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL reads reuse one cursor per driver connection: rows already read stay as read,
    a failed read leaves it usable, and a lost connection gets a new one on the next read.
    SQLite reads go through ``session.execute`` and keep none."""
    if not database_url.startswith("postgresql"):
        with session_factory() as session:
            ticket = _ticket(session).id
            assert [r.id for r in fetch_rows(session, _BY_ID, {"ticket": ticket})] == [ticket]
            assert _KEPT_CURSOR not in session.connection().connection.info
        return
    with session_factory() as session:
        first_id, second_id = _ticket(session).id, _ticket(session).id
        session.commit()
        before = fetch_rows(session, _BY_ID, {"ticket": first_id})
        kept = session.connection().connection.info[_KEPT_CURSOR]
        after = fetch_rows(session, _BY_ID, {"ticket": second_id})
        assert session.connection().connection.info[_KEPT_CURSOR] is kept
        assert [r.id for r in before] == [first_id]  # the next read did not touch the first's rows
        assert [r.id for r in after] == [second_id]
        with pytest.raises(DBAPIError):
            fetch_rows(session, _MISSING, {"ticket": 1})
        session.rollback()
        assert [r.id for r in fetch_rows(session, _BY_ID, {"ticket": first_id})] == [first_id]
        session.connection().invalidate()  # the connection is lost (a restart of the server, a network cut)
        session.rollback()
        assert [r.id for r in fetch_rows(session, _BY_ID, {"ticket": second_id})] == [second_id]
        assert session.connection().connection.info[_KEPT_CURSOR] is not kept
    with session_factory() as a, session_factory() as b:  # two requests at once: two connections, two cursors
        fetch_rows(a, _BY_ID, {"ticket": first_id})
        fetch_rows(b, _BY_ID, {"ticket": first_id})
        assert a.connection().connection.info[_KEPT_CURSOR] is not b.connection().connection.info[_KEPT_CURSOR]
