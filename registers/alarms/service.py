"""Alarm register services: record pipeline events, operator actions, disposal, queries and KPIs.

Services are keyword-only with the session first and only ``flush()``; the caller (a request,
or the runtime's consumer of the ``alarm.event`` stream) commits once. State changes go
through :func:`models.alarm_states.transition`, so the register can never hold a move the
table does not allow, and every move leaves a journal row with who and when.

``record_event`` is idempotent: a replayed stream event (same alarm, trigger and timestamp)
is recognised by the journal's unique key and changes nothing, so at-least-once delivery from
Kafka or Bytewax recovery never doubles an alarm.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, bindparam, case, func, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from models.alarm_states import (
    AlarmCondition,
    AlarmStatus,
    InvalidTransition,
    Trigger,
    is_active,
    is_unacknowledged,
    transition,
)
from models.contracts import AlarmEvent, AlarmPriority
from models.contracts import AlarmState as ProcessState
from registers.alarms.models import Alarm, AlarmAttachment, AlarmComment, AlarmDisposal, AlarmTransition, DisposalStatus
from registers.alarms.schemas import (
    LIST_LINE,
    AlarmKpis,
    ChatteringAlarm,
    FloodPeriod,
    FrequentAlarm,
    PositionLoad,
    StandingAlarm,
)
from registers.db import fetch_rows, reads_outside_transaction, utcnow
from registers.framework.attachments import AttachmentStorage, safe_filename, sniff_content_type

log = logging.getLogger(__name__)

PROCESS_ACTOR: Final = "process"
SYSTEM_ACTOR: Final = "system"

# ISA-18.2 / EEMUA 191 figures used by the KPIs.
CHATTER_WINDOW: Final = timedelta(minutes=1)
CHATTER_COUNT: Final = 3  # 3 annunciations in a minute make an alarm chattering
STANDING_AFTER: Final = timedelta(hours=24)
FLOOD_WINDOW: Final = timedelta(minutes=10)
FLOOD_COUNT: Final = 10  # more than 10 alarms in 10 minutes per operator position
KPI_TARGETS: Final[dict[str, float]] = {
    "per_hour_acceptable": 6.0,  # ~150 per day per position
    "per_hour_manageable": 12.0,  # ~300 per day per position
    "peak_10min_max": 10.0,
    "flood_time_share_max": 0.01,
    "top10_share_max": 0.05,  # in a healthy system the ten worst alarms carry a small share
    "standing_max": 5.0,
    "chattering_max": 0.0,
}

MAX_ATTACHMENT_BYTES: Final = 20 * 1024 * 1024
ALLOWED_ATTACHMENT_SUFFIXES: Final = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".pdf", ".txt", ".csv", ".doc", ".docx", ".xls", ".xlsx", ".mp4"}
)

_PRIORITY_RANK: Final = {p.value: i for i, p in enumerate(AlarmPriority)}  # critical first
# The displayed states in which an activation is annunciated to the operator.
_ANNUNCIATING_FROM: Final = (AlarmStatus.NORMAL.value, AlarmStatus.UNACK_RTN.value)
_UNACKED: Final = (AlarmStatus.UNACK_ACTIVE.value, AlarmStatus.UNACK_RTN.value)
_ACTIVE: Final = (AlarmStatus.UNACK_ACTIVE.value, AlarmStatus.ACK_ACTIVE.value)


class AlarmError(Exception):
    """Base of the alarm register's errors; the API maps each subclass to one status."""


class AlarmNotFound(AlarmError, LookupError):
    """No occurrence with that id: 404."""

    def __init__(self, alarm_pk: int) -> None:
        self.alarm_pk = alarm_pk
        super().__init__(f"报警记录不存在 / alarm record {alarm_pk} not found")


class NotCurrent(AlarmError):
    """A state change asked of an occurrence that a newer one of the same alarm replaced: 409."""

    def __init__(self, alarm: Alarm) -> None:
        super().__init__(
            f"报警记录 {alarm.id} 已是历史记录，请对最新记录操作 / alarm record {alarm.id} is historical: "
            f"{alarm.alarm_id} has a newer occurrence"
        )


class DisposalConflict(AlarmError):
    """A disposal step the disposal's status or the alarm's condition does not allow: 409."""


class AttachmentRefused(AlarmError, ValueError):
    """A file that is too large, empty, or of a type not accepted: 422 (413 when too large)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        self.too_large = too_large
        super().__init__(message)


def ms_to_datetime(ts_ms: int) -> datetime:
    """Epoch milliseconds (stream time) as aware UTC."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


def condition_of(alarm: Alarm) -> AlarmCondition:
    """The state-machine view of a row."""
    return AlarmCondition(
        state=AlarmStatus(alarm.state),
        underlying=AlarmStatus(alarm.underlying_state),
        shelved_until=alarm.shelved_until if alarm.state == AlarmStatus.SHELVED else None,
    )


# --- loading ---------------------------------------------------------------------------------


def get(*, session: Session, alarm_pk: int, for_update: bool = False) -> Alarm:
    """The occurrence with this id; locked for the transaction when it is about to change.

    Raises:
        AlarmNotFound: no such id.
    """
    alarm = session.get(Alarm, alarm_pk, with_for_update=for_update or None)
    if alarm is None:
        raise AlarmNotFound(alarm_pk)
    return alarm


def get_detail(*, session: Session, alarm_pk: int) -> Alarm:
    """The occurrence with its journal, comments, disposal and attachments loaded."""
    stmt = (
        select(Alarm)
        .where(Alarm.id == alarm_pk)
        .options(
            selectinload(Alarm.transitions),
            selectinload(Alarm.comments),
            selectinload(Alarm.disposal),
            selectinload(Alarm.attachments),
        )
    )
    alarm = session.scalar(stmt)
    if alarm is None:
        raise AlarmNotFound(alarm_pk)
    return alarm


def current(*, session: Session, alarm_id: str, for_update: bool = False) -> Alarm | None:
    """The newest occurrence of an alarm (``'{tag}:{kind}'``), or ``None``."""
    stmt = select(Alarm).where(Alarm.alarm_id == alarm_id).order_by(Alarm.id.desc()).limit(1)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def _require_current(session: Session, alarm: Alarm) -> None:
    newest = session.scalar(select(func.max(Alarm.id)).where(Alarm.alarm_id == alarm.alarm_id))
    if newest != alarm.id:
        raise NotCurrent(alarm)


# --- state changes ---------------------------------------------------------------------------


def _apply(
    session: Session,
    alarm: Alarm,
    trigger: Trigger,
    *,
    actor: str,
    ts: datetime,
    comment: str = "",
    until: datetime | None = None,
    source_ts: int | None = None,
) -> AlarmTransition:
    """Run the state machine on a row and write the journal line; the one place rows change state."""
    before = condition_of(alarm)
    after, record = transition(before, trigger, actor=actor, ts=ts, comment=comment, until=until)

    was_active, now_active = is_active(before.underlying), is_active(after.underlying)
    if now_active and not was_active:
        alarm.activation_count += 1
        alarm.last_activated_at = ts
        alarm.returned_at = None
    elif was_active and not now_active:
        alarm.returned_at = ts

    if is_unacknowledged(after.state) and not is_unacknowledged(before.state):
        alarm.unacked_since = ts
    if trigger is Trigger.ACK:
        alarm.acked_at, alarm.acked_by = ts, actor
        if alarm.unacked_since is not None:
            alarm.ack_delay_s = max(0.0, (ts - alarm.unacked_since).total_seconds())
    if not is_unacknowledged(after.state):
        alarm.unacked_since = None

    if after.state is AlarmStatus.SHELVED:
        alarm.shelved_until = after.shelved_until
        if trigger is Trigger.SHELVE:
            alarm.shelved_by, alarm.shelve_reason = actor, comment[:512]
    else:
        alarm.shelved_until = None
    alarm.cleared_at = ts if after.state is AlarmStatus.NORMAL else None
    alarm.state, alarm.underlying_state = after.state.value, after.underlying.value

    row = AlarmTransition(
        alarm_id=alarm.alarm_id,
        trigger=record.trigger.value,
        from_state=record.from_state.value,
        to_state=record.to_state.value,
        actor=actor,
        at=ts,
        source_ts=source_ts,
        area=alarm.area,
        comment=comment,
    )
    row.alarm = alarm  # the back-reference queues the row without loading the whole journal
    session.add(row)
    session.flush()
    return row


def _mark_chattering(session: Session, alarm: Alarm, ts: datetime) -> None:
    """Set the flag when this alarm annunciated ``CHATTER_COUNT`` times within a minute."""
    recent = session.scalar(
        select(func.count())
        .select_from(AlarmTransition)
        .where(
            AlarmTransition.alarm_id == alarm.alarm_id,
            AlarmTransition.trigger == Trigger.PROCESS_ACTIVE.value,
            AlarmTransition.from_state.in_(_ANNUNCIATING_FROM),
            AlarmTransition.at > ts - CHATTER_WINDOW,
            AlarmTransition.at <= ts,
        )
    )
    if (recent or 0) >= CHATTER_COUNT and not alarm.chattering:
        alarm.chattering = True
        log.warning("chattering alarm: %s (%d annunciations in %s)", alarm.alarm_id, recent, CHATTER_WINDOW)


def record_event(*, session: Session, event: AlarmEvent, area: str | None = None) -> Alarm | None:
    """Apply one pipeline ``AlarmEvent`` to the register; replays change nothing.

    An activation of an alarm whose last occurrence is back to normal opens a new occurrence;
    any other event lands on the newest occurrence (so a chattering alarm stays one row).

    Args:
        session: the session; flushed, not committed.
        event: the pipeline's event (``state`` active or returned).
        area: the tag's area (operator position), from the plant model.

    Returns:
        The changed occurrence, or ``None`` when nothing changed: a replayed or out-of-date
        event, or a return of an alarm that has no open occurrence.
    """
    trigger = Trigger.PROCESS_ACTIVE if event.state is ProcessState.ACTIVE else Trigger.PROCESS_RETURN
    seen = session.scalar(
        select(AlarmTransition.id).where(
            AlarmTransition.alarm_id == event.alarm_id,
            AlarmTransition.trigger == trigger.value,
            AlarmTransition.source_ts == event.ts,
        )
    )
    if seen is not None:
        log.debug("replayed alarm event ignored: %s %s @%d", event.alarm_id, trigger, event.ts)
        return None
    ts = ms_to_datetime(event.ts)
    alarm = current(session=session, alarm_id=event.alarm_id, for_update=True)
    if alarm is not None and event.ts < alarm.last_event_ts:
        log.warning("out-of-date alarm event ignored: %s @%d < %d", event.alarm_id, event.ts, alarm.last_event_ts)
        return None
    if alarm is None or alarm.state == AlarmStatus.NORMAL:
        if trigger is Trigger.PROCESS_RETURN:
            log.info("return without an open occurrence ignored: %s @%d", event.alarm_id, event.ts)
            return None
        alarm = Alarm(
            alarm_id=event.alarm_id,
            source_kind=event.source_kind,
            source_id=event.source_id,
            kind=event.kind,
            priority=event.priority.value,
            area=area,
            state=AlarmStatus.NORMAL.value,
            underlying_state=AlarmStatus.NORMAL.value,
            raised_at=ts,
            last_activated_at=ts,
            activation_count=0,
            chattering=False,
            shelve_reason="",
            message=event.message,
            last_event_ts=event.ts,
        )
        session.add(alarm)
    alarm.priority = event.priority.value
    alarm.area = area if area is not None else alarm.area
    alarm.value, alarm.limit = event.value, event.limit
    alarm.message = event.message[:512] or alarm.message
    alarm.last_event_ts = event.ts
    row = _apply(session, alarm, trigger, actor=PROCESS_ACTOR, ts=ts, comment=event.message[:1000], source_ts=event.ts)
    if trigger is Trigger.PROCESS_ACTIVE and row.from_state in _ANNUNCIATING_FROM:
        _mark_chattering(session, alarm, ts)
    return alarm


def apply(
    *,
    session: Session,
    alarm: Alarm,
    trigger: Trigger,
    actor: str,
    comment: str = "",
    until: datetime | None = None,
    now: datetime | None = None,
) -> Alarm:
    """Apply an operator or design trigger (suppress, out of service ...) to the newest occurrence.

    Raises:
        NotCurrent: the occurrence is historical.
        models.alarm_states.InvalidTransition: the state does not accept the trigger.
        models.alarm_states.InvalidShelve: a bad shelving end.
    """
    _require_current(session, alarm)
    _apply(session, alarm, trigger, actor=actor, ts=now or utcnow(), comment=comment, until=until)
    return alarm


def acknowledge(*, session: Session, alarm: Alarm, actor: str, comment: str = "", now: datetime | None = None) -> Alarm:
    """Acknowledge (确认) an unacknowledged occurrence."""
    return apply(session=session, alarm=alarm, trigger=Trigger.ACK, actor=actor, comment=comment, now=now)


def shelve(
    *, session: Session, alarm: Alarm, actor: str, until: datetime, reason: str, now: datetime | None = None
) -> Alarm:
    """Shelve (搁置) an occurrence until ``until``; the reason goes into the journal."""
    return apply(
        session=session, alarm=alarm, trigger=Trigger.SHELVE, actor=actor, comment=reason, until=until, now=now
    )


def unshelve(*, session: Session, alarm: Alarm, actor: str, comment: str = "", now: datetime | None = None) -> Alarm:
    """Take an occurrence off the shelf before its time; it lands in its underlying state."""
    return apply(session=session, alarm=alarm, trigger=Trigger.UNSHELVE, actor=actor, comment=comment, now=now)


def _shelf_due(alarm: Any, now: datetime | ColumnElement[Any]) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Shelved with its time run out: what :func:`expire_shelving` expires and :func:`list_current_rows` checks.

    ``alarm`` is :class:`Alarm` or an alias of it; one definition, so the list's fast path and
    the expiry can never disagree on which shelf is due.
    """
    return alarm.state == AlarmStatus.SHELVED.value, alarm.shelved_until <= now


def expire_shelving(*, session: Session, now: datetime | None = None) -> list[Alarm]:
    """Return every shelf that has run out to its underlying state (actor ``system``).

    Call it periodically (and before listing) so that no alarm stays hidden past its time.
    """
    now = now or utcnow()
    stmt = select(Alarm).where(*_shelf_due(Alarm, now)).order_by(Alarm.id).with_for_update()
    expired = list(session.scalars(stmt))
    for alarm in expired:
        _apply(session, alarm, Trigger.SHELVE_EXPIRED, actor=SYSTEM_ACTOR, ts=now)
    if expired:
        log.info("shelving expired for %d alarm(s)", len(expired))
    return expired


def comment(*, session: Session, alarm: Alarm, author: str, text: str, now: datetime | None = None) -> AlarmComment:
    """Add a remark to an occurrence (historical ones too: findings often come later)."""
    row = AlarmComment(author=author, at=now or utcnow(), text=text)
    alarm.comments.append(row)
    session.flush()
    return row


# --- disposal (处置) -------------------------------------------------------------------------


def open_disposal(
    *,
    session: Session,
    alarm: Alarm,
    actor: str,
    cause: str = "",
    measures: str = "",
    handler: str | None = None,
    now: datetime | None = None,
) -> AlarmDisposal:
    """Open the disposal of an occurrence, or update its analysis while it is still open.

    Raises:
        DisposalConflict: the disposal is already closed.
    """
    now = now or utcnow()
    disposal = alarm.disposal
    if disposal is None:
        disposal = AlarmDisposal(
            handler=handler or actor,
            opened_by=actor,
            opened_at=now,
            cause=cause,
            measures=measures,
            status=DisposalStatus.OPEN.value,
            closing_note="",
        )
        alarm.disposal = disposal
    elif disposal.status == DisposalStatus.CLOSED:
        msg = f"处置已闭环，不能修改 / the disposal of alarm record {alarm.id} is closed"
        raise DisposalConflict(msg)
    else:
        disposal.cause, disposal.measures = cause or disposal.cause, measures or disposal.measures
        disposal.handler = handler or disposal.handler
    session.flush()
    return disposal


def close_disposal(
    *, session: Session, alarm: Alarm, actor: str, note: str = "", now: datetime | None = None
) -> AlarmDisposal:
    """Close the loop: only with a cause and measures, and only once the condition has cleared.

    Raises:
        DisposalConflict: no open disposal, no cause or measures yet, or the alarm is still
            active (closing a disposal while the condition holds would hide a live hazard).
    """
    disposal = alarm.disposal
    if disposal is None or disposal.status != DisposalStatus.OPEN:
        msg = f"报警记录 {alarm.id} 没有进行中的处置 / alarm record {alarm.id} has no open disposal"
        raise DisposalConflict(msg)
    if not disposal.cause.strip() or not disposal.measures.strip():
        msg = "闭环前须填写原因分析和处置措施 / fill in the cause analysis and the measures before closing"
        raise DisposalConflict(msg)
    if is_active(AlarmStatus(alarm.underlying_state)):
        msg = "报警仍在持续，不能闭环 / the alarm condition still holds: the disposal cannot be closed yet"
        raise DisposalConflict(msg)
    disposal.status = DisposalStatus.CLOSED.value
    disposal.closed_by, disposal.closed_at, disposal.closing_note = actor, now or utcnow(), note
    session.flush()
    return disposal


# --- attachments -----------------------------------------------------------------------------


def add_attachment(
    *,
    session: Session,
    alarm: Alarm,
    storage: AttachmentStorage,
    filename: str,
    content: bytes,
    content_type: str | None,
    actor: str,
    now: datetime | None = None,
) -> AlarmAttachment:
    """Store a file (photo, report) and attach it to an occurrence.

    The bytes are stored under their SHA-256, so no user-supplied name reaches the disk and
    the same photo uploaded twice is stored once.

    Raises:
        AttachmentRefused: empty, larger than 20 MiB, or not a picture, PDF, text, office
            document or video.
    """
    name = safe_filename(filename)
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix not in ALLOWED_ATTACHMENT_SUFFIXES:
        shown = " ".join(sorted(ALLOWED_ATTACHMENT_SUFFIXES))
        msg = f"不支持的附件类型 / file type {suffix or '(none)'} not accepted; accepted: {shown}"
        raise AttachmentRefused(msg)
    if not content:
        msg = "附件为空 / the file is empty"
        raise AttachmentRefused(msg)
    if len(content) > MAX_ATTACHMENT_BYTES:
        msg = f"附件过大 / {len(content)} bytes exceeds the limit of {MAX_ATTACHMENT_BYTES} bytes"
        raise AttachmentRefused(msg, too_large=True)
    # The bytes decide, never the client's Content-Type (echoed on download it would turn an
    # upload into stored XSS): an .exe renamed .jpg or an HTML page named .txt is refused.
    sniffed = "image/bmp" if suffix == ".bmp" and content.startswith(b"BM") else sniff_content_type(content, name)
    if sniffed is None or (sniffed == "application/octet-stream"):
        msg = f"文件内容不是允许的类型 / the content of {name} is not an accepted kind (checked by its bytes)"
        raise AttachmentRefused(msg)
    digest = hashlib.sha256(content).hexdigest()
    key = f"{digest[:2]}/{digest}"
    storage.put(key, content)
    row = AlarmAttachment(
        filename=name,
        stored_path=key,
        content_type=sniffed[:128],
        size=len(content),
        sha256=digest,
        uploaded_by=actor,
        uploaded_at=now or utcnow(),
    )
    alarm.attachments.append(row)
    session.flush()
    return row


def get_attachment(*, session: Session, alarm: Alarm, attachment_id: int) -> AlarmAttachment:
    """One attachment of an occurrence.

    Raises:
        AlarmNotFound: the attachment does not belong to this occurrence.
    """
    row = session.get(AlarmAttachment, attachment_id)
    if row is None or row.alarm_pk != alarm.id:
        raise AlarmNotFound(alarm.id)
    return row


# --- queries ---------------------------------------------------------------------------------

SORT_FIELDS: Final = (
    "raised_at",
    "returned_at",
    "acked_at",
    "last_activated_at",
    "priority",
    "state",
    "tag",
    "area",
    "id",
)


@dataclass(frozen=True, slots=True)
class AlarmQuery:
    """Filters, sort and page of the alarm list; ``scope`` picks active or historical occurrences."""

    scope: str = "all"  # "active" (not yet normal), "history" (back to normal) or "all"
    states: Sequence[str] = ()
    priorities: Sequence[str] = ()
    areas: Sequence[str] = ()
    tags: Sequence[str] = ()
    start: datetime | None = None  # raised at or after
    end: datetime | None = None  # raised before
    sort: str = "-raised_at"
    page: int = 1
    size: int = 50


def _sort_key(name: str) -> ColumnElement[Any]:
    columns: dict[str, Any] = {
        "raised_at": Alarm.raised_at,
        "returned_at": Alarm.returned_at,
        "acked_at": Alarm.acked_at,
        "last_activated_at": Alarm.last_activated_at,
        "priority": case(_PRIORITY_RANK, value=Alarm.priority, else_=len(_PRIORITY_RANK)),
        "state": Alarm.state,
        "tag": Alarm.source_id,
        "area": Alarm.area,
        "id": Alarm.id,
    }
    return columns[name]  # type: ignore[no-any-return]


def _filtered(query: AlarmQuery) -> Select[Alarm]:
    return select(Alarm).where(
        *_conditions(
            query.scope,
            states=list(query.states) or None,
            priorities=list(query.priorities) or None,
            areas=list(query.areas) or None,
            tags=list(query.tags) or None,
            start=query.start,
            end=query.end,
        )
    )


def _conditions(
    scope: str,
    *,
    states: Any = None,
    priorities: Any = None,
    areas: Any = None,
    tags: Any = None,
    start: Any = None,
    end: Any = None,
) -> list[ColumnElement[bool]]:
    """The alarm list's WHERE terms; each filter a value, a bound parameter, or ``None`` for none.

    One definition for :func:`list_alarms` (values) and :func:`list_current_rows` (parameters,
    the statement kept per shape), so the two can never filter differently.
    """
    conditions: list[ColumnElement[bool]] = []
    if scope == "active":
        conditions.append(Alarm.state != AlarmStatus.NORMAL.value)
    elif scope == "history":
        conditions.append(Alarm.state == AlarmStatus.NORMAL.value)
    listed = ((Alarm.state, states), (Alarm.priority, priorities), (Alarm.area, areas), (Alarm.source_id, tags))
    for column, wanted in listed:
        if wanted is not None:
            conditions.append(column.in_(wanted))
    if start is not None:
        conditions.append(Alarm.raised_at >= start)
    if end is not None:
        conditions.append(Alarm.raised_at < end)
    return conditions


def _checked_sort(query: AlarmQuery) -> str:
    """The sort field of a query whose scope and sort are known.

    Raises:
        ValueError: an unknown sort field or scope.
    """
    if query.scope not in ("active", "history", "all"):
        msg = f"unknown scope {query.scope!r}; use active, history or all"
        raise ValueError(msg)
    name = query.sort.removeprefix("-")
    if name not in SORT_FIELDS:
        msg = f"unknown sort field {name!r}; use one of {', '.join(SORT_FIELDS)}"
        raise ValueError(msg)
    return name


# Sort fields that can be NULL: those sort NULLS LAST on both backends. The others sort plainly,
# the same order, but one an index can give: PostgreSQL's plan for ``raised_at DESC NULLS LAST``
# read and sorted every matching row (a flood of 10,000 active alarms: ~10–17 ms a page), for
# ``raised_at DESC`` it walks ix_alarms_raised_at backwards and stops after the page (~0.15 ms).
_NULLABLE_SORT_FIELDS: Final = frozenset({"returned_at", "acked_at", "area"})


def _ordering(sort: str) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """ORDER BY of a checked sort: the field (nulls last where it has them), then id the same way."""
    name = sort.removeprefix("-")
    descending = sort.startswith("-")
    key = _sort_key(name)
    ordered = key.desc() if descending else key.asc()
    if name in _NULLABLE_SORT_FIELDS:
        ordered = ordered.nulls_last()
    return ordered, Alarm.id.desc() if descending else Alarm.id.asc()


def _page(stmt: Select[Any], query: AlarmQuery) -> Select[Any]:
    """Sorted (nulls last, id as tie-break), paged, with the disposal joined in."""
    page = stmt.order_by(*_ordering(query.sort)).offset((query.page - 1) * query.size).limit(query.size)
    # joined, not selectin: one to one, so one query per page instead of two (docs/performance.md)
    return page.options(joinedload(Alarm.disposal))


def list_alarms(*, session: Session, query: AlarmQuery) -> tuple[list[Alarm], int]:
    """One page of occurrences and the total count matching the filters.

    Raises:
        ValueError: an unknown sort field or scope.
    """
    _checked_sort(query)
    stmt = _filtered(query)
    total = session.scalar(_count(stmt)) or 0
    items = list(session.scalars(_page(stmt, query)))
    return items, total


def _count(stmt: Select[Any]) -> Select[int]:
    """How many rows the filtered ``stmt`` matches (its order dropped): the list's total."""
    return select(func.count()).select_from(stmt.order_by(None).subquery())


_SHELF: Final = aliased(Alarm, name="shelf")
"""``alarms`` again, so the "is any shelf due" check is not correlated with the listed rows
(built once: an alias proxies every column, which cost more CPU than the query it saves)."""


LIST_COLUMNS: Final = tuple(column for _, column in LIST_LINE)
"""What a line of the alarm list shows, in the order of :func:`list_current_rows`' rows."""


def list_current_rows(
    *, session: Session, query: AlarmQuery, now: datetime | None = None
) -> tuple[list[tuple[Any, ...]], int]:
    """What the alarm list shows: :func:`expire_shelving`, then :func:`list_alarms`, in one query.

    Rows of :data:`LIST_COLUMNS` (the disposal's status last), and the total.

    The list is read far more often than a shelf runs out, so the page, its total (a
    subquery, counted once) and whether any shelf is due come back in one statement. Not
    ``count(*) OVER ()``: a window over every matching row kept PostgreSQL from stopping after
    the page (a flood of 10,000 active alarms: 19–22 ms a page, against ~3 ms now;
    docs/performance.md). Only when a shelf is due, or the page is empty (no row to carry the
    total), are due shelves expired first (row locks) and the page read again. Either way
    nothing is listed as shelved past its time, and the answer is what the long way gives.

    Columns, not ``Alarm`` instances: loading 20 of them with their disposals, then copying
    them into the answer, cost more CPU than the query. The statement is built once per
    shape of the query (which filters, the sort) and its values are bound per call.

    Raises:
        ValueError: an unknown sort field or scope.
    """
    now = now or utcnow()
    _checked_sort(query)
    shape = (
        query.scope,
        bool(query.states),
        bool(query.priorities),
        bool(query.areas),
        bool(query.tags),
        query.start is not None,
        query.end is not None,
        query.sort,
    )
    statements = _row_page_statements(shape)
    params = {
        "states": list(query.states),
        "priorities": list(query.priorities),
        "areas": list(query.areas),
        "tags": list(query.tags),
        "start": query.start,
        "end": query.end,
        "now": now,
        "page_size": query.size,
        "page_offset": (query.page - 1) * query.size,
    }
    with reads_outside_transaction(session):  # one statement; the long way below writes in a transaction
        rows = fetch_rows(session, statements[0], params)
    if not rows or rows[0][-1]:  # a shelf is due, or no row carried the total and the due flag
        expire_shelving(session=session, now=now)
        rows = fetch_rows(session, statements[0], params)
    if rows:
        return [tuple(row[:-2]) for row in rows], int(rows[0][-2])
    total = 0 if query.page == 1 else int(fetch_rows(session, statements[1], params)[0][0])
    return [], total


@functools.lru_cache(maxsize=256)
def _row_page_statements(shape: tuple[Any, ...]) -> tuple[Select[*tuple[Any, ...]], Select[Any]]:
    """:func:`list_current_rows`' page (with total and due flag) and its total alone, for one shape.

    Kept per shape (sorts and filters are few; the cache is bounded all the same).
    """
    scope, states, priorities, areas, tags, start, end, sort = shape
    conditions = _conditions(
        scope,
        states=bindparam("states", expanding=True) if states else None,
        priorities=bindparam("priorities", expanding=True) if priorities else None,
        areas=bindparam("areas", expanding=True) if areas else None,
        tags=bindparam("tags", expanding=True) if tags else None,
        start=bindparam("start", type_=Alarm.raised_at.type) if start else None,
        end=bindparam("end", type_=Alarm.raised_at.type) if end else None,
    )
    count = select(func.count()).select_from(Alarm).where(*conditions)
    due = select(_SHELF.id).where(*_shelf_due(_SHELF, bindparam("now", type_=Alarm.shelved_until.type))).exists()
    page: Select[*tuple[Any, ...]] = (
        select(*LIST_COLUMNS, count.scalar_subquery(), due)
        .select_from(Alarm)
        .outerjoin(AlarmDisposal, AlarmDisposal.alarm_pk == Alarm.id)
        .where(*conditions)
        .order_by(*_ordering(sort))
        .limit(bindparam("page_size"))
        .offset(bindparam("page_offset"))
    )
    return page, count


ANNUNCIATED_STATES: Final = (AlarmStatus.UNACK_ACTIVE, AlarmStatus.ACK_ACTIVE, AlarmStatus.UNACK_RTN)
"""What an operator must see: active (acknowledged or not) and returned-unacknowledged;
shelved, suppressed and out-of-service alarms are hidden, as in the alarm list."""


def annunciated(*, session: Session, now: datetime | None = None) -> list[Alarm]:
    """The alarms shown to operators now (the one 'active alarms' truth for twin and list)."""
    expire_shelving(session=session, now=now)
    stmt = select(Alarm).where(Alarm.state.in_([s.value for s in ANNUNCIATED_STATES]))
    return list(session.scalars(stmt.order_by(Alarm.last_event_ts.desc(), Alarm.alarm_id)))


def unacknowledged_older_than(
    *, session: Session, minutes: float, now: datetime | None = None, areas: Sequence[str] = ()
) -> list[Alarm]:
    """Occurrences shown unacknowledged for at least ``minutes`` (for escalation), oldest first.

    Time counts from when the operator could first see the alarm unacknowledged: a shelved
    alarm starts counting when it comes off the shelf, not when it was raised.
    """
    cutoff = (now or utcnow()) - timedelta(minutes=minutes)
    stmt = select(Alarm).where(Alarm.state.in_(_UNACKED), Alarm.unacked_since <= cutoff)
    if areas:
        stmt = stmt.where(Alarm.area.in_(list(areas)))
    return list(session.scalars(stmt.order_by(Alarm.unacked_since, Alarm.id)))


# --- KPIs ------------------------------------------------------------------------------------


def _densest(times: list[datetime], window: timedelta) -> tuple[int, datetime | None]:
    """Most events inside any sliding window of ``window`` and where that window starts (times sorted)."""
    best, best_start, left = 0, None, 0
    for right, t in enumerate(times):
        while t - times[left] >= window:
            left += 1
        if right - left + 1 > best:
            best, best_start = right - left + 1, times[left]
    return best, best_start


def _flood_intervals(times: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Union of the 10-minute windows that hold more than ``FLOOD_COUNT`` annunciations (times sorted).

    Sliding rather than clock-aligned windows, so a burst that straddles 08:10 is still a flood.
    """
    intervals: list[tuple[datetime, datetime]] = []
    left = 0
    for right, t in enumerate(times):
        while t - times[left] >= FLOOD_WINDOW:
            left += 1
        if right - left + 1 > FLOOD_COUNT:
            begin, end = times[left], times[left] + FLOOD_WINDOW
            if intervals and begin <= intervals[-1][1]:
                intervals[-1] = (intervals[-1][0], max(intervals[-1][1], end))
            else:
                intervals.append((begin, end))
    return intervals


def _covered(intervals: list[tuple[datetime, datetime]]) -> timedelta:
    """Total time covered by possibly overlapping intervals."""
    total, reach = timedelta(0), None
    for begin, end in sorted(intervals):
        if reach is not None and begin < reach:
            begin = reach
        if end > begin:
            total += end - begin
            reach = end
    return total


def kpis(*, session: Session, start: datetime, end: datetime, now: datetime | None = None) -> AlarmKpis:
    """ISA-18.2 performance figures over ``[start, end)``; each area is one operator position.

    Counts annunciations (activations the operator was shown), not stream events: an alarm
    that re-activates while shelved adds nothing to the operator's load.

    Raises:
        ValueError: ``end`` is not after ``start``.
    """
    if end <= start:
        msg = "end must be after start"
        raise ValueError(msg)
    now = now or utcnow()
    hours = (end - start).total_seconds() / 3600
    rows = session.execute(
        select(AlarmTransition.alarm_id, AlarmTransition.area, AlarmTransition.at, Alarm.source_id, Alarm.kind)
        .join(Alarm, Alarm.id == AlarmTransition.alarm_pk)
        .where(
            AlarmTransition.trigger == Trigger.PROCESS_ACTIVE.value,
            AlarmTransition.from_state.in_(_ANNUNCIATING_FROM),
            AlarmTransition.at >= start,
            AlarmTransition.at < end,
        )
        .order_by(AlarmTransition.at, AlarmTransition.id)
    ).all()
    total = len(rows)

    by_area: dict[str | None, list[datetime]] = defaultdict(list)
    by_alarm: dict[str, list[datetime]] = defaultdict(list)
    names: dict[str, tuple[str, str]] = {}
    for alarm_id, area, at, tag, kind in rows:
        by_area[area].append(at)
        by_alarm[alarm_id].append(at)
        names[alarm_id] = (tag, kind)

    positions: list[PositionLoad] = []
    floods: list[FloodPeriod] = []
    flood_spans: list[tuple[datetime, datetime]] = []
    for area, times in sorted(by_area.items(), key=lambda item: (item[0] is None, item[0] or "")):
        peak, peak_start = _densest(times, FLOOD_WINDOW)
        positions.append(
            PositionLoad(
                area=area,
                annunciated=len(times),
                per_hour=round(len(times) / hours, 3),
                peak_10min=peak,
                peak_10min_start=peak_start,
            )
        )
        for begin, finish in _flood_intervals(times):
            finish = min(finish, end)
            count = sum(1 for t in times if begin <= t < finish)
            floods.append(FloodPeriod(area=area, start=begin, end=finish, annunciated=count))
            flood_spans.append((begin, finish))

    top = sorted(by_alarm.items(), key=lambda item: (-len(item[1]), item[0]))[:10]
    top10 = [
        FrequentAlarm(
            alarm_id=alarm_id,
            tag=names[alarm_id][0],
            kind=names[alarm_id][1],
            count=len(times),
            share=round(len(times) / total, 4),
        )
        for alarm_id, times in top
    ]
    chattering = [
        ChatteringAlarm(alarm_id=alarm_id, tag=names[alarm_id][0], kind=names[alarm_id][1], max_per_minute=peak)
        for alarm_id, times in sorted(by_alarm.items())
        if (peak := _densest(times, CHATTER_WINDOW)[0]) >= CHATTER_COUNT
    ]

    standing_cutoff = min(now, end) - STANDING_AFTER
    standing_rows = session.scalars(
        select(Alarm)
        .where(Alarm.underlying_state.in_(_ACTIVE), Alarm.last_activated_at <= standing_cutoff)
        .order_by(Alarm.last_activated_at)
    )
    reference = min(now, end)
    standing = [
        StandingAlarm(
            id=a.id,
            alarm_id=a.alarm_id,
            tag=a.source_id,
            raised_at=a.last_activated_at,
            hours_active=round((reference - a.last_activated_at).total_seconds() / 3600, 2),
        )
        for a in standing_rows
    ]

    delays = [
        d
        for d in session.scalars(
            select(Alarm.ack_delay_s).where(
                Alarm.acked_at >= start, Alarm.acked_at < end, Alarm.ack_delay_s.is_not(None)
            )
        )
        if d is not None
    ]
    n_positions = max(1, len(positions))
    return AlarmKpis(
        start=start,
        end=end,
        hours=round(hours, 3),
        annunciated=total,
        positions=positions,
        per_hour_avg=round(total / hours / n_positions, 3),
        peak_10min=max((p.peak_10min for p in positions), default=0),
        top10=top10,
        top10_share=round(sum(f.count for f in top10) / total, 4) if total else 0.0,
        standing=standing,
        chattering=chattering,
        floods=floods,
        flood_time_share=round(min(1.0, _covered(flood_spans) / (end - start)), 4),
        acked=len(delays),
        ack_median_s=round(statistics.median(delays), 3) if delays else None,
        targets=dict(KPI_TARGETS),
    )


__all__ = [
    "AlarmError",
    "AlarmNotFound",
    "AlarmQuery",
    "AttachmentRefused",
    "DisposalConflict",
    "InvalidTransition",
    "NotCurrent",
    "acknowledge",
    "add_attachment",
    "apply",
    "close_disposal",
    "comment",
    "condition_of",
    "current",
    "expire_shelving",
    "get",
    "get_attachment",
    "get_detail",
    "kpis",
    "list_alarms",
    "ms_to_datetime",
    "open_disposal",
    "record_event",
    "shelve",
    "unacknowledged_older_than",
    "unshelve",
]
