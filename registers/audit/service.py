"""Writing, reading and verifying the audit trail.

Each entry is written in a short transaction of its own (:func:`record`), committed at once:
a refused or failed request rolls its own transaction back, and the audit row of that very
refusal must survive it. Appends are serialised (a process lock, plus an advisory lock on
PostgreSQL where several API processes share the table) so the chain never forks.
Nothing here deletes entries: retention (等保2.0 L3: at least six months) is unlimited.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text
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
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})
    prev = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)) or GENESIS
    entry = AuditEntry(
        ts=now or utcnow(),
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
    entry.hash = entry_hash(prev, entry)
    session.add(entry)
    session.flush()
    return entry


def record(session_factory: sessionmaker[Session], event: Event, *, now: datetime | None = None) -> None:
    """Append one entry in a transaction of its own and commit it.

    The pooled connection is taken BEFORE the append lock: a request thread that already holds
    a connection may call this and wait for the lock, so a lock holder that then waited for
    the pool could stall every writer until the pool's timeout (seen with 50 concurrent users).
    """
    with session_factory() as session:
        session.connection()
        with _append_lock:
            append(session=session, event=event, now=now)
            session.commit()


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


def verify(*, session: Session, batch: int = 1000) -> Verification:
    """Recompute every hash from the first entry on; report the first mismatch.

    Detects a changed row (its hash no longer matches), a deleted or inserted row (the next
    row's ``prev_hash`` no longer names its predecessor). Keep ``last_hash`` somewhere else
    (a report, a ticket) to also detect a cut-off tail.
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
