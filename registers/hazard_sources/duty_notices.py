"""Overdue 包保 duties (逾期未履职) told to the people who must act, once per missed period.

The on-line assessment (:func:`registers.hazard_sources.service.overdue_duties`) lists the
periods a responsible person let pass without the required duty records; a list nobody reads
changes nothing. Run with the other clock-driven jobs, this notifies the on-duty safety
managers (and anyone else in ``roles``) through the notification register's channels, with
every attempt in the same delivery log as alarm notifications. Each missed (source, role,
period) is notified exactly once: the fire is recorded in ``register_reminders``, whose unique
key (register, source, role, period end) makes a repeat a no-op even when two API replicas run
the job at the same moment. Nobody on duty is logged ``unrouted``, a roster gap that shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.notify.base import Notification
from models.channels import ChannelKind
from models.notify_rules import on_duty, targets_for
from registers.framework.models import ReminderSent
from registers.hazard_sources.scheduled import DutyCheck
from registers.hazard_sources.service import overdue_duties
from registers.notifications import service as notifications

__all__ = ["LOOKBACK_DAYS", "NOTICE_REGISTER", "DutyNotice", "notify_overdue_duties"]

NOTICE_REGISTER = "hazard_source_duty"
"""``register_reminders.register`` of these notices (the duty register's name)."""
LOOKBACK_DAYS = 92
"""Missed periods that ended within this many days are notified (one quarter: the longest period)."""
NOTICE_ROLES: tuple[str, ...] = ("safety_manager",)


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


def _claim(session: Session, check: DutyCheck) -> bool:
    """Record the notice as fired; False if it already was (here or by another replica)."""
    key = {
        "register": NOTICE_REGISTER,
        "record_id": check.source.id,
        "field": f"overdue:{check.rule.role}",
        "lead_days": 0,
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


def notify_overdue_duties(
    *,
    session: Session,
    notifier: notifications.Notifier,
    now: datetime,
    roles: Sequence[str] = NOTICE_ROLES,
    channels: Sequence[ChannelKind] = (ChannelKind.SMS,),
) -> list[DutyNotice]:
    """Notify every missed duty period not notified before; return what was notified (caller commits)."""
    today = now.date()
    checks = overdue_duties(session=session, first=today - timedelta(days=LOOKBACK_DAYS), as_of=today)
    roster = notifications.load_roster(session=session)
    notices: list[DutyNotice] = []
    for check in checks:
        if not _claim(session, check):
            continue
        message = _message(check)
        targets = targets_for(on_duty(roster, now, area=None, roles=roles), channels)
        if not targets:
            why = "包保逾期无在岗人员 / nobody on duty to notify"
            notifications._unrouted(session, alarm_id=message.alarm_id, level=2, title=message.title, why=why)  # noqa: SLF001
            notices.append(DutyNotice(check, ()))
            continue
        rows = []
        for target in targets:
            rows += notifications.send_with_retries(
                session=session, notifier=notifier, target=target, message=message, level=2
            )
        sent = tuple(sorted({r.recipient for r in rows if r.status == notifications.SENT}))
        notices.append(DutyNotice(check, sent))
    session.flush()
    return notices
