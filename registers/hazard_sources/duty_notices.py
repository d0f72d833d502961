"""Overdue 包保 duties (逾期未履职) told to the people who must act, once per missed period.

The on-line assessment (:func:`registers.hazard_sources.service.overdue_duties`) lists the
periods a responsible person let pass without the required duty records; a list nobody reads
changes nothing. Run with the other clock-driven jobs, this notifies the on-duty safety
managers (and anyone else in ``roles``) through the notification register's channels, with
every attempt in the same delivery log as alarm notifications. Each missed (source, role,
period) is notified exactly once: the fire is recorded in ``register_reminders``, whose unique
key (register, source, role, period end) makes a repeat a no-op even when two API replicas run
the job at the same moment. Nobody on duty is logged ``unrouted``, a roster gap that shows.

Escalation (逾期升级): a period still missed :data:`ESCALATE_AFTER_DAYS` days after it ended
(nobody 补录'd a record dated inside it) goes one level up, to the source's 主要负责人, at
any hour: the roster lines naming that person, else roster lines of role ``principal``,
else the people register's row of that name (or flagged 主要负责人) with a phone number.
Once per missed period as well (``field`` ``escalated:<role>`` in ``register_reminders``).
A missed duty of the 主要负责人 himself is escalated to him too: he is the top of the
enterprise's chain, and the notice still reaches a person who can act.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.notify.base import Notification
from models.channels import ChannelKind
from models.notify_rules import RosterEntry, Target, on_duty, targets_for
from registers.framework.models import ReminderSent
from registers.hazard_sources.scheduled import DutyCheck
from registers.hazard_sources.schemas import DutyRole
from registers.hazard_sources.service import overdue_duties
from registers.notifications import service as notifications
from registers.people.models import Person

__all__ = [
    "ESCALATE_AFTER_DAYS",
    "ESCALATION_ROLES",
    "LOOKBACK_DAYS",
    "NOTICE_REGISTER",
    "DutyNotice",
    "escalate_overdue_duties",
    "missed_periods",
    "notify_overdue_duties",
]

NOTICE_REGISTER = "hazard_source_duty"
"""``register_reminders.register`` of these notices (the duty register's name)."""
LOOKBACK_DAYS = 92
"""Missed periods that ended within this many days are notified (one quarter: the longest period)."""
NOTICE_ROLES: tuple[str, ...] = ("safety_manager",)
ESCALATE_AFTER_DAYS = 7
"""A missed period still missed this many days after its last day is escalated to the 主要负责人."""
ESCALATION_ROLES: tuple[str, ...] = ("principal",)
"""Roster roles that stand for the 主要负责人 when no roster line names the source's one."""


@dataclass(frozen=True, slots=True)
class DutyNotice:
    """One missed duty period that was notified, and to whom."""

    check: DutyCheck
    recipients: tuple[str, ...]


def _message(check: DutyCheck) -> Notification:
    role = check.rule.role.label
    person = check.source.person(check.rule.role) or "未指定"
    title = f"【包保履职逾期】{check.source.name} {role}"
    text = (
        f"重大危险源「{check.source.name}」（{check.source.code}）{role} {person} "
        f"在 {check.start.isoformat()} 至 {check.last_day.isoformat()} 应履职至少 {check.rule.minimum} 次，"
        f"实际 {check.done} 次，已逾期。请督促履职并补录包保履职记录。"
    )
    return Notification(address="", title=title, text=text, alarm_id=f"duty:{check.source.code}:{check.rule.role}")


def _claim(session: Session, check: DutyCheck, *, kind: str = "overdue", days: int = 0) -> bool:
    """Record the notice as fired; False if it already was (here or by another replica)."""
    key = {
        "register": NOTICE_REGISTER,
        "record_id": check.source.id,
        "field": f"{kind}:{check.rule.role}",
        "lead_days": days,
        "due_date": check.last_day,
    }
    exists = session.scalar(select(ReminderSent.id).filter_by(**key))
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(ReminderSent(**key))
    except IntegrityError:
        return False
    return True


def missed_periods(
    *, session: Session, now: datetime, kind: str = "overdue", after_days: int = 0
) -> Iterator[DutyCheck]:
    """Each period missed ``after_days`` or more days ago, not yet told of as ``kind``, claimed as it is yielded.

    Looks back :data:`LOOKBACK_DAYS` beyond ``after_days``. The claim (``register_reminders``)
    comes before the caller sends, so two replicas never both send; a send that fails is in the
    delivery log, not retried by the next run.
    """
    today = now.date()
    first = today - timedelta(days=LOOKBACK_DAYS + after_days)
    for check in overdue_duties(session=session, first=first, as_of=today):
        if (today - check.last_day).days >= after_days and _claim(session, check, kind=kind, days=after_days):
            yield check


def _deliver_each(
    session: Session,
    notifier: notifications.Notifier,
    checks: Iterable[DutyCheck],
    compose: Callable[[DutyCheck], tuple[Notification, Sequence[Target]]],
    *,
    level: int,
    unrouted: str,
) -> list[DutyNotice]:
    """Send each check's message to its targets with retries; nobody to send to is logged ``unrouted``."""
    notices: list[DutyNotice] = []
    for check in checks:
        message, targets = compose(check)
        rows = []
        for target in targets:
            rows += notifications.send_with_retries(
                session=session, notifier=notifier, target=target, message=message, level=level
            )
        if not targets:
            notifications._unrouted(session, alarm_id=message.alarm_id, level=level, title=message.title, why=unrouted)  # noqa: SLF001
        notices.append(DutyNotice(check, tuple(sorted({r.recipient for r in rows if r.status == notifications.SENT}))))
    session.flush()
    return notices


def notify_overdue_duties(
    *,
    session: Session,
    notifier: notifications.Notifier,
    now: datetime,
    roles: Sequence[str] = NOTICE_ROLES,
    channels: Sequence[ChannelKind] = (ChannelKind.SMS,),
) -> list[DutyNotice]:
    """Notify every missed duty period not notified before; return what was notified (caller commits)."""
    on_shift = on_duty(notifications.load_roster(session=session), now, area=None, roles=roles)
    return _deliver_each(
        session,
        notifier,
        missed_periods(session=session, now=now),
        lambda check: (_message(check), targets_for(on_shift, channels)),
        level=2,
        unrouted="包保逾期无在岗人员 / nobody on duty to notify",
    )


def _escalation_message(check: DutyCheck, days: int) -> Notification:
    base = _message(check)
    principal = check.source.person(DutyRole.PRINCIPAL) or "主要负责人"
    return Notification(
        address="",
        title=f"【包保履职逾期升级】{check.source.name} {check.rule.role.label}",
        text=f"{principal}：{base.text}逾期已超过 {days} 天仍未履职，按包保责任制升级报告，请督办。",
        alarm_id=f"duty-escalation:{check.source.code}:{check.rule.role}",
    )


def _principals(session: Session, roster: Sequence[RosterEntry], name: str | None) -> list[RosterEntry]:
    """Who stands for the source's 主要负责人: roster lines naming them, the role, then the people register."""
    if name:
        named = [e for e in roster if e.person == name]
        if named:
            return named
    by_role = [e for e in roster if e.role in ESCALATION_ROLES]
    if by_role:
        return by_role
    stmt = select(Person).where(Person.deleted_at.is_(None), Person.phone.is_not(None), Person.phone != "")
    stmt = stmt.where(Person.name == name) if name else stmt.where(Person.principal.is_(True))
    return [
        RosterEntry(
            person=p.name,
            role="principal",
            shift_start=time(0),
            shift_end=time(0),
            addresses={ChannelKind.SMS: str(p.phone)},
        )
        for p in session.scalars(stmt.order_by(Person.id))
    ]


def escalate_overdue_duties(
    *,
    session: Session,
    notifier: notifications.Notifier,
    now: datetime,
    after_days: int = ESCALATE_AFTER_DAYS,
    channels: Sequence[ChannelKind] = (ChannelKind.SMS,),
) -> list[DutyNotice]:
    """Escalate every period missed for ``after_days`` or more to the 主要负责人, once; return them (caller commits)."""
    roster = notifications.load_roster(session=session)

    def compose(check: DutyCheck) -> tuple[Notification, list[Target]]:
        principals = _principals(session, roster, check.source.person(DutyRole.PRINCIPAL))
        return _escalation_message(check, after_days), targets_for(principals, channels)

    return _deliver_each(
        session,
        notifier,
        missed_periods(session=session, now=now, kind="escalated", after_days=after_days),
        compose,
        level=3,
        unrouted="包保逾期升级：主要负责人无联系方式 / no address for the principal",
    )
