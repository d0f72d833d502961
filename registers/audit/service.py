"""Writing, reading and verifying the audit trail.

Each entry is written in a transaction apart from the request's (:func:`record`), committed
before ``record`` returns: a refused or failed request rolls its own transaction back, and the
audit row of that very refusal must survive it. Appends are serialised (a process lock, plus an
advisory lock on PostgreSQL where several API processes share the table) so the chain never
forks.

Under load the entries of concurrent requests are written by group commit: a writer thread
per session factory appends every entry queued meanwhile in ONE transaction (one lock, one
read of the chain's head, one insert), while the callers wait for that commit (a thread on
a future, a request on its event loop). A chain that takes one transaction per entry
serialises every changing request of the process behind a few database round trips each; in
batches the chain costs about one transaction per burst.
Nothing here deletes entries: retention (等保2.0 L3: at least six months) is unlimited.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from registers.audit.models import AuditEntry
from registers.db import utcnow

GENESIS = "0" * 64
_ADVISORY_KEY = 0x5AFE_A0D17
_append_lock = threading.Lock()

RESULTS = ("success", "failure", "denied")
_FIELD_LIMITS = {"actor": 64, "roles": 255, "ip": 64, "action": 32, "object_type": 64, "object_id": 255}


@dataclass(frozen=True)
class Event:
    """What to audit; ``record`` adds the time and the chain."""

    actor: str
    action: str
    result: str = "success"
    object_type: str = ""
    object_id: str = ""
    roles: Iterable[str] = ()
    ip: str = ""
    detail: str = ""


def _ts_text(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


# One encoder for every hash: ``json.dumps`` with options builds a new encoder per call.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _digest(prev_hash: str, ts: datetime, fields: Sequence[str]) -> str:
    """The chain's hash over ``prev_hash``, the time and ``fields`` in :data:`_HASHED` order."""
    body = _CANONICAL([prev_hash, _ts_text(ts), *fields])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


# The hashed text fields, in the order of the canonical form (after prev_hash and ts).
_HASHED = ("actor", "roles", "ip", "action", "object_type", "object_id", "result", "detail")


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    """SHA-256 of the previous hash and the row's fields in a fixed, canonical form."""
    return _digest(prev_hash, entry.ts, [getattr(entry, name) for name in _HASHED])


def _clip(name: str, value: str) -> str:
    limit = _FIELD_LIMITS.get(name, 1000)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def append(*, session: Session, event: Event, now: datetime | None = None) -> AuditEntry:
    """Append one entry in ``session`` (the caller commits, and must hold the append lock).

    Prefer :func:`record`, which takes the locks and commits; this is for callers that must
    write the entry in the same transaction as the change it describes.
    """
    entry = AuditEntry(**_chain(session.connection(), [(event, now)])[0])
    session.add(entry)
    session.flush()
    return entry


def append_many(*, session: Session, events: Sequence[tuple[Event, datetime | None]]) -> None:
    """Append entries in order in ``session``: one lock, one read of the head, one insert.

    The caller commits and must hold the append lock (see :func:`append`).
    """
    _append_rows(session.connection(), events)


_TABLE = cast(Table, AuditEntry.__table__)
# Built once: a Core insert on the connection, not the ORM's bulk insert (which sets up a
# unit of work per batch and cost more than the round trips).
_INSERT = insert(_TABLE)
_HEAD = select(_TABLE.c.hash).order_by(_TABLE.c.id.desc()).limit(1)
_HEAD_SQL = f"SELECT hash FROM {_TABLE.name} ORDER BY id DESC LIMIT 1"  # noqa: S608 - constants only
_LOCK_SQL = f"SELECT pg_advisory_xact_lock({_ADVISORY_KEY})"


def _append_rows(connection: Connection, events: Sequence[tuple[Event, datetime | None]]) -> None:
    """Lock the chain, link ``events`` to its head and insert them (the caller commits)."""
    connection.execute(_INSERT, _chain(connection, events))


def _locked_head(connection: Connection) -> str:
    """The chain's last hash; on PostgreSQL after taking the advisory lock, held until commit.

    The lock and the read must stay two statements: in READ COMMITTED a statement's snapshot
    is taken when it starts, so a read in the lock's own statement could miss the entries of
    the writer it waited for and fork the chain. On PostgreSQL they go to the driver as they
    are (no parameters, nothing to convert), with psycopg in one pipeline: BEGIN, lock and
    read in one round trip instead of three, each still run after the one before.
    """
    if connection.dialect.name != "postgresql":
        return connection.execute(_HEAD).scalar() or GENESIS
    dbapi: Any = connection.connection.dbapi_connection
    with dbapi.cursor() as cursor:
        if connection.dialect.driver == "psycopg":
            with dbapi.pipeline():
                cursor.execute(_LOCK_SQL)
                cursor.execute(_HEAD_SQL)
        else:
            cursor.execute(_LOCK_SQL)
            cursor.execute(_HEAD_SQL)
        row = cursor.fetchone()
    return row[0] if row else GENESIS


def _chain(connection: Connection, events: Sequence[tuple[Event, datetime | None]]) -> list[dict[str, object]]:
    """The rows of ``events`` linked to the chain's head (locked on PostgreSQL until commit).

    An event without a time is stamped now, while the lock is held, so times follow the chain.
    """
    prev = _locked_head(connection)
    stamp = utcnow()
    rows: list[dict[str, object]] = []
    for event, now in events:
        fields = (
            _clip("actor", event.actor or "-"),
            _clip("roles", ",".join(event.roles)),
            _clip("ip", event.ip),
            _clip("action", event.action),
            _clip("object_type", event.object_type),
            _clip("object_id", event.object_id),
            event.result if event.result in RESULTS else "failure",
            _clip("detail", event.detail),
        )
        ts = now or stamp
        row: dict[str, object] = dict(zip(_HASHED, fields, strict=True))
        row["ts"], row["prev_hash"] = ts, prev
        prev = row["hash"] = _digest(prev, ts, fields)
        rows.append(row)
    return rows


class AuditWriteError(RuntimeError):
    """The entry could not be written (its cause is chained); the caller reports the gap."""


class _Writer:
    """The audit writer of one session factory: a thread that appends what callers queue, in batches.

    Callers queue an entry and get a future; the thread takes the whole queue, appends it in
    one transaction (one lock, one read of the chain's head, one insert) and settles every
    future of that batch. Only the thread holds a pooled connection, so N waiting requests
    cost one connection, not N (with 50 users, N connections waiting on one lock emptied the
    pool), and no thread of their own: a waiting request is a future on its event loop.

    Under load it lingers: when the batch it just wrote or the one it is about to write holds
    more than one entry, it waits up to :data:`LINGER_S` for more before writing. A chain
    transaction per one or two entries cost an API worker about 1.5 ms of CPU per audited
    request and PostgreSQL 0.4 ms more (bench/permits.py with and without the database write;
    docs/performance.md, session 15); the entries of a changing request are written after its
    response is sent, so the wait is not the user's (a login or a refusal, recorded before its
    response, may wait up to that much longer in a burst). One caller at a time (a test, a
    quiet plant) never waits. A failed batch fails every future in it; the thread writes the next.
    An idle thread ends after :data:`IDLE_S`, and the next entry starts another.
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        # The factory's engine: a batch needs a connection and a transaction, not a Session
        # (no ORM object is involved). Opening a Session does no I/O.
        with session_factory() as session:
            bind = session.get_bind()
        self._engine: Engine = bind if isinstance(bind, Engine) else bind.engine
        self._ready = threading.Condition(threading.Lock())
        self._queue: list[tuple[Event, datetime | None, Future[None]]] = []
        self._running = False
        self._last_batch = 0

    def submit(self, event: Event, now: datetime | None) -> Future[None]:
        """Queue ``event``; the future is settled once its batch is committed (or failed)."""
        written: Future[None] = Future()
        with self._ready:
            self._queue.append((event, now, written))
            if not self._running:
                threading.Thread(target=self._run, name="safetwin-audit-writer", daemon=True).start()
                self._running = True  # not before: a thread that could not start leaves the entry to the next
            elif len(self._queue) == 1 or len(self._queue) >= MAX_BATCH:
                self._ready.notify()  # the writer waits for a first entry, or lingers for a full batch
        return written

    def _next_batch(self) -> list[tuple[Event, datetime | None, Future[None]]]:
        """The queued entries once it is time to write them; empty when idle for IDLE_S (the thread ends)."""
        with self._ready:
            if not self._queue:
                self._ready.wait(IDLE_S)
                if not self._queue:
                    self._running = False
                    return []
            if self._last_batch > 1 or len(self._queue) > 1:  # a burst: let more of it join
                deadline = time.monotonic() + LINGER_S
                while len(self._queue) < MAX_BATCH and (left := deadline - time.monotonic()) > 0:
                    self._ready.wait(left)
            batch, self._queue = self._queue, []
            self._last_batch = len(batch)
            return batch

    def _run(self) -> None:
        while batch := self._next_batch():
            # A caller that stopped waiting (a cancelled request) is not told, but its entry is
            # written all the same; the others can no longer cancel.
            waiting = [written for *_, written in batch if written.set_running_or_notify_cancel()]
            try:
                with self._engine.connect() as connection:  # from the pool before the lock: see the class
                    with _append_lock, connection.begin():  # committed before the lock is released
                        _append_rows(connection, [(event, now) for event, now, _ in batch])
            except BaseException as err:  # noqa: BLE001 - handed to every caller of the batch
                lost = AuditWriteError(f"audit entry not written: {err!r}")
                lost.__cause__ = err
                for written in waiting:
                    written.set_exception(lost)
                if not isinstance(err, Exception):  # KeyboardInterrupt, SystemExit: this thread ends
                    with self._ready:
                        self._running = False  # the next entry starts another, which takes the queue
                    raise
                continue
            for written in waiting:
                written.set_result(None)


# Seconds the writer waits for more entries of a burst; entries per transaction at most; seconds
# an idle writer thread waits for work before it ends.
LINGER_S = 0.05
MAX_BATCH = 500
IDLE_S = 2.0

_writers: weakref.WeakKeyDictionary[sessionmaker[Session], _Writer] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def _writer(session_factory: sessionmaker[Session]) -> _Writer:
    with _writers_lock:
        writer = _writers.get(session_factory)
        if writer is None:
            writer = _writers[session_factory] = _Writer(session_factory)
    return writer


def submit(session_factory: sessionmaker[Session], event: Event) -> Future[None]:
    """Queue one entry; the future completes once it is committed or fails with :class:`AuditWriteError`.

    For callers that must not hold a thread while the entry waits for its batch (the API's
    audit middleware awaits it on the event loop with ``asyncio.wrap_future``).
    """
    return _writer(session_factory).submit(event, None)


def record(session_factory: sessionmaker[Session], event: Event, *, now: datetime | None = None) -> None:
    """Append one entry in a transaction apart from the caller's; return once it is committed.

    Concurrent calls for the same factory share one transaction (see :class:`_Writer`).
    Raises :class:`AuditWriteError` (its cause: what the database raised) if the entry could
    not be written.
    """
    _writer(session_factory).submit(event, now).result()


# --- reading ---------------------------------------------------------------------------------


def query(
    *,
    session: Session,
    actor: str | None = None,
    action: str | None = None,
    result: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[AuditEntry], int]:
    """Entries matching the filters, newest first, and how many match in all."""
    conditions = []
    if actor:
        conditions.append(AuditEntry.actor == actor.strip().lower())
    if action:
        conditions.append(AuditEntry.action == action)
    if result:
        conditions.append(AuditEntry.result == result)
    if since is not None:
        conditions.append(AuditEntry.ts >= since)
    if until is not None:
        conditions.append(AuditEntry.ts < until)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    rows = session.scalars(
        select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc()).offset(offset).limit(limit)
    )
    return list(rows), total


CSV_COLUMNS = ("id", "ts", "actor", "roles", "ip", "action", "object_type", "object_id", "result", "detail", "hash")


def _csv_cell(value: str) -> str:
    # A cell starting with = + - @ is a formula to Excel (CSV injection); quote it as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_csv(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """The entries as CSV text (UTF-8 with BOM so Excel reads the Chinese), one chunk per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for entry in entries:
        buffer.seek(0)
        buffer.truncate()
        row = [str(entry.id), _ts_text(entry.ts)]
        row += [_csv_cell(str(getattr(entry, name))) for name in CSV_COLUMNS[2:]]
        writer.writerow(row)
        yield buffer.getvalue()


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """Result of walking the chain: ``ok`` or the first entry that does not fit."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""
    last_hash: str = GENESIS


def verify(*, session: Session, batch: int = 1000, progress: Callable[[int], None] | None = None) -> Verification:
    """Recompute every hash from the first entry on; report the first mismatch.

    Detects a changed row (its hash no longer matches), a deleted or inserted row (the next
    row's ``prev_hash`` no longer names its predecessor). Keep ``last_hash`` somewhere else
    (a report, a ticket) to also detect a cut-off tail. ``progress`` is told how many entries
    each intact batch added (a long trail takes a while: the CLI shows a bar).
    """
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = list(
            session.scalars(select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch))
        )
        if not rows:
            return Verification(ok=True, checked=checked, last_hash=prev)
        for entry in rows:
            if entry.prev_hash != prev:
                return Verification(False, checked, entry.id, "链断开：前序记录被删除或插入 / chain broken", prev)
            if entry_hash(prev, entry) != entry.hash:
                return Verification(False, checked, entry.id, "记录内容被篡改 / entry altered", prev)
            prev = entry.hash
            checked += 1
            last_id = entry.id
        if progress is not None:
            progress(len(rows))
