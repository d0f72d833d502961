"""Notification services: rule and roster CRUD, the dispatcher, the escalation job, the delivery log.

The dispatcher turns one :class:`~models.contracts.AlarmEvent` into deliveries:
``models.notify_rules.route`` picks who is on duty, a channel per target sends, and every
attempt becomes a :class:`NotificationDelivery` row (sent, failed with the reason, or
``unrouted`` when nobody could be reached, so a gap in the roster is visible in the log
rather than silent). Failed sends are retried with exponential back-off when the channel
says retrying can help.

:func:`escalate` is the scheduled job (run it every minute): alarms still unacknowledged
after N minutes go to the next level. Until the alarm register offers its own query, the
caller injects ``is_acknowledged(alarm_id) -> bool``.

Services follow the register conventions: keyword-only, session first, ``flush()`` only;
the caller commits. Sends happen inside the caller's transaction, so the delivery log and
the escalation level are committed together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.notify.base import Channel, DeliveryResult, Notification
from models.channels import CHANNEL_LABELS, ChannelKind
from models.contracts import AlarmEvent, AlarmPriority, AlarmState
from models.notify_rules import (
    LOCAL_TZ,
    PRIORITY_LABELS,
    EscalationPolicy,
    NotifyRule,
    PendingAlarm,
    RosterEntry,
    Target,
    default_policy,
    due_escalations,
    on_duty,
    route,
    targets_for,
)
from registers.db import utcnow
from registers.notifications.models import NotificationDelivery, NotifiedAlarm, NotifyRuleRow, RosterEntryRow
from registers.notifications.schemas import (
    NotifyRuleCreate,
    NotifyRuleUpdate,
    RosterEntryCreate,
    RosterEntryUpdate,
)

log = logging.getLogger(__name__)

SENT: Final = "sent"
FAILED: Final = "failed"
UNROUTED: Final = "unrouted"
MAX_PAGE: Final = 500
_CHANNEL_VALUES: Final = frozenset(c.value for c in ChannelKind)


class NotificationError(Exception):
    """Base of notification register errors; the API maps each subclass to one status."""


class NotFound(NotificationError, LookupError):
    """No rule or roster entry with that id."""


class NameTaken(NotificationError, ValueError):
    """A rule with that name exists."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failed send is retried (exponential back-off).

    Example:
        >>> [RetryPolicy(attempts=4, base_delay_s=1, factor=2).delay(n) for n in (1, 2, 3)]
        [1.0, 2.0, 4.0]
    """

    attempts: int = 3
    base_delay_s: float = 1.0
    factor: float = 2.0
    max_delay_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            msg = f"attempts must be at least 1, got {self.attempts}"
            raise ValueError(msg)

    def delay(self, failed_attempt: int) -> float:
        """Seconds to wait after the ``failed_attempt``-th attempt (1-based) before the next."""
        return float(min(self.max_delay_s, self.base_delay_s * self.factor ** (failed_attempt - 1)))


def _no_area(_event: AlarmEvent) -> str | None:
    return None


@dataclass(slots=True)
class Notifier:
    """What the dispatcher needs besides the database: channels, retries, escalation, time.

    Attributes:
        channels: one configured channel per kind; a rule naming a kind without a channel
            logs a failed, non-retried delivery.
        retry: retry policy for failed sends.
        policy: escalation ladder.
        area_of: plant area of an alarm's source (e.g. tag -> area from the plant model).
        sleep: how to wait between retries (tests pass a recorder; a job may pass
            ``threading.Event().wait``).
    """

    channels: Mapping[ChannelKind, Channel]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    policy: EscalationPolicy = field(default_factory=default_policy)
    area_of: Callable[[AlarmEvent], str | None] = _no_area
    sleep: Callable[[float], None] = time.sleep


# --- rules -----------------------------------------------------------------------------------


def list_rules(*, session: Session) -> list[NotifyRuleRow]:
    """Every routing rule, by name."""
    return list(session.scalars(select(NotifyRuleRow).order_by(NotifyRuleRow.name)))


def get_rule(*, session: Session, rule_id: int) -> NotifyRuleRow:
    """The rule with this id; raises :class:`NotFound`."""
    row = session.get(NotifyRuleRow, rule_id)
    if row is None:
        msg = f"通知规则不存在 / no notification rule {rule_id}"
        raise NotFound(msg)
    return row


def _check_rule_name(session: Session, name: str, rule_id: int | None = None) -> None:
    other = session.scalar(select(NotifyRuleRow).where(NotifyRuleRow.name == name))
    if other is not None and other.id != rule_id:
        msg = f"规则名称已存在 / a rule named {name!r} exists"
        raise NameTaken(msg)


def create_rule(*, session: Session, data: NotifyRuleCreate, actor: str | None = None) -> NotifyRuleRow:
    """Add a routing rule."""
    _check_rule_name(session, data.name)
    row = NotifyRuleRow(**_rule_values(data.model_dump()), created_by=actor, updated_by=actor)
    session.add(row)
    session.flush()
    return row


def update_rule(
    *, session: Session, rule: NotifyRuleRow, data: NotifyRuleUpdate, actor: str | None = None
) -> NotifyRuleRow:
    """Change a routing rule; unset fields stay."""
    values = _rule_values(data.model_dump(exclude_none=True))
    if "name" in values:
        _check_rule_name(session, values["name"], rule.id)
    for key, value in values.items():
        setattr(rule, key, value)
    rule.updated_by = actor
    session.flush()
    return rule


def delete_rule(*, session: Session, rule: NotifyRuleRow) -> None:
    """Remove a routing rule (the delivery log keeps what it sent)."""
    session.delete(rule)
    session.flush()


def _rule_values(values: dict[str, Any]) -> dict[str, Any]:
    # JSON columns hold plain strings, not enum members.
    for key in ("channels", "areas", "roles"):
        if key in values:
            values[key] = [str(v) for v in values[key]]
    if "min_priority" in values:
        values["min_priority"] = str(values["min_priority"])
    return values


def to_rule(row: NotifyRuleRow) -> NotifyRule:
    """The pure routing rule of a row."""
    return NotifyRule(
        name=row.name,
        roles=frozenset(row.roles),
        channels=tuple(ChannelKind(c) for c in row.channels),
        areas=frozenset(row.areas),
        min_priority=AlarmPriority(row.min_priority),
        notify_return=row.notify_return,
        enabled=row.enabled,
    )


# --- roster ----------------------------------------------------------------------------------


def list_roster(
    *,
    session: Session,
    role: str | None = None,
    area: str | None = None,
    person: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[RosterEntryRow], int]:
    """One page of the duty roster and the total, filtered by role, area and person."""
    stmt = select(RosterEntryRow)
    if role:
        stmt = stmt.where(RosterEntryRow.role == role)
    if area:
        stmt = stmt.where(RosterEntryRow.area == area)
    if person:
        stmt = stmt.where(RosterEntryRow.person == person)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = stmt.order_by(RosterEntryRow.role, RosterEntryRow.shift_start, RosterEntryRow.id)
    rows = session.scalars(page.limit(min(limit, MAX_PAGE)).offset(offset))
    return list(rows), total


def get_roster_entry(*, session: Session, entry_id: int) -> RosterEntryRow:
    """The roster line with this id; raises :class:`NotFound`."""
    row = session.get(RosterEntryRow, entry_id)
    if row is None:
        msg = f"值班记录不存在 / no roster entry {entry_id}"
        raise NotFound(msg)
    return row


def create_roster_entry(*, session: Session, data: RosterEntryCreate, actor: str | None = None) -> RosterEntryRow:
    """Add a line to the duty roster."""
    values = data.model_dump()
    values["addresses"] = {str(k): v for k, v in data.addresses.items()}
    row = RosterEntryRow(**values, created_by=actor, updated_by=actor)
    session.add(row)
    session.flush()
    return row


def update_roster_entry(
    *, session: Session, entry: RosterEntryRow, data: RosterEntryUpdate, actor: str | None = None
) -> RosterEntryRow:
    """Change a roster line; unset fields stay, ``area=""`` makes it cover every area."""
    values = data.model_dump(exclude_none=True)
    if "addresses" in values and data.addresses is not None:
        values["addresses"] = {str(k): v for k, v in data.addresses.items()}
    if values.get("area") == "":
        values["area"] = None
    for key, value in values.items():
        setattr(entry, key, value)
    entry.updated_by = actor
    session.flush()
    return entry


def delete_roster_entry(*, session: Session, entry: RosterEntryRow) -> None:
    """Remove a roster line."""
    session.delete(entry)
    session.flush()


def to_roster_entry(row: RosterEntryRow) -> RosterEntry:
    """The pure roster entry of a row (unknown channel kinds in stored JSON are ignored)."""
    addresses = {ChannelKind(k): v for k, v in row.addresses.items() if k in _CHANNEL_VALUES}
    return RosterEntry(
        person=row.person,
        role=row.role,
        shift_start=row.shift_start,
        shift_end=row.shift_end,
        area=row.area,
        on_date=row.on_date,
        addresses=addresses,
        entry_id=row.id,
    )


def load_rules(*, session: Session) -> list[NotifyRule]:
    """Enabled routing rules as pure rules."""
    return [to_rule(r) for r in list_rules(session=session) if r.enabled]


def load_roster(*, session: Session) -> list[RosterEntry]:
    """Enabled roster lines as pure entries."""
    rows = session.scalars(select(RosterEntryRow).where(RosterEntryRow.enabled.is_(True)).order_by(RosterEntryRow.id))
    return [to_roster_entry(r) for r in rows]


# --- messages --------------------------------------------------------------------------------


def _local(ts: datetime) -> str:
    return ts.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _event_time(event: AlarmEvent) -> datetime:
    return datetime.fromtimestamp(event.ts / 1000, tz=LOCAL_TZ)


def alarm_message(event: AlarmEvent, *, area: str | None, address: str = "") -> Notification:
    """The level-1 message of an alarm event, in Chinese, local time."""
    priority = PRIORITY_LABELS[event.priority]
    returned = event.state is AlarmState.RETURNED
    title = f"【{'报警恢复' if returned else f'{priority}级报警'}】{event.source_id} {event.kind}"
    lines = [
        f"报警：{event.message or event.kind}",
        f"位号/来源：{event.source_id}",
        f"区域：{area or '未知'}",
        f"优先级：{priority}",
    ]
    if event.value is not None:
        limit = f"（限值 {event.limit:g}）" if event.limit is not None else ""
        lines.append(f"数值：{event.value:g}{limit}")
    lines.append(f"时间：{_local(_event_time(event))}")
    lines.append("已恢复正常，请确认。" if returned else "请及时确认并处置。")
    text = "\n".join(lines)
    markdown = f"### {title}\n\n" + "\n".join(f"- {line}" for line in lines[:-1]) + f"\n\n**{lines[-1]}**"
    return Notification(address=address, title=title, text=text, alarm_id=event.alarm_id, markdown=markdown)


def escalation_message(alarm: NotifiedAlarm, *, level: int, label: str, overdue: timedelta) -> Notification:
    """The message of an escalation: how long the alarm has waited and who is now called."""
    minutes = int(overdue.total_seconds() // 60)
    priority = PRIORITY_LABELS.get(AlarmPriority(alarm.priority), alarm.priority)
    title = f"【报警升级·{level}级】{alarm.source_id} {alarm.kind} 超过 {minutes} 分钟未确认"
    lines = [
        f"报警：{alarm.message or alarm.kind}",
        f"位号/来源：{alarm.source_id}",
        f"区域：{alarm.area or '未知'}",
        f"优先级：{priority}",
        f"报警时间：{_local(alarm.raised_at)}",
        f"未确认时长：{minutes} 分钟",
        f"已升级至：{label or f'{level}级'}",
        "请立即督促确认并处置。",
    ]
    text = "\n".join(lines)
    markdown = f"### {title}\n\n" + "\n".join(f"- {line}" for line in lines[:-1]) + f"\n\n**{lines[-1]}**"
    return Notification(address="", title=title, text=text, alarm_id=alarm.alarm_id, markdown=markdown)


# --- sending ---------------------------------------------------------------------------------


def _log(
    session: Session,
    *,
    alarm_id: str,
    level: int,
    target: Target | None,
    channel: str,
    address: str,
    attempt: int,
    title: str,
    result: DeliveryResult | None,
    status: str,
    error: str | None = None,
) -> NotificationDelivery:
    row = NotificationDelivery(
        alarm_id=alarm_id,
        level=level,
        recipient=target.recipient.person if target else "",
        role=target.recipient.role if target else "",
        channel=channel,
        address=address,
        attempt=attempt,
        status=status,
        status_code=result.status_code if result else None,
        error=result.error if result and result.error else error,
        response=result.response if result else "",
        title=title[:256],
        sent_at=utcnow(),
        elapsed_ms=result.elapsed_ms if result else None,
    )
    session.add(row)
    return row


def send_with_retries(
    *, session: Session, notifier: Notifier, target: Target, message: Notification, level: int
) -> list[NotificationDelivery]:
    """Send ``message`` to ``target``, retrying with back-off; one log row per attempt."""
    message = Notification(
        address=target.address,
        title=message.title,
        text=message.text,
        alarm_id=message.alarm_id,
        markdown=message.markdown,
    )
    channel = notifier.channels.get(target.channel)
    common: dict[str, Any] = {
        "alarm_id": message.alarm_id,
        "level": level,
        "target": target,
        "channel": target.channel.value,
        "address": message.address,
        "title": message.title,
    }
    if channel is None:
        error = f"未配置{CHANNEL_LABELS[target.channel]}渠道 / no {target.channel.value} channel configured"
        return [_log(session, attempt=1, result=None, status=FAILED, error=error, **common)]
    rows = []
    for attempt in range(1, notifier.retry.attempts + 1):
        result = channel.send(message)
        rows.append(_log(session, attempt=attempt, result=result, status=SENT if result.ok else FAILED, **common))
        if result.ok:
            break
        log.warning(
            "notification %s to %s via %s failed (attempt %d/%d): %s",
            message.alarm_id,
            target.recipient.person,
            target.channel,
            attempt,
            notifier.retry.attempts,
            result.error,
        )
        if not result.retryable or attempt == notifier.retry.attempts:
            break
        notifier.sleep(notifier.retry.delay(attempt))
    session.flush()
    return rows


def _unrouted(session: Session, *, alarm_id: str, level: int, title: str, why: str) -> NotificationDelivery:
    log.warning("alarm %s level %d reached nobody: %s", alarm_id, level, why)
    row = _log(
        session,
        alarm_id=alarm_id,
        level=level,
        target=None,
        channel="",
        address="",
        attempt=1,
        title=title,
        result=None,
        status=UNROUTED,
        error=why,
    )
    session.flush()
    return row


def _track(session: Session, event: AlarmEvent, area: str | None) -> NotifiedAlarm | None:
    """Record a newly raised alarm; ``None`` when this occurrence was already notified (a replay)."""
    existing = session.scalar(
        select(NotifiedAlarm).where(NotifiedAlarm.alarm_id == event.alarm_id, NotifiedAlarm.raised_ts == event.ts)
    )
    if existing is not None:
        return None
    row = NotifiedAlarm(
        alarm_id=event.alarm_id,
        raised_ts=event.ts,
        raised_at=datetime.fromtimestamp(event.ts / 1000, tz=LOCAL_TZ),
        source_id=event.source_id,
        area=area,
        priority=event.priority.value,
        kind=event.kind,
        message=event.message,
        level=1,
    )
    try:
        with session.begin_nested():  # another replica may have tracked it a moment ago
            session.add(row)
    except IntegrityError:
        return None
    return row


def dispatch(
    *,
    session: Session,
    notifier: Notifier,
    event: AlarmEvent,
    area: str | None = None,
    now: datetime | None = None,
) -> list[NotificationDelivery]:
    """Notify whoever is on duty about one alarm event; return the delivery log rows written.

    A raised alarm (``ACTIVE``) is tracked for escalation; the same occurrence (same alarm id
    and event time) arriving again after a pipeline replay notifies nobody twice. A raised
    alarm that no rule or on-duty person covers is logged as ``unrouted``.

    Args:
        session: the caller's session (flushed, not committed).
        notifier: channels, retries, escalation policy and area lookup.
        event: the alarm change.
        area: the alarm's plant area; defaults to ``notifier.area_of(event)``.
        now: aware time used to pick who is on duty (default: now).
    """
    now = now or utcnow()
    area = area if area is not None else notifier.area_of(event)
    if event.state is AlarmState.ACTIVE and _track(session, event, area) is None:
        log.info("alarm %s at %d already notified; replay ignored", event.alarm_id, event.ts)
        return []
    targets = route(event, load_rules(session=session), load_roster(session=session), now, area=area)
    message = alarm_message(event, area=area)
    if not targets:
        if event.state is AlarmState.ACTIVE:
            why = "没有匹配的规则或在岗值班人员 / no matching rule or nobody on duty with an address"
            return [_unrouted(session, alarm_id=event.alarm_id, level=1, title=message.title, why=why)]
        return []
    rows: list[NotificationDelivery] = []
    for target in targets:
        rows += send_with_retries(session=session, notifier=notifier, target=target, message=message, level=1)
    return rows


def escalate(
    *,
    session: Session,
    notifier: Notifier,
    is_acknowledged: Callable[[str], bool],
    now: datetime | None = None,
) -> list[NotificationDelivery]:
    """The escalation job: call the next level for alarms still unacknowledged (run every minute).

    An acknowledged alarm is closed here and never escalates again. A level whose roles have
    nobody on duty is logged ``unrouted`` and counted as fired, so the log shows the gap once
    instead of every minute.

    Args:
        session: the caller's session (flushed, not committed).
        notifier: channels, retries and the escalation policy.
        is_acknowledged: whether an operator has acknowledged the alarm (from the alarm register).
        now: aware current time (tests move it).

    Returns:
        Delivery log rows written by this run.
    """
    now = now or utcnow()
    policy = notifier.policy
    if not policy.levels:
        return []
    top = max(step.level for step in policy.levels)
    stmt = (
        select(NotifiedAlarm)
        .where(NotifiedAlarm.resolved_at.is_(None), NotifiedAlarm.level < top)
        .order_by(NotifiedAlarm.raised_at)
        .with_for_update(skip_locked=True)  # two replicas running the job escalate each alarm once
    )
    roster = load_roster(session=session)
    rows: list[NotificationDelivery] = []
    for alarm in session.scalars(stmt):
        if is_acknowledged(alarm.alarm_id):
            alarm.resolved_at = now
            continue
        pending = PendingAlarm(alarm.alarm_id, alarm.raised_at, alarm.level, AlarmPriority(alarm.priority))
        for due in due_escalations([pending], now, policy):
            step = policy.level(due.level)
            message = escalation_message(alarm, level=due.level, label=step.label, overdue=due.overdue)
            people = on_duty(roster, now, area=alarm.area, roles=step.roles)
            targets = targets_for(people, step.channels)
            if not targets:
                why = f"{step.label or step.level}无在岗人员 / nobody on duty for level {step.level}"
                rows.append(_unrouted(session, alarm_id=alarm.alarm_id, level=due.level, title=message.title, why=why))
            for target in targets:
                rows += send_with_retries(
                    session=session, notifier=notifier, target=target, message=message, level=due.level
                )
            alarm.level = due.level
    session.flush()
    return rows


# --- delivery log ----------------------------------------------------------------------------


def list_deliveries(
    *,
    session: Session,
    alarm_id: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    recipient: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[NotificationDelivery], int]:
    """One page of the delivery log (newest first) and the total matching the filters."""
    stmt = select(NotificationDelivery)
    conditions: Sequence[Any] = [
        c
        for c in (
            NotificationDelivery.alarm_id == alarm_id if alarm_id else None,
            NotificationDelivery.status == status if status else None,
            NotificationDelivery.channel == channel if channel else None,
            NotificationDelivery.recipient == recipient if recipient else None,
            NotificationDelivery.sent_at >= since if since else None,
            NotificationDelivery.sent_at < until if until else None,
        )
        if c is not None
    ]
    stmt = stmt.where(*conditions)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = stmt.order_by(NotificationDelivery.sent_at.desc(), NotificationDelivery.id.desc())
    rows = session.scalars(page.limit(min(limit, MAX_PAGE)).offset(offset))
    return list(rows), total
