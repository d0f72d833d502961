"""The audit chain's format and its single line across API processes (the advisory lock).

The hash's canonical form is what ``safetwin audit verify`` recomputes on trails written by
every earlier release, so it is pinned here against the formula spelled out in full; and
several processes, each with its own group-commit writer, must still append one chain.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from registers.audit import service as audit
from registers.audit.models import AuditEntry
from registers.db import make_engine, make_session_factory


@pytest.fixture
def factory(database_url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(database_url))


def _reference_hash(prev: str, entry: AuditEntry) -> str:
    """The chain's hash as every release so far computed it."""
    fields = [entry.actor, entry.roles, entry.ip, entry.action, entry.object_type, entry.object_id]
    body = json.dumps(
        [prev, entry.ts.astimezone(UTC).isoformat(timespec="microseconds"), *fields, entry.result, entry.detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def test_entry_hash_keeps_the_canonical_form() -> None:
    shanghai = timezone(timedelta(hours=8))
    entry = AuditEntry(
        ts=datetime(2026, 12, 3, 8, 0, 0, 123456, tzinfo=shanghai),
        actor="张三",
        roles="operator,auditor",
        ip="10.0.0.1",
        action="update",
        object_type="permits",
        object_id='/api/v1/permits/7?"x"',
        result="success",
        detail="PATCH /api/v1/permits/7 -> 200; 动火\n",
    )
    assert audit.entry_hash(audit.GENESIS, entry) == _reference_hash(audit.GENESIS, entry)


def test_written_rows_carry_the_reference_hash_and_clipped_fields(factory: sessionmaker[Session]) -> None:
    events = [
        audit.Event(actor="", action="update", roles=("a", "b"), ip="::1", object_id="/x", detail="=1"),
        audit.Event(actor="b" * 100, action="approve", result="weird", object_type="permits", detail="d" * 2000),
    ]
    stamp = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    audit.record(factory, events[0], now=stamp)
    audit.record(factory, events[1])
    with factory() as session:
        rows = list(session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    assert [(r.actor, r.roles, r.ip, r.result) for r in rows] == [
        ("-", "a,b", "::1", "success"),
        ("b" * 63 + "…", "", "", "failure"),
    ]
    assert rows[0].ts == stamp
    assert len(rows[1].detail) == 1000
    prev = audit.GENESIS
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == _reference_hash(prev, row)
        prev = row.hash


def test_append_in_the_callers_transaction_links_to_the_head(factory: sessionmaker[Session]) -> None:
    audit.record(factory, audit.Event(actor="a", action="update"))
    with factory() as session:
        entry = audit.append(session=session, event=audit.Event(actor="b", action="delete"))
        audit.append_many(session=session, events=[(audit.Event(actor="c", action="create"), None)])
        session.commit()
        result = audit.verify(session=session)
    assert entry.id is not None
    assert result.ok
    assert result.checked == 3


def _write_from_a_process(url: str, worker: int, count: int) -> None:
    """One API process: its own engine and writer, four request threads."""
    factory = make_session_factory(make_engine(url))

    def write(thread: int) -> None:
        for i in range(count):
            audit.record(factory, audit.Event(actor=f"p{worker}", action="update", object_id=f"{thread}/{i}"))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.integration
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # processes share a trail on PostgreSQL
def test_processes_writing_at_once_keep_one_chain(database_url: str, factory: sessionmaker[Session]) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_from_a_process, args=(database_url, w, 15)) for w in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    with factory() as session:
        result = audit.verify(session=session)
        shared = sa.select(AuditEntry.prev_hash).group_by(AuditEntry.prev_hash).having(sa.func.count() > 1)
        forks = session.scalar(sa.select(sa.func.count()).select_from(shared.subquery()))
    assert result.ok
    assert result.checked == 3 * 4 * 15
    assert forks == 0
