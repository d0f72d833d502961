"""The hash-chained audit log on SQLite and PostgreSQL: append, query, verify, tamper evidence."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from registers.audit import service as audit
from registers.audit.models import AuditEntry
from registers.db import make_engine, make_session_factory, utcnow

FIELDS = ("actor", "roles", "ip", "action", "object_type", "object_id", "result", "detail")


@pytest.fixture
def factory(database_url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(database_url))


def _fill(factory: sessionmaker[Session], n: int) -> None:
    for i in range(n):
        event = audit.Event(actor=f"user{i % 3}", action="login" if i % 2 else "delete", object_id=f"/x/{i}")
        audit.record(factory, event)


def _without_guard(session: Session) -> None:
    """What an attacker with database rights does first: drop the append-only triggers."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("DROP TRIGGER audit_log_append_only ON audit_log"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_log_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_log_no_delete"))


def test_a_fresh_chain_verifies_and_links_every_entry(factory: sessionmaker[Session]) -> None:
    _fill(factory, 6)
    with factory() as session:
        result = audit.verify(session=session)
        rows = list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    assert result.ok
    assert result.checked == 6
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert result.last_hash == rows[-1].hash


def test_the_database_refuses_updates_and_deletes(factory: sessionmaker[Session]) -> None:
    _fill(factory, 2)
    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with factory() as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(sa.text(statement))
            session.flush()


def test_an_altered_entry_is_detected(factory: sessionmaker[Session]) -> None:
    _fill(factory, 5)
    with factory.begin() as session:
        _without_guard(session)
        session.execute(sa.text("UPDATE audit_log SET actor = 'someone_else' WHERE id = 3"))
    with factory() as session:
        result = audit.verify(session=session)
    assert not result.ok
    assert result.first_bad_id == 3
    assert result.checked == 2
    assert "篡改" in result.reason


def test_a_deleted_entry_is_detected(factory: sessionmaker[Session]) -> None:
    _fill(factory, 5)
    with factory.begin() as session:
        _without_guard(session)
        session.execute(sa.text("DELETE FROM audit_log WHERE id = 2"))
    with factory() as session:
        result = audit.verify(session=session)
    assert not result.ok
    assert result.first_bad_id == 3


def test_concurrent_writers_never_fork_the_chain(factory: sessionmaker[Session]) -> None:
    def write(worker: int) -> None:
        for i in range(10):
            audit.record(factory, audit.Event(actor=f"w{worker}", action="update", object_id=str(i)))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with factory() as session:
        result = audit.verify(session=session)
    assert result.ok
    assert result.checked == 60


def test_query_filters_and_pages_newest_first(factory: sessionmaker[Session]) -> None:
    start = utcnow()
    _fill(factory, 9)
    with factory() as session:
        rows, total = audit.query(session=session, actor="USER1", limit=2)
        assert total == 3
        assert [r.object_id for r in rows] == ["/x/7", "/x/4"]
        _, logins = audit.query(session=session, action="login")
        assert logins == 4
        _, none = audit.query(session=session, since=start + timedelta(hours=1))
        assert none == 0


def test_csv_export_neutralises_formulas(factory: sessionmaker[Session]) -> None:
    audit.record(factory, audit.Event(actor="x", action="export", detail='=HYPERLINK("http://evil")'))
    with factory() as session:
        rows, _ = audit.query(session=session)
        text = "".join(audit.export_csv(rows))
    assert text.startswith("\ufeffid,ts,actor")
    assert "'=HYPERLINK" in text


def test_overlong_fields_are_clipped_not_refused(factory: sessionmaker[Session]) -> None:
    audit.record(factory, audit.Event(actor="a" * 300, action="x" * 100, object_id="/" * 1000, result="odd"))
    with factory() as session:
        entry = session.scalars(sa.select(AuditEntry)).one()
        assert len(entry.actor) == 64
        assert entry.result == "failure"  # an unknown result is never recorded as success
        assert audit.verify(session=session).ok


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    index=st.integers(min_value=0, max_value=3),
    field=st.sampled_from(FIELDS),
    value=st.text(min_size=1, max_size=20),
)
def test_any_change_to_any_field_breaks_the_hash(index: int, field: str, value: str) -> None:
    """Pure: recomputing the hash of a modified entry never gives its recorded hash."""
    entries = []
    prev = audit.GENESIS
    for i in range(4):
        entry = AuditEntry(ts=utcnow(), actor=f"u{i}", roles="operator", ip="10.0.0.1", action="login")
        entry.object_type, entry.object_id, entry.result, entry.detail = "session", "", "success", ""
        entry.prev_hash = prev
        entry.hash = audit.entry_hash(prev, entry)
        prev = entry.hash
        entries.append(entry)
    target = entries[index]
    original = getattr(target, field)
    if value == original:
        value += "!"
    setattr(target, field, value)
    assert audit.entry_hash(target.prev_hash, target) != target.hash


def test_concurrent_entries_share_transactions_and_keep_their_order(factory: sessionmaker[Session]) -> None:
    """Group commit: 40 requests auditing at once cost fewer transactions than entries, chain intact."""
    commits: list[int] = []
    engine = factory.kw["bind"]
    sa.event.listen(engine, "commit", lambda _conn: commits.append(1))
    start = threading.Barrier(40)

    def write(worker: int) -> None:
        start.wait()
        for i in range(3):
            audit.record(factory, audit.Event(actor=f"w{worker}", action="update", object_id=f"{worker}/{i}"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with factory() as session:
        result = audit.verify(session=session)
        rows = list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    assert result.ok
    assert result.checked == 120
    assert len(commits) < 120  # without batching: one transaction per entry
    for worker in range(40):  # each caller's entries in the order it recorded them
        mine = [r.object_id for r in rows if r.actor == f"w{worker}"]
        assert mine == [f"{worker}/{i}" for i in range(3)]
    assert all(a.ts <= b.ts for a, b in zip(rows, rows[1:], strict=False))


def test_a_failed_batch_fails_every_caller_in_it_and_the_next_batch_is_written(
    factory: sessionmaker[Session],
) -> None:
    """A lost entry is reported to its own caller (never silently dropped), and the writer recovers."""
    engine = factory.kw["bind"]
    fail = threading.Event()
    fail.set()

    def refuse(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if fail.is_set() and statement.lstrip().upper().startswith("INSERT INTO AUDIT_LOG"):
            msg = "disk full"
            raise RuntimeError(msg)

    sa.event.listen(engine, "before_cursor_execute", refuse)
    with pytest.raises(audit.AuditWriteError, match="disk full"):
        audit.record(factory, audit.Event(actor="x", action="update"))
    fail.clear()
    audit.record(factory, audit.Event(actor="y", action="update"))
    with factory() as session:
        rows = list(session.scalars(sa.select(AuditEntry)))
        assert [r.actor for r in rows] == ["y"]
        assert audit.verify(session=session).ok


def test_an_entry_whose_caller_stopped_waiting_is_written_all_the_same(factory: sessionmaker[Session]) -> None:
    """A request cancelled while its entry waits (client gone, shutdown) still leaves its trace."""
    from registers.audit.service import _append_lock

    with _append_lock:  # the writer takes the first entry, then waits here for the chain
        first = audit.submit(factory, audit.Event(actor="first", action="update"))
        deadline = time.monotonic() + 10
        while not first.running() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.running()  # taken by the writer: no longer cancellable
        gone = audit.submit(factory, audit.Event(actor="gone", action="update"))
        assert gone.cancel()  # still queued: its caller stops waiting
    first.result(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with factory() as session:
            actors = list(session.scalars(sa.select(AuditEntry.actor).order_by(AuditEntry.id)))
            if len(actors) == 2:  # noqa: PLR2004
                break
        time.sleep(0.05)
    assert actors == ["first", "gone"]
    audit.submit(factory, audit.Event(actor="after", action="update")).result(timeout=10)  # the writer goes on
    with factory() as session:
        assert audit.verify(session=session).checked == 3  # noqa: PLR2004
