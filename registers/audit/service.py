"""Writing, reading and verifying the audit trail.

Each entry is written in a transaction apart from the request's (:func:`record`), committed
before ``record`` returns: a refused or failed request rolls its own transaction back, and the
audit row of that very refusal must survive it. Appends are serialised (a process lock, plus an
advisory lock on PostgreSQL where several API processes share the table) so the chain never
forks.

Under load the entries of concurrent requests are written by group commit: the first caller
becomes the writer and appends every entry queued meanwhile in ONE transaction (one lock, one
read of the chain's head, one insert), while the others wait for that commit. A chain that
takes one transaction per entry serialises every changing request of the process behind a
few database round trips each; in batches the chain costs about one transaction per burst.
Nothing here deletes entries: retention (等保2.0 L3: at least six months) is unlimited.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, text
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


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    """SHA-256 of the previous hash and the row's fields in a fixed, canonical form."""
    body = json.dumps(
        [
            prev_hash,
            _ts_text(entry.ts),
            entry.actor,
            entry.roles,
            entry.ip,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.result,
            entry.detail,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _clip(name: str, value: str) -> str:
    limit = _FIELD_LIMITS.get(name, 1000)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def append(*, session: Session, event: Event, now: datetime | None = None) -> AuditEntry:
    """Append one entry in ``session`` (the caller commits, and must hold the append lock).

    Prefer :func:`record`, which takes the locks and commits; this is for callers that must
    write the entry in the same transaction as the change it describes.
    """
    entry = AuditEntry(**_chain(session, [(event, now)])[0])
    session.add(entry)
    session.flush()
    return entry


def append_many(*, session: Session, events: Sequence[tuple[Event, datetime | None]]) -> None:
    """Append entries in order in ``session``: one lock, one read of the head, one insert.

    The caller commits and must hold the append lock (see :func:`append`). Written with one
    multi-row INSERT rather than through the unit of work, which cost more than the round trips.
    """
    session.execute(insert(AuditEntry), _chain(session, events))


def _chain(session: Session, events: Sequence[tuple[Event, datetime | None]]) -> list[dict[str, object]]:
    """The rows of ``events`` linked to the chain's head (locked on PostgreSQL until commit).

    An event without a time is stamped now, while the lock is held, so times follow the chain.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})
    prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    stamp = utcnow()
    rows: list[dict[str, object]] = []
    for event, now in events:
        entry = AuditEntry(
            ts=now or stamp,
            actor=_clip("actor", event.actor or "-"),
            roles=_clip("roles", ",".join(event.roles)),
            ip=_clip("ip", event.ip),
            action=_clip("action", event.action),
            object_type=_clip("object_type", event.object_type),
            object_id=_clip("object_id", event.object_id),
            result=event.result if event.result in RESULTS else "failure",
            detail=_clip("detail", event.detail),
            prev_hash=prev,
        )
        prev = entry_hash(prev, entry)
        rows.append({name: getattr(entry, name) for name in _COLUMNS} | {"hash": prev})
    return rows


_COLUMNS = ("ts", "actor", "roles", "ip", "action", "object_type", "object_id", "result", "detail", "prev_hash")


class AuditWriteError(RuntimeError):
    """The entry could not be written (its cause is chained); the caller reports the gap."""


class _Pending:
    """One queued entry and how its caller is woken: written, failed, or asked to write."""

    __slots__ = ("error", "event", "lead", "now", "woken")

    def __init__(self, event: Event, now: datetime | None) -> None:
        self.event, self.now = event, now
        self.woken = threading.Event()
        self.lead = False
        self.error: BaseException | None = None


class _GroupCommit:
    """The audit writer of one session factory: entries queued meanwhile go in one transaction.

    A caller queues its entry; if no batch is being written it becomes the writer: it takes the
    whole queue, appends it in one transaction and wakes the callers of that batch. Then it
    hands the pen to the first caller queued meanwhile, so no request writes more than one
    batch. Only the writer holds a pooled connection, so N waiting requests cost one
    connection, not N (with 50 users, N connections waiting on one lock emptied the pool).
    A failed batch fails every caller in it, each of which reports the loss.
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._writing = False

    def record(self, event: Event, now: datetime | None) -> None:
        mine = _Pending(event, now)
        with self._lock:
            self._queue.append(mine)
            mine.lead = not self._writing
            self._writing = True
        if not mine.lead:
            mine.woken.wait()
        if mine.lead:  # first, or handed the pen: this entry is still queued
            self._write_one_batch()
        if mine.error is not None:
            msg = f"audit entry not written: {mine.error!r}"
            raise AuditWriteError(msg) from mine.error

    def _write_one_batch(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        error: BaseException | None = None
        try:
            with self._factory() as session:
                session.connection()  # from the pool before the lock: see record()'s history
                with _append_lock:
                    append_many(session=session, events=[(p.event, p.now) for p in batch])
                    session.commit()
        except BaseException as err:  # noqa: BLE001 - handed to every caller of the batch
            error = err
        for pending in batch:
            pending.error = error
            pending.lead = False
        with self._lock:
            heir = self._queue[0] if self._queue else None  # queued meanwhile: writes the next batch
            if heir is None:
                self._writing = False
            else:
                heir.lead = True
        for pending in batch:
            pending.woken.set()
        if heir is not None:
            heir.woken.set()
        if error is not None and not isinstance(error, Exception):
            raise error  # KeyboardInterrupt, SystemExit: in the writer's own thread only


_writers: weakref.WeakKeyDictionary[sessionmaker[Session], _GroupCommit] = weakref.WeakKeyDictionary()
_writers_lock = threading.Lock()


def record(session_factory: sessionmaker[Session], event: Event, *, now: datetime | None = None) -> None:
    """Append one entry in a transaction apart from the caller's; return once it is committed.

    Concurrent calls for the same factory share one transaction (group commit, see
    :class:`_GroupCommit`). Raises what the database raised if the entry could not be written.
    """
    with _writers_lock:
        writer = _writers.get(session_factory)
        if writer is None:
            writer = _writers[session_factory] = _GroupCommit(session_factory)
    writer.record(event, now)


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
